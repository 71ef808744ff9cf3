"""The fan-out's fast paths keep its contract: bulk enqueue (COPY on PostgreSQL) adds each
row once, one pass over the audience gives the same rows and counts as two, messages
built for a raw-only backend are the same bytes, and ``--workers`` (this process plus
forked ones) sends each delivery exactly once."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from syndicate.config import Settings, load_channels, load_settings
from syndicate.delivery.compose import EditionMessages
from syndicate.delivery.dispatch import (
    audience,
    audience_counts,
    enqueue_counted,
    enqueue_edition,
)
from syndicate.delivery.tokens import TokenSigner
from syndicate.store import Store, open_store
from syndicate.store.outbox import Claimed, Outbox
from tests.deliveryhelpers import SECRET, SLOT, add_subscribers, channel, edition
from tests.smtpserver import SMTPTestServer
from tests.test_dispatch_crash import write_instance


def test_bulk_enqueue_adds_only_new_rows_with_their_times(store: Store) -> None:
    add_subscribers(store, 30)
    ed = edition(store)
    assert enqueue_edition(store, channel(), ed, SLOT) == 30
    add_subscribers(store, 20, start=30)
    later = SLOT + timedelta(minutes=5)
    assert enqueue_edition(store, channel(), ed, later) == 20  # the first 30 are kept
    assert enqueue_edition(store, channel(), ed, later) == 0
    outbox = Outbox(store)
    assert outbox.status_counts(ed.id) == {"queued": 50}
    # Each row is due from its own enqueue time: at SLOT only the first 30 are.
    early = outbox.claim("early", now=SLOT, lease=timedelta(hours=1), limit=100)
    assert len(early) == 30 and {c.created_at for c in early} == {SLOT}
    claimed = outbox.claim("t", now=later, lease=timedelta(minutes=1), limit=100)
    assert len(claimed) == 20
    assert {c.created_at for c in claimed} == {later}
    assert [c.subscriber_id for c in claimed] == sorted(c.subscriber_id for c in claimed)


def test_one_pass_gives_the_rows_and_counts_of_two(store: Store) -> None:
    add_subscribers(store, 12)
    add_subscribers(store, 5, start=12, cadence="weekly")  # a daily channel: not reached
    add_subscribers(store, 4, start=17, channel_name="other")
    ed = edition(store)
    expected = audience_counts(store, channel(), ed)
    ids = list(audience(store, channel(), ed.slot, [], ed.cadence))
    added, counts = enqueue_counted(store, channel(), ed, SLOT)
    assert counts == expected
    assert (added, counts.reached, counts.other_cadence, counts.other_channel) == (12, 12, 5, 4)
    assert Outbox(store).status_counts(ed.id) == {"queued": len(ids)}


def test_raw_only_messages_are_the_same_bytes(store: Store) -> None:
    add_subscribers(store, 3)
    ed = edition(store)
    enqueue_edition(store, channel(), ed, SLOT)
    claimed = Outbox(store).claim("t", now=SLOT, lease=timedelta(minutes=1), limit=10)
    built = {}
    for parts in (True, False):
        source = EditionMessages(
            store,
            Settings(),
            {"world": channel()},
            signer=None,
            tokens=TokenSigner(SECRET),
            parts=parts,
        )
        built[parts] = [source.message(c, SLOT) for c in claimed]
    for full, lean in zip(built[True], built[False], strict=True):
        assert full.raw == lean.raw
        assert full.html and full.text and not lean.html and not lean.text
        assert (full.subject, full.headers, full.message_id) == (
            lean.subject,
            lean.headers,
            lean.message_id,
        )


WORKERS = ("--workers", "3")


def test_dispatch_with_workers_sends_each_delivery_once(tmp_path: Path) -> None:
    recipients = 240
    with SMTPTestServer() as server:
        config = write_instance(tmp_path, server.port)
        config.write_text(config.read_text().replace("batch_size = 50", "batch_size = 20"))
        settings = load_settings(config)
        store = open_store(settings.store_url)
        emails = add_subscribers(store, recipients)
        (world,) = load_channels(settings)
        assert enqueue_edition(store, world, edition(store), SLOT) == recipients
        env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
        done = subprocess.run(
            [sys.executable, "-m", "syndicate", "--config", str(config), "dispatch", *WORKERS],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"{recipients} sent" in done.stdout
        assert Outbox(store).status_counts() == {"sent": recipients}
        store.close()
        received = server.counts()
        assert set(received) == set(emails)
        assert set(received.values()) == {1}  # nobody twice


def test_template_messages_are_crlf_only_and_smtp_still_checks_the_others() -> None:
    from dataclasses import replace

    from syndicate.delivery.message import MessageTemplate, Sender
    from syndicate.delivery.smtp import _problem
    from tests.test_message import HTML, TEXT, recipient

    def built(domain: str) -> MessageTemplate:
        return MessageTemplate(
            sender=Sender("digest@meridian.example", "The Review", domain, "meridian.example"),
            edition_id=3,
            channel="world",
            channel_title="World",
            subject="Hello",
            html=HTML + "\n.a line that starts with a dot\n",
            text=TEXT + "\r.and a bare CR\n",
            message_salt="abc",
        )

    message = built("meridian.example").render(recipient("Zoë .Dot"), SLOT)
    assert message.crlf_only
    raw = message.raw
    assert raw.count(b"\r\n") == raw.count(b"\n") == raw.count(b"\r")
    assert _problem(message, None) is None
    # A Message-ID domain with a line break: not vouched for, so SMTP scans and refuses.
    hostile = built("meridian.example\nBcc: x@example.org").render(recipient(), SLOT)
    assert not hostile.crlf_only
    assert "bare CR or LF" in (_problem(hostile, None) or "")
    # A message built elsewhere is scanned as before.
    other = replace(message, raw=message.raw.replace(b"\r\n", b"\n", 1), crlf_only=False)
    assert "bare CR or LF" in (_problem(other, None) or "")


def test_data_goes_out_stuffed_without_a_copy_even_in_partial_writes() -> None:
    """``send_data`` writes exactly ``dot_stuff(raw)`` with scatter/gather writes, also
    when the kernel takes only part of them at a time (a small send buffer, a socket
    with a timeout)."""
    import random
    import smtplib
    import socket
    import threading

    from syndicate.delivery.smtp import _stuffed_pieces, dot_stuff, send_data

    rng = random.Random(5)
    for sample in [b"", b".", b"a\r\n.b\r\n..c", b"x\r\n"] + [
        bytes(rng.choice(b".\r\na") for _ in range(rng.randint(0, 40))) for _ in range(2000)
    ]:
        assert b"".join(bytes(p) for p in _stuffed_pieces(sample)) == dot_stuff(sample)

    raw = b"".join(
        (b"." if i % 3 == 0 else b"") + b"line %d " % i + b"x" * 70 + b"\r\n" for i in range(3000)
    )
    ours, theirs = socket.socketpair()
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ours.settimeout(30)
    got = bytearray()

    def read() -> None:
        while chunk := theirs.recv(1000):
            got.extend(chunk)

    reader = threading.Thread(target=read)
    reader.start()
    smtp = smtplib.SMTP()
    smtp.sock = ours
    send_data(smtp, raw)
    ours.close()
    reader.join(timeout=30)
    theirs.close()
    assert bytes(got) == dot_stuff(raw)


def test_plain_values_take_a_shortcut_to_the_same_quoted_printable() -> None:
    """Per-recipient values that quoted-printable leaves as they are (names, addresses,
    signed links) skip binascii, with the very same bytes, at every length around the
    76-column cuts, with spaces and dots anywhere."""
    import random

    from syndicate.delivery import message as m

    def reference(text: str, last: bool) -> bytes:
        encoded = m.qp_encode(text)
        if last or not encoded or encoded.endswith(m.CRLF):
            return encoded
        head, sep, tail = encoded.rpartition(m.CRLF)
        if len(tail) > 75:
            cut = 70
            while cut > 60 and b"=" in tail[cut - 2 : cut]:
                cut -= 1
            tail = tail[:cut] + m.SOFT_BREAK + tail[cut:]
        return head + sep + tail + m.SOFT_BREAK

    rng = random.Random(11)
    alphabet = [chr(c) for c in range(32, 127)] + [" ", ".", ".", "é"]
    plain = 0
    for _ in range(20_000):
        size = rng.choice([1, 2, 74, 75, 76, 77, 150, 151, 152, rng.randint(1, 400)])
        text = "".join(rng.choice(alphabet) for _ in range(size))
        if rng.random() < 0.7:
            text = text.replace("=", "-").replace("é", "e")
        plain += m._QP_PLAIN.fullmatch(text) is not None
        for last in (True, False):
            assert m._qp_piece(text, last=last) == reference(text, last), text
    assert plain > 5_000  # the shortcut was taken often


def test_with_picks_is_replace() -> None:
    """``Claimed.with_picks`` keeps every field (a field added later must be added there)."""
    from dataclasses import fields, replace

    from syndicate.store.outbox import Claimed

    values = {f.name: f"value-{f.name}" for f in fields(Claimed)}
    item = Claimed(**values)  # type: ignore[arg-type]
    assert item.with_picks(5) == replace(item, picks=5)


def test_claims_go_on_from_the_last_id_and_still_sweep_rows_left_behind(store: Store) -> None:
    """A run claims after the last id it claimed (no rescan of the rows already sent),
    and rows behind that which become due meanwhile (a dead sender's, its lease ended)
    still go out in the same run."""
    from syndicate.testing import FixedClock
    from tests.deliveryhelpers import dispatcher

    add_subscribers(store, 25)
    ed = edition(store)
    enqueue_edition(store, channel(), ed, SLOT)
    outbox = Outbox(store)
    first = [c.id for c in outbox.claim("t", now=SLOT, lease=timedelta(hours=1), limit=100)]
    outbox.release("t")
    later = outbox.claim("u", now=SLOT, lease=timedelta(hours=1), limit=100, after=first[9])
    assert [c.id for c in later] == first[10:]
    outbox.release("u")
    # A dead sender holds the first 3 rows until SLOT + 30 s.
    dead = outbox.claim("dead", now=SLOT, lease=timedelta(seconds=30), limit=3)
    clock = FixedClock(SLOT + timedelta(seconds=1))
    sender, backend = dispatcher(store, clock=clock)
    original = sender._claim

    def claim_then_let_time_pass(edition_id: int | None, after: int | None) -> list[Claimed]:
        got = original(edition_id, after)
        clock.advance(seconds=20)  # the dead sender's lease ends during the run
        return got

    sender._claim = claim_then_let_time_pass  # type: ignore[method-assign]
    report = sender.run()
    assert report.counts["sent"] == 25
    assert outbox.status_counts(ed.id) == {"sent": 25}
    sent = sorted(m.delivery_id for m in backend.sent)
    assert sent == sorted(first)
    assert {c.id for c in dead} <= set(sent)
