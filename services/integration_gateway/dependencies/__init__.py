"""The external dependency register: SLA, owner, probe, and whether each dependency is up."""
