"""Pipelines as data: versioned definitions, validated before they go live."""
