"""The public /v1 REST API and the health routes."""
