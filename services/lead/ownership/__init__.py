"""Ownership: who holds a lead: assignment, claim, contact, the clock per lead, the public pool, cool-downs."""
