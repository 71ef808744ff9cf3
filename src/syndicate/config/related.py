"""The ``[related]`` section: how "More from" picks are ranked, site-wide."""

from __future__ import annotations

from pydantic import Field

from syndicate.config.base import Section


class RelatedSettings(Section):
    """Site-wide "More from" ranking options (per-channel ones live in ``[digest]``)."""

    semantic: bool = Field(
        False,
        description=(
            "Add sentence-embedding similarity to the lexical score. Needs "
            "pip install 'syndicate[semantic]'; without it, a warning and lexical "
            "ranking only. New and edited articles are embedded at ingest; "
            "'syndicate related reindex' embeds the rest."
        ),
    )
