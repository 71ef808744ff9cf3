"""Every setting is documented: a key missing from docs/configuration.md fails here."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from syndicate.config import (
    CelerySettings,
    ChannelConfig,
    ChannelFilters,
    DeliverySettings,
    DigestSettings,
    DispatchSettings,
    FetchSettings,
    MailgunWebhookSettings,
    OutputSettings,
    PostmarkWebhookSettings,
    SecuritySettings,
    SendGridWebhookSettings,
    SESWebhookSettings,
    Settings,
    SiteSettings,
    SourceConfig,
    StoreSettings,
    SubscribeSettings,
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
