"""Sources of articles: one module per kind, looked up by name in :mod:`.registry`."""
