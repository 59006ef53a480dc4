"""Approvals: skips, backward moves and four-eyes overrides, decided by someone other than the requester."""
