"""`config check` validates everything a send needs, and `digest send` refuses a bad
backend before it composes or queues anything (issue 12, item 18)."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.test_cli import run


def append(instance: Path, text: str) -> None:
    config = instance / "syndicate.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n" + text, encoding="utf-8")


def replace(instance: Path, old: str, new: str) -> None:
    config = instance / "syndicate.toml"
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new), encoding="utf-8")


def test_config_check_prints_the_file_it_read(config_instance: Path) -> None:
    (config_instance / "syndicate.toml").rename(config_instance / "review.toml")
    done = run(config_instance, "--config", "review.toml", "config", "check")
    assert done.returncode == 0, done.stderr
    assert f"config: {config_instance / 'review.toml'}" in done.stdout
    assert "backend: file" in done.stdout


def test_an_unknown_backend_name_is_reported(config_instance: Path) -> None:
    replace(config_instance, 'backend = "file"', 'backend = "smtpp"')
    done = run(config_instance, "config", "check")
    assert done.returncode == 2, done.stdout
    assert "unknown delivery backend 'smtpp'" in done.stderr and "smtp" in done.stderr


def test_a_bad_backend_table_names_each_key(config_instance: Path) -> None:
    replace(config_instance, 'backend = "file"', 'backend = "smtp"')
    append(config_instance, '[delivery.smtp]\nhots = "mail.example"\nport = "twenty-five"\n')
    done = run(config_instance, "config", "check")
    assert done.returncode == 2, done.stdout
    assert "delivery.smtp.hots" in done.stderr and "unknown key" in done.stderr
    assert "delivery.smtp.port" in done.stderr


@pytest.mark.parametrize(
    ("key_file", "expected"),
    [("missing.pem", "missing.pem"), ("not-a-key.pem", "not a PEM private key")],
)
def test_an_unreadable_dkim_key_is_reported(
    config_instance: Path, key_file: str, expected: str
) -> None:
    (config_instance / "not-a-key.pem").write_text("hello\n")
    replace(
        config_instance,
        'backend = "file"',
        f'backend = "file"\ndkim_domain = "meridian.example"\ndkim_key_file = "{key_file}"',
    )
    done = run(config_instance, "config", "check")
    assert done.returncode == 2, done.stdout
    assert "DKIM" in done.stderr and expected in done.stderr


def test_a_template_that_does_not_compile_is_reported(config_instance: Path) -> None:
    templates = config_instance / "templates"
    templates.mkdir()
    shutil.copy(REPO / "src/syndicate/digest/templates/digest.txt.j2", templates)
    (templates / "digest.mjml.j2").write_text("<mjml>{% if %}</mjml>\n")
    done = run(config_instance, "config", "check")
    assert done.returncode == 2, done.stdout
    assert str(templates / "digest.mjml.j2") in done.stderr


def test_a_subject_template_that_does_not_compile_is_reported(config_instance: Path) -> None:
    channel = config_instance / "feeds" / "world.toml"
    text = channel.read_text(encoding="utf-8")
    channel.write_text(text.replace("[digest]\n", '[digest]\nsubject = "{{ lead.title"\n', 1))
    done = run(config_instance, "config", "check")
    assert done.returncode == 2, done.stdout
    assert "world" in done.stderr and "subject" in done.stderr


def test_digest_send_refuses_a_bad_backend_before_composing(config_instance: Path) -> None:
    assert run(config_instance, "ingest").returncode == 0
    shutil.copy(REPO / "subscribers.csv", config_instance / "subscribers.csv")
    assert run(config_instance, "subscribers", "import", "subscribers.csv").returncode == 0
    replace(config_instance, 'backend = "file"', 'backend = "smtp"')
    append(config_instance, '[delivery.smtp]\nhots = "mail.example"\n')
    done = run(config_instance, "digest", "send", "all")
    assert done.returncode == 2, done.stdout
    assert "delivery.smtp.hots" in done.stderr
    with sqlite3.connect(config_instance / "var" / "syndicate.db") as db:
        assert db.execute("SELECT count(*) FROM editions").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM deliveries").fetchone() == (0,)
