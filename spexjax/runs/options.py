"""The one list of run options every method takes, and the one factory that turns them into a runner.

Every method that pays for queries (``spex``, ``proxyspex``, the baselines in :mod:`spexjax.baselines`)
accepts the same keyword options and passes them here, so a user learns them once and a typo fails the
same way everywhere, before a single query is paid::

    from spexjax.runs import make_runner

    def my_method(value_fn, n, *, budget, key=0, **options):
        runner = make_runner(value_fn, n, desc="my_method queries", options=options)  # validates first
        try:
            y = runner.evaluate(masks)          # or runner.evaluate_affine(AffineQueries(...))
        finally:
            runner.close()
        ... Interactions(n, supports, coeffs, queries=runner.queries, meta={..., **runner.stats()})

Options (:data:`RUN_OPTIONS`; see :class:`~spexjax.runs.QueryRunner` for the details):

- ``batch_size``: most rows per value-function call (``None``: a whole request in one call).
- ``cache``: SQLite path (or a :class:`~spexjax.runs.QueryCache`): finished rows are never paid twice.
- ``executor``: ``"inline"`` (default), ``"thread"``, ``"process"``, ``"ray"`` or an ``Executor``.
- ``on_nonfinite``: ``"raise"`` (default), ``"drop"`` or ``"zero"``.
- ``progress``: ``None`` (auto), ``True`` or ``False``.
- ``fingerprint``: identity of the value function in the cache (needed with ``cache=`` unless the value
  function has a ``fingerprint()``).
- ``max_retries`` (default 2) and ``retry_backoff`` (seconds, default 0.5): retries of a batch that raised.

:func:`check_run_options` validates names and values without building anything (no cache file, no pool, no
Ray); :func:`make_runner` validates and builds the :class:`~spexjax.runs.QueryRunner`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from spexjax.runs.runner import QueryRunner

__all__ = ["RUNNER_OPTIONS", "RUN_OPTIONS", "check_run_options", "make_runner"]

#: name -> one-line meaning; the single source for every method's ``**options``.
RUN_OPTIONS: dict[str, str] = {
    "batch_size": "most rows per value-function call (None: one call per request)",
    "cache": "SQLite path or QueryCache; finished rows are stored and never evaluated again",
    "executor": "'inline', 'thread', 'process', 'ray' or an object with map_batches(fn, batches)",
    "on_nonfinite": "'raise', 'drop' or 'zero'",
    "progress": "None (auto), True or False",
    "fingerprint": "identity of the value function in the cache",
    "max_retries": "extra attempts for a batch whose call raised (int >= 0)",
    "retry_backoff": "seconds before the first retry, doubled each time",
}
#: the option names alone, in a fixed order.
RUNNER_OPTIONS: tuple[str, ...] = tuple(RUN_OPTIONS)


def check_run_options(options: Mapping[str, Any] | None, *, method: str = "this method") -> dict[str, Any]:
    """Return ``options`` as a dict after checking every name and the values that can be checked cheaply.

    Raises ``TypeError`` naming an unknown option and listing the valid ones (the same message as a Python
    function given an unexpected keyword), or the runner's own ``TypeError``/``ValueError`` for a bad value.
    Builds nothing: safe to call before any other argument check.
    """
    opts = dict(options or {})
    unknown = sorted(set(opts) - set(RUN_OPTIONS))
    if unknown:
        raise TypeError(
            f"{method}() got unexpected keyword arguments {unknown}; run options are {', '.join(RUN_OPTIONS)}"
        )
    QueryRunner.check_options(**opts)
    return opts


def make_runner(
    value_fn: Any, n: int, *, desc: str = "queries", options: Mapping[str, Any] | None = None, method: str = "method"
) -> QueryRunner:
    """Validate ``options`` (see :data:`RUN_OPTIONS`) and build the :class:`QueryRunner` for ``value_fn``.

    Args:
      value_fn: any ``f(masks: bool[m, n]) -> float[m]`` or a :class:`~spexjax.ValueFunction`.
      n: number of features.
      desc: label of the progress line (e.g. ``"spex queries"``).
      options: the method's ``**options``; unknown names raise ``TypeError`` before anything is built.
      method: the caller's name, used in error messages.

    The caller owns the runner: ``close()`` it (or use it as a context manager) when the queries are done.
    """
    opts = check_run_options(options, method=method)
    return QueryRunner(value_fn, n, desc=desc, **opts)
