"""One explanation pipeline: method -> held-out faithfulness through the same runner -> provenance.

``spexjax.explain(task, method=..., budget=...)`` is what the ``spexjax explain`` command line does, as one
library call, so a Python user never rebuilds it by hand:

1. run the method (``spex``, ``proxyspex`` or a baseline of :mod:`spexjax.baselines`) within ``budget``;
2. measure the R² of the recovered surrogate on ``faithfulness`` fresh uniform masks. Those rows are paid
   through a :class:`~spexjax.runs.QueryRunner` built from the same run options as the method's (so they are
   batched, retried, cached under ``cache=`` and counted, and an endpoint sees them like every other row),
   but they are *not* charged to ``budget``: the budget is what the method may spend, the check is extra and
   reported apart (``meta["faithfulness_queries"]``);
3. return a new :class:`~spexjax.Interactions` with the names and the provenance set at construction.

Why held-out masks: the method chose its terms from its own rows, so its fit there flatters it; a fresh
uniform sample is the papers' faithfulness measure (R² of the surrogate against ``f``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from spexjax._checks import check_choice, check_int, check_n
from spexjax._rng import FAITHFULNESS, uniform_masks
from spexjax._version import __version__
from spexjax.errors import SpexError
from spexjax.interactions import Interactions
from spexjax.metrics import r2_score
from spexjax.proxyspex import proxyspex
from spexjax.runs.info import run_info
from spexjax.runs.options import RUN_OPTIONS, make_runner
from spexjax.spex import spex

__all__ = ["METHODS", "explain"]

#: method name -> "spexjax" (the engine's sparse recovery) or "baseline" (:mod:`spexjax.baselines`).
METHODS: dict[str, str] = {
    "spex": "engine",
    "proxyspex": "engine",
    "lime": "baseline",
    "kernel_shap": "baseline",
    "banzhaf": "baseline",
    "faith_banzhaf": "baseline",
    "faith_shap": "baseline",
}
_FIRST_ORDER = ("lime", "kernel_shap", "banzhaf")


def _method_fn(method: str) -> Callable[..., Interactions]:
    if method == "spex":
        return spex
    if method == "proxyspex":
        return proxyspex
    import spexjax.baselines as baselines  # engine floor; loaded lazily so `import spexjax` stays light

    return getattr(baselines, method)


def faithfulness_masks(key: Any, m: int, n: int) -> np.ndarray:
    """The ``m`` held-out uniform masks :func:`explain` scores a result on, for ``key`` (deterministic)."""
    return uniform_masks(key, m, n, FAITHFULNESS, draw="float")


def explain(
    value_fn: Any,
    n: int | None = None,
    *,
    method: str = "proxyspex",
    budget: int,
    max_degree: int | None = None,
    key: Any = 0,
    faithfulness: int = 100,
    feature_names: Any = None,
    provenance: Mapping[str, Any] | None = None,
    **options: Any,
) -> Interactions:
    """Explain ``value_fn``: run ``method`` within ``budget``, measure held-out R², attach names and provenance.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`~spexjax.ValueFunction` (a ``PromptTask``,
        ``HeadTask``, ``RetrainTask``, ...).
      n: number of features; defaults to ``value_fn.n``.
      method: ``"proxyspex"`` (default: fewest queries on hierarchical, real functions), ``"spex"``, or a
        baseline of :mod:`spexjax.baselines` (``"lime"``, ``"kernel_shap"``, ``"banzhaf"``,
        ``"faith_banzhaf"``, ``"faith_shap"``).
      budget: most value-function rows the *method* may evaluate.
      max_degree: largest interaction order (``None``: the method's default; the Faith indices take it as
        their ``order``; LIME, KernelSHAP and Banzhaf are first-order and accept only ``None`` or 1).
      key: int seed or JAX PRNG key; the same key gives the same result and the same held-out masks.
      faithfulness: held-out uniform masks to score the result on (0: skip). Paid on top of ``budget``.
      feature_names: names of the features (default: ``value_fn.feature_names`` when it has them).
      provenance: extra entries for ``meta["provenance"]`` (e.g. model and target names for a report).
      **options: run options (``batch_size``, ``cache``, ``progress``, ``executor``, ...: see
        :data:`spexjax.runs.RUN_OPTIONS`), shared by the method and the faithfulness rows, plus the method's own
        options (e.g. ``decoder=`` for SPEX, ``proxy=`` for ProxySPEX).

    Returns:
      :class:`~spexjax.Interactions` whose ``meta`` carries ``faithfulness_r2`` (when measured),
      ``faithfulness_masks``, ``faithfulness_queries`` (rows those masks needed, cache hits included) and
      ``faithfulness_cache_hits``, and ``provenance`` (method, budget, queries paid by the method, seconds,
      degree, key, version, the value function's fingerprint when it has one).

    Raises:
      ValueError / TypeError naming the argument, before any query is paid.
    """
    check_choice("method", method, tuple(METHODS), expected=f"one of {', '.join(METHODS)}")
    if n is None:
        n = getattr(value_fn, "n", None)
        if n is None:
            raise TypeError("n is required when value_fn has no .n attribute")
    n = check_n(n)
    faithfulness = check_int("faithfulness", faithfulness, minimum=0)
    if feature_names is None:
        names = getattr(value_fn, "feature_names", None)
        feature_names = list(names) if names is not None else None
    run_opts = {k: v for k, v in options.items() if k in RUN_OPTIONS}

    kwargs: dict[str, Any] = dict(options)
    if method in _FIRST_ORDER:
        check_choice("max_degree", max_degree, (None, 1), expected=f"None or 1 ({method} is first-order)")
    elif method in ("faith_banzhaf", "faith_shap"):
        if max_degree is not None:
            kwargs["order"] = max_degree
    elif max_degree is not None:
        kwargs["max_degree"] = max_degree
    # Fail on a bad run option before the method pays for anything (the method checks its own options too).
    if faithfulness:
        make_runner(value_fn, n, desc="faithfulness queries", options=run_opts, method="explain").close()

    fn = _method_fn(method)
    t0 = time.perf_counter()
    result = fn(value_fn, n, budget=budget, key=key, feature_names=feature_names, **kwargs)
    seconds = time.perf_counter() - t0

    meta = dict(result.meta or {})
    held_out = None
    if faithfulness:
        t_check = time.perf_counter()
        masks = faithfulness_masks(key, faithfulness, n)
        runner = make_runner(value_fn, n, desc="faithfulness queries", options=run_opts, method="explain")
        try:
            y = runner.evaluate(masks)
            valid = np.asarray(runner.last_valid, dtype=bool)
            stats = runner.stats()
        finally:
            runner.close()
        if valid.size and not valid.all():
            masks, y = masks[valid], y[valid]
        if y.shape[0] < 2:
            raise SpexError("faithfulness: fewer than 2 held-out masks gave finite values; cannot measure R²")
        meta["faithfulness_r2"] = float(r2_score(y, result.predict(masks)))
        held_out = run_info("faithfulness", stats, budget=None, key=key,
                            seconds={"total": time.perf_counter() - t_check})
        meta["faithfulness_masks"] = int(y.shape[0])
        meta["faithfulness_queries"] = held_out.queries
        meta["faithfulness_cache_hits"] = held_out.cache_hits
    # the method's own record (every method fills one through run_info); the held-out rows beside it
    run = result.run or run_info(method, None, budget=budget, key=key, seconds={"total": seconds})
    run = run.replace(queries=int(result.queries), held_out=held_out)
    fp = value_fn.fingerprint() if callable(getattr(value_fn, "fingerprint", None)) else None
    prov: dict[str, Any] = {
        **dict(provenance or {}),
        "method": method,
        "budget": int(budget),
        "queries": int(result.queries),
        "seconds": round(seconds, 2),
        "max_degree": max_degree if max_degree is not None else meta.get("max_degree"),
        "seed": key if isinstance(key, (int, np.integer)) else str(key),
        "spexjax_version": __version__,
        "fingerprint": fp,
    }
    if run.cache_hits:
        prov["cache hits"] = run.cache_hits
    meta["provenance"] = {**dict(meta.get("provenance") or {}), **prov}
    supports, coeffs = result.fourier()
    return Interactions(n, supports, coeffs, queries=result.queries,
                        feature_names=feature_names if feature_names is not None else result.feature_names,
                        meta=meta, run=run)
