"""Which attention heads of MiniLM (and which groups of them) its sentence embeddings depend on.

Features are the ``layers * heads = 72`` heads, in layer-major order (feature ``12 * l + h`` is head
``h`` of layer ``l``, named ``"L{l}H{h}"``). An ablated head has its attention output zeroed through the
model's multiplicative ``head_mask``. The value is the cosine similarity between each sentence's embedding
under the mask and its unablated embedding, averaged over a few built-in sentences, so the all-kept mask
scores 1 and the interesting structure is which heads the model cannot lose together.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.value_functions import ValueFunction, check_masks

DEFAULT_SENTENCES = (
    "The movie was not bad at all, I loved it.",
    "A man is playing a guitar on the street.",
    "Interest rates rose sharply after the announcement.",
)


class HeadAttributionTask(ValueFunction):
    """Value function over MiniLM's attention heads (``n = layers * heads``).

    Args:
      sentences: the texts whose embeddings are compared (averaged); default: three built-in ones.
      model: a :class:`spexjax.models.MiniLM` (default: the shared all-MiniLM-L6-v2).
      batch_size: rows per compiled forward call (each mask costs ``len(sentences)`` rows).
    """

    def __init__(self, sentences: Sequence[str] = DEFAULT_SENTENCES, *, model: Any = None, batch_size: int = 64):
        if isinstance(sentences, str):
            sentences = [sentences]
        sentences = [s for s in sentences]
        if not sentences or any(not isinstance(s, str) or not s.strip() for s in sentences):
            raise ValueError("sentences must be a non-empty list of non-empty texts")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
        if model is None:
            from spexjax.llm.minilm import load_minilm

            model = load_minilm()
        self.model = model
        self.sentences = list(sentences)
        self.batch_size = batch_size
        self.layers, self.heads = int(model.num_layers), int(model.num_heads)
        self.n = self.layers * self.heads
        self._ids = model.tokenize(self.sentences)
        self.reference = np.asarray(model.embed_token_ids(self._ids), dtype=np.float64)  # (K, hidden)
        self._fingerprint: str | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f"L{layer}H{head}" for layer in range(self.layers) for head in range(self.heads)]

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n)
        m, K = masks.shape[0], len(self._ids)
        hm = masks.reshape(m, 1, self.layers, self.heads).astype(np.float32)
        hm = np.broadcast_to(hm, (m, K, self.layers, self.heads)).reshape(m * K, self.layers, self.heads)
        rows = [ids for _ in range(m) for ids in self._ids]  # mask-major, sentence-minor
        emb = self.model.embed_token_ids(rows, hm, batch_size=self.batch_size).astype(np.float64)
        cos = np.einsum("mkd,kd->mk", emb.reshape(m, K, -1), self.reference)
        return cos.mean(axis=1)

    def fingerprint(self) -> str:
        """sha256 of the model identity and the sentences."""
        if self._fingerprint is None:
            ident = self.model.identity() if hasattr(self.model, "identity") else repr(self.model)
            blob = json.dumps(
                {"task": "spexjax.tasks.heads/v1", "model": ident, "sentences": self.sentences}, sort_keys=True
            )
            self._fingerprint = hashlib.sha256(blob.encode()).hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return f"HeadAttributionTask(n={self.n}, sentences={len(self.sentences)})"
