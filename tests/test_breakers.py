"""Circuit breakers: a recipient group pauses on a provider's reputation signal (a real
SMTP server answering 5.7.515 / 4.7.28) or past the bounce and complaint rates (real
webhook requests); the other groups go on, resume works, nothing is sent twice."""

from __future__ import annotations

import base64
import json
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from syndicate.config import BreakerSettings, DispatchSettings, Settings
from syndicate.delivery.base import Backend
from syndicate.delivery.breakers import Breakers, Trip, mail_alert, signature
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import Dispatcher, enqueue_edition
from syndicate.delivery.guards import deliveries_waiting
from syndicate.delivery.smtp import SMTPBackend, SMTPOptions
from syndicate.delivery.tokens import TokenSigner
from syndicate.models import DeliveryResult, OutboundMessage
from syndicate.store import Store
from syndicate.store.domain_groups import GroupPauses, domain_group
from syndicate.store.outbox import Outbox
from syndicate.testing import FixedClock, RecordingBackend
from syndicate.webhooks.receive import WebhookReceiver
from tests.deliveryhelpers import SECRET, SLOT, channel, edition
from tests.guardhelpers import bulk_subscribers
from tests.smtpserver import SMTPTestServer

pytest_plugins = ["tests.smtpserver"]

REPLIES = {
    "microsoft": (
        "outlook.com",
        "550 5.7.515 Access denied, sending domain review.example does not meet the "
        "required authentication level.",
    ),
    "gmail": (
        "gmail.com",
        "421 4.7.28 Our system has detected an unusual rate of unsolicited mail "
        "originating from your IP address.",
    ),
}


def test_signatures() -> None:
    assert signature("RCPT: 550 5.7.515 Access denied") is not None
    assert signature("RCPT: 550 5.7.1 Unfortunately, messages from [1.2.3.4] weren't sent. (S3150)")
    assert (
        signature("RCPT: 421 4.7.28 unusual rate") == "Gmail 4.7.28 (rate limited: unusual volume)"
    )
    assert signature("MAIL: 421 4.7.0 Try again later, closing connection.") is not None
    assert signature("RCPT: 450 4.2.2 mailbox full") is None
    assert signature("RCPT: 550 5.1.1 no such user") is None


def _smtp(server: SMTPTestServer) -> SMTPBackend:
    return SMTPBackend(SMTPOptions(host="127.0.0.1", port=server.port, security="none", timeout=5))


def _dispatcher(
    store: Store, backend: Backend, clock: FixedClock, breakers: Breakers
) -> Dispatcher:
    messages = EditionMessages(
        store, Settings(), {"world": channel()}, signer=None, tokens=TokenSigner(SECRET)
    )
    return Dispatcher(
        store,
        backend,
        messages,
        DispatchSettings(batch_size=10),
        clock=clock,
        breakers=breakers,
    )


@pytest.mark.parametrize("group", ["microsoft", "gmail"])
def test_a_reputation_reply_pauses_its_group_only(
    store: Store, smtp_server: SMTPTestServer, group: str
) -> None:
    domain, reply = REPLIES[group]
    domains = (("gmail.com", 15), ("outlook.com", 15), ("example.org", 15))
    emails = bulk_subscribers(store, domains, SLOT)
    target = [e for e in emails if e.endswith("@" + domain)]
    for address in target:  # the provider refuses each of them (a 421 is retried once)
        smtp_server.fail("rcpt", reply, address=address, times=2)
    enqueue_edition(store, channel(), edition(store), SLOT)
    clock = FixedClock(SLOT)
    alerts: list[Trip] = []
    # The operators' notice goes through the notice path, to the same server.
    notify = Settings(delivery={"breakers": {"notify": ["ops@review.example"]}})
    mail = mail_alert(notify, lambda: _smtp(smtp_server))

    def alert(trip: Trip) -> None:
        alerts.append(trip)
        mail(trip)

    breakers = Breakers(store, BreakerSettings(), alert)
    report = _dispatcher(store, _smtp(smtp_server), clock, breakers).run()

    assert report.paused_groups == [group], (report, smtp_server.counts())
    assert [a.group for a in alerts] == [group]
    received = smtp_server.counts()
    assert received["ops@review.example"] == 1
    assert all(received[e] == 1 for e in emails if e not in target)  # the rest went on
    assert not any(received[e] for e in target)
    assert Outbox(store).paused() == {}  # the channel itself is not paused
    waiting = deliveries_waiting(store, clock()).paused
    assert set(waiting) == {group}
    assert "5.7.515" in waiting[group][1] or "4.7.28" in waiting[group][1]

    # While paused, a later run sends nothing to the group.
    clock.advance(hours=2)
    again = _dispatcher(store, _smtp(smtp_server), clock, breakers).run()
    assert again.counts.get("sent", 0) == 0

    smtp_server.faults.clear()  # the operator fixed what the provider complained about
    assert GroupPauses(store).resume(group)
    clock.advance(hours=2)  # past the refused rows' backoff
    _dispatcher(store, _smtp(smtp_server), clock, breakers).run()
    received = smtp_server.counts()
    assert {e: received[e] for e in emails if received[e] != 1} == {}, Outbox(store).status_counts()
    assert Outbox(store).status_counts() == {"sent": len(emails)}
    assert GroupPauses(store).trips() == {group: 1}


def _postmark(kind: str, email: str, n: int) -> bytes:
    record = {
        "RecordType": "Bounce" if kind == "bounce" else "SpamComplaint",
        "ID": 1000 + n,
        "Type": "HardBounce" if kind == "bounce" else "SpamComplaint",
        "TypeCode": 1 if kind == "bounce" else 512,
        "MessageID": f"pm-{n}",
        "Email": email,
        "BouncedAt": "2026-11-25T08:00:00Z",
    }
    return json.dumps(record).encode()


AUTH = {"authorization": "Basic " + base64.b64encode(b"postmark:pm-s3cret").decode()}


def test_bounce_and_complaint_rates_pause_at_the_threshold(store: Store) -> None:
    domains = (("gmail.com", 100), ("example.org", 1000), ("yahoo.com", 50))
    emails = bulk_subscribers(store, domains, SLOT)
    clock = FixedClock(SLOT)
    breakers = Breakers(store, BreakerSettings(min_sample=100))
    backend = RecordingBackend()
    enqueue_edition(store, channel(), edition(store), SLOT)
    _dispatcher(store, backend, clock, breakers).run()
    assert len(backend.sent) == len(emails)

    settings = Settings(webhooks={"postmark": {"username": "postmark", "password": "pm-s3cret"}})
    receiver = WebhookReceiver(settings, store, breakers=breakers)
    gmail = [e for e in emails if e.endswith("@gmail.com")]
    other = [e for e in emails if e.endswith("@example.org")]
    now = SLOT + timedelta(hours=1)

    def post(kind: str, email: str, n: int) -> None:
        receiver.receive("postmark", _postmark(kind, email, n), AUTH, now)

    post("bounce", gmail[0], 1)
    post("bounce", gmail[1], 2)  # 2 of 100: at 2 %, not past it
    post("bounce", gmail[1], 2)  # the same event again counts once
    assert GroupPauses(store).paused() == {}
    post("bounce", gmail[2], 3)  # 3 %
    assert set(GroupPauses(store).paused()) == {"gmail"}
    post("complaint", other[0], 4)  # 1 of 1,000: at 0.1 %
    assert set(GroupPauses(store).paused()) == {"gmail"}
    post("complaint", other[1], 5)
    assert set(GroupPauses(store).paused()) == {"gmail", "other"}

    # The next edition: only yahoo goes while gmail and the others wait.
    clock.advance(days=1)
    enqueue_edition(store, channel(), edition(store, slot=clock()), clock())
    backend = RecordingBackend()
    _dispatcher(store, backend, clock, breakers).run()
    assert Counter(domain_group(m.to_email) for m in backend.sent) == {"yahoo": 50}
    waiting = deliveries_waiting(store, clock()).paused
    assert {g: n for g, (_, _, n) in waiting.items()} == {"gmail": 97, "other": 998}
    for group in ("gmail", "other"):
        assert GroupPauses(store).resume(group)
    _dispatcher(store, backend, clock, breakers).run()
    ids = [m.delivery_id for m in backend.sent]
    assert len(ids) == len(set(ids)) == 50 + 97 + 998  # suppressed readers get nothing


def test_other_domains_signatures_and_the_channel_pause(store: Store) -> None:
    """A throttling reply from one of the countless "other" servers pauses nothing;
    5.7.515 from Microsoft pauses the group, and those refusals do not count toward
    the channel's own policy pause (which would stop every group)."""
    emails = bulk_subscribers(store, (("outlook.com", 12), ("example.org", 12)), SLOT)
    refused: set[str] = set()

    def script(message: OutboundMessage) -> DeliveryResult | None:
        if message.to_email in refused:
            return None
        refused.add(message.to_email)
        reply = "550 5.7.515 Access denied" if "outlook" in message.to_email else "421 4.7.0 later"
        policy = "5.7" in reply
        status = "failed" if policy else "deferred"
        return DeliveryResult(
            message.delivery_id, status, retryable=True, policy=policy, error=f"RCPT: {reply}"
        )

    enqueue_edition(store, channel(), edition(store), SLOT)
    clock = FixedClock(SLOT)
    backend = RecordingBackend(script)
    report = _dispatcher(store, backend, clock, Breakers(store, BreakerSettings())).run()
    assert report.paused_groups == ["microsoft"]
    assert report.paused == []  # 12 policy refusals, yet the channel goes on
    assert set(GroupPauses(store).paused()) == {"microsoft"}
    clock.advance(hours=2)
    _dispatcher(store, backend, clock, Breakers(store, BreakerSettings())).run()
    assert sorted(backend.recipients()) == sorted(e for e in emails if "example.org" in e)


def test_status_and_resume_commands(store: Store, tmp_path: Path) -> None:
    from syndicate.cli.app import cli

    bulk_subscribers(store, (("hotmail.com", 3), ("example.org", 2)), SLOT)
    enqueue_edition(store, channel(), edition(store), SLOT)
    assert GroupPauses(store).pause("microsoft", "provider answered 5.7.515", 1, SLOT)
    config = tmp_path / "syndicate.toml"
    url = store.engine.url.render_as_string(hide_password=False)
    config.write_text(f'[store]\nurl = "{url}"\n', encoding="utf-8")

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        assert result.exit_code == 0, result.output
        return result.output

    status = json.loads(run("deliveries", "status", "--json"))
    assert status["paused_groups"] == {
        "microsoft": {
            "reason": "provider answered 5.7.515",
            "since": SLOT.isoformat(),
            "waiting": 3,
        }
    }
    assert "group microsoft paused since" in run("deliveries", "status")
    assert "group microsoft resumed" in run("deliveries", "resume", "microsoft")
    assert json.loads(run("deliveries", "status", "--json"))["paused_groups"] == {}
    assert "was not paused" in run("deliveries", "resume", "microsoft")


def test_metrics_show_paused_groups_and_trips(store: Store) -> None:
    from syndicate.web.gauges import registry_for, render

    pauses = GroupPauses(store)
    assert pauses.pause("gmail", "4.7.28", None, SLOT)
    assert not pauses.pause("gmail", "4.7.28 again", None, SLOT)  # one trip, one alert
    assert pauses.resume("gmail")
    assert pauses.pause("gmail", "bounces", None, SLOT)
    assert pauses.pause("yahoo", "complaints", None, SLOT)
    pauses.resume("yahoo")
    text = render(registry_for(lambda: store, list)).decode()
    assert 'syndicate_delivery_group_paused{group="gmail"} 1.0' in text
    assert 'syndicate_delivery_group_paused{group="yahoo"} 0.0' in text
    assert 'syndicate_delivery_group_pauses_total{group="gmail"} 2.0' in text
    assert 'syndicate_delivery_group_pauses_total{group="yahoo"} 1.0' in text
