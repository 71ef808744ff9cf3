"""Control: pause and resume a channel's sending (editors); suppress and unsuppress an
address, force a source's poll, read the audit log and the operators (admins)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from syndicate.store.delivery_schema import SUBSCRIBER_STATUSES
from syndicate.store.outbox import Outbox
from syndicate.store.oversight import (
    delivery_history,
    pause_channel,
    search_subscribers,
    suppression_of,
    unsuppress,
)
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.roster import CSV_COLUMNS, export_rows
from syndicate.web.console.auth import CSRF_FIELD, Call, guarded
from syndicate.web.console.pages import HEADERS, page, plain
from syndicate.web.console.services import ConsoleServices

SUPPRESS_REASONS = ("bounced", "complained", "unsubscribed")


def routes(services: ConsoleServices) -> list[BaseRoute]:
    """Channel pauses, suppressions, force-poll, the audit log and the operators."""

    def channel_action(call: Call) -> Response:
        name = call.request.path_params["channel"]
        if call.request.path_params["action"] not in ("pause", "resume"):
            return plain(404, "No such action.")
        if name not in services.channels():
            return plain(404, "No such channel.")
        store, now = services.store, services.clock()
        paused = Outbox(store).paused()
        before = {"paused": name in paused, "reason": paused.get(name, (None, ""))[1]}
        if call.request.path_params["action"] == "pause":
            reason = call.field("reason") or f"paused by {call.actor}"
            changed = pause_channel(store, name, reason, now)
            after = {"paused": True, "reason": reason}
        else:
            changed = Outbox(store).resume(name)
            after = {"paused": False}
        if changed:
            services.operators.audit(
                call.actor,
                f"channel.{call.request.path_params['action']}",
                name,
                now,
                before=before,
                after=after,
            )
        return call.redirect("/")

    def suppression(call: Call) -> Response:
        email = call.field("email").lower()
        if "@" not in email:
            return plain(400, "Give an email address.")
        store, now = services.store, services.clock()
        before = suppression_of(store, email)
        if call.field("action") == "unsuppress":
            changed = unsuppress(store, email, now)
            after = None
        else:
            reason = call.field("reason")
            if reason not in SUPPRESS_REASONS:
                return plain(400, f"The reason is one of {', '.join(SUPPRESS_REASONS)}.")
            detail = call.field("detail") or f"by {call.actor} in the console"
            changed = SubscriberStore(store).suppress(
                email, reason, source="console", detail=detail, now=now
            )
            after = {"reason": reason, "source": "console", "detail": detail}
        if changed:
            services.operators.audit(
                call.actor,
                f"address.{call.field('action') or 'suppress'}",
                email,
                now,
                before=before,
                after=after,
            )
        return call.redirect(f"/subscribers?email={email}")

    def subscribers(call: Call) -> Response:
        params = call.request.query_params
        email = params.get("email", "").strip().lower()
        text, status = params.get("q", ""), params.get("status", "")
        store = services.store
        people = SubscriberStore(store)
        found = people.get(email) if email else None
        detail = search_subscribers(store, email, limit=1) if found else []
        return page(
            "subscribers.html",
            site=services.site,
            title="Subscribers",
            call=call,
            prefix=services.prefix,
            q=text,
            wanted=status,
            statuses=SUBSCRIBER_STATUSES,
            results=search_subscribers(store, text, status) if (text or status) else [],
            email=email,
            found=found,
            consent=detail[0].consent if detail else {},
            history=delivery_history(store, found.id) if found else [],
            suppressed=suppression_of(store, email) if email else None,
            counts=people.counts(),
            reasons=SUPPRESS_REASONS,
            csrf_field=CSRF_FIELD,
        )

    def export(call: Call) -> Response:
        status = call.request.query_params.get("status", "") or None
        if status is not None and status not in SUBSCRIBER_STATUSES:
            return plain(400, "Unknown status.")
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        rows = list(export_rows(SubscriberStore(services.store), status))
        writer.writerows(rows)
        # Reading the list is not a write, but a copy of it leaving is worth a record.
        services.operators.audit(
            call.actor,
            "subscribers.export",
            status or "all",
            services.clock(),
            after={"rows": len(rows)},
        )
        return Response(
            out.getvalue(),
            media_type="text/csv; charset=utf-8",
            headers={
                **HEADERS,
                "Content-Disposition": 'attachment; filename="subscribers.csv"',
            },
        )

    def poll(call: Call) -> Response:
        name = call.request.path_params["source"]
        if name not in {s.name for s in services.settings.sources}:
            return plain(404, "No such source.")
        store, now = services.store, services.clock()
        state = store.get_source_state(name)
        store.save_source_state(replace(state, next_poll_at=now))
        services.operators.audit(
            call.actor,
            "source.poll",
            name,
            now,
            before={"next_poll_at": state.next_poll_at.isoformat() if state.next_poll_at else None},
            after={"next_poll_at": now.isoformat()},
        )
        return call.redirect("/")

    def audit(call: Call) -> Response:
        return page(
            "audit.html",
            site=services.site,
            title="Audit log",
            call=call,
            prefix=services.prefix,
            entries=services.operators.audit_entries(200),
            csrf_field=CSRF_FIELD,
        )

    def operators(call: Call) -> Response:
        return page(
            "operators.html",
            site=services.site,
            title="Operators",
            call=call,
            prefix=services.prefix,
            operators=services.operators.all(),
            csrf_field=CSRF_FIELD,
        )

    return [
        Route(
            "/channels/{channel}/{action:str}",
            guarded(services, channel_action),
            methods=["POST"],
        ),
        Route("/subscribers", guarded(services, subscribers, admin=True), methods=["GET"]),
        Route("/subscribers.csv", guarded(services, export, admin=True), methods=["GET"]),
        Route("/suppressions", guarded(services, suppression, admin=True), methods=["POST"]),
        Route("/sources/{source}/poll", guarded(services, poll, admin=True), methods=["POST"]),
        Route("/audit", guarded(services, audit, admin=True), methods=["GET"]),
        Route("/operators", guarded(services, operators, admin=True), methods=["GET"]),
    ]
