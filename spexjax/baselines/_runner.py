"""The baselines' door to the value function: the engine's query runner with its common options.

Every baseline evaluates masks only through :class:`spexjax.runs.QueryRunner` (batching, SQLite cache,
executors, non-finite policy, progress), so a baseline and ``spex`` on the same ``cache=`` file never pay
for the same mask twice.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spexjax.errors import ValueFunctionError
from spexjax.runs import QueryRunner

__all__ = ["RUNNER_OPTIONS", "check_options", "evaluate"]

try:  # the engine's single option list, when it exists
    from spexjax.runs.options import RUNNER_OPTIONS as _ENGINE_OPTIONS  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - depends on the engine's version
    _ENGINE_OPTIONS = None

RUNNER_OPTIONS: tuple[str, ...] = tuple(_ENGINE_OPTIONS) if _ENGINE_OPTIONS else (
    "batch_size",
    "cache",
    "executor",
    "on_nonfinite",
    "progress",
    "fingerprint",
    "max_retries",
    "retry_backoff",
)
"""Keyword options a baseline passes to the query runner."""


def check_options(method: str, options: dict[str, Any]) -> dict[str, Any]:
    """The runner options of ``options``; a ``TypeError`` naming any other keyword (before any query)."""
    unknown = sorted(set(options) - set(RUNNER_OPTIONS))
    if unknown:
        raise TypeError(f"{method}() got unexpected keyword arguments {unknown}; runner options are {RUNNER_OPTIONS}")
    return dict(options)


def evaluate(value_fn: Any, n: int, masks: np.ndarray, options: dict[str, Any], *, desc: str) -> tuple[
    np.ndarray, np.ndarray, int
]:
    """``(masks, values, queries)`` for the rows the runner returned finite values for.

    Rows dropped under ``on_nonfinite="drop"`` are left out of the fit (the caller's regression sees only
    finite rows); ``queries`` counts every row the run needed, cache hits included.
    """
    runner = QueryRunner(value_fn, n, desc=desc, **options)
    try:
        y = np.asarray(runner.evaluate(masks), dtype=np.float64).reshape(-1)
        valid = np.asarray(runner.last_valid, dtype=bool)
        queries = int(runner.queries)
    finally:
        runner.close()
    if valid.shape != y.shape:
        valid = np.ones(y.shape, dtype=bool)
    valid &= np.isfinite(y)
    if not valid.any():
        raise ValueFunctionError(f"{desc}: the value function gave no finite value on any of {len(y)} masks")
    return masks[valid], y[valid], queries
