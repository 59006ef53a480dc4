"""Outbound subscriptions: signed deliveries of our events to external systems."""
