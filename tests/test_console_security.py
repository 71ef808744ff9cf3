"""The console's security over HTTP, on SQLite and PostgreSQL: off without operators;
anonymous requests sent to sign-in with no data; editors refused admin routes; POSTs
without the session's CSRF token or from another site refused with nothing changed;
sessions renewed at sign-in, revoked at sign-out and password change, expired when idle
or old; sign-in rate-limited and accounts locked out; every write in the audit log."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from syndicate.store import Store
from syndicate.store.operators import Operators
from tests.consolehelpers import (
    ADMIN,
    EDITOR,
    SUBJECT,
    Console,
    make_console,
)

GET_ROUTES = [
    "/console/",
    "/console/editions/{id}",
    "/console/editions/{id}/preview",
    "/console/editions/{id}/progress",
    "/console/audit",
    "/console/operators",
    "/console/subscribers",
    "/console/subscribers.csv",
]
POST_ROUTES = [
    "/console/signout",
    "/console/editions/{id}/hold",
    "/console/editions/{id}/approve",
    "/console/editions/{id}/cancel",
    "/console/editions/{id}/edit",
    "/console/editions/{id}/test-send",
    "/console/editions/{id}/retry",
    "/console/channels/world/pause",
    "/console/channels/world/resume",
    "/console/suppressions",
    "/console/sources/desk/poll",
]
ADMIN_GETS = [
    "/console/audit",
    "/console/operators",
    "/console/subscribers",
    "/console/subscribers.csv",
]
ADMIN_POSTS = ["/console/suppressions", "/console/sources/desk/poll"]


@pytest.fixture
def console(tmp_path: Path, store: Store) -> Iterator[Console]:
    yield make_console(
        tmp_path / "instance",
        store,
        console="signin_per_client = 4\nlockout_after = 3\nlockout_minutes = 10\n"
        "idle_minutes = 30\nsession_hours = 8\n",
    )


def paths(routes: list[str], console: Console) -> list[str]:
    return [r.format(id=console.draft.id) for r in routes]


def writes(console: Console) -> int:
    """Audit entries other than sign-ins: the writes made."""
    return sum(1 for e in console.operators.audit_entries(1000) if e.action != "operator.signin")


def test_the_console_is_off_until_an_operator_exists(console: Console) -> None:
    for email in (EDITOR, ADMIN):
        console.operators.remove(email)
    client = console.client()
    for path in ["/console/signin", "/console/static/console.css", *paths(GET_ROUTES, console)]:
        assert client.get(path).status_code == 404, path
    for path in paths(POST_ROUTES, console):
        assert client.post(path).status_code == 404, path


def test_anonymous_requests_go_to_sign_in_with_no_data(console: Console) -> None:
    client = console.client()
    for path in paths(GET_ROUTES, console):
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/signin?next="), path
        assert response.content == b"", path
    for path in paths(POST_ROUTES, console):
        response = client.post(path, data={"reason": "x", "email": "a@b.example"})
        assert response.status_code == 303 and response.content == b"", path
        assert response.headers["location"] == "/console/signin"
    assert console.edition().status == "draft" and writes(console) == 0
    # The sign-in page itself shows nothing of the console.
    page = client.get("/console/signin")
    assert page.status_code == 200 and SUBJECT not in page.text and "Sign in" in page.text


def test_editors_are_refused_admin_routes(console: Console) -> None:
    client = console.client()
    assert console.sign_in(client).status_code == 303
    token = console.csrf(client)
    for path in ADMIN_GETS:
        response = client.get(path)
        assert response.status_code == 403 and "@" not in response.text, path
    for path in ADMIN_POSTS:
        response = client.post(
            path, data={"csrf_token": token, "email": "r@news.example", "reason": "bounced"}
        )
        assert response.status_code == 403, path
    assert writes(console) == 0
    admin = console.client()
    console.sign_in(admin, ADMIN)
    for path in ADMIN_GETS:
        assert admin.get(path).status_code == 200, path


@pytest.mark.parametrize(
    "headers",
    [{}, {"sec-fetch-site": "cross-site"}, {"origin": "https://evil.example"}],
    ids=["no-token", "cross-site", "foreign-origin"],
)
def test_posts_without_the_token_or_from_another_site_change_nothing(
    console: Console, headers: dict[str, str]
) -> None:
    client = console.client()
    console.sign_in(client, ADMIN)
    token = console.csrf(client)
    data = {
        "reason": "bounced",
        "email": "reader00000@example.com",
        "op": "subject",
        "subject": "Hijacked",
    }
    if headers:
        data["csrf_token"] = token  # a good token does not help a cross-site post
    for path in paths(POST_ROUTES, console):
        response = client.post(path, data=data, headers=headers)
        assert response.status_code == 403, path
    edition = console.edition()
    assert edition.status == "draft" and edition.subject == SUBJECT
    assert writes(console) == 0
    assert console.edition().html == console.draft.html
    # The same post with the token, from the console itself, goes through.
    done = client.post(
        f"/console/editions/{console.draft.id}/hold",
        data={"csrf_token": token},
        headers={"sec-fetch-site": "same-origin"},
    )
    assert done.status_code == 303 and console.edition().status == "held"


def test_the_session_cookie_is_new_at_sign_in_and_flagged(console: Console) -> None:
    client = console.client("https://testserver")
    planted = "attacker-chosen-session-token"
    client.cookies.set("syndicate_console", planted, path="/console")
    response = console.sign_in(client)
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie
    assert "Path=/console" in cookie
    issued = response.cookies.get("syndicate_console")
    assert issued and issued != planted
    # The planted token signs nobody in.
    other = console.client("https://testserver")
    other.cookies.set("syndicate_console", planted, path="/console")
    assert other.get("/console/").status_code == 303
    plain_http = console.client()
    assert "Secure" not in console.sign_in(plain_http).headers["set-cookie"]


def test_a_session_cannot_be_reused_after_sign_out(console: Console) -> None:
    client = console.client()
    stolen = console.sign_in(client).cookies.get("syndicate_console")
    assert client.get("/console/").status_code == 200
    token = console.csrf(client)
    assert client.post("/console/signout", data={"csrf_token": token}).status_code == 303
    thief = console.client()
    thief.cookies.set("syndicate_console", stolen or "", path="/console")
    response = thief.get(f"/console/editions/{console.draft.id}")
    assert response.status_code == 303 and SUBJECT.encode() not in response.content


def test_a_password_change_ends_every_session(console: Console) -> None:
    client = console.client()
    console.sign_in(client)
    assert client.get("/console/").status_code == 200
    console.operators.set_password(EDITOR, "a brand new password", console.clock())
    assert client.get("/console/").status_code == 303
    assert console.sign_in(client).status_code == 401
    assert console.sign_in(client, password="a brand new password").status_code == 303


def test_sessions_expire_when_idle_and_when_old(console: Console) -> None:
    client = console.client()
    console.sign_in(client)
    console.clock.advance(minutes=29)
    assert client.get("/console/").status_code == 200
    console.clock.advance(minutes=31)  # idle for 31 minutes
    assert client.get("/console/").status_code == 303
    console.sign_in(client)
    for _ in range(16):  # used every 29 minutes (7 h 44 min): never idle
        console.clock.advance(minutes=29)
        assert client.get("/console/").status_code == 200
    console.clock.advance(minutes=29)  # 8 h 13 min after sign-in: over the 8 h allowed
    assert client.get("/console/").status_code == 303


def test_sign_in_is_rate_limited_per_client(console: Console) -> None:
    client = console.client()
    for _ in range(4):
        assert console.sign_in(client, password="wrong guess number").status_code == 401
    # Over the limit even with the right password, and the answer says when to retry.
    limited = console.sign_in(client, ADMIN)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    assert "syndicate_console" not in limited.headers.get("set-cookie", "")


def test_wrong_passwords_lock_the_account(console: Console) -> None:
    console.services.signin_limit.limit = 100  # the per-client limit is not under test
    client = console.client()
    for _ in range(3):
        assert console.sign_in(client, password="wrong guess number").status_code == 401
    locked = console.sign_in(client)  # the right password, but locked
    assert locked.status_code == 401 and "locked" in locked.text
    assert Operators(console.store).get(EDITOR).locked_until is not None  # type: ignore[union-attr]
    # An unknown address gets the same answer.
    assert "locked" in console.sign_in(client, "nobody@news.example").text
    console.clock.advance(minutes=11)
    assert console.sign_in(client).status_code == 303


def test_the_audit_log_records_every_write(console: Console) -> None:
    client = console.client()
    console.sign_in(client, ADMIN)
    token = console.csrf(client)
    edition = f"/console/editions/{console.draft.id}"
    first, *rest = console.article_ids
    steps = [
        (f"{edition}/edit", {"op": "subject", "subject": "A sharper subject"}),
        (f"{edition}/edit", {"op": "down", "article": console.edition().article_ids[0]}),
        (f"{edition}/test-send", {"addresses": "desk@news.example"}),
        (f"{edition}/hold", {"reason": "check the figures"}),
        (f"{edition}/approve", {}),
        ("/console/channels/world/pause", {"reason": "provider trouble"}),
        ("/console/channels/world/resume", {}),
        ("/console/suppressions", {"email": "Reader00001@example.com", "reason": "bounced"}),
        ("/console/suppressions", {"email": "reader00001@example.com", "action": "unsuppress"}),
        ("/console/sources/desk/poll", {}),
    ]
    for path, data in steps:
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 303, (path, response.text)
    entries = list(reversed(console.operators.audit_entries()))
    writes_made = [e for e in entries if e.action != "operator.signin"]
    assert [e.action for e in writes_made] == [
        "edition.edit",
        "edition.edit",
        "edition.test-send",
        "edition.held",
        "edition.approved",
        "channel.pause",
        "channel.resume",
        "address.suppress",
        "address.unsuppress",
        "source.poll",
    ]
    assert {e.actor for e in writes_made} == {ADMIN}
    assert writes_made[0].before["subject"] == SUBJECT
    assert writes_made[0].after["subject"] == "A sharper subject"
    assert writes_made[5].after == {"paused": True, "reason": "provider trouble"}
    assert writes_made[8].before["reason"] == "bounced"
    # The admin sees it in the console.
    page = client.get("/console/audit")
    assert "edition.approved" in page.text and "A sharper subject" in page.text
    assert console.mail.recipients() == ["seed@news.example", "desk@news.example"]
    assert first and rest  # the fixture's stories
