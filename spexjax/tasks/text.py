"""Which words of a prompt (and which combinations of them) drive a sentence embedding.

A mask row keeps (True) or ablates (False) each unit (word or sentence) of the text. Ablated units are
removed from the text by default, or replaced by one ``[MASK]`` token each (``ablation="mask"``), which
keeps positions fixed. The value is the cosine similarity between the embedding of the ablated text and
a target: the full text (so the all-kept mask scores 1) or a user-given query such as "a positive review".

Tokenisation is cached per unit: BERT's pre-tokenizer splits on whitespace and punctuation, so the word
pieces of an ablated text are exactly the concatenation of its kept units' pieces, and a batch of masks
never goes back through the tokenizer.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.value_functions import ValueFunction, check_masks

UNITS = ("word", "sentence")
ABLATIONS = ("remove", "mask")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+")


def split_units(text: str, unit: str = "word") -> list[str]:
    """Split ``text`` into explanation units.

    ``"word"``: whitespace-separated tokens, punctuation kept attached ("all," is one unit), so the
    feature names read like the text. ``"sentence"``: split after ``.``, ``!`` or ``?`` followed by space.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str; got {type(text).__name__}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}; got {unit!r}")
    if unit == "word":
        parts = text.split()
    else:
        parts = [s.strip() for s in _SENTENCE_SPLIT.split(text.strip())]
    parts = [p for p in parts if p]
    if not parts:
        raise ValueError("text must contain at least one non-whitespace unit; got an empty text")
    return parts


class TextExplanationTask(ValueFunction):
    """Value function over the units of ``text``: cosine(embed(ablated text), target embedding).

    Args:
      text: the prompt to explain.
      query: target text; ``None`` (default) uses the full ``text`` itself, so ``f(all kept) = 1``.
      unit: ``"word"`` or ``"sentence"``.
      ablation: ``"remove"`` drops ablated units; ``"mask"`` puts one ``[MASK]`` token in their place.
      model: a :class:`spexjax.models.MiniLM` (default: the shared all-MiniLM-L6-v2).
      batch_size: rows per compiled forward call.
    """

    def __init__(
        self,
        text: str,
        *,
        query: str | None = None,
        unit: str = "word",
        ablation: str = "remove",
        model: Any = None,
        batch_size: int = 64,
    ):
        self.units = split_units(text, unit)
        if ablation not in ABLATIONS:
            raise ValueError(f"ablation must be one of {ABLATIONS}; got {ablation!r}")
        if query is not None:
            if not isinstance(query, str):
                raise TypeError(f"query must be a str or None; got {type(query).__name__}")
            if not query.strip():
                raise ValueError("query must be a non-empty text (or None to compare with the full text)")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
        if model is None:
            from spexjax.llm.minilm import load_minilm

            model = load_minilm()
        self.model = model
        self.text = text
        self.query = query
        self.unit = unit
        self.ablation = ablation
        self.batch_size = batch_size
        self.n = len(self.units)
        self._pieces = [model.word_pieces(u) for u in self.units]
        total = sum(len(p) for p in self._pieces) + 2
        if total > model.max_length:
            warnings.warn(
                f"text has {total} tokens but the model reads at most {model.max_length}; "
                "units past the limit are truncated and get no attribution",
                stacklevel=2,
            )
        self._filler = [model.mask_id] if ablation == "mask" else []
        if query is None:
            self.target = np.asarray(model.embed_token_ids([self._row(np.ones(self.n, bool))])[0])
        else:
            self.target = np.asarray(model.encode(query)[0])
        self._fingerprint: str | None = None

    @property
    def feature_names(self) -> list[str]:
        return list(self.units)

    def _row(self, keep: np.ndarray) -> list[int]:
        pieces: list[int] = []
        for k, p in zip(keep, self._pieces, strict=True):
            pieces.extend(p if k else self._filler)
        return self.model.wrap(pieces)

    def ablated_text(self, keep: Sequence[bool]) -> str:
        """The text a mask row stands for (for display; evaluation uses cached token ids)."""
        keep = np.asarray(keep, dtype=bool).reshape(-1)
        if keep.shape[0] != self.n:
            raise ValueError(f"keep must have n={self.n} entries; got {keep.shape[0]}")
        filler = "[MASK]" if self.ablation == "mask" else None
        words = [u if k else filler for u, k in zip(self.units, keep, strict=True)]
        return " ".join(w for w in words if w is not None)

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n)
        rows = [self._row(r) for r in masks]
        emb = self.model.embed_token_ids(rows, batch_size=self.batch_size)
        return (emb.astype(np.float64) @ self.target.astype(np.float64)).reshape(-1)

    def fingerprint(self) -> str:
        """sha256 of the model identity (name + weights hash), the text and every option."""
        if self._fingerprint is None:
            ident = self.model.identity() if hasattr(self.model, "identity") else repr(self.model)
            blob = json.dumps(
                {
                    "task": "spexjax.tasks.text/v1",
                    "model": ident,
                    "text": self.text,
                    "query": self.query,
                    "unit": self.unit,
                    "ablation": self.ablation,
                },
                sort_keys=True,
            )
            self._fingerprint = hashlib.sha256(blob.encode()).hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        q = "" if self.query is None else f", query={self.query!r}"
        return f"TextExplanationTask(n={self.n}, unit={self.unit!r}, ablation={self.ablation!r}{q})"


def explain_text(
    text: str,
    *,
    query: str | None = None,
    budget: int = 2000,
    max_degree: int = 5,
    method: str = "spex",
    key: Any = 0,
    unit: str = "word",
    ablation: str = "remove",
    **options: Any,
):
    """One call from a prompt to :class:`spexjax.Interactions` named by its words.

    ``method`` is ``"spex"`` or ``"proxyspex"``; ``options`` go to the algorithm (``cache=``,
    ``batch_size=``, ``progress=``, ...).
    """
    import spexjax

    task = TextExplanationTask(text, query=query, unit=unit, ablation=ablation)
    if method == "spex":
        result = spexjax.spex(task, task.n, budget=budget, max_degree=max_degree, key=key, **options)
    elif method == "proxyspex":
        result = spexjax.proxyspex(task, task.n, budget=budget, max_degree=max_degree, key=key, **options)
    else:
        raise ValueError(f"method must be 'spex' or 'proxyspex'; got {method!r}")
    result.feature_names = task.feature_names
    return result
