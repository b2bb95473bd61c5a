"""Shared machinery of the regression baselines: coalition samplers, the Möbius design matrix, and a
(weighted, optionally constrained) least-squares solver.

Every baseline here fits ``f(x) ~ sum_{|S| <= k} e(S) prod_{i in S} x_i`` (a Möbius expansion truncated at
order ``k``) to value-function rows by least squares; they differ only in which masks are drawn, how the rows
are weighted and whether the empty and full coalitions are fitted exactly (Tsai et al. 2023, "Faith-Shap";
Lundberg & Lee 2017, KernelSHAP). The result is then an exact Möbius surrogate, which
:meth:`spexjax.Interactions.from_mobius` turns into the library's Fourier result.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import scipy.linalg

from spexjax._checks import check_budget as _check_budget
from spexjax._checks import is_int
from spexjax.errors import ArgumentError, ArgumentTypeError

__all__ = [
    "MAX_TERMS",
    "all_masks",
    "check_budget",
    "check_faith_order",
    "design",
    "kernel_masks",
    "num_terms",
    "shapley_kernel",
    "solve",
    "supports_upto",
]

MAX_TERMS = 20_000
"""Most regressors (coefficients) one fit may have: the design matrix is ``budget x terms`` float64."""

_CHUNK_CELLS = 1 << 24  # mask cells drawn at once by the kernel sampler (bounds its float temporaries)


def num_terms(n: int, order: int) -> int:
    """Coefficients of an order-``order`` Möbius expansion on ``n`` features (the constant included)."""
    return sum(math.comb(n, j) for j in range(order + 1))


def check_budget(method: str, budget: Any, minimum: int) -> int:
    """``budget`` as an int; a :class:`BudgetError` saying the minimum when it cannot pay for the fit."""
    return _check_budget(budget, minimum=minimum, method=method)


def check_faith_order(method: str, order: Any, n: int) -> int:
    """``order`` as an int in ``[1, n]`` whose fit has at most :data:`MAX_TERMS` coefficients."""
    if not is_int(order):
        raise ArgumentTypeError(f"order must be an int; got {type(order).__name__}")
    order = int(order)
    if not 1 <= order <= n:
        raise ArgumentError(f"order must be in [1, n={n}] for {method}; got {order}")
    p = num_terms(n, order)
    if p > MAX_TERMS:
        raise ArgumentError(
            f"order={order} at n={n} means {p} coefficients, more than {method} fits ({MAX_TERMS}): lower the order"
        )
    return order


def enumerable(n: int, budget: int) -> bool:
    """True when ``budget`` pays for every coalition (then the baselines enumerate them: exact values)."""
    return n < 62 and budget >= (1 << n)


def all_masks(n: int) -> np.ndarray:
    """``bool[2^n, n]``: every coalition, row ``r`` keeping the features whose bit is set in ``r``."""
    rows = np.arange(1 << n, dtype=np.int64)
    return ((rows[:, None] >> np.arange(n, dtype=np.int64)[None, :]) & 1).astype(bool)


def _log_comb(n: int, s: np.ndarray) -> np.ndarray:
    from scipy.special import gammaln

    return gammaln(n + 1) - gammaln(s + 1) - gammaln(n - s + 1)


def shapley_kernel(n: int, sizes: np.ndarray) -> np.ndarray:
    """Shapley-kernel weight of one coalition of each size: ``(n-1) / (C(n,s) s (n-s))`` for ``0 < s < n``.

    Sizes 0 and n get ``inf`` (fitted exactly). Computed in log space so large ``n`` does not overflow.
    """
    s = np.asarray(sizes, dtype=np.float64)
    out = np.full(s.shape, np.inf)
    inner = (s > 0) & (s < n)
    si = s[inner]
    out[inner] = np.exp(np.log(n - 1.0) - _log_comb(n, si) - np.log(si) - np.log(n - si))
    return out


def kernel_masks(rng: np.random.Generator, m: int, n: int, *, paired: bool = True) -> np.ndarray:
    """``bool[m, n]`` coalitions of sizes ``1..n-1`` drawn with ``P(s) ~ 1/(s(n-s))`` (the Shapley kernel's
    mass per size), uniform among the coalitions of a size; ``paired``: every draw is followed by its
    complement (the kernel is symmetric, and pairs cancel the even-order part of the sampling error)."""
    if n < 2 or m <= 0:
        return np.zeros((max(m, 0), n), dtype=bool)
    sizes = np.arange(1, n)
    p = 1.0 / (sizes * (n - sizes))
    p /= p.sum()
    draws = (m + 1) // 2 if paired else m
    s = rng.choice(sizes, size=draws, p=p)
    out = np.empty((draws, n), dtype=bool)
    step = max(1, _CHUNK_CELLS // n)
    for lo in range(0, draws, step):
        hi = min(draws, lo + step)
        ranks = np.argsort(rng.random((hi - lo, n)), axis=1).argsort(axis=1)
        out[lo:hi] = ranks < s[lo:hi, None]
    if paired:
        out = np.stack([out, ~out], axis=1).reshape(-1, n)[:m]
    return out


def lime_masks(rng: np.random.Generator, m: int, n: int) -> np.ndarray:
    """LIME's text sampler: row 0 keeps everything; each other row removes ``r ~ U{1..n}`` features chosen
    uniformly (``LimeTextExplainer.__data_labels_distances``)."""
    out = np.ones((m, n), dtype=bool)
    if m <= 1:
        return out
    r = rng.integers(1, n + 1, size=m - 1)
    step = max(1, _CHUNK_CELLS // n)
    for lo in range(0, m - 1, step):
        hi = min(m - 1, lo + step)
        ranks = np.argsort(rng.random((hi - lo, n)), axis=1).argsort(axis=1)
        out[1 + lo : 1 + hi] = ranks >= r[lo:hi, None]
    return out


def supports_upto(n: int, order: int) -> list[tuple[int, ...]]:
    """Every support of size ``0..order``, by size then lexicographically (the design's column order)."""
    return [s for j in range(order + 1) for s in itertools.combinations(range(n), j)]


def design(masks: np.ndarray, order: int) -> np.ndarray:
    """``float64[m, p]``: column ``S`` is ``prod_{i in S} x_i`` for the supports of :func:`supports_upto`."""
    masks = np.asarray(masks, dtype=bool)
    m, n = masks.shape
    cols = [np.ones((m, 1))]
    if order >= 1:
        cols.append(masks.astype(np.float64))
    for j in range(2, order + 1):
        combos = np.fromiter(itertools.chain.from_iterable(itertools.combinations(range(n), j)), dtype=np.int64)
        combos = combos.reshape(-1, j)
        acc = masks[:, combos[:, 0]].copy()
        for c in range(1, j):
            acc &= masks[:, combos[:, c]]
        cols.append(acc.astype(np.float64))
    return np.concatenate(cols, axis=1)


def _lstsq(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares via the normal equations (Cholesky) when well posed, else pivoted QR (min-norm-ish)."""
    m, p = A.shape
    if p == 0:
        return np.zeros(0)
    if m >= p:
        G = A.T @ A
        try:
            c = scipy.linalg.cho_factor(G, check_finite=False)
            # reject a factorisation of a numerically singular system (it would amplify round-off)
            d = np.abs(np.diag(c[0]))
            if d.min() > 1e-7 * d.max():
                return scipy.linalg.cho_solve(c, A.T @ b, check_finite=False)
        except np.linalg.LinAlgError:
            pass
    return scipy.linalg.lstsq(A, b, lapack_driver="gelsd", check_finite=False)[0]


def solve(
    X: np.ndarray,
    y: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    empty_value: float | None = None,
    full_value: float | None = None,
) -> np.ndarray:
    """Coefficients ``beta`` minimising ``sum_r w_r (y_r - X_r beta)^2``.

    With ``empty_value``/``full_value`` the fit also satisfies ``beta[0] = f(empty)`` and
    ``sum(beta) = f(full)`` exactly (the Möbius design's rows of the empty and full coalitions), by
    eliminating the intercept and the last coefficient (infinite weight, as Faith-Shap and KernelSHAP ask).
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    sw = np.ones(len(y)) if weights is None else np.sqrt(np.asarray(weights, dtype=np.float64))
    p = X.shape[1]
    if empty_value is None:
        return _lstsq(X * sw[:, None], y * sw)
    beta = np.zeros(p)
    beta[0] = empty_value
    if p == 1:
        return beta
    # beta[-1] = (full - empty) - sum(beta[1:-1])
    total = float(full_value) - float(empty_value)
    r = y - empty_value - X[:, -1] * total
    A = X[:, 1:-1] - X[:, -1:]
    free = _lstsq(A * sw[:, None], r * sw)
    beta[1:-1] = free
    beta[-1] = total - free.sum()
    return beta
