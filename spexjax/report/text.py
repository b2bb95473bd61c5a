"""A plain-text summary of an explanation for the terminal (what ``spexjax explain`` prints)."""

from __future__ import annotations

from typing import Any

from spexjax.report.content import INDEX_TITLES, explain

__all__ = ["summary"]


def summary(result: Any, *, k: int = 8, index: str = "Moebius", text: str | None = None) -> str:
    """Top ``k`` terms of ``index`` spelled out in words, the strongest interactions, R² and provenance."""
    if index not in INDEX_TITLES:
        raise ValueError(f"index must be one of {tuple(INDEX_TITLES)}; got {index!r}")
    exp = explain(result, k=max(k, 1), text=text, indices=(index,))
    lines = [f"Top {min(k, len(exp.terms[index]))} {INDEX_TITLES[index]} terms (largest |value| first):"]
    if not exp.terms[index]:
        lines.append("  (none: the surrogate is constant; try a larger --budget)")
    for t in exp.terms[index][:k]:
        lines.append("  " + t.sentence())
    lines.append(
        f"f(all kept) ~ {exp.full:+.4g}, f(none kept) ~ {exp.baseline:+.4g} as modelled; "
        f"{exp.num_terms} terms from {exp.queries:,} queries"
    )
    if exp.r2 is not None:
        on = f" on {exp.r2_masks:,} held-out random masks" if exp.r2_masks else " on held-out masks"
        lines.append(f"faithfulness R^2 = {exp.r2:.3f}{on}")
    return "\n".join(lines)
