"""customer-master: golden customer records, resolved from what leads know about their customer."""
