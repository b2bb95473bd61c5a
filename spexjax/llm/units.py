"""Units + ablation: how a prompt is cut into explanation features and what the model sees for a mask.

A prompt is held as ``prefix + lead + u_0 + s_1 + u_1 + ... + s_{n-1} + u_{n-1} + trail + suffix``: the units
``u_i`` are the features, the separators ``s_i`` (whitespace between words, sentences, paragraphs; empty between
tokens and documents) and ``prefix``/``suffix`` (text that is never ablated, e.g. a RAG question) are not. So
the prompt is rebuilt exactly from its parts, and an ablated prompt differs from it only where units went:

- ``"remove"``: ablated units are deleted together with the separator in front of them (the first kept unit
  follows ``lead``), so ``unit="word"`` on a single-spaced prompt gives ``" ".join(kept words)`` exactly.
- ``"placeholder"``: each ablated unit is replaced by one placeholder; separators stay, so positions do too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["ABLATIONS", "UNITS", "Units", "ablate", "split_units"]

UNITS = ("token", "word", "sentence", "paragraph")
ABLATIONS = ("remove", "placeholder")

_WORD = re.compile(r"\S+")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_PARAGRAPH_BREAK = re.compile(r"\n[ \t\r\f\v]*\n\s*")


@dataclass(frozen=True)
class Units:
    """A prompt cut into units: ``text == prefix + lead + interleave(units, seps) + trail + suffix``.

    Attributes:
      units: the features' text, in prompt order.
      seps: ``seps[i]`` is the text between ``units[i-1]`` and ``units[i]`` (``seps[0] == ""``).
      lead, trail: text before the first and after the last unit (whitespace), kept as is.
      prefix, suffix: text never ablated (not features).
    """

    units: tuple[str, ...]
    seps: tuple[str, ...]
    lead: str = ""
    trail: str = ""
    prefix: str = ""
    suffix: str = ""

    @property
    def n(self) -> int:
        return len(self.units)

    @property
    def text(self) -> str:
        """The full prompt (every unit kept)."""
        return self.render(np.ones(self.n, dtype=bool), "remove")

    def render(self, keep: Any, ablation: str = "remove", placeholder: str = "") -> str:
        """The prompt a mask row stands for (see the module docstring)."""
        keep = np.asarray(keep, dtype=bool).reshape(-1)
        if keep.shape[0] != self.n:
            raise ValueError(f"keep must have n={self.n} entries; got {keep.shape[0]}")
        parts = [self.prefix, self.lead]
        if ablation == "remove":
            first = True
            for i in np.flatnonzero(keep):
                if not first:
                    parts.append(self.seps[i])
                parts.append(self.units[i])
                first = False
        elif ablation == "placeholder":
            for i, k in enumerate(keep):
                if i:
                    parts.append(self.seps[i])
                parts.append(self.units[i] if k else placeholder)
        else:
            raise ValueError(f"ablation must be one of {ABLATIONS}; got {ablation!r}")
        parts += [self.trail, self.suffix]
        return "".join(parts)


def _from_spans(text: str, spans: list[tuple[int, int]], prefix: str, suffix: str) -> Units:
    units = tuple(text[a:b] for a, b in spans)
    seps = ("",) + tuple(text[spans[i - 1][1] : spans[i][0]] for i in range(1, len(spans)))
    return Units(units, seps, text[: spans[0][0]], text[spans[-1][1] :], prefix, suffix)


def _split_spans(text: str, breaks: re.Pattern[str]) -> list[tuple[int, int]]:
    """Spans of the non-blank pieces between matches of ``breaks``, each stripped of outer whitespace."""
    spans, start = [], 0
    for m in [*breaks.finditer(text), None]:
        end = len(text) if m is None else m.start()
        piece = text[start:end]
        if piece.strip():
            a = start + len(piece) - len(piece.lstrip())
            b = start + len(piece.rstrip())
            spans.append((a, b))
        if m is not None:
            start = m.end()
    return spans


def split_units(
    prompt: str | Sequence[str],
    unit: str | None = "word",
    *,
    backend: Any = None,
    prefix: str = "",
    suffix: str = "",
) -> Units:
    """Cut ``prompt`` into :class:`Units`.

    Args:
      prompt: the text to explain, or a list of strings (documents: ``unit`` is then ignored, each string is
        one unit and the prompt is their plain concatenation, so put separators inside the strings).
      unit: ``"token"`` (the backend's own tokens; needs ``backend.token_units``), ``"word"`` (runs of
        non-whitespace, punctuation attached: "all," is one unit), ``"sentence"`` (split after ``.!?`` +
        whitespace) or ``"paragraph"`` (split at blank lines).
      prefix, suffix: text around the prompt that is never ablated.
    """
    for name, val in (("prefix", prefix), ("suffix", suffix)):
        if not isinstance(val, str):
            raise TypeError(f"{name} must be a str; got {type(val).__name__}")
    if not isinstance(prompt, str):
        if isinstance(prompt, Sequence) and all(isinstance(d, str) for d in prompt):
            docs = list(prompt)
            if not docs:
                raise ValueError("prompt must hold at least one document; got an empty list")
            if any(not d for d in docs):
                raise ValueError("prompt documents must be non-empty strings")
            return Units(tuple(docs), ("",) * len(docs), "", "", prefix, suffix)
        raise TypeError(f"prompt must be a str or a list of str (documents); got {type(prompt).__name__}")
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS} (or pass a list of documents as prompt); got {unit!r}")
    if not prompt.strip():
        raise ValueError("prompt must contain at least one non-whitespace unit; got an empty text")
    if unit == "token":
        tokens = getattr(backend, "token_units", None)
        if not callable(tokens):
            raise ValueError(
                f"unit='token' needs a backend with token_units(text) (the Tokenizing protocol); "
                f"{type(backend).__name__} has none: use unit='word'"
            )
        pieces = list(tokens(prompt))
        if "".join(pieces) != prompt:
            raise ValueError(
                f"{type(backend).__name__}.token_units(text) must return pieces whose concatenation is text"
            )
        spans, at = [], 0
        for p in pieces:
            if p:
                spans.append((at, at + len(p)))
            at += len(p)
        return _from_spans(prompt, spans, prefix, suffix)
    if unit == "word":
        spans = [m.span() for m in _WORD.finditer(prompt)]
    elif unit == "sentence":
        spans = _split_spans(prompt, _SENTENCE_BREAK)
    else:
        spans = _split_spans(prompt, _PARAGRAPH_BREAK)
    return _from_spans(prompt, spans, prefix, suffix)


def ablate(units: Units, masks: np.ndarray, ablation: str = "remove", placeholder: str = "") -> list[str]:
    """One ablated prompt per mask row (``True`` = unit kept)."""
    if ablation not in ABLATIONS:
        raise ValueError(f"ablation must be one of {ABLATIONS}; got {ablation!r}")
    return [units.render(row, ablation, placeholder) for row in np.asarray(masks, dtype=bool)]
