"""Stalls: due times indexed per opportunity, raised within seconds of due, re-escalated, legal review."""
