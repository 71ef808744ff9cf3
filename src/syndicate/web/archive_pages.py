"""The archive's index pages as HTML: plain, accessible, every value escaped.

Pure functions from what the store listed to a page; :mod:`syndicate.web.archive`
serves them. Links are root-relative, so the pages work under whatever host serves them;
the edition pages themselves are the stored editions (see :mod:`syndicate.digest.public`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from syndicate.digest.links import archive_path, edition_path, edition_stamp
from syndicate.store.archive import EditionPage


@dataclass(frozen=True, slots=True)
class ArchiveSite:
    """What every archive page shows of the site."""

    name: str
    language: str


@dataclass(frozen=True, slots=True)
class ChannelListing:
    """A channel on ``/archive/``: its name, title, and how many of its own editions up
    to when."""

    channel: str
    title: str
    editions: int
    latest: str  # the newest edition's date in the channel's timezone; "" when none


@dataclass(frozen=True, slots=True)
class ChannelArchive:
    """One page of a channel's (or round-up's) archive, ready to print."""

    channel: str
    cadence: str
    title: str
    timezone: str
    subscribe_path: str
    page: EditionPage
    dates: Sequence[str]  # page.editions' dates in the channel's timezone, in order
    roundups: Sequence[tuple[str, str]]  # (cadence, label) of the channel's round-ups


def render_archive_index(site: ArchiveSite, channels: Sequence[ChannelListing]) -> str:
    """``/archive/``: every channel with editions, linking to its archive."""
    if channels:
        items = "".join(
            f'<li><a href="{escape(archive_path(c.channel))}">{escape(c.title)}</a>'
            f"{_count(c)}</li>\n"
            for c in channels
        )
        body = f"<ul>\n{items}</ul>"
    else:
        body = "<p>No digest has been published yet.</p>"
    return page(site, "Past editions", body)


def render_channel_archive(site: ArchiveSite, archive: ChannelArchive) -> str:
    """``/archive/<channel>/``: one page of editions, newest first, with older/newer links."""
    # "of the Science Weekly digest", but "of The Meridian Review", never "the The".
    named = (
        escape(archive.title)
        if archive.title.casefold().startswith("the ")
        else f"the {escape(archive.title)} digest"
    )
    parts = [
        f"<p>Past editions of {named}, newest first; dates are "
        f"in {escape(archive.timezone)} time.</p>"
    ]
    if archive.page.editions:
        items = "".join(
            f'<li><a href="{escape(edition_path(e.channel, e.slot, e.cadence))}">'
            f"{escape(e.subject)}</a>"
            f' <time datetime="{escape(e.slot.isoformat())}">{escape(date)}</time></li>\n'
            for e, date in zip(archive.page.editions, archive.dates, strict=True)
        )
        parts.append(f"<ul>\n{items}</ul>")
    else:
        parts.append("<p>No editions here yet.</p>")
    parts.append(_pager(archive_path(archive.channel, archive.cadence), archive.page))
    if archive.roundups:
        links = " · ".join(
            f'<a href="{escape(archive_path(archive.channel, cadence))}">{escape(label)}</a>'
            for cadence, label in archive.roundups
        )
        parts.append(f"<p>Also: {links}</p>")
    parts.append(
        f'<p><a href="{escape(archive.subscribe_path)}">Subscribe to {escape(archive.title)}'
        '</a> · <a href="/archive/">All archives</a></p>'
    )
    return page(site, f"{archive.title}: past editions", "\n".join(p for p in parts if p))


def render_not_found(site: ArchiveSite) -> str:
    """The archive's 404 page."""
    body = '<p>There is no such edition or archive. See <a href="/archive/">all archives</a>.</p>'
    return page(site, "Not found", body)


def page(site: ArchiveSite, title: str, body: str) -> str:
    """A whole HTML document titled ``title`` (escaped here) around ``body`` (HTML)."""
    return (
        f'<!doctype html>\n<html lang="{escape(site.language)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(page_title(title, site.name))}</title>\n</head>\n<body>\n<main>\n"
        f"<h1>{escape(title)}</h1>\n{body}\n</main>\n</body>\n</html>\n"
    )


def page_title(title: str, site: str) -> str:
    """``<title> — <site>``, unless the title already names the site (a channel titled
    "The Review — World" on the site "The Review")."""
    return title if not site or site in title else f"{title} — {site}"


def _count(channel: ChannelListing) -> str:
    if not channel.editions:
        return ""
    noun = "edition" if channel.editions == 1 else "editions"
    return f" ({channel.editions} {noun}, latest {escape(channel.latest)})"


def _pager(path: str, current: EditionPage) -> str:
    links = []
    if current.newer is not None:
        links.append(_page_link(path, "after", current.newer, "prev", "Newer editions"))
    if current.older is not None:
        links.append(_page_link(path, "before", current.older, "next", "Older editions"))
    if not links:
        return ""
    return f'<nav aria-label="More editions">\n<p>{" · ".join(links)}</p>\n</nav>'


def _page_link(path: str, param: str, slot: datetime, rel: str, label: str) -> str:
    href = f"{path}?{param}={edition_stamp(slot)}"
    return f'<a rel="{rel}" href="{escape(href)}">{escape(label)}</a>'
