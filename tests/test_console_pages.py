"""What the console's pages show, over HTTP on a real store: Today (statuses with their
reasons, paused channels, failures, subscriber counts), the edition page (segments,
the preview's headers, live counts, one address's delivery), and the admins'
subscriber search, record and CSV export."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicate.delivery.dispatch import enqueue_edition
from syndicate.digest.review import approve, hold
from syndicate.store import Store
from syndicate.store.delivery_schema import deliveries
from syndicate.store.oversight import pause_channel
from tests.consolehelpers import ADMIN, EDITOR, SUBJECT, Console, make_console
from tests.deliveryhelpers import channel


@pytest.fixture
def console(tmp_path: Path, store: Store) -> Iterator[Console]:
    yield make_console(tmp_path / "instance", store)


def test_today_shows_statuses_reasons_pauses_and_counts(console: Console) -> None:
    hold(console.store, console.draft.id, EDITOR, console.clock(), "check the figures")
    pause_channel(console.store, "world", "provider said 5.7.1", console.clock())
    client = console.client()
    console.sign_in(client)
    page = client.get("/console/").text
    assert f"Edition {console.draft.id}: {SUBJECT}" in page
    assert "state-held" in page and "check the figures" in page
    assert "Paused channels" in page and "provider said 5.7.1" in page
    assert "<strong>3</strong> active" in page
    assert "Story number 0" in page  # the edition's stories
    assert "Poll now" not in page  # an admin's button
    assert "Fri 20 Nov 09:00 UTC" in page  # the desk's newest article arrived then (T0)


def test_the_edition_page_counts_and_looks_up_one_address(console: Console) -> None:
    store = console.store
    approve(store, console.draft.id, EDITOR, console.clock())
    enqueue_edition(store, channel(), console.edition(), console.clock())
    with store.engine.begin() as conn:
        conn.execute(
            deliveries.update()
            .where(deliveries.c.id == 1)
            .values(status="failed", attempts=2, last_error="550 5.1.1 no such user")
        )
    client = console.client()
    console.sign_in(client)
    page = client.get(f"/console/editions/{console.draft.id}").text
    assert "<strong>1</strong> failed" in page and "<strong>2</strong> queued" in page
    assert "Retry failed deliveries" in page
    assert "<strong>3</strong> Everyone" in page  # recipients by copy
    found = client.get(
        f"/console/editions/{console.draft.id}", params={"address": "READER00000@example.com"}
    ).text
    assert "550 5.1.1 no such user" in found and "<dd>2</dd>" in found
    progress = client.get(f"/console/editions/{console.draft.id}/progress").json()
    assert progress["counts"] == {"failed": 1, "queued": 2} and progress["state"] == "sending"
    preview = client.get(f"/console/editions/{console.draft.id}/preview")
    assert "sandbox" in preview.headers["content-security-policy"]
    assert "script-src" not in preview.headers["content-security-policy"]
    assert "Hello Sample Reader" in preview.text  # the sample reader's copy, filled in
    # Without JavaScript the page refreshes itself while sending.
    assert '<noscript><meta http-equiv="refresh"' in page


def test_admins_search_subscribers_see_their_record_and_export(console: Console) -> None:
    client = console.client()
    console.sign_in(client, ADMIN)
    found = client.get("/console/subscribers", params={"q": "reader0000", "status": "active"})
    assert found.text.count("reader0000") >= 3
    record = client.get("/console/subscribers", params={"email": "reader00001@example.com"}).text
    assert "world (edition)" in record and "Suppress" in record
    export = client.get("/console/subscribers.csv")
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 3 and rows[0]["channels"] == "world"
    (entry,) = [e for e in console.operators.audit_entries() if e.action == "subscribers.export"]
    assert entry.after == {"rows": 3} and entry.actor == ADMIN


def test_the_console_mounts_at_its_configured_path(tmp_path: Path, store: Store) -> None:
    console = make_console(tmp_path / "elsewhere", store, console='path = "/newsroom"\n')
    client = console.client()
    assert client.get("/console/signin").status_code == 404
    page = client.get("/newsroom/signin")
    assert page.status_code == 200 and 'action="/newsroom/signin"' in page.text
    anonymous = client.get("/newsroom/")
    assert anonymous.headers["location"].startswith("/newsroom/signin?next=%2Fnewsroom%2F")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    signed_in = client.post(
        "/newsroom/signin",
        data={"csrf_token": token, "email": EDITOR, "password": "a long enough password"},
    )
    assert signed_in.headers["location"] == "/newsroom/"
    assert "Path=/newsroom" in signed_in.headers["set-cookie"]
    assert client.get("/newsroom/").status_code == 200
