"""The dependency rule holds, and the check that enforces it does fail when it is broken.

``lint-imports`` reads the contracts in ``pyproject.toml`` (docs/architecture.md). Each
test runs it on a copy of ``src/`` so a deliberately broken copy never touches the tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install -e '.[dev]')"
)


def lint(
    tmp_path: Path, extra: dict[str, str] | None = None, contracts: tuple[str, str] = ("", "")
) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over a copy of the package, with ``extra`` modules added to it.

    ``contracts`` is one (old, new) replacement made in the copied ``pyproject.toml``.
    """
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "syndicate", src / "syndicate")
    for relative, text in (extra or {}).items():
        (src / relative).write_text(text, encoding="utf-8")
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    old, new = contracts
    if old:
        assert old in config
        config = config.replace(old, new)
    (tmp_path / "pyproject.toml").write_text(config, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_tree_keeps_every_contract(tmp_path: Path) -> None:
    result = lint(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_a_stage_importing_click_breaks_the_rule(tmp_path: Path) -> None:
    result = lint(tmp_path, {"syndicate/feeds/probe.py": "import click\n"})
    assert result.returncode != 0
    assert "syndicate.feeds.probe -> click" in result.stdout


def test_a_stage_importing_a_later_stage_breaks_the_layers(tmp_path: Path) -> None:
    probe = "from syndicate.delivery import dispatch\n"
    result = lint(tmp_path, {"syndicate/ingest/probe.py": probe})
    assert result.returncode != 0
    assert "syndicate.ingest.probe -> syndicate.delivery.dispatch" in result.stdout


def test_a_backend_importing_the_store_breaks_the_rule(tmp_path: Path) -> None:
    # Only the named backend modules are held to it: name the probe as one of them.
    named = '"syndicate.delivery.file",'
    result = lint(
        tmp_path,
        {"syndicate/delivery/file_probe.py": "from syndicate.store import Store\n"},
        contracts=(named, named + '\n  "syndicate.delivery.file_probe",'),
    )
    assert result.returncode != 0
    assert "syndicate.delivery.file_probe -> syndicate.store" in result.stdout
