"""The ``[related]`` section: how "More from" picks are ranked, site-wide."""

from __future__ import annotations

from pathlib import Path

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
    snapshot: bool = Field(
        True,
        description=(
            "Keep a copy of the related index (every article's term vectors) in "
            "snapshot_dir, so a new process (a 'syndicate build' from cron) starts from "
            "it and reads only what changed since, instead of the whole archive. Used "
            "only while the store holds the token recorded when it was saved."
        ),
    )
    snapshot_dir: Path = Field(
        Path("var/cache/related"),
        description="Where the related index snapshot is kept (relative to the config file).",
    )
