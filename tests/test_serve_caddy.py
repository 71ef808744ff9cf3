"""Caddy serving ``public/`` with the shipped config (deploy/caddy/Caddyfile) answers as
`syndicate serve` does with ``[output] etag = "caddy"``: the same ETags, validators and
304s, so a reader's cached copy stays valid whichever of the two answers.

Runs a real Caddy (Debian's caddy package) on 127.0.0.1 when one is installed; skipped
otherwise. Caddy proxies every other path to the app, as the config says.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from syndicate.config import Settings, load_settings
from syndicate.feeds.builder import build
from syndicate.store import open_store
from syndicate.web import create_app, server_config
from syndicate.web.lean import caddy_etag
from tests.feeds.fixtures import BASE, make_instance, save
from tests.frontservers import (
    check_gzip_etag_does_not_validate_identity,
    check_if_modified_since_alike,
    check_state_and_gzip_copies_not_served,
    fetch,
    free_port,
    wait_for,
)
from tests.uvicornserver import running

CADDYFILE = Path(__file__).resolve().parents[1] / "deploy" / "caddy" / "Caddyfile"
CADDY = shutil.which("caddy")

pytestmark = pytest.mark.skipif(
    CADDY is None, reason="caddy is not installed (apt-get install caddy to run this test)"
)


@dataclass
class Pair:
    settings: Settings
    app: str
    caddy: str


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    make_instance(tmp_path / "i", {"desk": 'title = "Desk"\nitems = 2\n'})
    toml = tmp_path / "i" / "syndicate.toml"
    toml.write_text(toml.read_text() + 'etag = "caddy"\n')
    settings = load_settings(toml)
    assert settings.output.etag == "caddy"
    store = open_store(settings.store_url)
    save(store, range(1, 6))
    build(store, settings)
    store.close()
    assert CADDY is not None
    with running(server_config(create_app(settings), "127.0.0.1", 0)) as app_port:
        port = free_port()
        env = {
            **os.environ,
            "HOME": str(tmp_path),  # Caddy keeps its state under $HOME/.local/share/caddy
            "XDG_DATA_HOME": str(tmp_path / "data"),
            "XDG_CONFIG_HOME": str(tmp_path / "config"),
            "SYNDICATE_SITE": f"http://127.0.0.1:{port}",
            "SYNDICATE_PUBLIC": str(settings.resolve(settings.output.dir)),
            "SYNDICATE_BASE_URL": BASE,
            "SYNDICATE_APP": f"127.0.0.1:{app_port}",
        }
        command = [CADDY, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for("caddy", port, proc)
            yield Pair(settings, f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{port}")
        finally:
            proc.terminate()
            proc.wait(timeout=10)


# Caddy sends its precompressed gzip copy chunked, without Content-Length.
SAME = ("etag", "last-modified", "content-type", "content-encoding", "vary", "cache-control")

CASES = [
    ("/feeds/desk.xml", {"Accept-Encoding": "gzip"}),
    ("/feeds/desk.xml", {"Accept-Encoding": "identity"}),
    ("/feeds/desk.atom", {"Accept-Encoding": "gzip"}),
    ("/feeds/desk.json", {"Accept-Encoding": "identity"}),
    ("/feeds/desk/archive/1.atom", {"Accept-Encoding": "gzip"}),
    ("/feeds/desk/archive/1.json", {"Accept-Encoding": "identity"}),
]


@pytest.mark.parametrize(("path", "headers"), CASES)
def test_caddy_and_the_app_send_the_same_validators_and_bytes(
    pair: Pair, path: str, headers: dict[str, str]
) -> None:
    app = fetch(pair.app, path, headers)
    caddy = fetch(pair.caddy, path, headers)
    assert app.status_code == caddy.status_code == 200
    for name in SAME:
        assert app.headers.get(name) == caddy.headers.get(name), name
    assert app.headers["x-content-type-options"] == caddy.headers["x-content-type-options"]
    assert app.headers.get_list("link") == caddy.headers.get_list("link")
    assert app.read() == caddy.read()
    if "content-encoding" not in app.headers:
        assert app.headers["content-length"] == caddy.headers["content-length"]
    head = fetch(pair.caddy, path, headers, "HEAD")
    assert head.status_code == 200 and head.headers["etag"] == app.headers["etag"]


def test_the_etag_is_the_files_mtime_and_size_in_base_36(pair: Pair) -> None:
    out = pair.settings.resolve(pair.settings.output.dir)
    for coding, suffix in (("identity", ""), ("gzip", ".gz")):
        st = os.stat(out / f"feeds/desk.xml{suffix}")
        tag = fetch(pair.caddy, "/feeds/desk.xml", {"Accept-Encoding": coding}).headers["etag"]
        assert tag == caddy_etag(int(st.st_mtime), st.st_size)
    assert caddy_etag(0, 0) == '"00"'
    assert caddy_etag(1796474915, 69207) == '"tpkowz1hef"'  # as Caddy 2.6.2 answered


@pytest.mark.parametrize(("path", "headers"), CASES)
def test_a_validator_from_either_server_gets_a_304_from_both(
    pair: Pair, path: str, headers: dict[str, str]
) -> None:
    app_tag = fetch(pair.app, path, headers).headers["etag"]
    caddy_tag = fetch(pair.caddy, path, headers).headers["etag"]
    for base in (pair.app, pair.caddy):
        for tag in (app_tag, caddy_tag, f"W/{caddy_tag}", f'"other", {app_tag}', "*"):
            r = fetch(base, path, {**headers, "If-None-Match": tag})
            assert r.status_code == 304, (base, tag)
            assert r.headers["etag"] == app_tag
            assert r.content == b""
        other = fetch(base, path, {**headers, "If-None-Match": '"other"'})
        assert other.status_code == 200, base


def test_the_gzip_etag_does_not_validate_the_identity_file_on_either(pair: Pair) -> None:
    check_gzip_etag_does_not_validate_identity(pair.app, pair.caddy)


def test_if_modified_since_is_answered_alike(pair: Pair) -> None:
    check_if_modified_since_alike(pair.app, pair.caddy)


def test_state_files_and_gzip_copies_are_not_served_by_caddy(pair: Pair) -> None:
    check_state_and_gzip_copies_not_served(pair.app, pair.caddy)


def test_other_paths_are_proxied_to_the_app(pair: Pair) -> None:
    for path in ("/healthz", "/"):
        app = fetch(pair.app, path, {})
        caddy = fetch(pair.caddy, path, {})
        assert app.status_code == caddy.status_code == 200, path
        assert app.content == caddy.content, path
