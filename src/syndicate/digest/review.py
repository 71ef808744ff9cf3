"""The hold window: drafts, holds, approvals, edits, and drafts that run out of time.

With ``[digest] review = "approve"`` or ``draft_hours > 0`` a channel's own editions
(cron schedules; round-ups and ``on_new`` editions are not reviewed) are stored as
``draft``. From there:

* ``auto`` review: the scheduler approves a draft at its slot unless an editor has
  ``held`` it; a held edition waits for an editor's approval.
* ``approve`` review: only an editor's approval lets it go.
* Approval freezes it (``approved``): its content never changes again, and only then
  are its deliveries enqueued, by the scheduler at (or after) the slot.
* A draft or held edition still waiting ``max_lateness_hours`` after its slot is
  ``missed``: reported, never sent late. An editor may also ``cancel`` one.

Until approval an editor may drop or reorder stories, pin or drop "More from" picks
and edit the subject (:func:`revise`): the edition is rendered again and stored in
place. Every change is written to the audit log with its actor; the console and the
CLI call these same functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from syndicate.config import ChannelConfig, Settings
from syndicate.digest.compose import load_edition
from syndicate.digest.errors import ReviewError
from syndicate.digest.render import render_edition
from syndicate.digest.slots import ON_NEW
from syndicate.digest.templates import DigestTemplates
from syndicate.store import Store
from syndicate.store.editions import (
    APPROVED,
    CANCELLED,
    DRAFT,
    HELD,
    MISSED,
    OWN,
    READY,
    UNDER_REVIEW,
    EditionRecord,
    articles_by_ids,
    editions_in,
    get_edition_by_id,
    move_edition,
    revise_edition,
)
from syndicate.store.operators import Operators
from syndicate.store.reviews import record_decision

SCHEDULER = "scheduler"
"""The actor the audit log names for the scheduler's own moves."""


def reviewed(channel: ChannelConfig, cadence: str = OWN) -> bool:
    """Whether ``channel``'s editions at ``cadence`` go through a hold window."""
    digest = channel.digest
    if cadence != OWN or digest.schedule == ON_NEW:
        return False
    return digest.review == "approve" or digest.draft_hours > 0


def initial_status(channel: ChannelConfig, cadence: str = OWN) -> str:
    """The status a new edition is stored with: ``draft`` under review, else ``ready``."""
    return DRAFT if reviewed(channel, cadence) else READY


def _move(
    store: Store,
    edition_id: int,
    from_: Sequence[str],
    to: str,
    actor: str,
    now: datetime,
    reason: str = "",
) -> EditionRecord:
    before = get_edition_by_id(store, edition_id)
    if before is None:
        raise ReviewError(f"no edition {edition_id}")
    if not move_edition(store, edition_id, from_, to):
        raise ReviewError(
            f"edition {edition_id} is {before.status}: only a {' or '.join(from_)} "
            f"edition can become {to}"
        )
    record_decision(store, edition_id, actor, now, reason)
    after = {"status": to, **({"reason": reason} if reason else {})}
    Operators(store).audit(
        actor,
        f"edition.{to}",
        f"edition {edition_id}",
        now,
        before={"status": before.status},
        after=after,
    )
    moved = get_edition_by_id(store, edition_id)
    assert moved is not None
    return moved


def hold(
    store: Store, edition_id: int, actor: str, now: datetime, reason: str = ""
) -> EditionRecord:
    """Hold a draft: it will not go out until approved."""
    return _move(store, edition_id, (DRAFT,), HELD, actor, now, reason)


def approve(store: Store, edition_id: int, actor: str, now: datetime) -> EditionRecord:
    """Approve (and freeze) a draft or held edition."""
    return _move(store, edition_id, UNDER_REVIEW, APPROVED, actor, now)


def cancel(
    store: Store, edition_id: int, actor: str, now: datetime, reason: str = ""
) -> EditionRecord:
    """Cancel a draft or held edition: it will never be sent."""
    return _move(store, edition_id, UNDER_REVIEW, CANCELLED, actor, now, reason)


def expire(store: Store, channels: Sequence[ChannelConfig], now: datetime) -> list[EditionRecord]:
    """Mark ``missed`` every draft or held edition still waiting ``max_lateness_hours``
    after its slot; returns them (the scheduler reports each)."""
    lateness = {c.name: timedelta(hours=c.digest.max_lateness_hours) for c in channels}
    missed = []
    for record in editions_in(store, UNDER_REVIEW, slot_before=now):
        allowed = lateness.get(record.channel)
        if allowed is None or now - record.slot <= allowed:
            continue
        reason = f"not approved within {allowed.total_seconds() / 3600:g}h of its slot"
        try:
            missed.append(_move(store, record.id, UNDER_REVIEW, MISSED, SCHEDULER, now, reason))
        except ReviewError:
            continue  # approved or cancelled meanwhile
    return missed


def revise(
    store: Store,
    settings: Settings,
    channel: ChannelConfig,
    edition_id: int,
    *,
    actor: str,
    now: datetime,
    article_ids: Sequence[str] | None = None,
    related_ids: Sequence[str] | None = None,
    subject: str | None = None,
    templates: DigestTemplates | None = None,
) -> EditionRecord:
    """Change an edition under review: its stories (a subset, in a new order), its
    "More from" candidates (drop some, pin one to the front) or its subject; the parts
    are rendered again. Raises :class:`ReviewError` if it is no longer under review, if
    no story is left, or if an id is not a stored article."""
    record = get_edition_by_id(store, edition_id)
    if record is None:
        raise ReviewError(f"no edition {edition_id}")
    if record.status not in UNDER_REVIEW:
        raise ReviewError(f"edition {edition_id} is {record.status}: it can no longer change")
    edition = load_edition(store, record)
    stories = edition.articles
    if article_ids is not None:
        stories = tuple(articles_by_ids(store, list(dict.fromkeys(article_ids))))
        if len(stories) != len(set(article_ids)):
            raise ReviewError("an edition can only carry stored articles")
        if not stories:
            raise ReviewError("an edition needs at least one story")
    related = edition.related
    if related_ids is not None:
        related = tuple(articles_by_ids(store, list(dict.fromkeys(related_ids))))
        if len(related) != len(set(related_ids)):
            raise ReviewError('a "More from" pick must be a stored article')
    story_ids = {a.id for a in stories}
    related = tuple(a for a in related if a.id not in story_ids)
    new_subject = edition.subject if subject is None else " ".join(subject.split())
    if not new_subject:
        raise ReviewError("the subject cannot be empty")
    # Without its record: rendering then takes the candidates from ``related`` as given
    # here, not from the stored ids (render.candidate_ids).
    changed = replace(edition, articles=stories, related=related, subject=new_subject, record=None)
    rendered = render_edition(changed, settings, channel, templates or DigestTemplates(settings))
    ok = revise_edition(
        store,
        edition_id,
        article_ids=[a.id for a in stories],
        related_ids=rendered.related_ids,
        subject=rendered.subject,
        preheader=rendered.preheader,
        html=rendered.html,
        text=rendered.text,
    )
    if not ok:
        raise ReviewError(f"edition {edition_id} was approved or closed meanwhile")
    Operators(store).audit(
        actor,
        "edition.edit",
        f"edition {edition_id}",
        now,
        before=_content(record),
        after={
            "article_ids": [a.id for a in stories],
            "related_ids": list(rendered.related_ids),
            "subject": rendered.subject,
        },
    )
    revised = get_edition_by_id(store, edition_id)
    assert revised is not None
    return revised


def _content(record: EditionRecord) -> dict[str, object]:
    return {
        "article_ids": list(record.article_ids),
        "related_ids": list(record.related_ids),
        "subject": record.subject,
    }


__all__ = [
    "APPROVED",
    "CANCELLED",
    "DRAFT",
    "HELD",
    "MISSED",
    "SCHEDULER",
    "ReviewError",
    "approve",
    "cancel",
    "expire",
    "hold",
    "initial_status",
    "reviewed",
    "revise",
]
