"""Channels: one ``feeds/<name>.toml`` each, a feed and its digest."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    ValidationError,
    field_validator,
)

from syndicate.config.base import NAME_PATTERN, Section
from syndicate.config.loader import describe_errors, read_toml
from syndicate.config.settings import Settings
from syndicate.errors import ConfigError


class ChannelFilters(Section):
    """Which articles a channel carries; an empty list means 'any'."""

    sections: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()


def _is_cron(value: str) -> bool:
    from croniter import croniter  # only the digest needs it

    return len(value.split()) == 5 and bool(croniter.is_valid(value))


class DigestSettings(Section):
    """The email digest of a channel (used by the digest and daemon issues)."""

    enabled: bool = True
    schedule: str = Field(
        "0 7 * * *", description="Cron expression, or 'on_new' for an edition per new article."
    )
    timezone: str = Field("UTC", description="IANA timezone the schedule is read in.")
    template: str = Field("digest", description="Template name in templates/.")
    subject: str = Field("", description="Subject template; empty for the default.")
    max_items: int = Field(10, ge=1)
    min_items: int = Field(1, ge=1)
    first_lookback_hours: float = Field(24.0, gt=0)
    max_lateness_hours: float = Field(
        6.0, gt=0, description="A slot missed by more than this is skipped, never sent late."
    )
    min_interval_minutes: float = Field(
        60.0, ge=0, description="on_new: at most one edition per this many minutes."
    )
    daily_rollup: str = Field(
        "0 7 * * *",
        description="When daily subscribers of a more-than-daily channel get their round-up "
        "(cron, in the channel's timezone); empty for none.",
    )
    weekly_rollup: str = Field(
        "0 7 * * 1",
        description="When weekly subscribers of a more-than-weekly channel get their round-up "
        "(cron, in the channel's timezone); empty for none.",
    )
    preheader: str = Field("", description="Preheader template; empty for the default.")
    related_k: int = Field(4, ge=0, le=12, description="'More from' items; 0 turns it off.")
    related_memory_days: int = Field(
        60,
        ge=0,
        description="Never offer a reader a 'More from' pick they received (as a story or a "
        "pick, in any channel or cadence) in this many days; 0 turns the memory off.",
    )
    related_pool: Literal["channel", "site"] = Field(
        "site", description="Related items come from the whole site or the channel's archive."
    )
    exclude_last_editions: int = Field(
        3, ge=0, description="Never repeat an item sent in this many previous editions."
    )
    max_html_bytes: int = Field(
        92160, ge=1024, description="Rendering fails above this HTML size (Gmail clips ~102 KB)."
    )
    welcome: Literal["latest", "start_here", "off"] = Field(
        "latest",
        description="What a new subscriber gets on confirming: the latest edition, a "
        "'start here' selection, or nothing until the next edition.",
    )
    welcome_pins: tuple[str, ...] = Field(
        (),
        description="Article ids a 'start here' welcome carries, in order; empty: the best "
        "of the channel by the 'More from' ranking.",
    )
    review: Literal["auto", "approve"] = Field(
        "auto",
        description="auto: an edition goes out at its slot unless an editor holds it; "
        "approve: only once an editor approves it.",
    )
    draft_hours: float = Field(
        0.0,
        ge=0,
        le=168,
        description="Compose each edition as a draft this many hours before its slot and "
        "notify the editors; 0: composed at the slot.",
    )
    test_addresses: tuple[str, ...] = Field(
        (), description="Seed list: addresses a test send goes to (besides those typed in)."
    )
    utm_source: str = Field("", description="utm_source on article links; empty for none.")
    utm_medium: str = Field("email", description="utm_medium, used when utm_source is set.")
    utm_campaign: str = Field(
        "{channel}-{date}", description="utm_campaign; {channel} and {date} are filled in."
    )

    @field_validator("schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if value != "on_new" and not _is_cron(value):
            raise ValueError("'on_new' or a five-field cron expression such as '0 7 * * *'")
        return value

    @field_validator("daily_rollup", "weekly_rollup")
    @classmethod
    def _rollup(cls, value: str) -> str:
        if value and not _is_cron(value):
            raise ValueError("a five-field cron expression such as '0 7 * * 1', or ''")
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as err:
            raise ValueError("an IANA timezone such as 'Europe/London'") from err
        return value


class ChannelConfig(Section):
    """One channel: a feed and its digest, from ``feeds/<name>.toml``."""

    name: str = Field(pattern=NAME_PATTERN, description="URL slug; the file name stem.")
    title: str
    description: str = ""
    language: str | None = None
    link: str | None = None
    logo: str | None = None
    icon: str | None = None
    filters: ChannelFilters = ChannelFilters()
    items: int = Field(20, ge=1, le=500, description="Items in the subscription feed.")
    content: Literal["full", "summary"] = "full"
    formats: tuple[Literal["rss", "atom", "json"], ...] = ("rss", "atom", "json")
    hubs: tuple[str, ...] = ()
    max_age: int = Field(900, ge=0, description="Cache-Control max-age for the feed (s).")
    archives: bool = Field(True, description="Write RFC 5005 archive documents (pages of items).")
    archive_max_age: int = Field(
        604800, ge=0, description="Cache-Control max-age for archive documents (s)."
    )
    related_in_content: bool = False
    digest: DigestSettings = DigestSettings()


def load_channels(settings: Settings) -> list[ChannelConfig]:
    """Every channel in ``feeds_dir``, sorted by name; all problems reported at once."""
    folder = settings.resolve(settings.feeds_dir)
    if not folder.is_dir():
        return []
    channels: list[ChannelConfig] = []
    problems: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            data = read_toml(path)
        except ConfigError as err:
            problems.extend(err.problems)
            continue
        data.setdefault("name", path.stem)
        try:
            channel = ChannelConfig(**data)
        except ValidationError as err:
            problems.extend(describe_errors(err, path))
            continue
        if channel.name != path.stem:
            problems.append(
                f"{path}: key 'name': expected the file name {path.stem!r}, found {channel.name!r}"
            )
            continue
        channels.append(channel)
    if problems:
        raise ConfigError(f"{folder}: invalid channel definitions", problems)
    return channels
