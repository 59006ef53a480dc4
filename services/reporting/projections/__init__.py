"""Projections: read models built from the crm.* events, exactly once, rebuildable."""
