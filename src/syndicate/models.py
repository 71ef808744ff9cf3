"""The data that flows between the pipeline's functions: frozen, typed, no behaviour.

``Entry`` is what a source read, before cleaning; ``Article`` is what the store keeps,
with its stable id and content hash. ``FetchResult`` is what every source returns,
whatever happened: sources never raise on bad content. :func:`utc_now` is the one
default clock every stage takes (and tests replace).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from syndicate.errors import SourceError


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Author:
    """An article's author. ``name`` may be empty when only a bio is known."""

    name: str
    bio: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Image:
    """A lead image: absolute URL, alt text, credit and caption, size when known."""

    url: str
    alt: str = ""
    credit: str = ""
    caption: str = ""
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One article as a source read it, before cleaning.

    ``key`` is the source's own identity for the item (front-matter id or slug, feed
    guid, canonical URL path). ``base_url`` resolves relative URLs in ``url``,
    ``body_html`` and the image. ``updated_at`` is ``None`` when the source does not say.
    """

    key: str
    url: str
    title: str
    body_html: str
    published_at: datetime | None
    base_url: str = ""
    dek: str = ""
    authors: tuple[Author, ...] = ()
    section: str = ""
    tags: tuple[str, ...] = ()
    image: Image | None = None
    updated_at: datetime | None = None
    featured: bool = False
    origin: str = ""  # where it came from (path or URL), for error messages
    related_pins: tuple[str, ...] = ()  # "More from" picks chosen by the editor, first
    related_exclude: bool = False  # never offered as a "More from" pick
    canonical_url: str = ""  # a <link rel=canonical> the source saw, when not ``url``


@dataclass(frozen=True, slots=True)
class CleanEntry:
    """An entry after cleaning, with its id and hash; dates still as the source gave them.

    ``url_key`` and ``signature`` are what story clusters compare: the link without
    tracking and host aliases (hashed), and the words of title and lead (hashed).
    """

    id: str
    source: str
    url: str
    title: str
    dek: str
    body_html: str
    authors: tuple[Author, ...]
    section: str
    tags: tuple[str, ...]
    image: Image | None
    published_at: datetime | None
    updated_at: datetime | None
    featured: bool
    content_hash: str
    related_pins: tuple[str, ...] = ()
    related_exclude: bool = False
    url_key: str = ""  # the link's comparison key (syndicate.ingest.canonical)
    signature: bytes = b""  # the title and lead's words (syndicate.ingest.signature)


@dataclass(frozen=True, slots=True)
class Article:
    """A cleaned article with its stable ``tag:`` id, as stored and published.

    ``content_hash`` covers every field a reader sees except the URL, so a URL change
    (http→https, new host) is not an edit. Datetimes are timezone-aware UTC.

    ``story`` is the id of the story cluster the article belongs to (the same story
    from several sources, found at ingest); empty means a cluster of its own.
    ``related_pins`` are article ids the editor pinned as its first "More from" picks;
    ``related_exclude`` keeps it out of every pick list.
    """

    id: str
    source: str
    url: str
    title: str
    dek: str
    body_html: str
    authors: tuple[Author, ...]
    section: str
    tags: tuple[str, ...]
    image: Image | None
    published_at: datetime
    updated_at: datetime
    content_hash: str
    featured: bool = False
    story: str = ""
    related_pins: tuple[str, ...] = ()
    related_exclude: bool = False

    @property
    def story_key(self) -> str:
        """The story cluster this article counts as: ``story``, else its own id."""
        return self.story or self.id


@dataclass(slots=True)
class FetchResult:
    """What a source returns from one fetch.

    ``error`` is set when the source as a whole failed (the run goes on); ``warnings``
    name items that were skipped and why. ``not_modified`` means the upstream answered
    304 and ``entries`` is empty on purpose. ``etag``, ``last_modified``,
    ``retry_after`` / ``max_age`` (seconds) and ``extra`` update the source's state;
    ``extra`` replaces the stored one when not empty.
    """

    entries: list[Entry] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: SourceError | None = None
    not_modified: bool = False
    skipped: int = 0  # items known unchanged without being returned (e.g. a page's 304)
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None
    retry_after: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceState:
    """What the store remembers about a source between runs."""

    name: str
    etag: str | None = None
    last_modified: str | None = None
    next_poll_at: datetime | None = None
    consecutive_errors: int = 0
    last_error: str | None = None
    last_success_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """One personalised message, ready for a backend.

    ``raw`` is the complete RFC 5322 message (CRLF line ends, DKIM-signed when signing
    is on): SMTP and the file backend send it as is. HTTP API backends that take
    structured fields use ``subject``, ``html``, ``text`` and ``headers`` instead (the
    provider builds the MIME and signs it). ``delivery_id`` ties the result back to the
    outbox row and is sent to providers as metadata, so webhooks can be matched.
    """

    delivery_id: int
    edition_id: int
    channel: str
    to_email: str
    to_name: str
    from_email: str
    from_name: str
    subject: str
    message_id: str
    raw: bytes
    html: str = ""
    text: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    # True when the builder guarantees that ``raw`` has no bare CR or LF (the edition's
    # message template builds it so): SMTP then need not scan 70 KB per message for it.
    crlf_only: bool = False


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """What a backend says about one message (STYLE 2: a closed vocabulary).

    ``status``: ``sent`` (accepted), ``queued`` (accepted for later sending),
    ``deferred`` (try again later), ``rejected`` (the address is bad: a hard bounce),
    ``failed`` (this message will never go, for another reason). ``retryable`` says
    whether trying again may help; ``policy`` marks a policy block (SMTP 5.7.x, a
    suspended account), which pauses the channel rather than suppressing the address;
    ``retry_after`` is the server's requested wait in seconds; ``raw`` keeps the
    provider's answer for this message.
    """

    delivery_id: int
    status: str
    retryable: bool = False
    provider_message_id: str | None = None
    error: str | None = None
    policy: bool = False
    retry_after: float | None = None
    raw: Any = None

    STATUSES = frozenset({"sent", "queued", "deferred", "rejected", "failed"})

    def __post_init__(self) -> None:
        if self.status not in self.STATUSES:
            raise ValueError(f"unknown delivery status {self.status!r}")


@dataclass(frozen=True, slots=True)
class Subscription:
    """One channel a subscriber receives: how often, and which sections (empty = all)."""

    channel: str
    cadence: str = "edition"
    sections: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A person on the list. ``email`` is normalised; ``status`` is one of
    ``pending``, ``active``, ``unsubscribed``, ``bounced``, ``complained``."""

    id: int
    email: str
    name: str
    status: str
    timezone: str = "UTC"
    subscriptions: tuple[Subscription, ...] = ()
    created_at: datetime | None = None
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
