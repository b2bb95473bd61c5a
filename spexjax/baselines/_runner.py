"""The baselines' door to the value function: the engine's query runner with its common options.

Every baseline evaluates masks only through :class:`spexjax.runs.QueryRunner` (batching, SQLite cache,
executors, non-finite policy, progress), built by :func:`spexjax.runs.make_runner` from the one option list
:data:`spexjax.runs.RUN_OPTIONS`, so a baseline and ``spex`` on the same ``cache=`` file never pay for the
same mask twice and a misspelt option fails the same way everywhere.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from spexjax.errors import ValueFunctionError
from spexjax.runs.options import RUNNER_OPTIONS, check_run_options, make_runner

__all__ = ["RUNNER_OPTIONS", "check_options", "evaluate"]


def check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The run options of ``options``, checked (names and cheap values) before any query; a ``TypeError``
    naming any other keyword."""
    return check_run_options(options, method=method)


def evaluate(value_fn: Any, n: int, masks: np.ndarray, options: dict[str, Any], *, method: str) -> tuple[
    np.ndarray, np.ndarray, dict[str, int], float
]:
    """``(masks, values, stats, seconds)`` for the rows the runner returned finite values for.

    Rows dropped under ``on_nonfinite="drop"`` are left out of the fit (the caller's regression sees only
    finite rows); ``stats`` is the runner's :meth:`~spexjax.runs.QueryRunner.stats` (``queries`` counts every
    row the run needed, cache hits included) and ``seconds`` the wall time of the queries.
    """
    t0 = time.perf_counter()
    desc = f"{method} queries"
    runner = make_runner(value_fn, n, desc=desc, options=options, method=method)
    try:
        y = np.asarray(runner.evaluate(masks), dtype=np.float64).reshape(-1)
        valid = np.asarray(runner.last_valid, dtype=bool)
        stats = runner.stats()
    finally:
        runner.close()
    if valid.shape != y.shape:
        valid = np.ones(y.shape, dtype=bool)
    valid &= np.isfinite(y)
    if not valid.any():
        raise ValueFunctionError(f"{desc}: the value function gave no finite value on any of {len(y)} masks")
    return masks[valid], y[valid], stats, time.perf_counter() - t0
