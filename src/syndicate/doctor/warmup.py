"""Whether a new sending domain ramps up: the warm-up check.

A domain that has never sent is on probation at the mailbox providers, so when this
instance has sent nothing yet and ``[delivery] warmup`` is not set, the check switches
the ramp on in the store (``delivery/warmup.py``) — the one check that writes, because
"on by default for a domain that never sent" must hold before the first edition goes.
"""

from __future__ import annotations

from datetime import datetime

from syndicate.config import Settings, WarmupSettings
from syndicate.delivery.warmup import Warmup, enable_warmup
from syndicate.doctor.results import CheckResult, passed, warned
from syndicate.store import Store
from syndicate.store.outbox import Outbox

CHECK = "delivery.warmup"


def warmup_check(settings: Settings, store: Store, now: datetime) -> CheckResult:
    """Pass when a ramp is set or the instance has sent before; otherwise switch the
    default ramp on (start 200, 42 days) and warn that it did."""
    domain = settings.delivery.sending_domain
    configured = settings.delivery.warmup
    if configured is not None:
        return passed(
            CHECK,
            domain,
            f"warm-up set: {configured.start} a day per group, {configured.days} days",
        )
    stored = Warmup(store, None).config()
    if stored is not None:
        return passed(
            CHECK,
            domain,
            f"warm-up on (switched on by doctor): {stored.start} a day per group, "
            f"{stored.days} days",
        )
    sent = Outbox(store).status_counts().get("sent", 0)
    if sent:
        return passed(CHECK, domain, f"{sent} messages sent already: no warm-up needed")
    ramp = WarmupSettings()
    enable_warmup(store, ramp, now)
    return warned(
        CHECK,
        domain,
        f"nothing sent from this instance yet: warm-up switched on ({ramp.start} a day per "
        f"recipient group, full list after {ramp.days} days)",
        "Keep it while the domain is new. To choose the ramp, set [delivery] warmup = "
        "{ start = N, days = D }; to send at full speed, run "
        "'syndicate deliveries warmup --off'.",
    )
