"""nginx serving ``public/`` with the shipped config (deploy/nginx/syndicate-feeds.conf)
answers as `syndicate serve` does with ``[output] etag = "nginx"``: the same ETags,
validators and 304s, so a reader's cached copy stays valid whichever of the two answers.

Runs a real nginx on 127.0.0.1 when one is installed; skipped otherwise.
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

SNIPPET = Path(__file__).resolve().parents[1] / "deploy" / "nginx" / "syndicate-feeds.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)

pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (apt-get install nginx to run this test)"
)


@dataclass
class Pair:
    settings: Settings
    app: str
    nginx: str


def _nginx_conf(work: Path, root: Path, port: int) -> str:
    # Running as root, nginx's workers would switch to "nobody", who cannot enter pytest's
    # private temporary folders; they stay root here instead (only in this test).
    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "\n".join(
        f"  {kind}_temp_path {work}/{kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""{user}daemon off;
worker_processes 1;
pid {work}/nginx.pid;
error_log {work}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
{temp}
  server {{
    listen 127.0.0.1:{port};
    root {root};
    set $syndicate_base_url {BASE};
    include {SNIPPET};
  }}
}}
"""


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    make_instance(tmp_path / "i", {"desk": 'title = "Desk"\nitems = 2\n'})
    toml = tmp_path / "i" / "syndicate.toml"
    toml.write_text(toml.read_text() + 'etag = "nginx"\n')
    settings = load_settings(toml)
    assert settings.output.etag == "nginx"
    store = open_store(settings.store_url)
    save(store, range(1, 6))
    build(store, settings)
    store.close()
    work = tmp_path / "nginx"
    work.mkdir()
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(_nginx_conf(work, settings.resolve(settings.output.dir), port))
    assert NGINX is not None
    check = subprocess.run(
        [NGINX, "-t", "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    proc = subprocess.Popen(
        [NGINX, "-p", str(work), "-c", str(conf), "-e", str(work / "error.log")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for("nginx", port, proc)
        with running(server_config(create_app(settings), "127.0.0.1", 0)) as app_port:
            yield Pair(settings, f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{port}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


SAME = ("etag", "last-modified", "content-type", "content-encoding", "content-length", "vary")

CASES = [
    ("/feeds/desk.xml", {"Accept-Encoding": "gzip"}),
    ("/feeds/desk.xml", {"Accept-Encoding": "identity"}),
    ("/feeds/desk.atom", {"Accept-Encoding": "gzip"}),
    ("/feeds/desk.json", {"Accept-Encoding": "identity"}),
    ("/feeds/desk/archive/1.atom", {"Accept-Encoding": "gzip"}),
]


@pytest.mark.parametrize(("path", "headers"), CASES)
def test_nginx_and_the_app_send_the_same_validators_and_bytes(
    pair: Pair, path: str, headers: dict[str, str]
) -> None:
    app = fetch(pair.app, path, headers)
    ngx = fetch(pair.nginx, path, headers)
    assert app.status_code == ngx.status_code == 200
    for name in SAME:
        assert app.headers.get(name) == ngx.headers.get(name), name
    assert app.headers["cache-control"] == ngx.headers["cache-control"]
    assert app.headers["x-content-type-options"] == ngx.headers["x-content-type-options"]
    assert app.headers.get_list("link") == ngx.headers.get_list("link")
    assert app.read() == ngx.read()
    head = fetch(pair.nginx, path, headers, "HEAD")
    assert head.status_code == 200 and head.headers["etag"] == app.headers["etag"]


@pytest.mark.parametrize(("path", "headers"), CASES)
def test_a_validator_from_either_server_gets_a_304_from_both(
    pair: Pair, path: str, headers: dict[str, str]
) -> None:
    app_tag = fetch(pair.app, path, headers).headers["etag"]
    ngx_tag = fetch(pair.nginx, path, headers).headers["etag"]
    for base in (pair.app, pair.nginx):
        for tag in (app_tag, ngx_tag, f"W/{ngx_tag}", f'"other", {app_tag}'):
            r = fetch(base, path, {**headers, "If-None-Match": tag})
            assert r.status_code == 304, (base, tag)
            assert r.headers["etag"] == app_tag
            assert r.content == b""
        other = fetch(base, path, {**headers, "If-None-Match": '"other"'})
        assert other.status_code == 200, base


def test_the_gzip_etag_does_not_validate_the_identity_file_on_either(pair: Pair) -> None:
    check_gzip_etag_does_not_validate_identity(pair.app, pair.nginx)


def test_if_modified_since_is_answered_alike(pair: Pair) -> None:
    check_if_modified_since_alike(pair.app, pair.nginx)


def test_state_files_and_gzip_copies_are_not_served_by_nginx(pair: Pair) -> None:
    check_state_and_gzip_copies_not_served(pair.app, pair.nginx)
