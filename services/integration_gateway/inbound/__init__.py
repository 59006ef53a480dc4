"""Inbound sources: their configuration and Standard Webhooks verification."""
