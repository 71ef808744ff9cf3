"""``syndicate doctor`` as a command: the table, ``--json``'s stable shape (a snapshot of
its keys and order), the exit code, and the results it leaves for ``/metrics``."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from syndicate.config import load_settings
from syndicate.doctor.authentication import public_key_record
from syndicate.web import create_app
from tests.dnsserver import DNSTestServer
from tests.feeds.fixtures import make_instance
from tests.test_cli import run
from tests.test_doctor_dns import KEY, publish_good

DNS_CHECKS = [
    "dns.spf",
    "dns.spf_lookups",
    "dns.dkim",
    "dns.dmarc",
    "dns.dmarc_alignment",
    "dns.mx",
    "dns.ptr",
    "dns.bimi",
]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def dns_server() -> Iterator[DNSTestServer]:
    with DNSTestServer() as server:
        yield server


def instance(root: Path, dns_port: int) -> Path:
    make_instance(root, {"desk": 'title = "Desk"\n'})
    (root / "dkim.pem").write_bytes(
        KEY.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    config = root / "syndicate.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + '\n[delivery]\nbackend = "sendgrid"\nfrom_email = "news@example.org"\n'
        'dkim_domain = "example.org"\ndkim_selector = "s1"\ndkim_key_file = "dkim.pem"\n'
        f'\n[doctor]\nresolver = ["127.0.0.1"]\nresolver_port = {dns_port}\n'
        f'dns_timeout = 2.0\nbase_url = "http://127.0.0.1:{closed_port()}"\n'
        "http_timeout = 2.0\n",
        encoding="utf-8",
    )
    return root


def test_json_is_stable_and_a_failure_exits_1(tmp_path: Path, dns_server: DNSTestServer) -> None:
    publish_good(dns_server)
    dns_server.clear("_dmarc.example.org")  # one failure: no DMARC
    root = instance(tmp_path / "i", dns_server.port)
    done = run(root, "doctor", "--json", "--only", "dns", "--only", "unsubscribe")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    # The snapshot: top-level keys, each check's keys, the order of the checks.
    assert sorted(report) == ["checks", "counts", "ran_at", "status", "version"]
    assert report["version"] == 1
    assert report["status"] == "fail"
    assert [c["check"] for c in report["checks"]] == [*DNS_CHECKS, "unsubscribe.one_click"]
    for check in report["checks"]:
        assert sorted(check) == ["check", "fix", "group", "status", "summary", "target"]
        assert check["group"] == check["check"].split(".")[0]
    assert report["counts"] == {"fail": 1, "pass": 6, "warn": 2}
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses["dns.dmarc"] == "fail"
    assert statuses["dns.dmarc_alignment"] == "warn"
    assert statuses["unsubscribe.one_click"] == "warn"  # nothing listens: could not check
    # Keys are printed sorted, so the text itself is stable too.
    assert done.stdout.strip() == json.dumps(report, sort_keys=True, indent=2, ensure_ascii=False)

    # The same results, kept for /metrics.
    settings = load_settings(root / "syndicate.toml")
    kept = json.loads((root / "var" / "doctor.json").read_text(encoding="utf-8"))
    assert kept == report
    answer = TestClient(create_app(settings)).get("/metrics")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }
    assert (
        samples[("syndicate_doctor_check", (("check", "dns.spf"), ("target", "example.org")))] == 0
    )
    dmarc = (("check", "dns.dmarc"), ("target", "_dmarc.example.org"))
    assert samples[("syndicate_doctor_check", dmarc)] == 2
    assert samples[("syndicate_doctor_checks", (("status", "fail"),))] == 1
    assert samples[("syndicate_doctor_checks", (("status", "warn"),))] == 2
    assert ("syndicate_doctor_last_run_timestamp_seconds", ()) in samples


def test_the_table_spells_out_the_fix_and_passing_exits_0(
    tmp_path: Path, dns_server: DNSTestServer
) -> None:
    publish_good(dns_server)
    root = instance(tmp_path / "i", dns_server.port)
    done = run(root, "doctor", "--only", "dns")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "8 passes, 0 warnings, 0 failures" in done.stdout
    assert "PASS" in done.stdout and "FAIL" not in done.stdout

    dns_server.clear("s1._domainkey.example.org")
    done = run(root, "doctor", "--only", "dns")
    assert done.returncode == 1
    assert "FAIL" in done.stdout
    assert "no DKIM key record at the selector" in done.stdout
    # The fix is the record to publish (folded by the table, so compare without spaces).
    flat = "".join(done.stdout.split()).replace("│", "")
    assert "".join(public_key_record(KEY.public_key()).split()) in flat


def test_metrics_without_a_doctor_run_have_no_doctor_figures(tmp_path: Path) -> None:
    settings = make_instance(tmp_path / "i", {"desk": 'title = "Desk"\n'})
    answer = TestClient(create_app(settings)).get("/metrics")
    assert answer.status_code == 200
    assert "syndicate_doctor" not in answer.text
