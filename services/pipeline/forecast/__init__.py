"""The weighted forecast per owner or team and month, and forecast vs actual."""
