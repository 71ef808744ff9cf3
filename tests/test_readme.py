"""The README tells a contributor how the tests run, and the tests install nothing.

Every environment variable the tests read is named in the README, and no test runs a
package manager: `.ci/run` installs the Debian packages the tests drive, and a test
whose binary is missing skips with the reason.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
README = ROOT / "README.md"
# The variables tests read: the shared services, artefact and golden-file switches.
_TEST_VARIABLE = re.compile(r"\bSYNDICATE_(?:TEST|REGEN)_[A-Z_]*[A-Z]\b")
# A package manager named as a command: a list element ("apt-get", "install", ...) or
# the start of a shell command line.
_PACKAGE_MANAGERS = ("apt-get", "apt", "aptitude", "dpkg", "snap")
_COMMAND_LINE = re.compile(r"^\s*(?:sudo\s+)?(?:apt-get|apt|aptitude|dpkg|snap)\s")
# Calls whose text arguments are reasons shown to a person, not commands.
_REASON_CALLS = {"skip", "skipif", "xfail", "importorskip", "fail"}


def _test_files() -> list[Path]:
    this = Path(__file__).resolve()
    return sorted(p for p in TESTS.rglob("*.py") if p.resolve() != this)


def test_readme_names_every_test_variable() -> None:
    used: set[str] = set()
    for path in [*_test_files(), ROOT / ".ci" / "run"]:
        used |= set(_TEST_VARIABLE.findall(path.read_text(encoding="utf-8")))
    assert {
        "SYNDICATE_TEST_POSTGRES_URL",
        "SYNDICATE_TEST_REDIS_URL",
        "SYNDICATE_TEST_AMQP_URL",
    } <= used
    readme = README.read_text(encoding="utf-8")
    missing = sorted(name for name in used if not re.search(f"`{name}[`=]", readme))
    assert not missing, f"README.md does not name the test variables {missing}"


def test_readme_says_how_long_the_suite_takes_and_that_tests_install_nothing() -> None:
    readme = " ".join(README.read_text(encoding="utf-8").split())
    assert re.search(r"about \d+ minutes", readme), "README.md: how long the suite takes"
    assert "never run `apt-get`" in readme


def _reason_nodes(tree: ast.AST) -> set[int]:
    """Ids of string nodes that are docstrings or reasons of skip/xfail/fail calls."""
    ignored: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ignored.add(id(body[0].value))
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in _REASON_CALLS:
                for arg in [*node.args, *(k.value for k in node.keywords)]:
                    ignored |= {id(sub) for sub in ast.walk(arg)}
    return ignored


def _package_manager_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    ignored = _reason_nodes(tree)
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
            continue
        if id(node) in ignored:
            continue
        value = node.value
        if value.strip() in _PACKAGE_MANAGERS or _COMMAND_LINE.match(value):
            found.append((node.lineno, f"{where}:{node.lineno}: {value!r}"))
    return [hit for _, hit in sorted(found)]


def test_no_test_runs_a_package_manager() -> None:
    found = [hit for path in _test_files() for hit in _package_manager_calls(path)]
    assert not found, (
        "tests must not install packages (.ci/run does; a test skips with the reason "
        "when a binary is missing):\n" + "\n".join(found)
    )


def test_the_scan_sees_an_install_but_not_a_skip_reason(tmp_path: Path) -> None:
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import subprocess\n"
        "import pytest\n"
        "# apt-get install newsboat would be wrong here\n"
        "def f():\n"
        "    pytest.skip('newsboat is missing (apt-get install newsboat)')\n"
        "    subprocess.run(['apt-get', 'install', '-y', 'newsboat'])\n"
        "    subprocess.run('apt-get install -y chromium', shell=True)\n",
        encoding="utf-8",
    )
    found = _package_manager_calls(probe)
    assert [hit.split(": ", 1)[1] for hit in found] == [
        "'apt-get'",
        "'apt-get install -y chromium'",
    ]
