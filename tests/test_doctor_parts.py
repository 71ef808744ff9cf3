"""The pure parts of ``syndicate doctor``: the edition's image and size verdicts, the
report's JSON and state file, and a check that breaks becoming a warning, not a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from syndicate.config import DoctorSettings, Settings
from syndicate.doctor import CheckResult, Report, load_report, run_doctor, save_report
from syndicate.doctor.edition import GMAIL_CLIP_BYTES, edition_links, images_check, size_check
from syndicate.doctor.feeds import challenged, problem
from syndicate.doctor.fetch import Answer


def test_images_without_dimensions_or_alt_fail() -> None:
    html = (
        '<p><img src="https://x.example/a.jpg" width="10" height="10" alt="A">'
        '<img src="https://x.example/b.jpg" width="10" height="10" alt="">'
        '<img src="https://x.example/c.jpg" alt="no size">'
        '<img src="https://x.example/d.jpg" width="10" height="10"></p>'
    )
    result = images_check("desk", html)
    assert result.status == "fail"
    assert result.summary == (
        "2 of 4 images lack width, height or alt: https://x.example/c.jpg, https://x.example/d.jpg"
    )
    good = html.rsplit("<img", 2)[0] + "</p>"  # the first two: alt="" is allowed
    assert images_check("desk", good).summary == "2 images have dimensions and alt"
    assert images_check("desk", good).status == "pass"


@pytest.mark.parametrize(
    ("size", "status"),
    [
        (92_160, "pass"),
        (92_161, "warn"),
        (GMAIL_CLIP_BYTES - 1, "warn"),
        (GMAIL_CLIP_BYTES, "fail"),
    ],
)
def test_the_html_size_against_the_margin_and_the_clip(size: int, status: str) -> None:
    html = "<p>" + "é" * ((size - 7) // 2) + "x" * ((size - 7) % 2) + "</p>"
    assert len(html.encode("utf-8")) == size  # counted in bytes, not characters
    assert size_check(Settings(), "desk", html).status == status


def test_edition_links_leave_out_personal_and_unpublished_pages() -> None:
    settings = Settings()
    base = settings.site.base_url
    html = (
        f'<a href="{base}/u/preview">u</a><a href="{base}/p/preview">p</a>'
        f'<a href="{base}/archive/desk/x/">view</a><a href="mailto:a@b">m</a>'
        '<a href="https://x.example/1">1</a><a href="https://x.example/1">again</a>'
        '<img src="https://x.example/i.png" width="1" height="1" alt="">'
    )
    assert edition_links(settings, html, {f"{base}/archive/desk/x/"}) == [
        "https://x.example/1",
        "https://x.example/i.png",
    ]


def test_feed_answers_judged_as_a_reader_sees_them() -> None:
    def answer(status: int, media: str, body: bytes, **headers: str) -> Answer:
        return Answer("https://x.example/f", status, {"content-type": media, **headers}, body)

    rss = b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>'
    assert problem(answer(200, "application/rss+xml", rss), "rss") is None
    assert problem(answer(200, "text/xml", rss), "atom") is None
    assert problem(answer(200, "application/json", rss), "rss") == "Content-Type application/json"
    akamai = b"<html><head><title>Access Denied</title></head><body>akamai ref</body></html>"
    assert challenged(answer(403, "text/html", akamai))
    assert problem(answer(403, "text/html", b"<html>no</html>"), "rss") == "403 refused"
    assert challenged(answer(503, "text/plain", b"", **{"cf-mitigated": "challenge"}))
    # A feed that merely mentions a captcha in an item is not a challenge page.
    assert not challenged(answer(200, "application/rss+xml", rss + b"captcha"))


def test_the_report_round_trips_and_a_bad_state_file_reads_as_none(tmp_path: Path) -> None:
    report = Report(
        datetime(2026, 12, 5, 9, 0, tzinfo=UTC),
        (
            CheckResult("dns.spf", "example.org", "pass", "ok"),
            CheckResult("feeds.reachable", "https://x/f.xml", "fail", "403", "let it through"),
        ),
    )
    path = tmp_path / "var" / "doctor.json"
    save_report(report, path)
    assert load_report(path) == report
    assert report.to_dict()["counts"] == {"pass": 1, "warn": 0, "fail": 1}
    path.write_text("{not json", encoding="utf-8")
    assert load_report(path) is None
    assert load_report(tmp_path / "missing.json") is None


def test_a_check_that_breaks_is_a_warning_and_the_run_goes_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from syndicate.doctor import run as run_module

    def broken(*args: object) -> list[CheckResult]:
        raise RuntimeError("a bug")

    monkeypatch.setattr(run_module, "dmarc_checks", broken)
    # A resolver that is not there: every other DNS check still reports.
    settings = Settings(
        doctor=DoctorSettings(resolver=("127.0.0.1",), resolver_port=9, dns_timeout=0.2)
    )
    report = run_doctor(settings, lambda: pytest.fail("no store needed"), groups=("dns",))
    dmarc = next(r for r in report.results if r.check == "dns.dmarc")
    assert (dmarc.status, dmarc.summary) == ("warn", "could not check: RuntimeError: a bug")
    assert [r.check for r in report.results][-2:] == ["dns.ptr", "dns.bimi"]
