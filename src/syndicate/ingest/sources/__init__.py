"""Sources of articles: one module per kind, looked up by name in :mod:`.registry`.

A source kind is a :class:`~syndicate.ingest.sources.base.Source` subclass with an
``Options`` model for its keys; built-ins register exactly as plugins do (entry-point
group ``syndicate.sources``). :mod:`.http` is the one guarded fetcher every network
source uses (time, size and address limits).
"""

from typing import TYPE_CHECKING

from syndicate.plugins import lazy_exports

if TYPE_CHECKING:
    from syndicate.ingest.sources.base import Source, SourceContext
    from syndicate.ingest.sources.registry import (
        UnknownSourceKind,
        kinds,
        options_model,
        source_class,
    )

# Each name is imported on first use (see syndicate.plugins.lazy_exports).
__getattr__ = lazy_exports(
    __name__,
    {
        "Source": "base",
        "SourceContext": "base",
        "UnknownSourceKind": "registry",
        "kinds": "registry",
        "options_model": "registry",
        "source_class": "registry",
    },
)

__all__ = [
    "Source",
    "SourceContext",
    "UnknownSourceKind",
    "kinds",
    "options_model",
    "source_class",
]
