"""Rendering an edition once: Jinja → MJML → HTML (+ CSS inlining), and the text part.

The output still holds per-recipient placeholders (:mod:`syndicate.digest.personalise`);
it is the same for every recipient and is what the store keeps. Templates render with
one-time placeholder tokens, and the output is sealed (:class:`Markers`) so article text
that spells a placeholder stays text.

mjml-python does not inline ``<mj-style inline="inline">`` as the official MJML does, so
those blocks are cut from the MJML before compiling and applied with css-inline after,
leaving every other ``<style>`` (media queries, dark mode) in the head as written.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

import css_inline
import mjml

from syndicate.config import ChannelConfig, Settings
from syndicate.digest.compose import Edition, local_date
from syndicate.digest.deks import one_line_dek
from syndicate.digest.errors import RenderLimitError, TemplateError
from syndicate.digest.links import archive_path, edition_url, with_utm
from syndicate.digest.personalise import Markers, shown_length
from syndicate.digest.picks import Layout, PickMarks, same_picks
from syndicate.digest.templates import DigestTemplates
from syndicate.digest.thumbs import Thumbnail, thumbnail
from syndicate.models import Article, Author, Image
from syndicate.store.editions import OWN
from syndicate.store.welcomes import WELCOME, WELCOME_CADENCES

log = logging.getLogger(__name__)

TEXT_MAX_COLUMNS = 78  # RFC 5322 §2.1.1 SHOULD
_RTL = {"ar", "dv", "fa", "he", "ku", "ps", "sd", "ug", "ur", "yi"}
_INLINE_STYLE = re.compile(r"<mj-style\s+inline=\"inline\"\s*>(.*?)</mj-style>", re.S)
_MJ_TAG = re.compile(r"<(mj-[a-z-]+|mjml)\b")
_POSITION = re.compile(r"position (\d+):(\d+)")
# mjml-python hides <mj-preview> text in white (color:#ffffff) on a body it gives no
# background: text the colour of its background is what SpamAssassin's
# HTML_FONT_LOW_CONTRAST looks for, hidden or not. Hide it without any colour instead.
_MJML_PREVIEW = (
    '<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;'
    'max-height:0px;max-width:0px;opacity:0;overflow:hidden;">'
)
_PREVIEW = (
    '<div style="display:none;font-size:1px;line-height:1px;max-height:0px;'
    'max-width:0px;opacity:0;overflow:hidden;mso-hide:all;">'
)
MJML_TAGS = frozenset(
    [
        "mjml",
        "mj-head",
        "mj-body",
        "mj-attributes",
        "mj-all",
        "mj-class",
        "mj-breakpoint",
        "mj-font",
        "mj-html-attributes",
        "mj-html-attribute",
        "mj-selector",
        "mj-preview",
        "mj-style",
        "mj-title",
        "mj-raw",
        "mj-accordion",
        "mj-accordion-element",
        "mj-accordion-title",
        "mj-accordion-text",
        "mj-button",
        "mj-carousel",
        "mj-carousel-image",
        "mj-column",
        "mj-divider",
        "mj-group",
        "mj-hero",
        "mj-image",
        "mj-navbar",
        "mj-navbar-link",
        "mj-section",
        "mj-social",
        "mj-social-element",
        "mj-spacer",
        "mj-table",
        "mj-text",
        "mj-wrapper",
    ]
)


@dataclass(frozen=True, slots=True)
class StoryView:
    """An article as templates see it: links already carry UTM tags."""

    id: str
    url: str
    title: str
    dek: str
    section: str
    date: str
    authors: tuple[Author, ...]
    image: Image | None
    dek_line: str = ""  # one sentence, at most ~140 characters (digest/deks.py)

    @property
    def byline(self) -> str:
        """Named authors joined: "A", "A and B", "A, B and C"; empty when none is named."""
        names = [a.name for a in self.authors if a.name.strip()]
        if len(names) < 2:
            return "".join(names)
        return f"{', '.join(names[:-1])} and {names[-1]}"

    @property
    def bios(self) -> list[str]:
        """The authors' bios that are not empty."""
        return [a.bio for a in self.authors if a.bio.strip()]

    def image_height(self, width: int) -> int:
        """Display height at ``width`` px from the image's ratio (16:9 when unknown)."""
        if self.image and self.image.width and self.image.height:
            return max(1, round(width * self.image.height / self.image.width))
        return round(width * 9 / 16)

    def thumbnail(self, width: int, height: int) -> Thumbnail:
        """How the image fills a ``width`` × ``height`` box, cropped (digest/thumbs.py)."""
        return thumbnail(self.image, width, height)


@dataclass(frozen=True, slots=True)
class RenderedEdition:
    """The compiled parts of an edition, placeholders still in them; ``related_ids`` are
    the "More from" candidates the parts hold, by rank (what the edition stores)."""

    subject: str
    preheader: str
    html: str
    text: str
    related_ids: tuple[str, ...] = ()


def story_view(article: Article, utm: dict[str, str], timezone: str) -> StoryView:
    """The template view of ``article``."""
    return StoryView(
        id=article.id,
        url=with_utm(article.url, utm),
        title=article.title,
        dek=article.dek,
        section=article.section,
        date=local_date(article.published_at, timezone),
        authors=article.authors,
        image=article.image,
        dek_line=one_line_dek(article.dek, article.body_html),
    )


def utm_params(channel: ChannelConfig, slot: datetime) -> dict[str, str]:
    """The UTM parameters for article links, or none when ``utm_source`` is empty."""
    digest = channel.digest
    if not digest.utm_source:
        return {}
    day = slot.astimezone(ZoneInfo(digest.timezone)).strftime("%Y-%m-%d")
    return {
        "utm_source": digest.utm_source,
        "utm_medium": digest.utm_medium,
        "utm_campaign": digest.utm_campaign.format(channel=channel.name, date=day),
    }


def render_context(
    edition: Edition, settings: Settings, channel: ChannelConfig, markers: Markers
) -> dict[str, Any]:
    """Everything the digest templates see; recipient values are ``markers``' tokens."""
    tz = channel.digest.timezone
    utm = utm_params(channel, edition.slot)
    views = [story_view(a, utm, tz) for a in edition.articles]
    language = channel.language or settings.site.language
    browser_url = edition_url(settings.site.base_url, channel.name, edition.slot, edition.cadence)
    welcome = ""
    if edition.cadence in WELCOME_CADENCES:
        welcome = welcome_line(settings, channel, edition.cadence)
        browser_url = welcome_browser_url(settings, channel, edition)
    return {
        "site": settings.site,
        "channel": channel,
        "language": language,
        "dir": "rtl" if language.split("-")[0].lower() in _RTL else "ltr",
        "edition": {
            "subject": edition.subject,
            "preheader": edition.preheader,
            "date": local_date(edition.slot, tz),
            "url": browser_url,
        },
        "lead": views[0],
        "stories": views[1:],
        "related": [story_view(a, utm, tz) for a in edition.related],
        "picks": PickMarks(markers, channel.digest.related_k, candidate_ids(edition)),
        "more_from": f"More from {settings.site.name}",
        "welcome": welcome,
        "recipient": {key: markers.token(key) for key in ("name", "email")},
        "links": {
            "unsubscribe": markers.token("unsubscribe_url"),
            "preferences": markers.token("preferences_url"),
            "view_in_browser": browser_url,
            "home": with_utm(settings.site.base_url + "/", utm),
        },
    }


def welcome_line(settings: Settings, channel: ChannelConfig, cadence: str = WELCOME) -> str:
    """The line a welcome edition opens with (``store/welcomes.py``): what this mail
    is, for a reader who has just confirmed and expects nothing yet."""
    what = (
        "here is our latest edition"
        if cadence == WELCOME
        else "here are a few of our stories to start with"
    )
    return (
        f"Welcome to {channel.title}, and thank you for subscribing: {what}. "
        "The next edition comes on its usual schedule."
    )


def welcome_browser_url(settings: Settings, channel: ChannelConfig, edition: Edition) -> str:
    """Where a welcome's "view in your browser" link goes: the page of the edition it
    copies (a welcome has the slot of the edition it copies), or for a "start here"
    selection, which has no page, the channel's archive."""
    base = settings.site.base_url
    if edition.cadence == WELCOME:
        return edition_url(base, channel.name, edition.slot, OWN)
    return base + archive_path(channel.name)


def candidate_ids(edition: Edition) -> tuple[str, ...]:
    """The edition's "More from" candidates by rank: a stored edition's related ids (an
    article deleted since keeps its rank, and is never shown), else its related items."""
    if edition.record is not None:
        return edition.record.related_ids
    return tuple(a.id for a in edition.related)


def render_edition(
    edition: Edition, settings: Settings, channel: ChannelConfig, templates: DigestTemplates
) -> RenderedEdition:
    """Compile ``edition`` with the channel's template; raise on any error or limit.

    Every related item is a candidate, marked for per-reader splicing
    (:mod:`syndicate.digest.picks`). A template that marks no block (one written before
    per-reader memory) would show every candidate to everyone: it is rendered with the
    first ``related_k`` only, which every reader then gets, and a warning says so.
    """
    markers = Markers()
    context = render_context(edition, settings, channel, markers)
    name = channel.digest.template
    html_name, text_name = f"{name}.mjml.j2", f"{name}.txt.j2"
    html_origin, text_origin = templates.path(html_name), templates.path(text_name)
    source = templates.render(html_name, context)
    html = compile_mjml(source, origin=html_origin, language=context["language"])
    html = markers.seal(html)
    text = markers.seal(templates.render(text_name, context))
    text = tidy_text(text, origin=text_origin)
    html_layout, text_layout = Layout(html, html_origin), Layout(text, text_origin)
    same_picks(html_layout, text_layout)
    k = channel.digest.related_k
    if not html_layout.has_block and len(edition.related) > k:
        log.warning(
            '%s marks no "More from" block (picks.begin, picks.item, picks.end): every '
            "reader gets the same %d picks, whatever they received before (docs/digests.md)",
            html_origin,
            k,
        )
        return render_edition(
            replace(edition, related=edition.related[:k]), settings, channel, templates
        )
    # What a reader can get at most: the related_k candidates with the most markup.
    largest = html_layout.text(html_layout.largest())
    check_size(largest, channel.digest.max_html_bytes, origin=html_origin)
    related = (
        candidate_ids(edition) if html_layout.has_block else tuple(a.id for a in edition.related)
    )
    return RenderedEdition(edition.subject, edition.preheader, html, text, related)


def compile_mjml(source: str, *, origin: str, language: str = "en") -> str:
    """MJML → HTML with the ``inline`` styles inlined; errors name ``origin``."""
    for match in _MJ_TAG.finditer(source):
        if match.group(1) not in MJML_TAGS:
            line = source.count("\n", 0, match.start()) + 1
            raise TemplateError(
                f"invalid MJML: unknown element <{match.group(1)}> "
                f"(line {line} of the generated MJML)",
                template=origin,
            )
    inline_css = "\n".join(_INLINE_STYLE.findall(source))
    stripped = _INLINE_STYLE.sub("", source)
    try:
        html = str(mjml.mjml2html(stripped))
    except ValueError as err:
        raise TemplateError(
            f"invalid MJML: {err}{_where(stripped, str(err))}", template=origin
        ) from err
    html = html.replace(_MJML_PREVIEW, _PREVIEW, 1)
    inliner = css_inline.CSSInliner(
        inline_style_tags=False,
        keep_style_tags=True,
        load_remote_stylesheets=False,
        extra_css=inline_css or None,
    )
    html = inliner.inline(html)
    if not html.lstrip().lower().startswith("<!doctype"):
        html = "<!doctype html>" + html
    # MJML puts lang/dir on <html> and a wrapper div; HM-4 wants them on <body> too.
    direction = "rtl" if language.split("-")[0].lower() in _RTL else "ltr"
    lang = escape(language, quote=True)
    return html.replace("<body", f'<body lang="{lang}" dir="{direction}"', 1)


def _where(source: str, message: str) -> str:
    match = _POSITION.search(message)
    if not match:
        return ""
    offset = min(int(match.group(1)), len(source))
    line = source.count("\n", 0, offset) + 1
    text = source.splitlines()[line - 1].strip() if source else ""
    return f" (line {line} of the generated MJML: {text[:80]!r})"


def check_size(html: str, limit: int, *, origin: str) -> None:
    """Fail when the UTF-8 HTML is over ``limit`` bytes (Gmail clips at about 102 KB)."""
    size = len(html.encode("utf-8"))
    if size > limit:
        raise RenderLimitError(
            f"rendered HTML is {size:,} bytes, over the limit of {limit:,} "
            "([digest] max_html_bytes); use fewer stories (max_items) or a smaller template",
            template=origin,
        )


def tidy_text(text: str, *, origin: str) -> str:
    """Trailing spaces cut, runs of blank lines folded, lines checked against 78 columns.

    A longer line is accepted only when it is one unbreakable word (a long URL). Lines
    are measured as the reader sees them (escaped percent signs count as one column).
    """
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").split("\n")]
    out: list[str] = []
    for line in lines:
        if not line and (not out or not out[-1]):
            continue
        out.append(line)
    for number, line in enumerate(out, 1):
        width = shown_length(line)
        if width > TEXT_MAX_COLUMNS and " " in line.strip():
            raise TemplateError(
                f"text part line {number} is {width} columns (at most "
                f"{TEXT_MAX_COLUMNS}); wrap it with the 'wrap' filter",
                template=origin,
            )
    return "\n".join(out).strip("\n") + "\n"
