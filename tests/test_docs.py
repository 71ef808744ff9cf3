"""Every setting is documented: a key missing from docs/configuration.md fails here."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from pydantic import BaseModel

from syndicate.config import (
    BreakerSettings,
    CelerySettings,
    ChannelConfig,
    ChannelFilters,
    ConsoleSettings,
    DeliverySettings,
    DigestSettings,
    DispatchSettings,
    DoctorSettings,
    FetchSettings,
    MailgunWebhookSettings,
    OutputSettings,
    PostmarkWebhookSettings,
    RelatedSettings,
    SecuritySettings,
    SendGridWebhookSettings,
    SESWebhookSettings,
    Settings,
    SiteSettings,
    SourceConfig,
    StoreSettings,
    StorySettings,
    SubscribeSettings,
    WarmupSettings,
    WebhookSettings,
)
from syndicate.ingest.sources.registry import kinds, options_model

DOCS = Path(__file__).resolve().parent.parent / "docs"


@pytest.mark.parametrize(
    "model",
    [
        SiteSettings,
        StoreSettings,
        OutputSettings,
        FetchSettings,
        StorySettings,
        SecuritySettings,
        DeliverySettings,
        DispatchSettings,
        CelerySettings,
        SourceConfig,
        ChannelConfig,
        ChannelFilters,
        DigestSettings,
        WebhookSettings,
        PostmarkWebhookSettings,
        SendGridWebhookSettings,
        MailgunWebhookSettings,
        SESWebhookSettings,
        SubscribeSettings,
        RelatedSettings,
        DoctorSettings,
        WarmupSettings,
        BreakerSettings,
        ConsoleSettings,
    ],
)
def test_every_key_is_in_the_configuration_reference(model: type[BaseModel]) -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    missing = [name for name in model.model_fields if f"`{name}`" not in text]
    assert not missing, f"{model.__name__}: undocumented keys {missing}"


def test_top_level_keys_are_documented() -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        if name == "base_dir":  # set by the loader, not a key
            continue
        assert f"`{name}`" in text or f"[{name}]" in text or f"[[{name}]]" in text, name


@pytest.mark.parametrize("kind", ["folder", "feed", "page"])
def test_every_source_kind_key_is_in_the_sources_guide(kind: str) -> None:
    assert kind in kinds()
    text = (DOCS / "sources.md").read_text(encoding="utf-8")
    missing = [name for name in options_model(kind).model_fields if f"`{name}`" not in text]
    assert not missing, f"{kind}: undocumented keys {missing}"


ROOT = DOCS.parent
PACKAGE = ROOT / "src" / "syndicate"
# `syndicate.a.b` written in the docs. Not modules: the entry-point groups, and file or
# host names such as `syndicate.toml` (any other stale module name is reported).
_DOTTED = re.compile(r"(?<![\w./-])syndicate(?:\.[A-Za-z_]\w*)+")
_GROUPS = {"syndicate.sources", "syndicate.backends"}
_NOT_MODULES = {"toml", "service", "db", "invalid", "image", "json", "log", "lock"}
# `src/syndicate/a/b.py`, `src/syndicate/a/`, and `a/b.py` (from the project or the package).
_SRC_PATH = re.compile(r"src/syndicate/[\w/.]*\w/?")
_SHORT_PATH = re.compile(r"(?<![\w/.-])[a-z_]+/[\w/]+\.py\b")


def _doc_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


def _resolves(dotted: str) -> bool:
    """An importable module, or an attribute of one (``syndicate.feeds.build``)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        module_path = PACKAGE.parent.joinpath(*parts[:cut])
        if module_path.with_suffix(".py").is_file() or (module_path / "__init__.py").is_file():
            module = importlib.import_module(".".join(parts[:cut]))
            target: object = module
            for name in parts[cut:]:
                if not hasattr(target, name):
                    return False
                target = getattr(target, name)
            return True
    return False


def test_every_module_path_in_the_docs_resolves() -> None:
    broken: list[str] = []
    for doc in _doc_files():
        text = doc.read_text(encoding="utf-8")
        where = doc.relative_to(ROOT)
        for match in _DOTTED.finditer(text):
            dotted = match.group(0).rstrip(".")
            if dotted in _GROUPS or dotted.split(".")[1] in _NOT_MODULES:
                continue
            if not _resolves(dotted):
                broken.append(f"{where}: {dotted}")
        for match in _SRC_PATH.finditer(text):
            if not (ROOT / match.group(0)).exists():
                broken.append(f"{where}: {match.group(0)}")
        for match in _SHORT_PATH.finditer(text):
            path = match.group(0)
            if not (ROOT / path).is_file() and not (PACKAGE / path).is_file():
                broken.append(f"{where}: {path}")
    assert not broken, "module paths in the docs that do not exist:\n" + "\n".join(broken)


def test_architecture_names_every_package() -> None:
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    missing = [name for name in packages if f"`{name}/`" not in text]
    assert not missing, f"docs/architecture.md does not describe {missing}"
