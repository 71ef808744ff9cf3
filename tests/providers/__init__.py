"""Local stand-ins for the provider APIs: a threaded HTTP server, the fakes that check
our requests like the providers do, and their documented answer shapes (``shapes/``)."""
