"""The parts a prompt explanation is made of, as protocols: a backend runs the model, a target reads a number.

``PromptTask`` (units + ablation) turns masks into ablated prompts and hands them to a backend; what the
backend returns per prompt is reduced to one float by the task's target. Two kinds of backend:

- :class:`LanguageModel` (causal LMs: Hugging Face, OpenAI-compatible endpoints): teacher-forced response
  scoring, next-token log-probs, one greedy generation.
- :class:`TextScorer` (encoders: the embedded MiniLM's zero-shot classifier and query similarity, a
  sequence classifier): one float per text.

A new model is one small class that satisfies one of these; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["LanguageModel", "TextScorer", "Tokenizing"]


@runtime_checkable
class LanguageModel(Protocol):
    """A causal language model that can score text after a prompt."""

    def identity(self) -> str:
        """Stable identity for cache fingerprints: model name + weights hash, or endpoint + model name."""
        ...

    def response_logprobs(self, prompts: Sequence[str], response: str) -> list[np.ndarray]:
        """Teacher-forced ``log p(token_j | prompt, response tokens < j)`` for every response token.

        One ``float64`` array per prompt (same length for every prompt when the backend tokenises the
        response on its own, as Hugging Face backends do). Batching must not change a value.
        """
        ...

    def next_token_logprobs(self, prompts: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        """``float64[len(prompts), len(candidates)]``: log p(first token of each candidate | prompt)."""
        ...

    def generate(self, prompt: str, *, max_new_tokens: int = 32) -> str:
        """The backend's greedy response to ``prompt`` (what is explained when no response is given)."""
        ...


@runtime_checkable
class TextScorer(Protocol):
    """A model that maps a text to one number (class log-odds, similarity to a query, ...)."""

    def identity(self) -> str: ...

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """``float64[len(texts)]``; batching must not change a value."""
        ...


@runtime_checkable
class Tokenizing(Protocol):
    """A backend that can split a prompt into its own tokens (for ``unit="token"``)."""

    def token_units(self, text: str) -> list[str]:
        """Token strings whose concatenation is ``text`` exactly."""
        ...
