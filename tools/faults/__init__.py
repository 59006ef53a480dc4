"""The fault suite: the stack under a sustained load of captures while its parts fail (`make faults`)."""
