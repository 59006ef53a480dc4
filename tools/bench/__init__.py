"""Benchmarks of the local stack: leads per second to notification, against a bare chain of the same hops."""
