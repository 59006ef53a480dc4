"""The edge's plumbing: settings, API keys, errors, middleware and peer channels."""
