"""``syndicate doctor``'s web checks against real servers on 127.0.0.1: the project's app
under uvicorn (one-click unsubscribe, feeds, autodiscovery), a local HTTP server holding
the articles' links, and one that answers feed readers as a CDN's bot protection does."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import text

from syndicate.config import Settings, load_settings
from syndicate.doctor import Report, run_doctor
from syndicate.feeds.builder import build
from syndicate.models import Author, Image, utc_now
from syndicate.store import Store, open_store
from syndicate.web import create_app, server_config
from tests.deliveryhelpers import add_subscribers
from tests.feeds.fixtures import entries, make_instance
from tests.httpserver import LocalServer, Reply, SeenRequest, serve
from tests.uvicornserver import running

pytest_plugins = ["tests.httpserver"]

SECRET = "doctor-test-secret-0123456789abcdef"
SITE = "https://news.example"
CHANNEL = 'title = "Desk"\n[digest]\nschedule = "on_new"\n'
CHALLENGE = (
    b"<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    b'<script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script>'
    b"Enable JavaScript and cookies to continue</body></html>"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Site:
    settings: Settings
    links: LocalServer
    store: Store
    root: Path


def with_doctor(root: Path, doctor: str) -> Settings:
    config = root / "syndicate.toml"
    config.write_text(config.read_text(encoding="utf-8") + f"\n[doctor]\n{doctor}", "utf-8")
    return load_settings(config)


def save_articles(store: Store, links: LocalServer, count: int) -> None:
    """``count`` articles published in the last hours, every link on ``links``."""
    now = utc_now()
    base = links.url("").rstrip("/")
    for n in range(1, count + 1):
        links.route(f"/stories/{n}/", body=b"<p>story</p>", headers={"Content-Type": "text/html"})
        links.route(f"/img/{n}.jpg", body=b"jpeg", headers={"Content-Type": "image/jpeg"})
    links.route("/authors/ana", body=b"ana", headers={"Content-Type": "text/html"})
    for n in range(1, count + 1):
        published = now - timedelta(hours=n)
        found = entries(
            [n],
            base_url=base,
            published_at=published,
            updated_at=published,
            body_html=f'<p>Body. <a href="{base}/stories/{n}/">More</a>.</p>',
            image=Image(f"{base}/img/{n}.jpg", alt="Cranes", width=1200, height=800),
            authors=(Author("Ana Ruiz", url=f"{base}/authors/ana"),),
        )
        store.save_entries(found, now=now - timedelta(minutes=5))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    port = free_port()
    root = tmp_path / "instance"
    make_instance(root, {"desk": CHANNEL}, base_url=SITE)
    settings = with_doctor(
        root, f'base_url = "http://127.0.0.1:{port}"\nhttp_timeout = 5.0\nlinks_deadline = 60.0\n'
    )
    store = open_store(settings.store_url, create=True)
    with serve() as links:
        save_articles(store, links, 3)
        build(store, settings)
        config = server_config(create_app(settings), "127.0.0.1", port, access_log=False)
        with running(config):
            yield Site(settings, links, store, root)
    store.close()


def doctor(settings: Settings, *groups: str) -> Report:
    return run_doctor(
        settings, lambda: open_store(settings.store_url), groups=groups or ("unsubscribe",)
    )


def statuses(report: Report) -> dict[tuple[str, str], str]:
    return {(r.check, r.target): r.status for r in report.results}


def subscriber_rows(store: Store) -> list[tuple[object, ...]]:
    with store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM subscribers ORDER BY id"))]


def test_the_live_site_passes_every_web_check(site: Site) -> None:
    add_subscribers(site.store, 2, channel_name="desk", now=utc_now())
    before = subscriber_rows(site.store)
    assert len(before) == 2
    report = doctor(site.settings, "unsubscribe", "feeds", "edition")
    found = {r.check + " " + r.target: (r.status, r.summary) for r in report.results}
    assert report.status == "pass", "\n".join(f"{k}: {v}" for k, v in found.items())
    app = site.settings.doctor.base_url
    assert [r.check for r in report.results] == [
        "unsubscribe.one_click",
        *["feeds.reachable", "feeds.self_link"] * 3,
        "feeds.autodiscovery",
        "edition.size",
        "edition.images",
        "edition.links",
    ]
    assert found[f"feeds.self_link {app}/feeds/desk.xml"][1] == f"self link {SITE}/feeds/desk.xml"
    # The one-click POST reached the app and changed nothing.
    assert subscriber_rows(site.store) == before
    pending = site.root / "var" / "pending-unsubscribes"
    assert not pending.exists() or not any(pending.iterdir())
    # Every article link of the edition was asked for.
    asked = {r.path for r in site.links.requests}
    assert {"/stories/1/", "/stories/2/", "/stories/3/", "/img/1.jpg"} <= asked


def copy(settings: Settings, **doctor: object) -> Settings:
    return settings.model_copy(update={"doctor": settings.doctor.model_copy(update=doctor)})


def test_one_click_fails_when_the_site_does_not_know_this_instance_s_key(site: Site) -> None:
    other = site.settings.security.model_copy(
        update={"secret_key": SecretStr("another-secret-0123456789abcdef")}
    )
    report = doctor(site.settings.model_copy(update={"security": other}))
    (result,) = report.results
    assert (result.status, result.summary) == (
        "fail",
        "400: the site does not accept this instance's links",
    )
    assert "secret_key" in result.fix


def test_one_click_over_plain_http_warns(site: Site) -> None:
    plain = site.settings.site.model_copy(update={"base_url": "http://news.example"})
    (result,) = doctor(site.settings.model_copy(update={"site": plain})).results
    assert result.status == "warn"
    assert "not https" in result.summary


def test_one_click_refused_by_the_server_fails(tmp_path: Path, http_server: LocalServer) -> None:
    # A plain server in front that does not route POST /u/... (501).
    settings = make_instance(tmp_path / "i", {"desk": CHANNEL})
    (result,) = doctor(copy(settings, base_url=http_server.url(""))).results
    assert result.status == "fail"
    assert result.summary.startswith("501")


def test_nothing_listening_warns_could_not_check(tmp_path: Path) -> None:
    settings = copy(
        make_instance(tmp_path / "i", {"desk": CHANNEL}),
        base_url=f"http://127.0.0.1:{free_port()}",
        http_timeout=2.0,
    )
    report = doctor(settings, "unsubscribe", "feeds")
    assert {r.status for r in report.results} == {"warn"}
    assert all(r.summary.startswith("could not check") for r in report.results)
    assert len(report.results) == 5  # one-click, three feeds, autodiscovery


def test_feed_readers_answered_with_a_challenge_page_fail(
    site: Site, http_server: LocalServer
) -> None:
    rss = site.root / "public" / "feeds" / "desk.xml"
    ua_seen: list[str] = []

    def cdn(request: SeenRequest) -> Reply:
        agent = request.headers.get("user-agent", "")
        ua_seen.append(agent)
        if "Feedly" in agent or "Inoreader" in agent:
            headers = {
                "Content-Type": "text/html",
                "cf-mitigated": "challenge",
                "Set-Cookie": "__cf_bm=abc; Path=/",
            }
            return Reply(403, CHALLENGE, headers)
        if "Miniflux" in agent:
            return Reply(429, b"slow down", {"Content-Type": "text/plain"})
        if "newsboat" in agent:  # a challenge served as 200
            return Reply(200, CHALLENGE, {"Content-Type": "text/html; charset=utf-8"})
        return Reply(200, rss.read_bytes(), {"Content-Type": "application/rss+xml"})

    http_server.handle("/feeds/desk.xml", cdn)
    atom = (site.root / "public" / "feeds" / "desk.atom").read_bytes()
    http_server.route("/feeds/desk.atom", body=atom, headers={"Content-Type": "text/plain"})
    page = b"<!doctype html><html><head><title>Desk</title></head><body>Hi</body></html>"
    http_server.route("/feeds/desk.json", body=page, headers={"Content-Type": "text/html"})
    http_server.route("/", body=page, headers={"Content-Type": "text/html"})
    report = doctor(copy(site.settings, base_url=http_server.url("")), "feeds")
    found = {(r.check, r.target.rsplit("/", 1)[-1]): r for r in report.results}
    xml = found[("feeds.reachable", "desk.xml")]
    assert xml.status == "fail"
    assert xml.summary == (
        "readers cannot fetch it: Feedly: 403 challenge page; Inoreader: 403 challenge page; "
        "Miniflux: 429 refused; newsboat: 200 challenge page"
    )
    assert "bot protection" in xml.fix
    # NetNewsWire got the feed, so its self link was still checked.
    assert found[("feeds.self_link", "desk.xml")].status == "pass"
    assert found[("feeds.reachable", "desk.atom")].summary.endswith("Content-Type text/plain")
    assert "an HTML page instead of the feed" in found[("feeds.reachable", "desk.json")].summary
    assert found[("feeds.autodiscovery", "")].summary == "the home page links no feed"
    assert report.status == "fail"
    # No cookie is kept from one answer to the next (readers send none).
    assert not [r for r in http_server.requests if "cookie" in r.headers]
    # Each reader identified itself as itself, and nothing ran JavaScript.
    assert sorted({a.split("/")[0].split()[0] for a in ua_seen}) == [
        "Feedly",
        "Miniflux",
        "Mozilla",  # Inoreader's string starts like a browser's
        "NetNewsWire",
        "newsboat",
    ]


def test_broken_links_and_a_large_edition(site: Site) -> None:
    def head_refused(request: SeenRequest) -> Reply:
        # Some servers refuse HEAD: the check asks again with GET.
        return Reply(405 if request.method == "HEAD" else 200, b"ok")

    site.links.handle("/stories/1/", head_refused)
    site.links.route("/stories/2/", status=404, body=b"gone")
    site.links.redirect("/stories/3/", site.links.url("/authors/ana"))
    site.links.redirect("/img/3.jpg", site.links.url("/img/3.jpg"))  # a loop: bounded
    report = doctor(copy(site.settings, html_margin_bytes=5_000), "edition")
    found = {r.check: r for r in report.results}
    links = found["edition.links"]
    assert links.status == "fail"
    assert links.summary.startswith("2 of 7 links broken: ")
    assert f"{site.links.url('/stories/2/')} (404)" in links.summary
    assert f"{site.links.url('/img/3.jpg')} (more than 5 redirects)" in links.summary
    assert len(site.links.requests_to("/img/3.jpg")) <= 2 * 6  # HEAD and GET, 1 + 5 each
    assert found["edition.size"].status == "warn"
    assert "over the 5,000-byte margin" in found["edition.size"].summary
    assert [r.method for r in site.links.requests_to("/stories/1/")] == ["HEAD", "GET"]


def test_links_beyond_max_links_are_counted_not_checked(site: Site) -> None:
    report = doctor(copy(site.settings, max_links=2), "edition")
    links = next(r for r in report.results if r.check == "edition.links")
    assert links.status == "warn"
    assert links.summary.startswith("2 of 7 links checked")


@pytest.mark.parametrize("one_click", [True, False])
def test_the_probe_token_never_touches_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_click: bool
) -> None:
    from starlette.testclient import TestClient

    from syndicate.doctor.unsubscribe import ONE_CLICK_BODY, probe_url

    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", SECRET)
    # A store that cannot be opened: a real unsubscribe would be queued (202) or 503.
    missing = tmp_path / "no-such-folder" / "store.db"
    settings = make_instance(tmp_path / "i", {"desk": CHANNEL}, store_url=f"sqlite:///{missing}")
    path = probe_url(settings, "")
    with TestClient(create_app(settings), base_url=SITE) as client:
        if one_click:
            answer = client.post(
                path,
                content=ONE_CLICK_BODY,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        else:  # the page's button: the form token is checked first, as for anyone
            page = client.get(path)
            assert page.status_code == 200
            token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
            answer = client.post(path, data={"csrf_token": token}, headers={"Origin": SITE})
    assert answer.status_code == 200, answer.text
    assert "nothing was changed" in answer.text
    assert not missing.parent.exists()
    pending = settings.resolve(Path("var/pending-unsubscribes"))
    assert not pending.exists() or not any(pending.iterdir())
