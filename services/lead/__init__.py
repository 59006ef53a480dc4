"""The lead service: capture, validation, customer resolution, routing, assignment, claim and contacts."""
