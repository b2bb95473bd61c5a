"""Banzhaf values and Faith-Banzhaf interactions by least squares on uniformly random masks.

Under the uniform distribution on coalitions, the best (least-squares) linear model of ``f`` has the Banzhaf
values as slopes, and the best order-``k`` Möbius polynomial has the Faith-Banzhaf interaction indices as
coefficients (Tsai et al. 2023, Thm. on FBII). So both are one regression on uniform masks; with
``budget >= 2^n`` every coalition is enumerated once and the fit *is* the exact index.
"""

from __future__ import annotations

import time
from typing import Any

from spexjax.baselines import _regression as reg
from spexjax.baselines._result import make_result
from spexjax.baselines._runner import check_options, evaluate
from spexjax.interactions import Interactions
from spexjax.proxyspex import uniform_masks
from spexjax.value_functions import check_n

__all__ = ["banzhaf", "faith_banzhaf"]



def _fit(method: str, value_fn: Any, n: int, budget: Any, order: int, key: Any, feature_names: Any, options: dict):
    t0 = time.perf_counter()
    p = reg.num_terms(n, order)
    budget = reg.check_budget(method, budget, min(p, 1 << n) if n < 62 else p)
    options = check_options(method, options)
    if reg.enumerable(n, budget):
        masks, sampling = reg.all_masks(n), "all coalitions"
    else:
        # ProxySPEX's draw: with the same key, banzhaf, faith_banzhaf and proxyspex see the same masks (and the
        # first m of them for a budget of m), so a comparison at equal budget is paired and a cache= pays once
        masks, sampling = uniform_masks(key, budget, n), "uniform (ProxySPEX's draw for this key)"
    masks, y, stats, query_s = evaluate(value_fn, n, masks, options, method=method)
    beta = reg.solve(reg.design(masks, order), y)
    meta = {
        "method": method,
        "budget": budget,
        "order": order,
        "weights": "uniform (Banzhaf)",
        "sampling": sampling,
        "rows_fitted": int(len(y)),
        "index": "BV" if order == 1 and method == "banzhaf" else "FBII",
    }
    return make_result(
        n, reg.supports_upto(n, order), beta, stats=stats, query_seconds=query_s, key=key,
        feature_names=feature_names, meta=meta, t0=t0,
    )


def banzhaf(
    value_fn: Any, n: int, *, budget: int, key: Any = 0, feature_names: Any = None, **options: Any
) -> Interactions:
    """Banzhaf values: least-squares linear fit on ``budget`` uniformly random masks.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`spexjax.ValueFunction`.
      n: number of features.
      budget: value-function rows to evaluate (at least ``n + 1``, or ``2^n``); with ``budget >= 2^n`` every
        coalition is evaluated once and the result is the exact Banzhaf value (``.index("BV", 1)``).
      key: int seed or JAX PRNG key (the same key draws the same masks as :func:`faith_banzhaf` and
        :func:`spexjax.proxyspex`).
      feature_names: optional names for the result.
      **options: query-runner options (``batch_size``, ``cache``, ``progress``, ``fingerprint``, ...).
    Returns:
      :class:`Interactions` holding the order-1 surrogate ``e() + sum_i BV_i x_i``.
    """
    n = check_n(n)
    return _fit("banzhaf", value_fn, n, budget, 1, key, feature_names, options)


def faith_banzhaf(
    value_fn: Any, n: int, *, budget: int, order: int = 2, key: Any = 0, feature_names: Any = None, **options: Any
) -> Interactions:
    """Faith-Banzhaf interaction indices (FBII) of order ``order``: the least-squares order-``order`` Möbius
    polynomial on ``budget`` uniformly random masks.

    The minimum budget is the number of coefficients ``sum_{j <= order} C(n, j)``; at most
    ``MAX_TERMS`` of them. With ``budget >= 2^n`` the result equals shapiq's exact FBII
    (``.index("FBII", order)``).
    """
    n = check_n(n)
    order = reg.check_faith_order("faith_banzhaf", order, n)
    return _fit("faith_banzhaf", value_fn, n, budget, order, key, feature_names, options)
