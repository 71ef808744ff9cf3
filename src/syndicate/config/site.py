"""The ``[site]``, ``[store]``, ``[output]``, ``[fetch]``, ``[stories]`` and ``[security]``
sections."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    field_validator,
)

from syndicate.config.base import Section


class SiteSettings(Section):
    """The publication: its name, home, postal address and the authority of its ids."""

    name: str = Field("My Publication", description="Publication name, used in feeds and mail.")
    base_url: str = Field(
        "http://localhost:8080",
        description="Public base URL; relative links in articles resolve against it.",
    )
    postal_address: str = Field("", description="Physical address printed in email footers.")
    language: str = Field("en", description="Default language (BCP 47) of feeds and digests.")
    tag_authority: str = Field(
        "syndicate.invalid,2026",
        description=(
            "Authority and date of the tag: URIs that identify articles (RFC 4151), "
            "e.g. 'example.org,2026'. Set once; changing it changes every id."
        ),
    )

    @field_validator("base_url")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not re.match(r"^https?://[^/]+", value):
            raise ValueError("an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("tag_authority")
    @classmethod
    def _authority(cls, value: str) -> str:
        if not re.match(r"^[A-Za-z0-9.-]+(@[A-Za-z0-9.-]+)?,\d{4}(-\d{2}(-\d{2})?)?$", value):
            raise ValueError("'domain,YYYY' or 'domain,YYYY-MM-DD' (RFC 4151)")
        return value.lower()


class StoreSettings(Section):
    """Where articles, subscribers and the outbox live."""

    url: str = Field(
        "sqlite:///var/syndicate.db",
        description="SQLAlchemy URL; sqlite:/// paths are relative to the config file.",
    )
    create: bool = Field(
        False,
        description=(
            "Create a missing SQLite folder and database on first use; off, only "
            "'db upgrade' and 'ingest --create' create a store."
        ),
    )
    busy_timeout: float = Field(
        30.0,
        ge=0,
        description="Seconds a SQLite write waits for another process's lock before failing.",
    )


class OutputSettings(Section):
    """Where built files (feeds, archives) are written."""

    dir: Path = Field(Path("public"), description="Output folder for built feeds.")
    etag: Literal["content", "nginx", "caddy"] = Field(
        "content",
        description=(
            "How `syndicate serve` makes feed ETags: 'content' (a hash of the bytes), "
            "'nginx' (mtime and size in hex, as nginx does) or 'caddy' (mtime and size "
            "in base 36, as Caddy's file_server does), to share caches with that server."
        ),
    )
    cache: bool = Field(
        True,
        description=(
            "Keep every built document (and its gzip copy) by fingerprint in cache_dir "
            "and hard-link it into the output folder: a rebuild into a new folder, or "
            "back to an earlier state, renders and compresses nothing."
        ),
    )
    cache_dir: Path = Field(
        Path("var/cache/feeds"),
        description=(
            "Where built documents are kept (relative to the config file). On the "
            "output folder's file system, or the cache is not used."
        ),
    )


class FetchSettings(Section):
    """Limits for every HTTP fetch of a source (SE-5)."""

    connect_timeout: float = Field(5.0, gt=0, description="Seconds to connect.")
    read_timeout: float = Field(15.0, gt=0, description="Seconds to wait for the next bytes.")
    total_timeout: float = Field(30.0, gt=0, description="Seconds for a whole fetch.")
    max_bytes: int = Field(10_000_000, gt=0, description="Largest body accepted (bytes).")
    max_redirects: int = Field(5, ge=0, le=20, description="Redirects followed per fetch.")
    concurrency: int = Field(8, ge=1, le=64, description="Sources fetched at the same time.")
    user_agent: str = Field(
        "syndicate/0.1 (+https://github.com/syndicate-rss/syndicate)",
        description="User-Agent sent with every request.",
    )


class StorySettings(Section):
    """How ingest groups one story arriving from several sources (``docs/sources.md``)."""

    enabled: bool = Field(True, description="Group copies of a story into clusters at ingest.")
    similarity: float = Field(
        0.35,
        ge=0.05,
        le=1.0,
        description=(
            "Share of title-and-lead words two articles must have in common (Jaccard) to "
            "be one story; measured in bench/dedup.py."
        ),
    )
    window_days: float = Field(
        3.0,
        gt=0,
        le=60,
        description="Copies of a story are published at most this many days apart.",
    )


class SecuritySettings(Section):
    """Secrets: read from the environment or a file, never required in the TOML."""

    secret_key: SecretStr | None = Field(
        None, description="Signing key for links (env SYNDICATE_SECURITY__SECRET_KEY)."
    )
    secret_key_file: Path | None = Field(None, description="File holding the signing key.")
