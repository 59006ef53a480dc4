"""Integration gateway: inbound webhooks from external systems become leads, and nothing accepted is lost."""
