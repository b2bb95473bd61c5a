"""Targets: what a model's output is reduced to, one float per ablated prompt.

Two kinds. Task targets ask a backend for its output and reduce it (:class:`ResponseLogProb`,
:class:`NextTokenContrast`, :class:`Score`); they are what :class:`~spexjax.llm.PromptTask` holds. Output readers
turn an encoder's raw output into a score (:class:`ClassLogOdds` over class logits, :class:`EmbeddingCosine`
against a reference embedding); text-scoring backends (the embedded MiniLM, sequence classifiers) use them, so
"class log-odds" means the same thing whichever model produced the logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "ClassLogOdds",
    "EmbeddingCosine",
    "NextTokenContrast",
    "ResponseLogProb",
    "Score",
    "Target",
]


@runtime_checkable
class Target(Protocol):
    """Reduces a backend's output for a batch of prompts to ``float64[m]``."""

    def spec(self) -> dict[str, Any]:
        """Every parameter that changes a value (goes into the task's fingerprint)."""
        ...

    def values(self, backend: Any, prompts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray] | None]:
        """``(values, per_token)``: per-token log-probs of the response per prompt where the target has them."""
        ...


@dataclass(frozen=True)
class ResponseLogProb:
    """``sum_j log p(response token j | prompt, tokens < j)``, teacher-forced (LanguageModel backends).

    The per-token log-probs come back too, so a task can keep them and explain any span of the response later.
    """

    response: str

    def spec(self) -> dict[str, Any]:
        return {"target": "response_logprob", "response": self.response}

    def values(self, backend: Any, prompts: Sequence[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        raw = backend.response_logprobs(prompts, self.response)
        per_token = [np.asarray(lp, dtype=np.float64).reshape(-1) for lp in raw]
        if len(per_token) != len(prompts):
            raise ValueError(
                f"{type(backend).__name__}.response_logprobs returned {len(per_token)} rows for {len(prompts)} prompts"
            )
        return np.asarray([float(lp.sum()) for lp in per_token], dtype=np.float64), per_token


@dataclass(frozen=True)
class NextTokenContrast:
    """``log p(a) - log p(b)`` for the first token after the prompt (LanguageModel backends)."""

    a: str
    b: str

    def spec(self) -> dict[str, Any]:
        return {"target": "next_token_contrast", "a": self.a, "b": self.b}

    def values(self, backend: Any, prompts: Sequence[str]) -> tuple[np.ndarray, None]:
        lp = np.asarray(backend.next_token_logprobs(prompts, [self.a, self.b]), dtype=np.float64)
        if lp.shape != (len(prompts), 2):
            raise ValueError(
                f"{type(backend).__name__}.next_token_logprobs returned shape {lp.shape}; expected ({len(prompts)}, 2)"
            )
        return lp[:, 0] - lp[:, 1], None


@dataclass(frozen=True)
class Score:
    """The backend's own score of the text (TextScorer backends: class log-odds, similarity to a query)."""

    def spec(self) -> dict[str, Any]:
        return {"target": "score"}

    def values(self, backend: Any, prompts: Sequence[str]) -> tuple[np.ndarray, None]:
        v = np.asarray(backend.score(prompts), dtype=np.float64).reshape(-1)
        if v.shape[0] != len(prompts):
            raise ValueError(f"{type(backend).__name__}.score returned {v.shape[0]} values for {len(prompts)} texts")
        return v, None


@dataclass(frozen=True)
class ClassLogOdds:
    """Log-odds of class ``target`` under a softmax of ``logits / temperature``.

    ``log p_t - log(1 - p_t) = z_t - logsumexp(z_others)`` with ``z = logits / temperature``: computed in that
    form, it never rounds to +-inf when one class dominates. With two classes it is ``(l_t - l_other) / T``.
    """

    target: int
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0; got {self.temperature!r}")

    def __call__(self, logits: Any) -> np.ndarray:
        z = np.asarray(logits, dtype=np.float64) / self.temperature
        if z.ndim != 2 or z.shape[1] < 2:
            raise ValueError(f"logits must have shape (m, classes >= 2); got {z.shape}")
        t = int(self.target) % z.shape[1]
        others = np.delete(z, t, axis=1)
        top = others.max(axis=1, keepdims=True)
        lse = top[:, 0] + np.log(np.exp(others - top).sum(axis=1))
        return z[:, t] - lse


@dataclass(frozen=True, eq=False)
class EmbeddingCosine:
    """Cosine similarity of each embedding with a fixed reference embedding (float64 arithmetic)."""

    reference: np.ndarray

    def __call__(self, embeddings: Any) -> np.ndarray:
        e = np.asarray(embeddings, dtype=np.float64)
        r = np.asarray(self.reference, dtype=np.float64).reshape(-1)
        en = np.linalg.norm(e, axis=1)
        return (e @ r) / np.maximum(en * np.linalg.norm(r), 1e-30)
