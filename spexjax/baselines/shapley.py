"""KernelSHAP and Faith-Shap: Shapley-kernel weighted least squares, exact on the empty and full coalitions.

The Shapley value is the solution of ``min sum_S mu(|S|) (f(S) - e() - sum_{i in S} phi_i)^2`` with
``mu(s) = (n-1) / (C(n,s) s (n-s))`` and the empty and full coalitions fitted exactly (Lundberg & Lee 2017;
Charnes et al. 1988); the same weights on the order-``k`` Möbius polynomial give the Faith-Shap interaction
index (Tsai et al. 2023). With ``budget >= 2^n`` every coalition is enumerated with its kernel weight, which is
the exact index; otherwise coalition sizes are *sampled* from the kernel (``P(s) ~ 1/(s(n-s))``, uniform
within a size, in complementary pairs) and the rows are weighted equally.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from spexjax._rng import KERNEL_SHAP, numpy_rng
from spexjax.baselines import _regression as reg
from spexjax.baselines._result import make_result
from spexjax.baselines._runner import check_options, evaluate
from spexjax.errors import ValueFunctionError
from spexjax.interactions import Interactions
from spexjax.value_functions import check_n

__all__ = ["faith_shap", "kernel_shap"]


def _fit(method: str, value_fn: Any, n: int, budget: Any, order: int, key: Any, feature_names: Any, options: dict):
    t0 = time.perf_counter()
    p = reg.num_terms(n, order)
    # 2 constrained rows + one row per free coefficient (p - 2 of them; p = 2^n when order = n)
    minimum = min(max(p, 2), 1 << n) if n < 62 else p
    budget = reg.check_budget(method, budget, minimum)
    options = check_options(method, options)
    if reg.enumerable(n, budget):
        masks, sampling = reg.all_masks(n), "all coalitions, Shapley-kernel weights"
    else:
        inner = reg.kernel_masks(numpy_rng(key, KERNEL_SHAP), budget - 2, n, paired=True)
        masks = np.concatenate([np.zeros((1, n), bool), np.ones((1, n), bool), inner])
        sampling = "sizes drawn from the Shapley kernel, paired complements, equal weights"
    masks, y, stats, query_s = evaluate(value_fn, n, masks, options, method=method)
    sizes = masks.sum(axis=1)
    is_empty, is_full = sizes == 0, sizes == n
    if not (is_empty.any() and is_full.any()):
        raise ValueFunctionError(f"{method}: the value function gave no finite value on the empty or full coalition")
    inner_rows = ~(is_empty | is_full)
    if sampling.startswith("all"):
        w = reg.shapley_kernel(n, sizes[inner_rows])
    else:
        w = None
    X = reg.design(masks[inner_rows], order)
    beta = reg.solve(
        X,
        y[inner_rows],
        w,
        empty_value=float(y[is_empty][0]),
        full_value=float(y[is_full][0]),
    )
    meta = {
        "method": method,
        "budget": budget,
        "order": order,
        "weights": "Shapley kernel (n-1)/(C(n,s) s (n-s)); empty and full coalitions exact",
        "sampling": sampling,
        "rows_fitted": int(len(y)),
        "index": "SV" if method == "kernel_shap" else "FSII",
    }
    return make_result(
        n, reg.supports_upto(n, order), beta, stats=stats, query_seconds=query_s, key=key,
        feature_names=feature_names, meta=meta, t0=t0,
    )


def kernel_shap(
    value_fn: Any, n: int, *, budget: int, key: Any = 0, feature_names: Any = None, **options: Any
) -> Interactions:
    """Shapley values by KernelSHAP.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`spexjax.ValueFunction`.
      n: number of features.
      budget: value-function rows (at least ``n + 1``, or ``2^n``): the empty and the full coalition plus
        ``budget - 2`` kernel-sampled coalitions; ``budget >= 2^n`` enumerates all and gives the exact
        Shapley values (``.index("SV", 1)``).
      key: int seed or JAX PRNG key.
      feature_names: optional names for the result.
      **options: query-runner options (``batch_size``, ``cache``, ``progress``, ``fingerprint``, ...).
    Returns:
      :class:`Interactions` holding ``f(empty) + sum_i phi_i x_i`` (so ``predict`` of the full mask is
      ``f(full)`` exactly: efficiency).
    """
    n = check_n(n)
    return _fit("kernel_shap", value_fn, n, budget, 1, key, feature_names, options)


def faith_shap(
    value_fn: Any, n: int, *, budget: int, order: int = 2, key: Any = 0, feature_names: Any = None, **options: Any
) -> Interactions:
    """Faith-Shap interaction indices (FSII) of order ``order`` (Shapley-kernel weighted least squares of the
    order-``order`` Möbius polynomial, exact on the empty and full coalitions).

    The minimum budget is the number of coefficients ``sum_{j <= order} C(n, j)``. With ``budget >= 2^n``
    the result equals shapiq's exact FSII (``.index("FSII", order)``).
    """
    n = check_n(n)
    order = reg.check_faith_order("faith_shap", order, n)
    return _fit("faith_shap", value_fn, n, budget, order, key, feature_names, options)
