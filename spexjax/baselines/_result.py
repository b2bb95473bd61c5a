"""Turning a fitted Möbius expansion into the library's result, with provenance and the run's cost."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from spexjax.interactions import Interactions
from spexjax.runs import run_info

__all__ = ["make_result"]


def make_result(
    n: int,
    supports: list[tuple[int, ...]],
    coeffs: np.ndarray,
    *,
    stats: Mapping[str, int],
    query_seconds: float,
    key: Any,
    feature_names: Any,
    meta: dict[str, Any],
    t0: float,
) -> Interactions:
    """:class:`Interactions` from Möbius coefficients, with its :class:`~spexjax.runs.RunInfo`.

    ``meta`` must hold ``"method"`` and ``"budget"``; it gets ``fitted_basis``, ``queries`` and ``seconds``
    (a float: the total), read off the run record as before it existed.
    """
    t_end = time.perf_counter()
    seconds = {"query": query_seconds, "fit": max(t_end - t0 - query_seconds, 0.0), "total": t_end - t0}
    run = run_info(meta["method"], stats, budget=meta["budget"], key=key, seconds=seconds)
    meta = dict(meta)
    meta["fitted_basis"] = "Moebius"
    meta["queries"] = run.queries
    meta["seconds"] = run.total_seconds
    return Interactions.from_mobius(
        n, supports, np.asarray(coeffs, dtype=np.float64), queries=run.queries, feature_names=feature_names,
        meta=meta, run=run,
    )
