"""Configuration: loading, precedence, relative paths, secrets and error messages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from syndicate.config import find_config, load_channels, load_settings
from syndicate.errors import ConfigError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    import os

    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SYNDICATE_")}
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "syndicate", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_example_instance_loads_with_paths_relative_to_the_file(config_instance: Path) -> None:
    settings = load_settings(config_instance / "syndicate.toml")
    assert settings.site.name == "The Meridian Review"
    assert settings.base_dir == config_instance
    assert settings.store_url == f"sqlite:///{config_instance / 'var' / 'syndicate.db'}"
    assert settings.resolve(settings.output.dir) == config_instance / "public"
    assert [s.name for s in settings.sources] == ["newsroom"]
    channels = load_channels(settings)
    assert {c.name for c in channels} >= {"all", "world"}


def test_environment_overrides_toml(config_instance: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNDICATE_SITE__NAME", "Env Name")
    monkeypatch.setenv("SYNDICATE_STORE__URL", "sqlite:////tmp/elsewhere.db")
    settings = load_settings(config_instance / "syndicate.toml")
    assert settings.site.name == "Env Name"
    assert settings.store_url == "sqlite:////tmp/elsewhere.db"
    assert settings.site.base_url == "https://meridian.example"  # untouched keys stay


def test_cli_overrides_beat_environment(
    config_instance: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNDICATE_SITE__NAME", "Env Name")
    settings = load_settings(config_instance / "syndicate.toml", {"site": {"name": "Flag Name"}})
    assert settings.site.name == "Flag Name"


def test_config_found_by_env_then_cwd(
    config_instance: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(config_instance)
    assert find_config() == config_instance / "syndicate.toml"
    other = write(tmp_path / "other" / "custom.toml", "[site]\nname = 'Other'\n")
    monkeypatch.setenv("SYNDICATE_CONFIG", str(other))
    assert find_config() == other
    assert find_config(config_instance / "syndicate.toml") == config_instance / "syndicate.toml"
    monkeypatch.setenv("SYNDICATE_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ConfigError, match=r"missing\.toml: no config file"):
        find_config()


def test_secret_from_environment_or_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path / "key.txt", "s3cret-from-file\n")
    cfg = write(tmp_path / "syndicate.toml", "[security]\nsecret_key_file = 'key.txt'\n")
    assert load_settings(cfg).secret_key() == "s3cret-from-file"
    monkeypatch.setenv("SYNDICATE_SECURITY__SECRET_KEY", "from-env")
    assert load_settings(cfg).secret_key() == "from-env"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        (
            "[site]\nbase_url = 'meridian.example'\n",
            "key 'site.base_url': expected an absolute http(s) URL, found 'meridian.example'",
        ),
        ("[site]\nnmae = 'x'\n", "key 'site.nmae': unknown key"),
        (
            "[fetch]\nmax_bytes = 'big'\n",
            "key 'fetch.max_bytes': expected a valid integer, unable to parse string as an "
            "integer, found 'big'",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'rss'\n",
            "key 'sources[0].kind': expected one of 'feed', 'folder', 'page', found 'rss'",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'folder'\n",
            "key 'sources[0].path': required",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'folder'\npath = 'c'\npaht = 'd'\n",
            "key 'sources[0].paht': unknown key",
        ),
        (
            "[[sources]]\nname = 'Bad Name'\nkind = 'folder'\npath = 'c'\n",
            "key 'sources[0].name'",
        ),
    ],
)
def test_bad_config_names_file_key_expected_and_found(
    tmp_path: Path, toml: str, expected: str
) -> None:
    cfg = write(tmp_path / "syndicate.toml", toml)
    with pytest.raises(ConfigError) as info:
        load_settings(cfg)
    text = str(info.value)
    assert str(cfg) in text
    assert expected in text


def test_bad_env_value_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = write(tmp_path / "syndicate.toml", "")
    monkeypatch.setenv("SYNDICATE_FETCH__MAX_REDIRECTS", "lots")
    with pytest.raises(ConfigError, match="environment SYNDICATE_FETCH__MAX_REDIRECTS: key"):
        load_settings(cfg)


def test_toml_syntax_error_names_line(tmp_path: Path) -> None:
    cfg = write(tmp_path / "syndicate.toml", "[site]\nname = = 'x'\n")
    with pytest.raises(ConfigError, match=r"line 2"):
        load_settings(cfg)


def test_bad_channel_names_file_and_key(config_instance: Path) -> None:
    write(
        config_instance / "feeds" / "broken.toml",
        "title = 'B'\nformats = ['rss', 'pdf']\nitems = 0\n",
    )
    settings = load_settings(config_instance / "syndicate.toml")
    with pytest.raises(ConfigError) as info:
        load_channels(settings)
    text = str(info.value)
    assert "broken.toml: key 'formats[1]'" in text
    assert "found 'pdf'" in text
    assert "broken.toml: key 'items'" in text


def test_channel_name_must_match_file(config_instance: Path) -> None:
    write(config_instance / "feeds" / "sports.toml", "name = 'sport'\ntitle = 'S'\n")
    with pytest.raises(ConfigError, match="expected the file name 'sports'"):
        load_channels(load_settings(config_instance / "syndicate.toml"))


def test_cli_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    write(tmp_path / "syndicate.toml", "[store]\nurl = 5\n")
    done = run_cli("ingest", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "syndicate.toml: key 'store.url': expected a valid string, found 5" in done.stderr


def test_cli_missing_config_exits_2(tmp_path: Path) -> None:
    done = run_cli("sources", "list", cwd=tmp_path)
    assert done.returncode == 2
    assert "no config file" in done.stderr
    assert "Traceback" not in done.stderr
