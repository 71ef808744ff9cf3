"""syndicate: ingest articles, publish feeds, and send digests exactly once."""

__version__ = "0.1.0"
