"""Turning a fitted Möbius expansion into the library's result, with provenance."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from spexjax.interactions import Interactions

__all__ = ["make_result"]


def make_result(
    n: int,
    supports: list[tuple[int, ...]],
    coeffs: np.ndarray,
    *,
    queries: int,
    feature_names: Any,
    meta: dict[str, Any],
    t0: float,
) -> Interactions:
    """:class:`Interactions` from Möbius coefficients; ``meta`` gets ``basis``, ``seconds`` and ``queries``."""
    meta = dict(meta)
    meta["fitted_basis"] = "Moebius"
    meta["queries"] = int(queries)
    meta["seconds"] = time.perf_counter() - t0
    return Interactions.from_mobius(
        n, supports, np.asarray(coeffs, dtype=np.float64), queries=queries, feature_names=feature_names, meta=meta
    )
