"""Capture: a submission becomes a lead (validated, scored, deduplicated, idempotent) or is quarantined."""
