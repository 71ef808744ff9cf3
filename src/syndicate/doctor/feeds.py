"""Feed reachability: fetch every public feed as common feed readers do (their
User-Agents, no JavaScript, no cookies) and fail on what a CDN's bot protection answers
them — a challenge page, 403/429, HTML instead of a feed. Then check each feed's self
link and the home page's autodiscovery links.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import lxml.etree
import lxml.html

from syndicate.config import Settings, load_channels
from syndicate.doctor.fetch import Answer, Fetcher, NoAnswer
from syndicate.doctor.results import CheckResult, failed, passed, unchecked, warned
from syndicate.feeds import FORMATS, feed_path

ACCEPTED_TYPES: dict[str, frozenset[str]] = {
    "rss": frozenset({"application/rss+xml", "application/xml", "text/xml"}),
    "atom": frozenset({"application/atom+xml", "application/xml", "text/xml"}),
    "json": frozenset({"application/feed+json", "application/json"}),
}
# What challenge and block pages of common CDNs and bot shields carry (lower-cased).
CHALLENGE_MARKERS: tuple[bytes, ...] = (
    b"cf-chl",
    b"challenge-platform",
    b"just a moment...",
    b"attention required! | cloudflare",
    b"cf-browser-verification",
    b"/_sec/cp_challenge",
    b"akamai",
    b"_incapsula_resource",
    b"ddos-guard",
    b"sucuri_cloudproxy",
    b"captcha",
    b"enable javascript and cookies",
)
_READER_NAMES = ("Feedly", "Inoreader", "NetNewsWire", "Miniflux", "newsboat")
_ATOM = "{http://www.w3.org/2005/Atom}"
_FIX_BLOCKED = (
    "Let feed readers through: exempt /feeds/ from the CDN's bot protection (a WAF skip "
    "rule or 'known bots' allowance), with no JavaScript challenge or captcha."
)


@dataclass(frozen=True, slots=True)
class PublicFeed:
    """One subscription document: its channel, format, and URLs to fetch and to expect."""

    channel: str
    format: str
    fetch_url: str
    public_url: str


def public_feeds(settings: Settings, base_url: str) -> list[PublicFeed]:
    """Every configured channel's subscription documents."""
    return [
        PublicFeed(
            channel.name,
            fmt,
            f"{base_url}/{feed_path(channel.name, fmt)}",
            f"{settings.site.base_url}/{feed_path(channel.name, fmt)}",
        )
        for channel in load_channels(settings)
        for fmt in channel.formats
    ]


def reader_name(user_agent: str) -> str:
    """A short name for a User-Agent (the reader it belongs to)."""
    for name in _READER_NAMES:
        if name.lower() in user_agent.lower():
            return name
    return user_agent.split()[0][:30] if user_agent.strip() else "(empty)"


def challenged(answer: Answer) -> bool:
    """Whether the answer looks like a bot-protection challenge or block page."""
    if answer.headers.get("cf-mitigated", "").lower() == "challenge":
        return True
    head = answer.body[:65536].lower()
    return answer.media_type.endswith("html") and any(m in head for m in CHALLENGE_MARKERS)


def problem(answer: Answer, fmt: str) -> str | None:
    """What is wrong with a feed's answer for a feed reader, or ``None``."""
    if challenged(answer):
        return f"{answer.status} challenge page"
    if answer.status in (403, 429):
        return f"{answer.status} refused"
    if answer.status != 200:
        return f"{answer.status}"
    start = answer.body.lstrip()[:200].lower()
    if start.startswith((b"<!doctype html", b"<html")) or answer.media_type == "text/html":
        return "an HTML page instead of the feed"
    if answer.media_type not in ACCEPTED_TYPES[fmt]:
        return f"Content-Type {answer.media_type or '(none)'}"
    return None


def feed_checks(
    settings: Settings, feed: PublicFeed, fetchers: Sequence[Fetcher]
) -> list[CheckResult]:
    """The feed fetched by every reader, and its self link."""
    target = feed.fetch_url
    problems: list[str] = []
    unreached: list[str] = []
    good: Answer | None = None
    for fetcher, agent in zip(fetchers, settings.doctor.user_agents, strict=True):
        try:
            answer = fetcher.request("GET", feed.fetch_url, headers={"Accept": _accept(feed)})
        except NoAnswer as err:
            unreached.append(f"{reader_name(agent)}: {err}")
            continue
        wrong = problem(answer, feed.format)
        if wrong:
            problems.append(f"{reader_name(agent)}: {wrong}")
        elif good is None:
            good = answer
    if problems:
        result = failed(
            "feeds.reachable", target, "readers cannot fetch it: " + "; ".join(problems), _fix(feed)
        )
    elif unreached and good is None:
        return [unchecked("feeds.reachable", target, "; ".join(unreached))]
    elif unreached:
        result = warned(
            "feeds.reachable",
            target,
            "some readers got no answer: " + "; ".join(unreached),
            "Check the server's limits on connections per client.",
        )
    else:
        result = passed(
            "feeds.reachable",
            target,
            f"{len(fetchers)} readers got {good.media_type if good else 'the feed'}",
        )
    if good is None:
        return [result]
    return [result, self_link_check(feed, good)]


def _accept(feed: PublicFeed) -> str:
    preferred = FORMATS[feed.format].media_type
    return f"{preferred}, application/xml;q=0.9, */*;q=0.8"


def _fix(feed: PublicFeed) -> str:
    return f"{_FIX_BLOCKED} Serve it as {FORMATS[feed.format].media_type} (syndicate serve does)."


def self_link_check(feed: PublicFeed, answer: Answer) -> CheckResult:
    """The feed's self link names its public URL (readers subscribe to what it says)."""
    found = _self_link(answer.body, feed.format)
    fix = "Set site.base_url to the public URL the feeds are served from and rebuild."
    if found is None:
        return warned("feeds.self_link", feed.fetch_url, "no self link in the feed", fix)
    if found != feed.public_url:
        return warned(
            "feeds.self_link",
            feed.fetch_url,
            f"the self link is {found}, not {feed.public_url}: readers may move to it",
            fix,
        )
    return passed("feeds.self_link", feed.fetch_url, f"self link {found}")


def _self_link(body: bytes, fmt: str) -> str | None:
    if fmt == "json":
        try:
            value = json.loads(body).get("feed_url")
        except (ValueError, AttributeError):
            return None
        return value if isinstance(value, str) else None
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = lxml.etree.fromstring(body, parser)
    except lxml.etree.XMLSyntaxError:
        return None
    for link in root.iter(f"{_ATOM}link"):
        if link.get("rel") == "self" and link.get("href"):
            return str(link.get("href"))
    return None


def autodiscovery_check(
    feeds: Sequence[PublicFeed], fetcher: Fetcher, base_url: str
) -> CheckResult:
    """The home page links every feed with ``<link rel="alternate">``."""
    home = f"{base_url}/"
    fix = (
        'Serve the home page from syndicate serve, or add a <link rel="alternate" '
        'type="..." href="/feeds/<channel>.<ext>"> to your own home page for each feed.'
    )
    try:
        answer = fetcher.request("GET", home, headers={"Accept": "text/html"})
    except NoAnswer as err:
        return unchecked("feeds.autodiscovery", home, str(err))
    if challenged(answer) or answer.status != 200:
        what = "a challenge page" if challenged(answer) else str(answer.status)
        return failed("feeds.autodiscovery", home, f"the home page answers {what}", _FIX_BLOCKED)
    found = _alternates(answer)
    missing = [f.public_url for f in feeds if urlsplit(f.fetch_url).path not in found]
    if feeds and len(missing) == len(feeds):
        return failed("feeds.autodiscovery", home, "the home page links no feed", fix)
    if missing:
        return warned("feeds.autodiscovery", home, "not linked: " + ", ".join(missing), fix)
    return passed("feeds.autodiscovery", home, f"the home page links all {len(feeds)} feeds")


def _alternates(answer: Answer) -> set[str]:
    try:
        page = lxml.html.fromstring(answer.body)
    except (lxml.etree.ParserError, ValueError):
        return set()
    paths = set()
    for link in page.iter("link"):
        rel = (link.get("rel") or "").lower().split()
        if "alternate" in rel and link.get("href"):
            paths.add(urlsplit(urljoin(answer.url, str(link.get("href")))).path)
    return paths
