"""Migration-grade import (issue 17): each tool's export, shaped as the tool documents
it (tests/fixtures/import/), keeps who unsubscribed, bounced or complained; importing
again changes nothing; an older export never re-activates anyone; a dry run changes
nothing; bad rows are named by line and the rest goes on."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicate.models import Subscription
from syndicate.store import Store
from syndicate.store.consents import ConsentStore
from syndicate.store.signups import SignupStore
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.importers.apply import ImportOptions, parse_tag_map, run_import
from syndicate.subscribers.roster import ImportReport
from syndicate.subscribers.suppressions import import_suppressions
from syndicate.testing import FixedClock
from tests.importhelpers import FIXTURES, dump, state

CLOCK = FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
OPTIONS = ImportOptions(
    known_channels=("world", "science"),
    default_channels=("world",),
    tag_map=parse_tag_map(["Science=science"]),
)

ACTIVE_SCIENCE = ("active", ("science",))
ACTIVE_WORLD = ("active", ("world",))
UNSUBSCRIBED = ("suppressed", "unsubscribed")
BOUNCED = ("suppressed", "bounced")
COMPLAINED = ("suppressed", "complained")

# format → (files, what each address becomes, the lines that are errors)
EXPECTED: dict[str, tuple[tuple[str, ...], dict[str, object], dict[str, set[int]]]] = {
    "substack": (
        ("substack.csv",),
        {
            "ana@example.com": ACTIVE_WORLD,
            "ben@example.com": ACTIVE_WORLD,
            "cat@example.com": UNSUBSCRIBED,
        },
        {"substack.csv": {5}},
    ),
    "ghost": (
        ("ghost.csv",),
        {
            "ana@example.com": ACTIVE_SCIENCE,
            "ben@example.com": ACTIVE_WORLD,
            "cat@example.com": UNSUBSCRIBED,
            "dan@example.com": None,
        },
        {"ghost.csv": {5}},
    ),
    "mailchimp": (
        ("mailchimp_subscribed.csv", "mailchimp_unsubscribed.csv", "mailchimp_cleaned.csv"),
        {
            "ana@example.com": ACTIVE_SCIENCE,
            "ben@example.com": ACTIVE_WORLD,
            "cat@example.com": UNSUBSCRIBED,
            "eve@example.com": COMPLAINED,
            "fay@example.com": BOUNCED,
        },
        {},
    ),
    "buttondown": (
        ("buttondown.csv",),
        {
            "ana@example.com": ACTIVE_SCIENCE,
            "ben@example.com": ("pending", ("world",)),
            "cat@example.com": UNSUBSCRIBED,
            "fay@example.com": BOUNCED,
            "eve@example.com": COMPLAINED,
            "gus@example.com": None,
        },
        {"buttondown.csv": {7}},
    ),
    "listmonk": (
        ("listmonk.csv",),
        {
            "ana@example.com": ACTIVE_SCIENCE,
            "ben@example.com": ACTIVE_WORLD,
            "cat@example.com": UNSUBSCRIBED,
            "fay@example.com": UNSUBSCRIBED,
        },
        {},
    ),
    "csv": (
        ("ours.csv",),
        {
            "ana@example.com": ACTIVE_SCIENCE,
            "ben@example.com": ACTIVE_WORLD,
            "cat@example.com": UNSUBSCRIBED,
            "fay@example.com": BOUNCED,
            "eve@example.com": COMPLAINED,
        },
        {},
    ),
}


def import_all(store: Store, fmt: str, *, dry_run: bool = False) -> list[ImportReport]:
    files, _, _ = EXPECTED[fmt]
    return [
        run_import(store, FIXTURES / f, fmt, OPTIONS, now=CLOCK, dry_run=dry_run) for f in files
    ]


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_each_export_keeps_every_status(store: Store, fmt: str) -> None:
    files, expected, bad = EXPECTED[fmt]
    reports = import_all(store, fmt)
    for name, report in zip(files, reports, strict=True):
        assert {line for line, _ in report.errors} == bad.get(name, set()), report.errors
    assert {email: state(store, email) for email in expected} == expected
    # Nobody suppressed is in a channel's audience.
    audience = {sid for sid, _ in SubscriberStore(store).channel_audience("world")}
    audience |= {sid for sid, _ in SubscriberStore(store).channel_audience("science")}
    people = SubscriberStore(store)
    mailed = {s.email for s in people.iter_all() if s.id in audience}
    assert mailed == {e for e, v in expected.items() if v in (ACTIVE_SCIENCE, ACTIVE_WORLD)}


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_importing_again_changes_nothing(store: Store, fmt: str) -> None:
    import_all(store, fmt)
    before = dump(store)
    again = import_all(store, fmt)
    assert [r.changes for r in again] == [[] for _ in again]
    assert dump(store) == before


@pytest.mark.parametrize("fmt", sorted(EXPECTED))
def test_a_dry_run_changes_nothing_and_says_what_a_run_would(store: Store, fmt: str) -> None:
    before = dump(store)
    dry = import_all(store, fmt, dry_run=True)
    assert dump(store) == before
    assert any(r.changes for r in dry)
    real = import_all(store, fmt)
    assert [r.changes for r in dry] == [r.changes for r in real]
    assert dump(store) != before


def test_an_older_export_never_reactivates_anyone(store: Store, tmp_path: Path) -> None:
    # The newer export says cat unsubscribed, eve complained, fay was cleaned...
    for name in ("mailchimp_unsubscribed.csv", "mailchimp_cleaned.csv"):
        run_import(store, FIXTURES / name, "mailchimp", OPTIONS, now=CLOCK)
    # ...then an older export of every tool lists them all as subscribed.
    older = tmp_path / "older.csv"
    older.write_text(
        "email,name,channels,status\n"
        "cat@example.com,Cat,world,active\n"
        "eve@example.com,Eve,world,active\n"
        "fay@example.com,Fay,world,pending\n",
        encoding="utf-8",
    )
    report = run_import(store, older, "csv", OPTIONS, now=CLOCK)
    assert (report.added, report.updated, report.suppressed) == (0, 0, 3)
    for fmt in ("substack", "buttondown", "listmonk", "ghost"):
        run_import(store, FIXTURES / EXPECTED[fmt][0][0], fmt, OPTIONS, now=CLOCK)
    older_buttondown = tmp_path / "buttondown-2021.csv"
    older_buttondown.write_text(
        "email,creation_date,subscriber_type\neve@example.com,2021-01-01T00:00:00Z,regular\n",
        encoding="utf-8",
    )
    run_import(store, older_buttondown, "buttondown", OPTIONS, now=CLOCK)
    assert state(store, "cat@example.com") == UNSUBSCRIBED
    assert state(store, "eve@example.com") == COMPLAINED
    assert state(store, "fay@example.com") == BOUNCED
    people = SubscriberStore(store)
    for email in ("cat@example.com", "eve@example.com", "fay@example.com"):
        sub = people.get(email)
        assert sub is None or sub.status != "active"


def test_a_newer_opt_in_here_outlives_an_older_exported_unsubscribe(store: Store) -> None:
    # cat unsubscribed in Mailchimp on 2024-01-10 but signed up here by the form after.
    signups = SignupStore(store)
    later = datetime(2024, 6, 1, tzinfo=UTC)
    asked = signups.request(
        "cat@example.com", name="Cat", subscription=Subscription("world"), consent={}, now=later
    )
    assert asked.pending is not None
    signups.confirm(asked.pending.subscriber_id, "world", consent={}, now=later)
    report = run_import(
        store, FIXTURES / "mailchimp_unsubscribed.csv", "mailchimp", OPTIONS, now=CLOCK
    )
    assert report.kept == 1 and state(store, "cat@example.com") == ACTIVE_WORLD
    assert state(store, "eve@example.com") == COMPLAINED


def test_an_imported_active_never_outweighs_a_newer_exported_unsubscribe(
    store: Store, tmp_path: Path
) -> None:
    # An old export lists cat as active (imported today, so "confirmed" today)...
    older = tmp_path / "older.csv"
    older.write_text("email,channels,status\ncat@example.com,world,active\n", encoding="utf-8")
    run_import(store, older, "csv", OPTIONS, now=CLOCK)
    assert state(store, "cat@example.com") == ACTIVE_WORLD
    # ...then the newer export says she unsubscribed in 2024: she is suppressed.
    report = run_import(
        store, FIXTURES / "mailchimp_unsubscribed.csv", "mailchimp", OPTIONS, now=CLOCK
    )
    assert report.kept == 0 and state(store, "cat@example.com") == UNSUBSCRIBED


def test_bad_rows_are_named_and_the_rest_goes_on(store: Store) -> None:
    report = run_import(store, FIXTURES / "buttondown.csv", "buttondown", OPTIONS, now=CLOCK)
    assert report.errors == [
        (
            7,
            "unknown subscriber_type 'mysterious' (known: "
            + ", ".join(
                [
                    "regular",
                    "premium",
                    "gifted",
                    "trialed",
                    "churning",
                    "past_due",
                    "unpaid",
                    "paused",
                    "unactivated",
                    "unsubscribed",
                    "removed",
                    "complained",
                    "spammy",
                    "undeliverable",
                ]
            )
            + ")",
        )
    ]
    assert state(store, "ana@example.com") == ACTIVE_SCIENCE
    ghost = run_import(store, FIXTURES / "ghost.csv", "ghost", OPTIONS, now=CLOCK)
    assert ghost.errors == [(5, "column 'created_at': not a time: 'yesterday'")]
    wrong = run_import(store, FIXTURES / "ghost.csv", "mailchimp", OPTIONS, now=CLOCK)
    assert wrong.errors and wrong.errors[0][0] == 1 and "'email address'" in wrong.errors[0][1]


def test_tags_map_to_channels_and_sections(store: Store) -> None:
    options = ImportOptions(
        known_channels=("world", "science"),
        default_channels=(),
        tag_map=parse_tag_map(["Science=science", "VIP=world:Europe", "World=world"]),
    )
    report = run_import(store, FIXTURES / "ghost.csv", "ghost", options, now=CLOCK)
    ana = SubscriberStore(store).get("ana@example.com")
    assert ana is not None
    assert {(s.channel, s.sections) for s in ana.subscriptions} == {
        ("science", ()),
        ("world", ("Europe",)),
    }
    assert state(store, "ben@example.com") == ACTIVE_WORLD
    assert report.errors == [(5, "column 'created_at': not a time: 'yesterday'")]


def test_an_import_keeps_consent_with_file_and_row(store: Store) -> None:
    run_import(store, FIXTURES / "mailchimp_subscribed.csv", "mailchimp", OPTIONS, now=CLOCK)
    ana = SubscriberStore(store).get("ana@example.com")
    assert ana is not None and ana.timezone == "Europe/Lisbon" and ana.name == "Ana Alves"
    (record,) = ConsentStore(store).of(ana.id)
    assert (record.channel, record.method, record.source) == (
        "science",
        "import",
        "mailchimp_subscribed.csv",
    )
    assert record.given_at == datetime(2023, 3, 1, 10, 15, tzinfo=UTC)
    assert record.confirmed_at == datetime(2023, 3, 1, 10, 17, tzinfo=UTC)
    assert record.detail == {
        "line": 2,
        "format": "mailchimp",
        "optin": "double",
        "origin": "mailchimp",
        "network": "203.0.113.0/24",  # the sign-up address itself is not kept
    }


SUPPRESSION_EXPORTS = {
    "postmark_suppressions.csv": (
        "postmark",
        {"ana": "bounced", "ben": "complained", "cat": "unsubscribed"},
        [],
    ),
    "sendgrid_bounces.csv": ("sendgrid", {"ana": "bounced"}, []),
    "sendgrid_spam_reports.csv": ("sendgrid", {"ben": "complained"}, []),
    "sendgrid_unsubscribes.csv": ("sendgrid", {"cat": "unsubscribed"}, []),
    "mailgun_bounces.csv": ("mailgun", {"ana": "bounced"}, [3]),
    "mailgun_complaints.csv": ("mailgun", {"ben": "complained"}, []),
    "mailgun_unsubscribes.csv": ("mailgun", {"cat": "unsubscribed"}, []),
    "ses_suppressions.csv": ("ses", {"ana": "bounced", "ben": "complained"}, []),
}


@pytest.mark.parametrize("name", sorted(SUPPRESSION_EXPORTS))
def test_provider_suppression_exports(store: Store, name: str) -> None:
    provider, expected, bad = SUPPRESSION_EXPORTS[name]
    SubscriberStore(store).upsert(
        "ana@example.com", name="Ana", status="active", timezone="UTC", subs=[], now=CLOCK()
    )
    path = FIXTURES / name
    dry = import_suppressions(store, path, provider=None, reason=None, now=CLOCK, dry_run=True)
    assert state(store, "ana@example.com") == ("active", ())
    report = import_suppressions(store, path, provider=None, reason=None, now=CLOCK)
    assert report.provider == provider and dry.added == report.added
    assert [line for line, _ in report.errors] == bad
    for who, reason in expected.items():
        assert state(store, f"{who}@example.com") == ("suppressed", reason)
    again = import_suppressions(store, path, provider=None, reason=None, now=CLOCK)
    assert again.added == {} and again.already == len(expected)


def test_a_file_that_is_not_utf8_is_one_clear_error(store: Store, tmp_path: Path) -> None:
    latin = tmp_path / "latin1.csv"
    latin.write_bytes("email,name\nzoe@example.com,Zoë\n".encode("latin-1"))
    report = run_import(store, latin, "csv", OPTIONS, now=CLOCK)
    assert len(report.errors) == 1 and report.errors[0][0] == 1
    assert report.errors[0][1].startswith("not UTF-8 text")
    assert state(store, "zoe@example.com") is None
