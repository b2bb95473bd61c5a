"""Pruning attention heads: which ``k`` heads to keep, by three strategies, and where the spectrum's energy sits.

- ``proxyspex``: ProxySPEX on uniformly random head masks, then the surrogate's exact size-``k`` maximiser
  (:meth:`spexjax.Interactions.best_subset`): interactions between heads are taken into account.
- ``lasso``: a marginal (first-order) model fitted by cross-validated LASSO on the same masks; keep the ``k``
  heads with the largest coefficients.
- ``best_of_n``: ``N`` random subsets of exactly ``k`` heads, each scored on the fit split; keep the best.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spexjax._rng import PRUNE_MATCHED, PRUNE_SUBSETS, numpy_rng
from spexjax.errors import SpexError
from spexjax.interactions import Interactions
from spexjax.optimize import ApproximateOptimumWarning, best_subset
from spexjax.proxyspex import proxyspex, uniform_masks
from spexjax.runs import make_runner

__all__ = [
    "STRATEGIES",
    "compare_strategies",
    "energy_by_depth",
    "kept_size",
    "matched_masks",
    "prune_best_of_n",
    "prune_lasso",
    "random_subsets",
    "sample_masks",
]

STRATEGIES = ("proxyspex", "lasso", "best_of_n")


def kept_size(fraction: float, n: int) -> int:
    """``round(fraction * n)`` heads, checked to lie in ``1..n``."""
    if not 0.0 < float(fraction) <= 1.0:
        raise SpexError(f"kept_fraction must be in (0, 1]; got {fraction}")
    return max(1, min(n, int(round(float(fraction) * n))))


def sample_masks(task: Any, masks: np.ndarray, **options: Any) -> np.ndarray:
    """Values of ``task`` at ``masks`` through the engine's query runner (``cache=``, ``batch_size=``, ...)."""
    with make_runner(task, task.n, desc="head masks", options=options, method="heads") as runner:
        return runner.evaluate(masks)


def prune_lasso(masks: np.ndarray, values: np.ndarray, size: int, *, key: int = 0) -> tuple[int, ...]:
    """The ``size`` heads with the largest coefficients of a cross-validated LASSO fit (marginal effects)."""
    from sklearn.linear_model import LassoCV

    x = np.asarray(masks, dtype=np.float64)
    model = LassoCV(cv=5, random_state=key, max_iter=20_000).fit(x, np.asarray(values, dtype=np.float64))
    order = np.argsort(-model.coef_, kind="stable")
    return tuple(sorted(int(i) for i in order[:size]))


def random_subsets(n: int, size: int, count: int, *, key: Any = 0) -> np.ndarray:
    """``bool[count, n]`` masks with exactly ``size`` features kept, uniformly at random (one stream per size)."""
    rng = numpy_rng(key, PRUNE_SUBSETS, int(size))
    out = np.zeros((count, n), dtype=bool)
    for r in range(count):
        out[r, rng.choice(n, size, replace=False)] = True
    return out


def matched_masks(n: int, budget: int, fractions: tuple[float, ...], *, key: Any = 0) -> np.ndarray:
    """``bool[budget, n]``: equal shares of the budget with each feature kept with probability ``fraction``."""
    rng = numpy_rng(key, PRUNE_MATCHED)
    share = np.array_split(np.arange(budget), len(fractions))
    out = np.zeros((budget, n), dtype=bool)
    for rows, f in zip(share, fractions, strict=True):
        out[rows] = rng.random((len(rows), n)) < float(f)
    return out


def prune_best_of_n(
    task: Any, size: int, count: int, *, key: Any = 0, **options: Any
) -> tuple[tuple[int, ...], float, np.ndarray]:
    """Best of ``count`` random size-``size`` subsets on ``task``: ``(subset, its value, all values)``."""
    cand = random_subsets(task.n, size, count, key=key)
    vals = sample_masks(task, cand, **options)
    j = int(np.argmax(vals))
    return tuple(int(i) for i in np.flatnonzero(cand[j])), float(vals[j]), vals


def energy_by_depth(result: Interactions, layers: int, heads: int, groups: dict[str, range] | None = None) -> list:
    """Share of the non-constant Fourier energy in linear / within-layer / across-layer terms, per layer group.

    A term belongs to a group when all its heads lie in the group's layers (``groups``, default: the first and
    the second half of the layers, plus ``"all"``). Shares are of the group's own energy. Terms whose heads lie in
    both halves are counted under ``"all"`` only (the row ``"spanning"`` gives their share of the total).
    Rows: ``{"group", "layers", "terms", "energy", "linear", "within_layer", "across_layer"}``.
    """
    if groups is None:
        half = layers // 2
        groups = {"early": range(0, half), "late": range(half, layers), "all": range(layers)}
    supports, coeffs = result.fourier()
    rows = []
    total_all = sum(float(c) ** 2 for s, c in zip(supports, coeffs, strict=True) if s)
    for name, lay in groups.items():
        e = {"linear": 0.0, "within_layer": 0.0, "across_layer": 0.0}
        count = 0
        for s, c in zip(supports, coeffs, strict=True):
            if not s:
                continue
            ls = {int(i) // heads for i in s}
            if not ls <= set(lay):
                continue
            count += 1
            kind = "linear" if len(s) == 1 else ("within_layer" if len(ls) == 1 else "across_layer")
            e[kind] += float(c) ** 2
        tot = sum(e.values())
        rows.append(
            {
                "group": name,
                "layers": [lay.start, lay.stop - 1],
                "terms": count,
                "energy": tot,
                **{k: (v / tot if tot > 0 else 0.0) for k, v in e.items()},
            }
        )
    if "all" in groups and len(groups) > 1:
        inside = sum(r["energy"] for r in rows if r["group"] != "all")
        rows.append({"group": "spanning", "share_of_total": (total_all - inside) / total_all if total_all else 0.0})
    return rows


def compare_strategies(
    task: Any,
    *,
    budget: int,
    fractions: tuple[float, ...] = (0.5, 0.66, 0.83),
    best_of: int | None = None,
    max_degree: int = 3,
    time_limit: float | None = 60.0,
    sampling: str = "uniform",
    key: int = 0,
    **options: Any,
) -> tuple[list[dict[str, Any]], Interactions, dict[str, Any]]:
    """ProxySPEX vs LASSO vs Best-of-N pruning of ``task`` (a fit-split :class:`~spexjax.heads.HeadTask`).

    ``budget`` random masks are paid once and shared by ProxySPEX and LASSO; Best-of-N pays
    ``best_of`` (default ``budget // len(fractions)``, so its total equals the shared budget) random subsets of
    exactly each size. Each chosen subset is scored on the fit split and on ``task.heldout()`` (both metrics).

    ``sampling="uniform"`` draws each head Bernoulli(1/2) (the papers' design); ``"matched"`` draws an equal
    share of the budget at each kept fraction (each head kept with probability ``fraction``), so the surrogate is
    fitted where it is maximised instead of extrapolated from half-kept masks (see :func:`matched_masks`).

    Returns ``(rows, interactions, info)``: rows ``{kept_fraction, kept, strategy, subset, fit_score, test_score,
    fit_accuracy, test_accuracy, fit_logprob, test_logprob, surrogate}`` (``*_score`` in the task's metric),
    the ProxySPEX result, and ``info`` (unpruned scores, query counts, timings, optimality of each maximiser).
    """
    import time
    import warnings

    n = task.n
    heldout = task.heldout()
    best_of = int(best_of) if best_of is not None else max(1, budget // len(fractions))
    t0 = time.perf_counter()
    if sampling == "uniform":
        masks = uniform_masks(key, budget, n)
    elif sampling == "matched":
        masks = matched_masks(n, budget, fractions, key=key)
    else:
        raise SpexError(f"sampling must be 'uniform' or 'matched'; got {sampling!r}")
    values = sample_masks(task, masks, **options)
    t_samples = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = proxyspex(
        task, n, budget=0, samples=(masks, values), max_degree=max_degree, key=key, feature_names=task.feature_names
    )
    t_proxy = time.perf_counter() - t0
    info: dict[str, Any] = {
        "metric": task.metric,
        "unpruned": {"fit": task.full_score(), "test": heldout.full_score()},
        "budget": budget,
        "sampling": sampling,
        "best_of": best_of,
        "samples_seconds": t_samples,
        "proxyspex_seconds": t_proxy,
        "proxyspex_terms": len(result.fourier()[0]),
        "proxyspex_meta": {k: result.meta.get(k) for k in ("proxy", "energy") if k in result.meta},
        "optimum": {},
    }
    chosen: list[tuple[float, int, str, tuple[int, ...], float | None]] = []
    for frac in fractions:
        k = kept_size(frac, n)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ApproximateOptimumWarning)
            opt = best_subset(result, k, maximize=True, time_limit=time_limit)
        info["optimum"][str(frac)] = {
            "exact": opt.exact,
            "gap": opt.gap,
            "method": opt.method,
            "warnings": [str(w.message) for w in caught],
        }
        chosen.append((frac, k, "proxyspex", opt.subset, opt.value))
        chosen.append((frac, k, "lasso", prune_lasso(masks, values, k, key=key), None))
        sub, _, _ = prune_best_of_n(task, k, best_of, key=key, **options)
        chosen.append((frac, k, "best_of_n", sub, None))
    pick = np.zeros((len(chosen), n), dtype=bool)
    for r, (_, _, _, sub, _) in enumerate(chosen):
        pick[r, list(sub)] = True
    fit = task.scores(pick)
    test_each = heldout.per_example(pick)
    test = {k: v.mean(axis=1) for k, v in test_each.items()}
    # paired standard error of (ProxySPEX - baseline) on the held-out examples, per fraction
    info["paired_se"] = {}
    for r, (frac, _, strategy, _, _) in enumerate(chosen):
        if strategy == "proxyspex":
            continue
        p = next(j for j, c in enumerate(chosen) if c[0] == frac and c[2] == "proxyspex")
        d = test_each[task.metric][p] - test_each[task.metric][r]
        info["paired_se"][f"{frac}/{strategy}"] = {
            "diff": float(d.mean()),
            "se": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1 else float("nan"),
        }
    rows = []
    for r, (frac, k, strategy, sub, surrogate) in enumerate(chosen):
        rows.append(
            {
                "kept_fraction": frac,
                "kept": k,
                "strategy": strategy,
                "fit_score": float(fit[task.metric][r]),
                "test_score": float(test[task.metric][r]),
                "fit_accuracy": float(fit["accuracy"][r]),
                "test_accuracy": float(test["accuracy"][r]),
                "fit_logprob": float(fit["logprob"][r]),
                "test_logprob": float(test["logprob"][r]),
                "surrogate": surrogate,
                "subset": list(sub),
            }
        )
    return rows, result, info
