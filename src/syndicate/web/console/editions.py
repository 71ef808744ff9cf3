"""The edition page and what an editor does to an edition.

``GET /editions/<id>`` shows the edition for one segment (the whole edition, or the
copy of readers who chose one section): subject, preheader, the HTML in a sandboxed
frame and the text as sent (the sample reader's copy), who gets it, live counts by
delivery status with send rate and time to finish (``static/console.js`` polls
``/editions/<id>/progress``; without JavaScript the page refreshes itself while
sending), and one address's delivery. Under review it also offers the draft's edits,
hold, approve and cancel; always a test send, and retrying failed deliveries.

Every action calls the pipeline function the CLI calls (:mod:`syndicate.digest.review`,
:mod:`syndicate.delivery.release`, :mod:`syndicate.delivery.testsend`), which records it
in the audit log; a refused move is a 409 page saying why.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from syndicate.config import ChannelConfig
from syndicate.delivery.dispatch import audience_by_segment, audience_counts
from syndicate.delivery.release import approve_and_release
from syndicate.delivery.testsend import TestSendRefused, sample_parts, send_test
from syndicate.digest import review
from syndicate.digest.errors import DigestError, ReviewError
from syndicate.store.editions import UNDER_REVIEW, EditionRecord, get_edition_by_id
from syndicate.store.lookup import find_articles
from syndicate.store.operators import Operators
from syndicate.store.oversight import delivery_of, progress, retry_failed
from syndicate.web.console.auth import CSRF_FIELD, Call, guarded
from syndicate.web.console.pages import HEADERS, page, plain
from syndicate.web.console.services import ConsoleServices
from syndicate.web.console.today import edition_view, state_of

PREVIEW_HEADERS = {
    **HEADERS,
    "X-Frame-Options": "SAMEORIGIN",
    # The edition's own HTML: inline styles and remote images as a mail client shows
    # them, never a script, a form or a plugin, and only inside the console's frame.
    "Content-Security-Policy": (
        "default-src 'none'; img-src https: http: data:; style-src 'unsafe-inline'; "
        "frame-ancestors 'self'; sandbox"
    ),
}


def segments_of(view_stories: list[Any]) -> list[str]:
    """The segments worth previewing: "" (everyone) and each section of the stories
    when there are several."""
    sections = sorted({a.section for a in view_stories if a.section})
    return ["", *sections] if len(sections) > 1 else [""]


def routes(services: ConsoleServices) -> list[BaseRoute]:
    """The edition page, its preview and progress, and the actions on it."""

    def loaded(call: Call) -> tuple[EditionRecord, ChannelConfig | None] | Response:
        record = get_edition_by_id(services.store, int(call.request.path_params["edition"]))
        if record is None:
            return plain(404, "No such edition.")
        return record, services.channels().get(record.channel)

    def segment_of(call: Call, stories: list[Any]) -> str:
        wanted = call.request.query_params.get("segment", "")
        return wanted if wanted in segments_of(stories) else ""

    def show(call: Call) -> Response:
        found = loaded(call)
        if isinstance(found, Response):
            return found
        record, channel = found
        store = services.store
        view = edition_view(store, record)
        segments = segments_of(view.stories)
        segment = segment_of(call, view.stories)
        subject, preheader, text = record.subject, record.preheader, record.text
        audience = None
        by_segment: dict[str, int] = {}
        if channel is not None:
            try:
                subject, preheader, _, text = sample_parts(
                    store, services.settings, channel, record, [segment] if segment else []
                )
            except DigestError as err:
                text = f"(this copy cannot be rendered now: {err})"
            audience = audience_counts(store, channel, record)
            by_segment = audience_by_segment(store, channel, record)
        address = call.request.query_params.get("address", "").strip()
        found_row = delivery_of(store, record.id, address) if address else None
        return page(
            "edition.html",
            site=services.site,
            title=f"Edition {record.id}: {record.subject}",
            call=call,
            prefix=services.prefix,
            view=view,
            channel=channel,
            zone=channel.digest.timezone if channel else "UTC",
            segments=segments,
            segment=segment,
            subject=subject,
            preheader=preheader,
            text=text,
            audience=audience,
            by_segment=by_segment,
            address=address,
            found=found_row,
            under_review=record.status in UNDER_REVIEW,
            seeds=channel.digest.test_addresses if channel else (),
            csrf_field=CSRF_FIELD,
            refresh=view.state == "sending",
        )

    def preview(call: Call) -> Response:
        found = loaded(call)
        if isinstance(found, Response):
            return found
        record, channel = found
        if channel is None:
            return plain(404, "The edition's channel is gone.")
        view = edition_view(services.store, record)
        segment = segment_of(call, view.stories)
        try:
            _, _, html, _ = sample_parts(
                services.store, services.settings, channel, record, [segment] if segment else []
            )
        except DigestError as err:
            return plain(500, f"This copy cannot be rendered now: {err}")
        return HTMLResponse(html, headers=PREVIEW_HEADERS)

    def progress_json(call: Call) -> Response:
        found = loaded(call)
        if isinstance(found, Response):
            return found
        record, _ = found
        done = progress(services.store, record.id)
        rate = done.rate()
        left = done.seconds_left()
        return JSONResponse(
            {
                "state": state_of(record, done),
                "counts": done.counts,
                "total": done.total,
                "rate": round(rate, 2) if rate else None,
                "seconds_left": round(left) if left else None,
            },
            headers=HEADERS,
        )

    def refused(err: Exception) -> Response:
        return plain(409, f"Not done: {err}")

    def act(call: Call) -> Response:
        found = loaded(call)
        if isinstance(found, Response):
            return found
        record, channel = found
        action = call.request.path_params["action"]
        now = services.clock()
        store = services.store
        back = f"/editions/{record.id}"
        try:
            if action == "hold":
                review.hold(store, record.id, call.actor, now, call.field("reason"))
            elif action == "approve":
                approve_and_release(store, channel, record.id, call.actor, now)
            elif action == "cancel":
                review.cancel(store, record.id, call.actor, now, call.field("reason"))
            elif action == "edit":
                if channel is None:
                    return plain(409, "The edition's channel is gone.")
                edit(call, record, channel)
            elif action == "test-send":
                if channel is None:
                    return plain(409, "The edition's channel is gone.")
                typed = call.field("addresses").replace(",", " ").split()
                segment = call.field("segment")
                send_test(
                    store,
                    services.settings,
                    channel,
                    record,
                    [*channel.digest.test_addresses, *typed],
                    actor=call.actor,
                    now=now,
                    make_backend=services.backend,
                    sections=[segment] if segment else [],
                )
                back += "?sent=test"
            elif action == "retry":
                count = retry_failed(store, record.id, now)
                Operators(store).audit(
                    call.actor,
                    "edition.retry",
                    f"edition {record.id}",
                    now,
                    after={"queued": count},
                )
            else:
                return plain(404, "No such action.")
        except TestSendRefused as err:
            return plain(429 if "limited" in str(err) else 400, f"Test not sent: {err}")
        except (ReviewError, DigestError) as err:
            return refused(err)
        return call.redirect(back)

    def edit(call: Call, record: EditionRecord, channel: ChannelConfig) -> None:
        stories = list(record.article_ids)
        picks = list(record.related_ids)
        op, target = call.field("op"), call.field("article")
        changes: dict[str, Any] = {}
        if op in ("drop", "up", "down"):
            if target not in stories:
                raise ReviewError("that story is not in the edition")
            i = stories.index(target)
            if op == "drop":
                stories.pop(i)
            else:
                j = max(0, i - 1) if op == "up" else min(len(stories) - 1, i + 1)
                stories[i], stories[j] = stories[j], stories[i]
            changes["article_ids"] = stories
        elif op == "drop-pick":
            changes["related_ids"] = [p for p in picks if p != target]
        elif op == "pin":
            matches = find_articles(services.store, call.field("ref"))
            if len(matches) != 1:
                raise ReviewError("give one stored article's id, URL or slug to pin")
            pinned = matches[0].id
            changes["related_ids"] = [pinned, *(p for p in picks if p != pinned)]
        elif op == "subject":
            changes["subject"] = call.field("subject")
        else:
            raise ReviewError("unknown edit")
        review.revise(
            services.store,
            services.settings,
            channel,
            record.id,
            actor=call.actor,
            now=services.clock(),
            **changes,
        )

    return [
        Route("/editions/{edition:int}", guarded(services, show), methods=["GET"]),
        Route("/editions/{edition:int}/preview", guarded(services, preview), methods=["GET"]),
        Route(
            "/editions/{edition:int}/progress", guarded(services, progress_json), methods=["GET"]
        ),
        Route("/editions/{edition:int}/{action}", guarded(services, act), methods=["POST"]),
    ]
