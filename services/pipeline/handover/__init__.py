"""Handover: a deactivated rep's open opportunities go to the successor or the team manager."""
