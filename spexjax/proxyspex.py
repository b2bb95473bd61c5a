"""ProxySPEX: find the interactions of a value function through a cheap proxy fitted on random masks.

Real models are *hierarchical*: an important high-order interaction comes with important subsets, so a
greedy learner (boosted trees) finds it from a few thousand uniformly random ablations, where SPEX's
structured design needs many more. Pipeline (one function each):

  uniform masks (each bit Bernoulli(1/2), any n) -> value function via the query runner
  -> proxy fit (LightGBM trees, or a JAX MLP trained with optax) -> the proxy's spectrum
     (exact tree -> Fourier extraction, or SPEX run against the MLP: proxy queries are free)
  -> keep the largest coefficients (:mod:`spexjax.term_selection`): how many by the ridge refit's
     leave-one-out error over a geometric grid of counts (or a fixed ``energy`` share), plus terms of the
     proxy's pool that the samples' residual shows plainly although the proxy barely fitted them (residual
     screening)
  -> hierarchy step on the samples: drop kept terms below 2 standard errors, add terms whose lower-order
     subsets are kept and which the residual shows, order by order
  -> regularised refit of those coefficients on the real samples (:mod:`spexjax.refit`).

A proxy can only report what it learned: terms with no lower-order footprint (pure parities, XOR-like
effects) give a greedy tree no split to start from, so their energy is missing from the proxy and from the
result. Screening rescues a term only if some tree path grazed it (it must be in the proxy's spectrum at
all); a parity no tree ever isolated stays invisible. On ``random_sparse_fourier(512, 10, 3)`` two of the
three triples are never seen and R^2 stops near 0.81 (SPEX: 1.0). ``meta["proxy"]["valid_r2"]`` (held-out
fit of the proxy) tells when that happens; use :func:`spexjax.spex` for such functions.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from spexjax._checks import check_budget, check_choice, check_max_degree
from spexjax._rng import PROXYSPEX_SAMPLES
from spexjax._rng import uniform_masks as _uniform_masks
from spexjax.errors import ArgumentError, BudgetError
from spexjax.interactions import Interactions, padded_to_supports
from spexjax.metrics import r2_score
from spexjax.proxies import FourierNetProxy, LightGBMProxy, NeuralProxy
from spexjax.refit import design_matrix, refit
from spexjax.runs import check_run_options, make_runner, run_info
from spexjax.term_selection import (  # noqa: F401 - the private helpers stay importable from here (tests)
    COUNTED,
    _char_corr,
    _choose_terms,
    _complete_hierarchy,
    _hier_candidates,
    _holdout_count,
    _term_grid,
    select_by_energy,
    select_terms,
)
from spexjax.value_functions import as_value_function, check_masks, check_n

__all__ = ["proxyspex", "select_by_energy", "uniform_masks", "MIN_SAMPLES"]

MIN_SAMPLES = 16  # a proxy needs a training split and a held-out split
AUTO_SEARCH_SAMPLES = 2000  # search="auto": try the proxy's small settings grid up to this many samples


def uniform_masks(key: Any, m: int, n: int, stream: int = PROXYSPEX_SAMPLES) -> np.ndarray:
    """``bool[m, n]`` with i.i.d. Bernoulli(1/2) bits, drawn as packed bytes (no float matrix, no
    ``comb(n, k)`` size weights, so any ``n`` works): :func:`spexjax._rng.uniform_masks` on ProxySPEX's stream."""
    return _uniform_masks(key, m, n, stream)


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
        raise ArgumentError(
            f"samples[1] (values) must have one value per mask; got {y.shape[0]} for {x.shape[0]} masks")
    ok = np.isfinite(y)
    return x[ok], y[ok]


def _make_proxy(proxy: Any, search: bool, proxy_params: dict[str, Any] | None):
    if isinstance(proxy, str):
        name = proxy.lower()
        if name in ("lightgbm", "lgbm", "trees"):
            return LightGBMProxy(params=dict(proxy_params or {}), search=search)
        if name in ("neural", "mlp", "jax"):
            return NeuralProxy(**dict(proxy_params or {}))
        if name in ("fourier", "fourier_net", "product"):
            return FourierNetProxy(**dict(proxy_params or {}))
        raise ArgumentError(f"proxy must be 'lightgbm', 'neural' or an object with fit() and fourier(); got {proxy!r}")
    if callable(getattr(proxy, "fit", None)) and callable(getattr(proxy, "fourier", None)):
        return proxy
    raise TypeError(f"proxy must be 'lightgbm', 'neural' or an object with fit() and fourier(); got {type(proxy)}")


class _DefaultEnergy(str):
    """The type of ``energy``'s default (``"holdout"``), so that it can be told apart from an explicit
    ``energy="holdout"``: with a proxy that keeps no held-out rows the default falls back to ``"auto"``
    silently, an explicit request with a warning."""


HOLDOUT_DEFAULT = _DefaultEnergy("holdout")


def proxyspex(
    value_fn: Any,
    n: int,
    *,
    budget: int,
    max_degree: int = 5,
    key: Any = 0,
    proxy: Any = "lightgbm",
    samples: tuple[Any, Any] | None = None,
    energy: float | str = HOLDOUT_DEFAULT,
    max_terms: int | None = None,
    refine: str | None = "ridge",
    hierarchy: bool = True,
    search: bool | str = "auto",
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
      energy: share of the proxy's non-constant spectral energy to keep before the refit, or ``"auto"``:
        keep the number of largest coefficients whose ridge refit has the least leave-one-out
        error on the samples (a geometric grid of counts; the fixed 0.95 of the papers cuts real terms when
        the proxy is noisy, and keeps hundreds of noise terms when it sees only a few real ones).
        ``"holdout"`` (default since issue 22's side-by-side, ``benchmarks/results/energy_holdout.md``: in
        127 cells of the four ProxySPEX benchmarks never below ``"auto"`` by more than its own key-to-key
        spread, above it where ``"auto"`` keeps hundreds of terms, e.g. MiniLM's heads at 600 samples R^2
        0.52 -> 0.61): first cap that number by the count whose ridge refit, fitted on the proxy's training
        rows, best predicts the rows the proxy held out, then choose as ``"auto"`` below the cap. The
        leave-one-out error is measured on the rows the trees picked the terms from, so when the signal is
        weak and spread out it can keep noise terms: retraining an MLP on digits (1,297 points, 2,000
        trainings, 5 test points) kept 1,000 terms and scored mean LDS 0.68 with ``"auto"``, 24-96 terms and
        0.78 with ``"holdout"`` (LASSO datamodel 0.80); a noisy additive function (``tests``) kept 501 terms,
        R^2 0.59, against 64 terms, R^2 0.88. Where ``"auto"`` does not overfit the two agree (digits with
        logistic retraining: LDS 0.938 vs 0.940). Needs a proxy that records its held-out rows
        (``valid_rows``, as the LightGBM proxy does); otherwise ``"auto"`` is used: silently by default (the
        neural and Fourier proxies keep no held-out rows), with a warning when ``"holdout"`` was asked for.
      max_terms: most terms kept (default: half the number of samples, at most 2048, so the refit is
        well-posed and its design matrix stays small).
      refine: ``"ridge"`` (default), ``"lasso"``, ``"ols"`` or ``None`` (report the proxy's coefficients).
      hierarchy: with ``energy="auto"`` or ``"holdout"``, refine the proxy's chosen terms on the samples using
        the hierarchy ProxySPEX assumes (drop terms below 2 standard errors, add terms whose lower-order subsets
        are kept and that the residual shows; each step only if the leave-one-out error improves; see
        :func:`_complete_hierarchy`). ``False`` keeps the proxy's choice as it is.
      search: try a few proxy settings on the held-out split instead of one (4 fits instead of 1); ``"auto"``
        (default) searches when there are at most :data:`AUTO_SEARCH_SAMPLES` samples, where the fits take a
        fraction of a second and the proxy's quality decides the result (``random_hierarchical_mobius(128, 8,
        5)`` at 300 samples, three keys: R^2 0.46-0.62 with one fit, 0.58-0.73 with the search).
      proxy_params: settings of the proxy (LightGBM parameters, or :class:`NeuralProxy` fields).
      feature_names: optional names for the result.
      **options: run options (:data:`spexjax.runs.RUN_OPTIONS`): ``batch_size``, ``cache``, ``executor``,
        ``on_nonfinite``, ``progress``, ``fingerprint``, ``max_retries``, ``retry_backoff``.
    Returns:
      :class:`Interactions` (Fourier terms; ``queries`` counts new rows only) whose ``meta`` records the
      proxy's held-out R^2, the kept energy and timings.
    """
    t0 = time.perf_counter()
    n = check_n(n)
    budget = check_budget(budget, minimum=0)
    max_degree = min(check_max_degree(max_degree), n)
    if energy not in COUNTED and not (
            isinstance(energy, (int, float)) and not isinstance(energy, bool) and 0.0 < float(energy) <= 1.0):
        raise ArgumentError(f"energy must be 'auto', 'holdout' or a number in (0, 1]; got {energy!r}")
    quiet_fallback = energy is HOLDOUT_DEFAULT
    energy = str(energy) if isinstance(energy, str) else energy
    check_choice("refine", refine, (None, "ridge", "lasso", "ols"), expected="'ridge', 'lasso', 'ols' or None")
    options = check_run_options(options, method="proxyspex")
    vf = as_value_function(value_fn, n)
    x_old, y_old = _check_samples(samples, n)
    if budget + x_old.shape[0] < MIN_SAMPLES:
        raise BudgetError(
            f"budget={budget} is too small: ProxySPEX needs at least {MIN_SAMPLES} samples "
            f"(budget + reused samples); got {budget + x_old.shape[0]}"
        )
    if search == "auto":
        search = budget + x_old.shape[0] <= AUTO_SEARCH_SAMPLES
    elif not isinstance(search, (bool, np.bool_)):
        raise ArgumentError(f"search must be True, False or 'auto'; got {search!r}")
    proxy_search = bool(search)
    model = _make_proxy(proxy, proxy_search, proxy_params)

    stats = None  # the runner's counters (None: budget=0, no row paid)
    x_new, y_new = np.zeros((0, n), bool), np.zeros(0)
    if budget:
        runner = make_runner(vf, n, desc="proxyspex queries", options=options, method="proxyspex")
        try:
            x_new = uniform_masks(key, budget, n)
            y_new = np.asarray(runner.evaluate(x_new), dtype=np.float64).reshape(-1)
            valid = np.asarray(runner.last_valid if runner.last_valid is not None else np.ones(len(y_new)), bool)
            stats = runner.stats()
        finally:
            runner.close()
        if valid.shape != y_new.shape:
            valid = np.ones(len(y_new), bool)
        valid &= np.isfinite(y_new)
        x_new, y_new = x_new[valid], y_new[valid]
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

    rows = getattr(model, "valid_rows", None)
    if quiet_fallback and (rows is None or len(rows) < 10 or len(rows) >= X.shape[0] - 10):
        energy = "auto"  # the default, on a proxy without enough held-out rows: what "holdout" falls back to
    with _one_blas_thread():  # see _one_blas_thread: faster and thread-count independent
        picked = select_terms(
            X, y, padded, coeffs, energy=energy, max_terms=max_terms, hierarchy=hierarchy, refine=refine,
            max_degree=max_degree, valid_r2=(getattr(model, "info", {}) or {}).get("valid_r2"),
            valid_rows=getattr(model, "valid_rows", None) if energy == "holdout" else None,
        )
        chosen, idx = picked.choice, picked.idx
        if chosen is not None and refine is not None:
            # the kept terms (which the hierarchy step may have changed) plus the constant
            pad = chosen.pad
            width = max(1, pad.shape[1] if pad.ndim == 2 else 1)
            sel = np.concatenate([np.full((1, width), -1, np.int64), pad.reshape(-1, width)])
            sel_coef = np.zeros(len(sel))
        else:
            sel = padded[idx]
            sel_coef = coeffs[idx]
            if not np.any(np.all(sel < 0, axis=1)):  # always fit a constant
                sel = np.concatenate([np.full((1, max(1, sel.shape[1])), -1, np.int64), sel], axis=0)
                sel_coef = np.concatenate([[float(np.mean(y))], sel_coef])
        refit_info: dict[str, Any] = {}
        if refine == "ridge" and chosen is not None:
            # the term choice already solved this exact problem (centred characters of the kept terms, LOO alpha)
            w = chosen.w
            sel_coef = np.concatenate([[float(np.mean(y)) - float(chosen.means @ w)], w])
            refit_info = {"method": "ridge", "alpha": chosen.alpha, "kept": int(sel.shape[0])}
        elif refine is not None:
            sel_coef, refit_info = refit(X, y, sel, method=refine, key=key, return_info=True)
        t_end = time.perf_counter()
        train_r2 = float(r2_score(y, _predict(X, sel, sel_coef))) if len(sel) else 0.0

    info = dict(getattr(model, "info", {}) or {})
    seconds = {"query": t_query - t0, "proxy_fit": t_fit - t_query, "readout": t_read - t_fit,
               "refine": t_end - t_read, "total": t_end - t0}
    run = run_info("proxyspex", stats, budget=budget, key=key, seconds=seconds)
    meta = {
        "algorithm": "proxyspex",
        "proxy": info,
        "proxy_search": proxy_search,
        "max_degree": max_degree,
        "samples": int(X.shape[0]),
        "reused_samples": int(x_old.shape[0]),
        "evaluated": run.evaluated,
        "cache_hits": run.cache_hits,
        "proxy_terms": int(len(coeffs)),
        "kept_terms": int(sel.shape[0]),
        "energy_target": energy,
        "energy_used": picked.energy_used,
        "holdout_terms": picked.holdout_terms,
        "proxy_uninformative": picked.uninformative,
        "terms_tried": chosen.tried if chosen is not None else None,
        "terms_screened": chosen.screened if chosen is not None else None,
        "hierarchy": chosen.hierarchy if chosen is not None else None,
        "kept_energy_fraction": picked.kept_energy_fraction,
        "refine": refine,
        "refit": {k: v for k, v in refit_info.items() if isinstance(v, (int, float, str, type(None)))},
        "train_r2": train_r2,
        "seconds": dict(run.seconds),
    }
    return Interactions(n, padded_to_supports(sel), sel_coef, queries=run.queries, feature_names=feature_names,
                        meta=meta, run=run)


def _predict(X: np.ndarray, padded: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """The kept terms' values on the samples, in NumPy row blocks (no JIT compile for a one-off product)."""
    coeffs = np.asarray(coeffs, dtype=np.float64)
    out = np.empty(X.shape[0])
    step = max(1, (1 << 22) // max(1, len(coeffs)))
    for lo in range(0, X.shape[0], step):
        out[lo : lo + step] = design_matrix(X[lo : lo + step], padded) @ coeffs
    return out


def _one_blas_thread():
    """BLAS limited to one thread for the refine stage (threadpoolctl, installed with scikit-learn).

    Its products are small to medium (``m x K`` with ``K <= 2048``), where a second thread buys little even
    on an idle machine, while on a busy one OpenBLAS's spinning threads made them 5-8x *slower* (measured:
    ``_ridge_path`` at m = 10,000, K = 181: 0.78 s with the default threads, 0.10 s with one, load ~8 on
    2 cores). One thread also makes the refine's floating-point results independent of the core count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn (and with it threadpoolctl) is in the proxy extra
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
