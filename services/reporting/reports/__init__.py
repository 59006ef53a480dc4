"""Reports: questions answered from the projections within a time budget."""
