"""Compose, render, then save: the one order in which an edition is made.

Rendering comes before saving, so a bad template or an oversize edition raises and
leaves no row behind. Composing the same (channel, slot) again returns the stored
edition and its stored parts: every recipient gets the same bytes however long delivery
takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from syndicate.config import ChannelConfig, Settings
from syndicate.digest.compose import Edition, compose_edition
from syndicate.digest.render import RenderedEdition, render_edition
from syndicate.digest.templates import DigestTemplates
from syndicate.store import Store
from syndicate.store.editions import OWN, READY, EditionRecord, NewEdition, save_edition


@dataclass(frozen=True, slots=True)
class BuiltEdition:
    """An edition with its compiled parts; ``record`` is set once it is stored."""

    edition: Edition
    rendered: RenderedEdition
    record: EditionRecord | None
    created: bool


def build_edition(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    slot: datetime,
    *,
    save: bool = True,
    rerender: bool = False,
    templates: DigestTemplates | None = None,
    now: datetime | None = None,
    cadence: str = OWN,
    status: str = READY,
) -> BuiltEdition | None:
    """The edition of ``channel`` for ``slot``, rendered and (with ``save``) stored.

    ``None`` when there are fewer new articles than ``min_items``. A stored edition is
    returned as stored, unless ``rerender`` (previews: show template changes) asks to
    compile it again; re-rendering never writes. A new edition is stored with
    ``status`` (``draft`` when it waits for review, :mod:`syndicate.digest.review`).
    """
    templates = templates or DigestTemplates(settings)
    edition = compose_edition(store, settings, channel, slot, templates, cadence)
    if edition is None:
        return None
    if edition.record is not None:
        if not rerender:
            record = edition.record
            stored = RenderedEdition(
                edition.subject, edition.preheader, record.html, record.text, record.related_ids
            )
            return BuiltEdition(edition, stored, edition.record, created=False)
        rendered = render_edition(edition, settings, channel, templates)
        return BuiltEdition(edition, rendered, edition.record, created=False)
    rendered = render_edition(edition, settings, channel, templates)
    if not save:
        return BuiltEdition(edition, rendered, None, created=False)
    new = stored_form(channel, slot, edition, rendered, now or datetime.now(UTC), cadence, status)
    record, created = save_edition(store, new)
    return BuiltEdition(edition, rendered, record, created)


def stored_form(
    channel: ChannelConfig,
    slot: datetime,
    edition: Edition,
    rendered: RenderedEdition,
    now: datetime,
    cadence: str = OWN,
    status: str = READY,
) -> NewEdition:
    """The row that stores ``edition`` of ``channel`` for ``slot`` with its compiled parts."""
    return NewEdition(
        channel=channel.name,
        slot=slot,
        article_ids=tuple(a.id for a in edition.articles),
        # The candidates the parts hold (a template without the "More from" markers
        # holds only the first related_k; see render_edition).
        related_ids=rendered.related_ids,
        subject=rendered.subject,
        preheader=rendered.preheader,
        html=rendered.html,
        text=rendered.text,
        created_at=now,
        cadence=cadence,
        status=status,
    )
