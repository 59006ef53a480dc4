"""Routing: rules as data, the engine that decides, why it decided, territories, rule administration."""
