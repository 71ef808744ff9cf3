"""``/metrics``: the Prometheus text format, parsed with prometheus_client's own parser,
holding real figures after articles were ingested, feeds built, a digest sent (with a
retry and a hard bounce), a source failed and a webhook event arrived; on SQLite and
PostgreSQL. A store that cannot be reached gives ``syndicate_store_up 0``, not an error."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from syndicate.delivery.dispatch import enqueue_edition
from syndicate.feeds.builder import build
from syndicate.models import DeliveryResult, OutboundMessage, SourceState
from syndicate.store import open_store
from syndicate.testing import FixedClock
from syndicate.web import create_app
from syndicate.webhooks.apply import apply_events
from syndicate.webhooks.events import Event
from tests.deliveryhelpers import SLOT, add_subscribers, channel, dispatcher, edition
from tests.feeds.fixtures import make_instance, save

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def test_metrics_report_the_store_and_the_published_feeds(tmp_path: Path, store_url: str) -> None:
    channel_toml = 'title = "Desk"\nformats = ["rss", "atom"]\n'
    settings = make_instance(tmp_path / "i", {"desk": channel_toml}, store_url=store_url)
    store = open_store(settings.store_url)
    client = TestClient(create_app(settings))
    empty = scrape(client)
    assert empty[("syndicate_store_up", ())] == 1
    assert empty[("syndicate_feeds_built", ())] == 0
    assert empty[("syndicate_deliveries", (("status", "sent"),))] == 0
    assert empty[("syndicate_send_latency_seconds_count", ())] == 0

    save(store, range(1, 5))  # four articles from the source "desk"
    build(store, settings)
    store.save_source_state(SourceState("desk", last_success_at=SLOT))
    store.save_source_state(
        SourceState("wire", consecutive_errors=3, last_error="timed out"), error_at=SLOT
    )
    add_subscribers(store, 4)
    enqueue_edition(store, channel(), edition(store), SLOT)
    retries = {"reader00000@example.com": 1}

    def script(m: OutboundMessage) -> DeliveryResult | None:
        if m.to_email == "reader00003@example.com":
            return DeliveryResult(m.delivery_id, "rejected", error="550 5.1.1 no such user")
        if retries.get(m.to_email):
            retries[m.to_email] -= 1
            return DeliveryResult(m.delivery_id, "deferred", retryable=True, error="451 later")
        return None

    clock = FixedClock(SLOT + timedelta(seconds=90))
    sender, _ = dispatcher(store, script=script, clock=clock)
    sender.run()
    clock.advance(hours=2)  # past the retry's backoff
    sender.run()
    bounce = Event("sendgrid", "sg-1", "hard-bounce", "reader00002@example.com", None, SLOT, {})
    apply_events(store, [bounce], SLOT)

    got = scrape(client)
    assert got[("syndicate_store_up", ())] == 1
    assert got[("syndicate_articles_ingested_total", (("source", "desk"),))] == 4
    assert got[("syndicate_feeds_built", ())] == 2
    assert {k[1] for k in got if k[0] == "syndicate_feed_last_modified_timestamp_seconds"} == {
        (("channel", "desk"), ("format", "rss")),
        (("channel", "desk"), ("format", "atom")),
    }
    deliveries = {k[1][0][1]: v for k, v in got.items() if k[0] == "syndicate_deliveries"}
    assert deliveries == {
        "queued": 0,
        "sending": 0,
        "sent": 3,
        "deferred": 0,
        "failed": 1,
        "suppressed": 0,
    }
    # Enqueued at SLOT; two sent 90 s later, the retried one 2 h 1.5 min later.
    latency = {
        dict(k[1])["le"]: v
        for k, v in got.items()
        if k[0] == "syndicate_send_latency_seconds_bucket"
    }
    assert latency["60.0"] == 0 and latency["300.0"] == 2 and latency["3600.0"] == 2
    assert latency["14400.0"] == 3 and latency["+Inf"] == 3
    assert got[("syndicate_send_latency_seconds_count", ())] == 3
    assert abs(got[("syndicate_send_latency_seconds_sum", ())] - (90 + 90 + 7290)) < 0.01
    assert got[("syndicate_source_consecutive_errors", (("source", "wire"),))] == 3
    assert got[("syndicate_source_consecutive_errors", (("source", "desk"),))] == 0
    assert got[("syndicate_sources_failing", ())] == 1
    assert got[("syndicate_source_last_error_timestamp_seconds", (("source", "wire"),))] == (
        SLOT.timestamp()
    )
    assert got[("syndicate_suppressions", (("reason", "bounced"),))] == 2
    assert got[("syndicate_suppressions", (("reason", "complained"),))] == 0
    webhook_key = (("kind", "hard-bounce"), ("provider", "sendgrid"))
    assert got[("syndicate_webhook_events_total", webhook_key)] == 1
    client.close()
    store.close()


def test_an_unreachable_store_is_reported_not_raised(tmp_path: Path) -> None:
    # Nothing listens on port 1: every connection is refused at once.
    settings = make_instance(
        tmp_path / "i", {}, store_url="postgresql+psycopg://nobody@127.0.0.1:1/none"
    )
    with TestClient(create_app(settings)) as client:
        got = scrape(client)
    assert got[("syndicate_store_up", ())] == 0
    assert got[("syndicate_feeds_built", ())] == 0
    assert not any(name == "syndicate_deliveries" for name, _ in got)
