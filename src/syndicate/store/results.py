"""The end of a claim: each delivery's result recorded, or its lease given back.

Part of the outbox: :class:`~syndicate.store.outbox.Outbox` mixes this in. A result is
written together with the release of its lease in one transaction, so after a crash only
rows whose lease expired are claimed again (:mod:`syndicate.store.outbox` has the rest).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, Integer, String, Text, bindparam, func, update
from sqlalchemy.exc import InterfaceError, OperationalError

from syndicate.store.arrays import on_postgres, unnested
from syndicate.store.delivery_schema import deliveries
from syndicate.store.schema import UTCDateTime

_RECORD_RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # about half a minute in all

# The outbox's logger, as before this part had its own module, so existing log filters
# and alerts on the retry warning still match.
log = logging.getLogger("syndicate.store.outbox")


@dataclass(frozen=True, slots=True)
class Outcome:
    """How to record one delivery's result."""

    id: int
    status: str  # sent | deferred | failed | suppressed
    error: str | None = None
    provider_message_id: str | None = None
    next_attempt_at: datetime | None = None


class DeliveryResults:
    """Recording results and releasing leases on ``deliveries`` (mixed into ``Outbox``)."""

    engine: Engine

    def record(self, owner: str, outcomes: Sequence[Outcome], now: datetime) -> None:
        """Record results and release their leases, all in one transaction.

        A ``sent`` result is written even if the lease was lost meanwhile (the message
        did go); any other result only while ``owner`` still holds the row. One
        executemany per kind of result keeps this cheap for large batches.
        """
        # The messages have left by now: a lost connection (a database restart or
        # failover) is retried here, or their rows would be sent again after the lease.
        # Both statements are idempotent, so a commit whose answer was lost is harmless.
        for delay in (*_RECORD_RETRY_DELAYS, None):
            try:
                self._record(owner, outcomes, now)
                return
            except (OperationalError, InterfaceError):
                if delay is None:
                    raise
                log.warning("recording %d results failed; retrying in %ss", len(outcomes), delay)
                time.sleep(delay)

    def _record(self, owner: str, outcomes: Sequence[Outcome], now: datetime) -> None:
        sent = [o for o in outcomes if o.status == "sent"]
        other = [o for o in outcomes if o.status != "sent"]
        d = deliveries.c
        with self.engine.begin() as conn:
            # PostgreSQL: each kind of result is one UPDATE … FROM unnest(…) (one array
            # per column, see syndicate.store.arrays); SQLite: one executemany.
            arrays = on_postgres(conn)
            if sent:
                done = {
                    "status": "sent",
                    "sent_at": now,
                    "last_error": None,
                    "lease_until": None,
                    "lease_owner": None,
                }
                if arrays:
                    v = unnested(
                        "result",
                        id=(Integer(), [o.id for o in sent]),
                        pmid=(Text(), [o.provider_message_id for o in sent]),
                    )
                    conn.execute(
                        update(deliveries)
                        .where(d.id == v.c.id, d.status != "sent")
                        .values({**done, "provider_message_id": v.c.pmid})
                    )
                else:
                    conn.execute(
                        update(deliveries)
                        .where(d.id == bindparam("b_id"), d.status != "sent")
                        .values({**done, "provider_message_id": bindparam("b_pmid")}),
                        [{"b_id": o.id, "b_pmid": o.provider_message_id} for o in sent],
                    )
            if other:
                mine = (d.lease_owner == owner, d.status == "sending")
                if arrays:
                    v = unnested(
                        "result",
                        id=(Integer(), [o.id for o in other]),
                        status=(String(), [o.status for o in other]),
                        error=(Text(), [o.error for o in other]),
                        next=(UTCDateTime(), [o.next_attempt_at for o in other]),
                    )
                    conn.execute(
                        update(deliveries)
                        .where(d.id == v.c.id, *mine)
                        .values(
                            status=v.c.status,
                            last_error=v.c.error,
                            next_attempt_at=func.coalesce(v.c.next, d.next_attempt_at),
                            lease_until=None,
                            lease_owner=None,
                        )
                    )
                    return
                conn.execute(
                    update(deliveries)
                    .where(d.id == bindparam("b_id"), *mine)
                    .values(
                        status=bindparam("b_status"),
                        last_error=bindparam("b_error"),
                        next_attempt_at=func.coalesce(
                            bindparam("b_next", type_=UTCDateTime), d.next_attempt_at
                        ),
                        lease_until=None,
                        lease_owner=None,
                    ),
                    [
                        {
                            "b_id": o.id,
                            "b_status": o.status,
                            "b_error": o.error,
                            "b_next": o.next_attempt_at,
                        }
                        for o in other
                    ],
                )

    def release(self, owner: str) -> int:
        """Give back every lease ``owner`` holds (a clean shutdown); returns how many."""
        with self.engine.begin() as conn:
            done = conn.execute(
                update(deliveries)
                .where(deliveries.c.lease_owner == owner, deliveries.c.status == "sending")
                .values(status="queued", lease_until=None, lease_owner=None)
            )
            return int(done.rowcount)
