"""ProxySPEX: find the interactions of a value function through a cheap proxy fitted on random masks.

Real models are *hierarchical*: an important high-order interaction comes with important subsets, so a
greedy learner (boosted trees) finds it from a few thousand uniformly random ablations, where SPEX's
structured design needs many more. Pipeline (one function each):

  uniform masks (each bit Bernoulli(1/2), any n) -> value function via the query runner
  -> proxy fit (LightGBM trees, or a JAX MLP trained with optax) -> the proxy's spectrum
     (exact tree -> Fourier extraction, or SPEX run against the MLP: proxy queries are free)
  -> keep the coefficients holding ``energy`` of the non-constant energy
  -> regularised refit of those coefficients on the real samples (:mod:`spexjax.refit`).

A proxy can only report what it learned: terms with no lower-order footprint (pure parities, XOR-like
effects) give a greedy tree no split to start from, so their energy is missing from the proxy and from the
result; ``meta["proxy"]["valid_r2"]`` (held-out fit of the proxy) tells when that happens.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from spexjax._rng import numpy_rng
from spexjax.errors import BudgetError, SpexError
from spexjax.interactions import Interactions, padded_to_supports
from spexjax.metrics import r2_score
from spexjax.value_functions import as_value_function, check_masks, check_n

__all__ = ["proxyspex", "select_by_energy", "uniform_masks", "ENERGY_LEVELS", "MIN_SAMPLES"]

ENERGY_LEVELS = (0.5, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)
MIN_SAMPLES = 16  # a proxy needs a training split and a held-out split
_RUNNER_OPTIONS = ("batch_size", "cache", "executor", "on_nonfinite", "progress", "fingerprint")


def uniform_masks(key: Any, m: int, n: int, stream: int = 3) -> np.ndarray:
    """``bool[m, n]`` with i.i.d. Bernoulli(1/2) bits, drawn as packed bytes (no float matrix, no
    ``comb(n, k)`` size weights, so any ``n`` works)."""
    rng = numpy_rng(key, stream)
    packed = rng.integers(0, 256, size=(int(m), (int(n) + 7) // 8), dtype=np.uint8)
    return np.unpackbits(packed, axis=1, count=int(n)).astype(bool)


def select_by_energy(padded: np.ndarray, coeffs: np.ndarray, energy: float, max_terms: int | None) -> np.ndarray:
    """Indices of the fewest coefficients holding ``energy`` of the non-constant energy (largest first),
    at most ``max_terms`` of them, plus the constant term if present.

    Zero energy keeps only the constant; a threshold that needs every coefficient keeps them all (the
    reference indexes one past the end there).
    """
    const = np.all(np.asarray(padded) < 0, axis=1)
    c2 = np.where(const, 0.0, np.asarray(coeffs, dtype=np.float64) ** 2)
    order = np.argsort(-c2, kind="stable")
    order = order[c2[order] > 0.0]
    total = float(c2.sum())
    if total > 0.0 and len(order):
        cum = np.cumsum(c2[order]) / total
        k = int(np.searchsorted(cum, min(float(energy), 1.0) * (1.0 - 1e-12), side="left")) + 1
        k = min(k, len(order))
        if max_terms is not None:
            k = min(k, int(max_terms))
        chosen = order[:k]
    else:
        chosen = order[:0]
    return np.concatenate([np.nonzero(const)[0][:1], np.sort(chosen)])


def _choose_energy(X: np.ndarray, y: np.ndarray, padded: np.ndarray, coeffs: np.ndarray, cap: int) -> float:
    """The energy level whose kept terms refit best (exact ridge leave-one-out error).

    Levels are tried in increasing order and the search stops at the first larger set that fails to
    improve the error: the error is U-shaped in the number of terms (missing terms, then noise terms),
    and the large sets are the expensive ones. The sets are nested, so characters are computed once.
    """
    from spexjax.refit import design_matrix, ridge_loo

    sets = [select_by_energy(padded, coeffs, e, cap) for e in ENERGY_LEVELS]
    nonconst = lambda idx: idx[~np.all(padded[idx] < 0, axis=1)]  # noqa: E731
    yc = y - y.mean()
    cols: list[np.ndarray] = []  # centred character columns, built lazily as the levels grow
    have = 0
    best, best_err, seen = ENERGY_LEVELS[-1], np.inf, set()
    order = nonconst(sets[-1])[np.argsort(-np.abs(coeffs[nonconst(sets[-1])]), kind="stable")]
    for e, idx in zip(ENERGY_LEVELS, sets, strict=True):
        k = len(nonconst(idx))
        if k == 0 or k in seen:
            continue
        seen.add(k)
        if k > have:  # sets are nested prefixes of ``order``
            new = design_matrix(X, padded[order[have:k]])
            cols.append(new - new.mean(axis=0))
            have = k
        D = np.concatenate(cols, axis=1) if len(cols) > 1 else cols[0]
        cols = [D]
        _, _, err = ridge_loo(D[:, :k], yc, return_error=True)
        if err < best_err * 0.99:  # gains below 1% are noise terms; larger sets only cost time
            best, best_err = e, err
        else:
            break
    return best


def _make_runner(value_fn: Any, n: int, options: dict[str, Any]):
    from spexjax.runs import QueryRunner

    return QueryRunner(value_fn, n, desc="proxyspex queries", **options)


def _check_samples(samples: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    if samples is None:
        return np.zeros((0, n), bool), np.zeros(0)
    try:
        masks, values = samples
    except (TypeError, ValueError) as err:
        raise TypeError("samples must be a pair (masks: bool[m, n], values: float[m])") from err
    x = check_masks(masks, n, name="samples[0] (masks)")
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise SpexError(f"samples[1] (values) must have one value per mask; got {y.shape[0]} for {x.shape[0]} masks")
    ok = np.isfinite(y)
    return x[ok], y[ok]


def _make_proxy(proxy: Any, search: bool, proxy_params: dict[str, Any] | None):
    if isinstance(proxy, str):
        name = proxy.lower()
        if name in ("lightgbm", "lgbm", "trees"):
            from spexjax.proxies.lgbm import LightGBMProxy

            return LightGBMProxy(params=dict(proxy_params or {}), search=search)
        if name in ("neural", "mlp", "jax"):
            from spexjax.proxies.neural import NeuralProxy

            return NeuralProxy(**dict(proxy_params or {}))
        raise SpexError(f"proxy must be 'lightgbm', 'neural' or an object with fit() and fourier(); got {proxy!r}")
    if callable(getattr(proxy, "fit", None)) and callable(getattr(proxy, "fourier", None)):
        return proxy
    raise TypeError(f"proxy must be 'lightgbm', 'neural' or an object with fit() and fourier(); got {type(proxy)}")


def proxyspex(
    value_fn: Any,
    n: int,
    *,
    budget: int,
    max_degree: int = 5,
    key: Any = 0,
    proxy: Any = "lightgbm",
    samples: tuple[Any, Any] | None = None,
    energy: float | str = "auto",
    max_terms: int | None = None,
    refine: str | None = "ridge",
    search: bool = False,
    proxy_params: dict[str, Any] | None = None,
    feature_names: Any = None,
    **options: Any,
) -> Interactions:
    """Sparse Fourier interactions of ``value_fn`` read from a proxy fitted on uniformly random masks.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`spexjax.ValueFunction`.
      n: number of features.
      budget: most value-function rows to evaluate (new uniform masks). May be 0 when ``samples`` are given.
      max_degree: largest interaction order reported (also the proxy trees' depth).
      key: int seed or JAX PRNG key; the same key gives the same result.
      proxy: ``"lightgbm"`` (default: boosted trees, exact spectrum), ``"neural"`` (a JAX MLP trained with
        optax whose spectrum is read by SPEX with free proxy queries), or an object with
        ``fit(X, y, *, max_degree, key)`` and ``fourier(n, max_degree) -> (padded supports, coeffs)``.
      samples: ``(masks, values)`` already paid for (e.g. the random masks of an earlier run, or any
        masks at all): used *in addition to* the ``budget`` new queries, for the proxy and the refit.
        Non-finite values are dropped. ``budget=0`` reuses them only.
      energy: share of the proxy's non-constant spectral energy to keep before the refit, or ``"auto"``
        (default): the level among :data:`ENERGY_LEVELS` whose ridge refit has the least leave-one-out
        error on the samples (the fixed 0.95 of the papers cuts real terms when the proxy is noisy, and
        keeps noise when it is not).
      max_terms: most terms kept (default: half the number of samples, at most 2048, so the refit is
        well-posed and its design matrix stays small).
      refine: ``"ridge"`` (default), ``"lasso"``, ``"ols"`` or ``None`` (report the proxy's coefficients).
      search: try a few proxy settings on the held-out split instead of one (4 fits instead of 1).
      proxy_params: settings of the proxy (LightGBM parameters, or :class:`NeuralProxy` fields).
      feature_names: optional names for the result.
      **options: ``batch_size``, ``cache``, ``executor``, ``on_nonfinite``, ``progress``, ``fingerprint``
        for the query runner.
    Returns:
      :class:`Interactions` (Fourier terms; ``queries`` counts new rows only) whose ``meta`` records the
      proxy's held-out R^2, the kept energy and timings.
    """
    t0 = time.perf_counter()
    n = check_n(n)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise TypeError(f"budget must be an int (number of value-function rows); got {type(budget).__name__}")
    budget = int(budget)
    if budget < 0:
        raise BudgetError(f"budget must be >= 0; got {budget}")
    if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)) or int(max_degree) < 1:
        raise SpexError(f"max_degree must be an int >= 1; got {max_degree!r}")
    max_degree = int(min(int(max_degree), n))
    if energy != "auto" and not (isinstance(energy, (int, float)) and 0.0 < float(energy) <= 1.0):
        raise SpexError(f"energy must be 'auto' or a number in (0, 1]; got {energy!r}")
    if refine not in (None, "ridge", "lasso", "ols"):
        raise SpexError(f"refine must be 'ridge', 'lasso', 'ols' or None; got {refine!r}")
    unknown = set(options) - set(_RUNNER_OPTIONS)
    if unknown:
        raise TypeError(f"proxyspex() got unexpected keyword arguments {sorted(unknown)}")
    vf = as_value_function(value_fn, n)
    x_old, y_old = _check_samples(samples, n)
    if budget + x_old.shape[0] < MIN_SAMPLES:
        raise BudgetError(
            f"budget={budget} is too small: ProxySPEX needs at least {MIN_SAMPLES} samples "
            f"(budget + reused samples); got {budget + x_old.shape[0]}"
        )
    model = _make_proxy(proxy, search, proxy_params)

    queries = 0
    x_new, y_new = np.zeros((0, n), bool), np.zeros(0)
    if budget:
        runner = _make_runner(vf, n, {k: options[k] for k in _RUNNER_OPTIONS if k in options})
        x_new = uniform_masks(key, budget, n)
        y_new = np.asarray(runner.evaluate(x_new), dtype=np.float64).reshape(-1)
        valid = np.asarray(getattr(runner, "last_valid", np.ones(len(y_new), bool)), bool)
        if valid.shape != y_new.shape:
            valid = np.ones(len(y_new), bool)
        valid &= np.isfinite(y_new)
        x_new, y_new = x_new[valid], y_new[valid]
        queries = int(getattr(runner, "queries", budget))
        evaluated = int(getattr(runner, "evaluated", budget))
        if hasattr(runner, "close"):
            runner.close()
    else:
        evaluated = 0
    X = np.concatenate([x_old, x_new]) if x_old.shape[0] else x_new
    y = np.concatenate([y_old, y_new]) if x_old.shape[0] else y_new
    if X.shape[0] < MIN_SAMPLES:
        raise BudgetError(f"only {X.shape[0]} finite samples; ProxySPEX needs at least {MIN_SAMPLES}")
    t_query = time.perf_counter()

    model.fit(X, y, max_degree=max_degree, key=key)
    t_fit = time.perf_counter()
    padded, coeffs = model.fourier(n, max_degree)
    padded = np.asarray(padded, dtype=np.int64)
    coeffs = np.asarray(coeffs, dtype=np.float64)
    t_read = time.perf_counter()

    cap = min(X.shape[0] // 2, 2048) if max_terms is None else int(max_terms)
    chosen_energy = energy
    if energy == "auto":
        chosen_energy = _choose_energy(X, y, padded, coeffs, cap)
    idx = select_by_energy(padded, coeffs, chosen_energy, cap)
    nonconst = ~np.all(padded < 0, axis=1)
    total_e = float(np.sum(coeffs[nonconst] ** 2))
    kept_e = float(np.sum(coeffs[idx][nonconst[idx]] ** 2))
    sel = padded[idx]
    if not np.any(np.all(sel < 0, axis=1)):  # always fit a constant
        sel = np.concatenate([np.full((1, max(1, sel.shape[1])), -1, np.int64), sel], axis=0)
        sel_coef = np.concatenate([[float(np.mean(y))], coeffs[idx]])
    else:
        sel_coef = coeffs[idx]
    refit_info: dict[str, Any] = {}
    if refine is not None:
        from spexjax.refit import refit

        sel_coef, refit_info = refit(X, y, sel, method=refine, key=key, return_info=True)
    t_end = time.perf_counter()

    info = dict(getattr(model, "info", {}) or {})
    meta = {
        "algorithm": "proxyspex",
        "proxy": info,
        "max_degree": max_degree,
        "samples": int(X.shape[0]),
        "reused_samples": int(x_old.shape[0]),
        "evaluated": evaluated,
        "proxy_terms": int(len(coeffs)),
        "kept_terms": int(sel.shape[0]),
        "energy_target": energy,
        "energy_used": float(chosen_energy),
        "kept_energy_fraction": kept_e / total_e if total_e > 0 else 1.0,
        "refine": refine,
        "refit": {k: v for k, v in refit_info.items() if isinstance(v, (int, float, str, type(None)))},
        "train_r2": float(r2_score(y, _predict(X, sel, sel_coef))) if len(sel) else 0.0,
        "seconds": {
            "query": t_query - t0,
            "proxy_fit": t_fit - t_query,
            "readout": t_read - t_fit,
            "refine": t_end - t_read,
            "total": t_end - t0,
        },
    }
    return Interactions(n, padded_to_supports(sel), sel_coef, queries=queries, feature_names=feature_names, meta=meta)


def _predict(X: np.ndarray, padded: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    from spexjax.kernels.characters import eval_fourier

    return np.asarray(eval_fourier(X, padded, coeffs))
