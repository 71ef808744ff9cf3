"""How often a channel has been mailing: its own editions in a window (for the
"mails per week" a subscriber is shown, when its schedule cannot say: ``on_new``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from syndicate.store.core import Store
from syndicate.store.editions import OWN
from syndicate.store.schema import editions


def editions_between(store: Store, channel: str, since: datetime, until: datetime) -> int:
    """The channel's own editions (not round-ups, not welcomes) with a slot in
    ``[since, until)``."""
    query = select(func.count()).where(
        editions.c.channel == channel,
        editions.c.cadence == OWN,
        editions.c.slot >= since,
        editions.c.slot < until,
    )
    with store.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())
