"""The next edition of each channel with a digest, composed as ``digest preview`` does
(nothing stored, nothing sent): every link answers, the HTML stays under Gmail's clip
with a margin (STANDARDS HM-1), and every image has dimensions and alt text (HM-3).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor

import lxml.html

from syndicate.config import ChannelConfig, Settings, load_channels
from syndicate.digest import DigestError, RenderLimitError, next_slot, slot_for
from syndicate.digest.links import edition_url
from syndicate.doctor.fetch import Fetcher, NoAnswer
from syndicate.doctor.results import CheckResult, failed, passed, warned
from syndicate.models import utc_now
from syndicate.store import Store

GMAIL_CLIP_BYTES = 102_000  # Gmail clips a message's HTML past about 102 KB
LINK_WORKERS = 4
_SHOWN = 5  # broken links or images named in a summary


def edition_checks(
    settings: Settings, store: Store, fetcher: Callable[[], Fetcher]
) -> list[CheckResult]:
    """The checks of every digest channel's next edition; ``fetcher`` makes a client."""
    results: list[CheckResult] = []
    for channel in load_channels(settings):
        if channel.digest.enabled:
            results.extend(_channel_checks(settings, store, channel, fetcher))
    return results


def _channel_checks(
    settings: Settings, store: Store, channel: ChannelConfig, fetcher: Callable[[], Fetcher]
) -> list[CheckResult]:
    from syndicate.delivery.preview import preview_message  # the composing stack: on use
    from syndicate.digest.build import build_edition

    now = utc_now()
    slot = next_slot(channel.digest, now)
    if channel.digest.schedule == "on_new":
        slot = slot_for(channel.digest, now)
    try:
        built = build_edition(store, settings, channel, slot, save=False, rerender=True)
    except RenderLimitError as err:
        return [failed("edition.size", channel.name, str(err), "Use fewer stories (max_items).")]
    except DigestError as err:
        return [failed("edition.compose", channel.name, str(err), "See digest preview.")]
    if built is None:
        return [
            passed(
                "edition.compose",
                channel.name,
                f"no edition due at {slot.isoformat()}: fewer new articles than "
                f"min_items ({channel.digest.min_items}); nothing to check",
            )
        ]
    message = preview_message(
        settings, built.rendered, date=slot, channel=channel.name, channel_title=channel.title
    )
    html = message.html
    return [
        size_check(settings, channel.name, html),
        images_check(channel.name, html),
        # The edition's own archive page appears only once it is sent.
        links_check(
            settings,
            channel.name,
            html,
            fetcher,
            unpublished={edition_url(settings.site.base_url, channel.name, slot)},
        ),
    ]


def size_check(settings: Settings, target: str, html: str) -> CheckResult:
    """The personalised HTML's size against the margin and Gmail's clip."""
    size = len(html.encode("utf-8"))
    margin = settings.doctor.html_margin_bytes
    fix = (
        "Carry fewer stories ([digest] max_items) or fewer related picks (related_k), or "
        "trim the template; link rewriting by a provider adds more."
    )
    if size >= GMAIL_CLIP_BYTES:
        return failed(
            "edition.size", target, f"HTML {size:,} bytes: Gmail clips it, hiding the footer", fix
        )
    if size > margin:
        return warned(
            "edition.size", target, f"HTML {size:,} bytes: over the {margin:,}-byte margin", fix
        )
    return passed("edition.size", target, f"HTML {size:,} bytes (clip at {GMAIL_CLIP_BYTES:,})")


def images_check(target: str, html: str) -> CheckResult:
    """Every ``<img>`` has ``width``, ``height`` and ``alt`` (``alt=""`` if decorative)."""
    images = list(lxml.html.fromstring(html).iter("img"))
    bad = [
        str(img.get("src") or "(no src)")
        for img in images
        if img.get("alt") is None or not img.get("width") or not img.get("height")
    ]
    if bad:
        return failed(
            "edition.images",
            target,
            f"{len(bad)} of {len(images)} images lack width, height or alt: "
            + ", ".join(bad[:_SHOWN]),
            'Give every image width and height attributes and alt text (alt="" when '
            "decorative); set alt on articles' images in their front matter or source.",
        )
    return passed("edition.images", target, f"{len(images)} images have dimensions and alt")


def edition_links(settings: Settings, html: str, unpublished: Collection[str] = ()) -> list[str]:
    """The http(s) links and image sources of the HTML, once each, in order; the
    sample recipient's unsubscribe and preferences links are left out (the one-click
    check covers them), and so are the ``unpublished`` pages."""
    base = settings.site.base_url
    personal = (f"{base}/u/", f"{base}/p/")
    seen: dict[str, None] = {}
    page = lxml.html.fromstring(html)
    for element, attribute in [(a, "href") for a in page.iter("a")] + [
        (img, "src") for img in page.iter("img")
    ]:
        url = (element.get(attribute) or "").strip()
        wanted = url.startswith(("http://", "https://")) and not url.startswith(personal)
        if wanted and url not in unpublished:
            seen.setdefault(url, None)
    return list(seen)


def links_check(
    settings: Settings,
    target: str,
    html: str,
    fetcher: Callable[[], Fetcher],
    unpublished: Collection[str] = (),
) -> CheckResult:
    """Every link answers below 400: HEAD, then GET when HEAD is refused; redirects
    followed up to ``max_redirects``; at most ``max_links`` links in ``links_deadline``."""
    doctor = settings.doctor
    links = edition_links(settings, html, unpublished)
    chosen = links[: doctor.max_links]
    deadline = time.monotonic() + doctor.links_deadline
    local = threading.local()
    clients: list[Fetcher] = []
    lock = threading.Lock()

    def check(url: str) -> str | None:
        if time.monotonic() > deadline:
            return "skipped"
        if not hasattr(local, "client"):
            local.client = fetcher()
            with lock:
                clients.append(local.client)
        return _broken(local.client, _reachable(settings, url))

    try:
        with ThreadPoolExecutor(LINK_WORKERS) as pool:
            verdicts = list(pool.map(check, chosen))
    finally:
        for client in clients:
            client.close()
    broken = [
        f"{url} ({v})"
        for url, v in zip(chosen, verdicts, strict=True)
        if v not in (None, "skipped")
    ]
    checked = sum(1 for v in verdicts if v != "skipped")
    if broken:
        return failed(
            "edition.links",
            target,
            f"{len(broken)} of {checked} links broken: " + ", ".join(broken[:_SHOWN]),
            "Fix or remove the broken links in the articles (or their sources) before the "
            "edition goes out.",
        )
    if checked < len(links):
        return warned(
            "edition.links",
            target,
            f"{checked} of {len(links)} links checked (max_links, links_deadline); all answer",
            "Raise doctor.max_links or doctor.links_deadline to check every link.",
        )
    return passed("edition.links", target, f"all {len(links)} links answer")


def _reachable(settings: Settings, url: str) -> str:
    """``url``, with the site's own links fetched through ``[doctor] base_url``."""
    site, here = settings.site.base_url, settings.doctor.base_url.rstrip("/")
    if here and (url == site or url.startswith(site + "/")):
        return here + url[len(site) :]
    return url


def _broken(client: Fetcher, url: str) -> str | None:
    """Why ``url`` is broken, or ``None`` when it answers."""
    try:
        answer = client.request("HEAD", url, read_body=False)
        if answer.status >= 400:  # some servers refuse HEAD (405, 403, 501): ask properly
            answer = client.request("GET", url, read_body=False)
    except NoAnswer as err:
        return str(err)
    return str(answer.status) if answer.status >= 400 else None
