"""Stage changes: the one function every change goes through, its gates, evidence and history."""
