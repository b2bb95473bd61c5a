"""The offline default backends, on the embedded pure-JAX MiniLM (no torch, no network).

- :class:`MiniLMZeroShot`: zero-shot classification by label prompts. Each label is embedded through a few
  templates ("This review is {label}.", ...), averaged and renormalised (prompt ensembling, as CLIP does); a text's
  class logits are its cosine similarities to the label embeddings, and its score is the log-odds of the target
  label under ``softmax(similarity / temperature)``. The default temperature 0.05 is the one all-MiniLM-L6-v2 was
  trained with (sentence-transformers' MultipleNegativesRankingLoss, scale 20), so the probabilities are on the
  model's own scale; with two labels it only rescales the score (``(cos_pos - cos_neg) / T``).
- :class:`MiniLMSimilarity`: cosine similarity of the text to a query (RAG-style relevance).

Both are :class:`~spexjax.llm.TextScorer` s with ``token_units`` (MiniLM's WordPiece tokens as prompt spans), so
``PromptTask(..., unit="token")`` works on them.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.llm.minilm import load_minilm
from spexjax.llm.targets import ClassLogOdds, EmbeddingCosine

__all__ = ["SENTIMENT_TEMPLATES", "MiniLMSimilarity", "MiniLMZeroShot", "default_backend"]

SENTIMENT_TEMPLATES = (
    "This review is {label}.",
    "A {label} review.",
    "The sentiment of this text is {label}.",
    "Overall, the opinion expressed is {label}.",
)


def _check_text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str; got {type(value).__name__}")
    if not value.strip():
        raise ValueError(f"{name} must be a non-empty text")
    return value


class _MiniLMBackend:
    """Shared part: the model, a bounded tokenisation cache, embedding, token spans, identity."""

    default_placeholder = "[MASK]"

    def __init__(self, model: Any = None, *, batch_size: int = 64, cache_size: int = 1 << 15):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
        if model is None:
            model = load_minilm()
        self.model = model
        self.batch_size = batch_size
        self._cache_size = cache_size
        self._ids: OrderedDict[str, list[int]] = OrderedDict()

    def _token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids with [CLS]/[SEP], tokenised once per distinct text (ablation batches repeat many texts)."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._ids))
        if missing:
            for t, ids in zip(missing, self.model.tokenize(missing), strict=True):
                self._ids[t] = ids
            while len(self._ids) > self._cache_size:
                self._ids.popitem(last=False)
        return [self._ids[t] if t in self._ids else self.model.tokenize([t])[0] for t in texts]

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-norm MiniLM embeddings ``float32[len(texts), 384]``."""
        if isinstance(texts, str):
            texts = [texts]
        return self.model.embed_token_ids(self._token_ids(list(texts)), batch_size=self.batch_size)

    def token_units(self, text: str) -> list[str]:
        """MiniLM's WordPiece tokens as spans of ``text`` (whitespace goes with the token before it)."""
        enc = self.model.tokenizer.encode(text, add_special_tokens=False)
        starts = sorted({a for a, b in enc.offsets if b > a})
        if not starts:
            return [text] if text else []
        cuts = [0, *starts[1:], len(text)]
        return [text[cuts[i] : cuts[i + 1]] for i in range(len(cuts) - 1)]

    def _identity(self, **parts: Any) -> str:
        return json.dumps({"backend": type(self).__name__, "model": self.model.identity(), **parts}, sort_keys=True)


class MiniLMZeroShot(_MiniLMBackend):
    """Zero-shot text classification with the embedded MiniLM: ``score(texts)`` = log-odds of ``target``.

    Args:
      labels: class names, e.g. ``("negative", "positive")``.
      templates: label prompts with a ``{label}`` field; each label's embedding is the renormalised mean of its
        templates' embeddings. Default :data:`SENTIMENT_TEMPLATES`.
      target: the label (name or index) whose log-odds is the score; default the last label.
      temperature: softmax temperature over cosine similarities (default 0.05, the model's training scale).
      model: a :class:`~spexjax.llm.minilm.MiniLM` (default: the shared one).
    """

    def __init__(
        self,
        labels: Sequence[str] = ("negative", "positive"),
        *,
        templates: Sequence[str] = SENTIMENT_TEMPLATES,
        target: str | int = -1,
        temperature: float = 0.05,
        model: Any = None,
        batch_size: int = 64,
    ):
        if isinstance(labels, str) or not isinstance(labels, Sequence):
            raise TypeError(f"labels must be a sequence of str; got {type(labels).__name__}")
        self.labels = tuple(_check_text("labels[i]", lab) for lab in labels)
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be >= 2 distinct names; got {self.labels!r}")
        if isinstance(templates, str):
            templates = (templates,)
        self.templates = tuple(_check_text("templates[i]", t) for t in templates)
        if not self.templates or any("{label}" not in t for t in self.templates):
            raise ValueError(f"templates must be >= 1 strings containing '{{label}}'; got {self.templates!r}")
        if isinstance(target, str):
            if target not in self.labels:
                raise ValueError(f"target must be one of labels {self.labels!r}; got {target!r}")
            t_idx = self.labels.index(target)
        elif (
            isinstance(target, int) and not isinstance(target, bool) and -len(self.labels) <= target < len(self.labels)
        ):
            t_idx = target % len(self.labels)
        else:
            raise ValueError(f"target must be a label name or an index into labels; got {target!r}")
        if isinstance(temperature, bool) or not isinstance(temperature, int | float) or not temperature > 0:
            raise ValueError(f"temperature must be a number > 0; got {temperature!r}")
        super().__init__(model, batch_size=batch_size)
        self.target = self.labels[t_idx]
        self.temperature = float(temperature)
        self.reader = ClassLogOdds(t_idx, self.temperature)
        prompts = [t.format(label=lab) for lab in self.labels for t in self.templates]
        emb = self.embed(prompts).astype(np.float64).reshape(len(self.labels), len(self.templates), -1).mean(axis=1)
        self.label_embeddings = emb / np.linalg.norm(emb, axis=1, keepdims=True)

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each text to each label, ``float64[len(texts), len(labels)]``."""
        return self.embed(texts).astype(np.float64) @ self.label_embeddings.T

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        z = self.logits(texts) / self.temperature
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """``log p(target) - log(1 - p(target))`` per text, ``float64``."""
        return self.reader(self.logits(texts))

    def identity(self) -> str:
        return self._identity(
            labels=list(self.labels), templates=list(self.templates), target=self.target, temperature=self.temperature
        )

    def __repr__(self) -> str:
        return f"MiniLMZeroShot(labels={self.labels!r}, target={self.target!r}, temperature={self.temperature})"


class MiniLMSimilarity(_MiniLMBackend):
    """``score(texts)`` = cosine similarity of each text's MiniLM embedding to ``query``'s (RAG relevance)."""

    def __init__(self, query: str, *, model: Any = None, batch_size: int = 64):
        self.query = _check_text("query", query)
        super().__init__(model, batch_size=batch_size)
        self.reader = EmbeddingCosine(self.embed([query])[0].astype(np.float64))

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.reader(self.embed(texts))

    def identity(self) -> str:
        return self._identity(query=self.query)

    def __repr__(self) -> str:
        return f"MiniLMSimilarity(query={self.query!r})"


def default_backend() -> MiniLMZeroShot:
    """The CLI's offline default: MiniLM zero-shot sentiment, score = log-odds of "positive"."""
    return MiniLMZeroShot(("negative", "positive"))
