"""Loading ``syndicate.toml``: find it, parse it, validate it, and say what is wrong."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from syndicate import plugins
from syndicate.config.base import CONFIG_ENV, CONFIG_FILENAME, ENV_PREFIX
from syndicate.config.settings import TOML_DATA, Settings
from syndicate.errors import ConfigError


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The config file: ``--config``, else ``$SYNDICATE_CONFIG``, else ``./syndicate.toml``."""
    if explicit:
        path = Path(explicit)
        origin = "--config"
    elif os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV])
        origin = CONFIG_ENV
    else:
        path = Path.cwd() / CONFIG_FILENAME
        origin = "the working directory"
    if not path.is_file():
        raise ConfigError(
            f"{path}: no config file (looked here because of {origin}); "
            f"pass --config PATH or set {CONFIG_ENV}"
        )
    return path.resolve()


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; a syntax error names the file, line and column."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML", [f"{path}: {err}"]) from err
    except OSError as err:
        raise ConfigError(f"{path}: cannot read: {err.strerror}") from err


def load_settings(path: Path | None = None, overrides: Mapping[str, Any] | None = None) -> Settings:
    """Load and validate the settings.

    ``path`` is the config file (found with :func:`find_config` when ``None``);
    ``overrides`` are CLI flags as a nested dict, applied last. Source kinds validate their
    own keys here too, so a typo in any ``[[sources]]`` entry is found at load time.
    """
    path = find_config(path)
    data = read_toml(path)
    data["base_dir"] = path.parent
    token = TOML_DATA.set(data)
    try:
        settings = Settings(**dict(overrides or {}))
    except ValidationError as err:
        raise ConfigError(f"{path}: invalid configuration", describe_errors(err, path)) from err
    finally:
        TOML_DATA.reset(token)
    _check_sources(settings, path)
    return settings


def describe_errors(err: ValidationError, path: Path, prefix: str = "") -> list[str]:
    """One line per problem: where it came from, the key, expected and found."""
    lines = []
    for problem in err.errors():
        loc = [str(p) for p in problem["loc"]]
        key = prefix + _dotted(loc)
        env_name = ENV_PREFIX + "__".join(p.upper() for p in loc if not p.isdigit())
        where = f"environment {env_name}" if env_name in os.environ and not prefix else str(path)
        expected = _expected(problem)
        if problem["type"] == "missing":
            lines.append(f"{where}: key '{key}': required, expected {expected}, found nothing")
        elif problem["type"] == "extra_forbidden":
            lines.append(f"{where}: key '{key}': unknown key (found {problem['input']!r})")
        else:
            found = problem.get("input")
            lines.append(f"{where}: key '{key}': expected {expected}, found {found!r}")
    return lines


def _dotted(loc: list[str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _expected(problem: Mapping[str, Any]) -> str:
    msg = str(problem.get("msg", ""))
    for lead in ("Value error, ", "Input should be "):
        if msg.startswith(lead):
            return msg[len(lead) :]
    return msg[:1].lower() + msg[1:]


def _check_sources(settings: Settings, path: Path) -> None:
    # Kinds are found by name in the plugin table, not by importing ingest's registry:
    # source modules import config, so config must not import them (docs/architecture.md).
    kinds = plugins.source_targets()
    problems: list[str] = []
    seen: set[str] = set()
    for index, src in enumerate(settings.sources):
        where = f"sources[{index}]"
        if src.name in seen:
            problems.append(f"{path}: key '{where}.name': duplicate source name {src.name!r}")
        seen.add(src.name)
        if src.kind not in kinds:
            expected = "one of " + plugins.known(kinds)
            problems.append(f"{path}: key '{where}.kind': expected {expected}, found {src.kind!r}")
            continue
        model: type[BaseModel] = plugins.load(kinds[src.kind]).Options
        try:
            model.model_validate(src.options)
        except ValidationError as err:
            problems.extend(describe_errors(err, path, prefix=where + "."))
    if problems:
        raise ConfigError(f"{path}: invalid configuration", problems)
