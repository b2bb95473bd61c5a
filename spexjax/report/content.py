"""What an explanation says, independent of how it is drawn: units, effects, interactions, provenance.

The HTML report, the PNG plots and the terminal summary all read the same :class:`Explanation`, so a number
shown in one place is the number shown in every other. It is built from an :class:`~spexjax.Interactions`
alone (its ``feature_names`` and ``meta``), which is why a saved result rebuilds the same report.

Sign and label conventions (documented in the report itself):

- a value > 0 means keeping the unit(s) raises the model's output, < 0 lowers it;
- an interaction (order >= 2) is a **synergy** when its value, in the Möbius sign convention, is positive (the
  units together raise the output by more than their separate effects add up to) and a **redundancy** when it
  is negative (together they do less than the sum: they overlap or cancel). Fourier coefficients use the
  ``(-1)^x`` character, whose order-``k`` sign is flipped by ``(-1)^k``; we undo that for the label and the
  colour so every index reads the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spexjax._version import __version__
from spexjax.interactions import Interactions

__all__ = [
    "INDICES",
    "INDEX_TITLES",
    "Explanation",
    "Segment",
    "Term",
    "explain",
    "label_of",
    "layout_units",
    "provenance_rows",
    "with_meta",
]

INDICES = ("Moebius", "SV", "STII", "FSII", "Fourier")
"""Indices a report shows, in tab order (Möbius first: the exact terms SPEX recovers, interactions included)."""

INDEX_TITLES = {
    "Moebius": "Möbius",
    "SV": "Shapley (SV)",
    "STII": "STII",
    "FSII": "FSII",
    "Fourier": "Fourier",
}

INDEX_NOTES = {
    "SV": "Shapley values: each unit's fair share of f(all kept) - f(none kept); order 1 only.",
    "Moebius": "Möbius coefficients: the exact effect each set of units adds on top of its subsets "
    "(what SPEX recovers, all orders).",
    "STII": "Shapley-Taylor interaction index up to order {k}: Möbius terms above order {k} are shared "
    "among their order-{k} subsets.",
    "FSII": "Faith-Shapley interaction index up to order {k}: the best order-{k} approximation under the "
    "Shapley kernel.",
    "Fourier": "Fourier (Walsh) coefficients shown in the Möbius sign convention ((-1)^order x F), "
    "so a positive value raises the output for every index.",
}


@dataclass(frozen=True)
class Term:
    """One row of a report: an interaction, its words and how to read it."""

    support: tuple[int, ...]
    words: tuple[str, ...]
    value: float
    order: int
    label: str  # "main effect", "synergy" or "redundancy"

    @property
    def sign(self) -> str:
        return "raises" if self.value > 0 else ("lowers" if self.value < 0 else "none")

    def sentence(self) -> str:
        """E.g. ``'not' + 'bad' together: +0.4100 (order 2, synergy)``."""
        quoted = " + ".join(f"'{w}'" for w in self.words)
        how = "together" if self.order > 1 else "alone"
        return f"{quoted} {how}: {self.value:+.4g} (order {self.order}, {self.label})"


@dataclass(frozen=True)
class Segment:
    """A piece of the displayed text: a unit (``unit`` = its index) or the text between units."""

    text: str
    unit: int | None


@dataclass
class Explanation:
    """Everything a report draws. Build with :func:`explain`."""

    n: int
    names: list[str]
    segments: list[Segment]
    order: int
    first: dict[str, np.ndarray]  # index -> float[n], each unit's order-1 value
    terms: dict[str, list[Term]]  # index -> top terms, largest |value| first
    r2: float | None
    r2_masks: int | None
    baseline: float
    full: float
    queries: int
    num_terms: int
    provenance: list[tuple[str, str]]
    title: str
    notes: dict[str, str] = field(default_factory=dict)

    def top_interactions(self, index: str = "Moebius", k: int = 8) -> list[Term]:
        """The strongest terms of order >= 2 of ``index`` (``[]`` for SV)."""
        return [t for t in self.terms[index] if t.order >= 2][:k]

    def unit_terms(self, index: str, i: int) -> list[Term]:
        """Terms of ``index`` that contain unit ``i``."""
        return [t for t in self.terms[index] if i in t.support]


def label_of(value: float, order: int) -> str:
    """``"main effect"`` for order 1, else ``"synergy"`` (value > 0) or ``"redundancy"`` (value <= 0)."""
    if order <= 1:
        return "main effect"
    return "synergy" if value > 0 else "redundancy"


def layout_units(names: Sequence[str], text: str | None, unit: str | None = None) -> list[Segment]:
    """Place the units in ``text`` (in order) so the report shows the prompt as written.

    Each unit is looked up after the previous one; what lies between becomes a plain segment. When a unit
    is not found verbatim (a placeholder, a token with a tokenizer marker) or there is no text, the units are
    shown joined by a space (``""`` for tokens, a newline for paragraphs).
    """
    names = [str(s) for s in names]
    if text:
        segs: list[Segment] = []
        pos = 0
        for i, name in enumerate(names):
            at = text.find(name, pos) if name else -1
            if at < 0:
                break
            if at > pos:
                segs.append(Segment(text[pos:at], None))
            segs.append(Segment(name, i))
            pos = at + len(name)
        else:
            if pos < len(text):
                segs.append(Segment(text[pos:], None))
            return segs
    joiner = {"token": "", "paragraph": "\n\n"}.get(unit or "", " ")
    segs = []
    for i, name in enumerate(names):
        if i and joiner:
            segs.append(Segment(joiner, None))
        segs.append(Segment(name, i))
    return segs


_PROVENANCE_KEYS = (
    ("model", "model"),
    ("target", "target"),
    ("method", "method"),
    ("unit", "unit"),
    ("ablation", "ablation"),
    ("budget", "budget"),
    ("queries", "queries"),
    ("seconds", "seconds"),
    ("max_degree", "max degree"),
    ("seed", "seed"),
    ("spexjax_version", "spexjax version"),
    ("fingerprint", "fingerprint"),
)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def provenance_rows(result: Any) -> list[tuple[str, str]]:
    """``(label, value)`` rows from ``result.meta["provenance"]`` (written by the CLI) and the result itself."""
    meta = result.meta or {}
    prov = dict(meta.get("provenance") or {})
    prov.setdefault("queries", result.queries)
    if "method" not in prov and meta.get("algorithm"):
        prov["method"] = meta["algorithm"]
    if "spexjax_version" not in prov:
        prov["spexjax_version"] = __version__
    rows = [(label, _fmt(prov[key])) for key, label in _PROVENANCE_KEYS if prov.get(key) is not None]
    known = {k for k, _ in _PROVENANCE_KEYS} | {"text", "faithfulness_r2", "faithfulness_masks", "title"}
    rows += [(str(k), _fmt(v)) for k, v in prov.items() if k not in known and isinstance(v, str | int | float)]
    return rows


def _value_in_mobius_sign(index: str, support: tuple[int, ...], value: float) -> float:
    return value * (-1) ** len(support) if index == "Fourier" else value


def _index_values(result: Any, index: str, order: int) -> dict[tuple[int, ...], float]:
    if index in ("SV",):
        vals = result.index(index)
    elif index in ("Moebius", "Fourier"):
        vals = result.index(index, None, min_order=1)
    else:
        vals = result.index(index, order, min_order=1)
    return {s: _value_in_mobius_sign(index, s, v) for s, v in vals.items() if s}


def explain(
    result: Any,
    *,
    k: int = 20,
    order: int | None = None,
    text: str | None = None,
    indices: Sequence[str] = INDICES,
    title: str | None = None,
) -> Explanation:
    """Collect what a report shows from an :class:`~spexjax.Interactions`.

    Args:
      result: the explanation (``feature_names`` label the units; ``meta["provenance"]`` holds the model,
        target, budget, seconds, fingerprint and the prompt ``text``; ``meta["faithfulness_r2"]`` the R² on
        held-out masks, both written when the result is built).
      k: how many terms per index to keep (largest |value| first).
      order: explanation order of STII and FSII (default 2, or 1 when n == 1).
      text: the prompt to lay the units out in (default ``meta["provenance"]["text"]``).
      title: report heading (default from the provenance).
    """
    if not isinstance(result, Interactions):
        raise TypeError(f"result must be a spexjax.Interactions; got {type(result).__name__}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be an int >= 1; got {k!r}")
    n = result.n
    if order is None:
        order = 2 if n >= 2 else 1
    if isinstance(order, bool) or not isinstance(order, int) or order < 1:
        raise ValueError(f"order must be an int >= 1; got {order!r}")
    unknown = [i for i in indices if i not in INDEX_TITLES]
    if unknown:
        raise ValueError(f"indices must be among {INDICES}; got {unknown}")
    names = list(result.feature_names) if result.feature_names is not None else [str(i) for i in range(n)]
    meta = result.meta or {}
    prov = meta.get("provenance") or {}
    text = text if text is not None else prov.get("text")
    unit = prov.get("unit")

    first: dict[str, np.ndarray] = {}
    terms: dict[str, list[Term]] = {}
    for index in indices:
        vals = _index_values(result, index, order)
        f = np.zeros(n)
        for s, v in vals.items():
            if len(s) == 1:
                f[s[0]] = v
        first[index] = f
        # values at round-off of the largest one are conversion noise, not terms
        tol = 1e-9 * max((abs(v) for v in vals.values()), default=0.0)
        vals = {s: v for s, v in vals.items() if abs(v) > tol}
        items = sorted(vals.items(), key=lambda kv: (-abs(kv[1]), len(kv[0]), kv[0]))[:k]
        terms[index] = [
            Term(s, tuple(names[i] for i in s), float(v), len(s), label_of(v, len(s))) for s, v in items if v != 0.0
        ]

    r2 = meta.get("faithfulness_r2", prov.get("faithfulness_r2"))
    r2_masks = meta.get("faithfulness_masks", prov.get("faithfulness_masks"))
    r2 = float(r2) if r2 is not None and math.isfinite(float(r2)) else None
    full = float(result.predict(np.ones((1, n), bool))[0])
    if title is None:
        title = prov.get("title") or "spexjax explanation"
    notes = {i: INDEX_NOTES[i].format(k=order) for i in indices}
    return Explanation(
        n=n,
        names=names,
        segments=layout_units(names, text, unit),
        order=order,
        first=first,
        terms=terms,
        r2=r2,
        r2_masks=int(r2_masks) if r2_masks is not None else None,
        baseline=result.baseline,
        full=full,
        queries=result.queries,
        num_terms=len(result),
        provenance=provenance_rows(result),
        title=str(title),
        notes=notes,
    )


def with_meta(result: Any, *, feature_names: Sequence[str] | None = None, **meta: Any) -> Any:
    """A new :class:`~spexjax.Interactions` equal to ``result`` with ``meta`` entries added (and names set).

    Results are never mutated after they are returned; a report that adds what was measured afterwards (the
    faithfulness R² needs the finished surrogate) builds this copy instead.
    """
    supports, coeffs = result.fourier()
    merged = dict(result.meta or {})
    for key, value in meta.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return Interactions(
        result.n,
        supports,
        coeffs,
        queries=result.queries,
        feature_names=feature_names if feature_names is not None else result.feature_names,
        meta=merged,
        run=getattr(result, "run", None),
    )
