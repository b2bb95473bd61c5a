"""Conversion between a spexjax result and ``shapiq.InteractionValues``, with the classes passed in.

Why a module of its own: :meth:`spexjax.Interactions.to_shapiq` / ``from_shapiq`` and the adapter module
:mod:`spexjax.integrations.shapiq` (which imports ``Interactions`` and the engines for ``SpexApproximator``) offer
the same conversions. Both call these functions, which import neither the result class nor the adapter: the
class to build is an argument. So the result class never imports the adapter (no import cycle), and shapiq, an
optional dependency, loads only when a conversion runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.indices import check_index, check_order


def load_shapiq() -> Any:
    """The ``shapiq`` module, or an ``ImportError`` that says how to install it."""
    try:
        import shapiq  # optional dependency (Python >= 3.12): loaded only when a conversion runs
    except ImportError as e:  # pragma: no cover - exercised only without shapiq
        raise ImportError("converting to or from shapiq needs shapiq: pip install 'shapiq>=1.4'") from e
    return shapiq


def to_interaction_values(
    result: Any, index: str = "k-SII", order: int | None = None, *, min_order: int = 0
) -> Any:
    """``shapiq.InteractionValues`` of ``index`` up to ``order`` from a spexjax result.

    ``order=None`` means ``n`` (all orders; SV/BV: 1). ``baseline_value`` is ``f(empty)`` (for FBII the
    least-squares intercept, as ``ExactComputer`` reports it); ``estimation_budget`` is ``result.queries``.
    Interactions absent from the sparse dict are exactly zero.
    """
    shapiq = load_shapiq()
    name = check_index(index)
    order = check_order(order, name)
    values = result.index(name, order, min_order=min_order)
    k = 1 if name in ("SV", "BV") else (result.n if order is None else order)
    baseline = values.get((), result.baseline) if name == "FBII" else result.baseline
    return shapiq.InteractionValues(
        values=values,
        index=name,
        max_order=k,
        min_order=min_order,
        n_players=result.n,
        estimated=True,
        estimation_budget=int(result.queries),
        baseline_value=float(baseline),
    )


def from_interaction_values(values: Any, result_class: Any, *, feature_names: Sequence[str] | None = None) -> Any:
    """A ``result_class`` (:class:`~spexjax.Interactions`) from a complete ``"Moebius"`` or ``"Fourier"``
    ``InteractionValues``, names given at construction.

    Other indices are lossy summaries (many games share the same SII), so they cannot be converted back.
    """
    shapiq = load_shapiq()
    if not isinstance(values, shapiq.InteractionValues):
        raise TypeError(f"values must be a shapiq.InteractionValues; got {type(values).__name__}")
    items = [(tuple(sorted(int(i) for i in s)), float(v)) for s, v in values.interactions.items() if v != 0.0]
    sup = [s for s, _ in items]
    coef = np.array([v for _, v in items], dtype=np.float64)
    kwargs: dict[str, Any] = {
        "queries": int(values.estimation_budget or 0),
        "feature_names": feature_names,
        "meta": {"source": "shapiq.InteractionValues", "index": values.index},
    }
    if values.index == "Moebius":
        return result_class.from_mobius(values.n_players, sup, coef, **kwargs)
    if values.index == "Fourier":
        return result_class(values.n_players, sup, coef, **kwargs)
    raise ValueError(f"values.index must be 'Moebius' or 'Fourier' to convert back; got {values.index!r}")
