"""reporting: read models projected from events, and the reports answered from them."""
