"""LIME for masked inputs, as the ``lime`` package does it for text (``LimeTextExplainer``).

Sampling: the first row keeps every feature; each other row removes ``r ~ U{1..n}`` features chosen uniformly.
Weights: ``sqrt(exp(-d^2 / width^2))`` with ``d = 100 * cosine_distance(x, all-ones) = 100 (1 - sqrt(|x|/n))``
and ``width = 25`` (lime's text default). Model: ``Ridge(alpha=1)`` with an unpenalised intercept, on all
``n`` features (lime's ``num_features=n``, so its feature selection keeps them all).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from spexjax._rng import LIME, numpy_rng
from spexjax.baselines import _regression as reg
from spexjax.baselines._result import make_result
from spexjax.baselines._runner import check_options, evaluate
from spexjax.errors import ArgumentError
from spexjax.interactions import Interactions
from spexjax.value_functions import check_n

__all__ = ["lime", "lime_weights"]


def lime_weights(masks: np.ndarray, kernel_width: float = 25.0) -> np.ndarray:
    """LIME's text kernel on ``bool[m, n]`` masks (cosine distance to the full input, times 100)."""
    masks = np.asarray(masks, dtype=bool)
    frac = masks.sum(axis=1) / masks.shape[1]
    d = 100.0 * (1.0 - np.sqrt(frac))  # the empty mask: sklearn's cosine distance to a zero vector is 1
    return np.sqrt(np.exp(-(d**2) / kernel_width**2))


def _ridge(X: np.ndarray, y: np.ndarray, w: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """sklearn's ``Ridge(alpha, fit_intercept=True).fit(X, y, sample_weight=w)``: weighted centring, then
    ``(Xc^T W Xc + alpha I) beta = Xc^T W yc``."""
    wsum = w.sum()
    xm = (w @ X) / wsum
    ym = float(w @ y) / wsum
    Xc, yc = X - xm, y - ym
    G = Xc.T @ (Xc * w[:, None]) + alpha * np.eye(X.shape[1])
    beta = np.linalg.solve(G, Xc.T @ (w * yc)) if alpha > 0 else reg._lstsq(Xc * np.sqrt(w)[:, None], yc * np.sqrt(w))
    return ym - float(xm @ beta), beta


def lime(
    value_fn: Any,
    n: int,
    *,
    budget: int,
    key: Any = 0,
    kernel_width: float = 25.0,
    alpha: float = 1.0,
    feature_names: Any = None,
    **options: Any,
) -> Interactions:
    """LIME attributions: a kernel-weighted ridge fit of ``f`` on ``budget`` LIME-sampled masks.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`spexjax.ValueFunction`.
      n: number of features.
      budget: value-function rows (LIME's ``num_samples``; at least 2).
      key: int seed or JAX PRNG key.
      kernel_width: width of LIME's exponential kernel on ``100 *`` cosine distance (lime's text default 25).
      alpha: ridge penalty (lime's default regressor is ``Ridge(alpha=1)``).
      feature_names: optional names for the result.
      **options: query-runner options (``batch_size``, ``cache``, ``progress``, ``fingerprint``, ...).
    Returns:
      :class:`Interactions` holding the linear surrogate ``intercept + sum_i w_i x_i`` (order 1).
    """
    t0 = time.perf_counter()
    n = check_n(n)
    try:
        kernel_width = float(kernel_width)
        alpha = float(alpha)
    except (TypeError, ValueError) as err:
        raise TypeError("kernel_width and alpha must be numbers") from err
    if not (np.isfinite(kernel_width) and kernel_width > 0):
        raise ArgumentError(f"kernel_width must be a finite number > 0; got {kernel_width}")
    if not (np.isfinite(alpha) and alpha >= 0):
        raise ArgumentError(f"alpha must be a finite number >= 0; got {alpha}")
    budget = reg.check_budget("lime", budget, 2)
    options = check_options("lime", options)
    masks = reg.lime_masks(numpy_rng(key, LIME), budget, n)
    masks, y, stats, query_s = evaluate(value_fn, n, masks, options, method="lime")
    w = lime_weights(masks, kernel_width)
    intercept, beta = _ridge(masks.astype(np.float64), y, w, alpha)
    meta = {
        "method": "lime",
        "budget": budget,
        "order": 1,
        "weights": f"sqrt(exp(-d^2/{kernel_width:g}^2)), d = 100 * cosine distance to the full input",
        "sampling": "lime text: row 0 full, then remove U{1..n} uniformly chosen features",
        "ridge_alpha": alpha,
        "rows_fitted": int(len(y)),
    }
    supports = [(), *((i,) for i in range(n))]
    return make_result(
        n, supports, np.concatenate([[intercept], beta]), stats=stats, query_seconds=query_s, key=key,
        feature_names=feature_names, meta=meta, t0=t0,
    )
