"""Run management: the query runner (batching, retries, validation), its SQLite cache and executors.

The engine reaches the value function only through :class:`QueryRunner`, so every run gets the same
guarantees: bad values are named by row, failed batches are retried, finished rows are never paid twice
(``cache=``) and batches may run in threads, processes or on a Ray cluster (``executor=``).
:func:`make_runner` is the one factory every method uses; :data:`RUN_OPTIONS` the one option list;
:func:`run_info` the one way a method records what its run cost (:class:`RunInfo`, ``Interactions.run``).
"""

from spexjax.runs.cache import QueryCache
from spexjax.runs.executors import (
    Executor,
    InlineExecutor,
    Outcome,
    ProcessExecutor,
    RayExecutor,
    ThreadExecutor,
    make_executor,
)
from spexjax.runs.info import RunInfo, run_info
from spexjax.runs.options import RUN_OPTIONS, RUNNER_OPTIONS, check_run_options, make_runner
from spexjax.runs.progress import Progress
from spexjax.runs.runner import QueryRunner

__all__ = [
    "Executor",
    "InlineExecutor",
    "Outcome",
    "ProcessExecutor",
    "Progress",
    "QueryCache",
    "QueryRunner",
    "RUNNER_OPTIONS",
    "RUN_OPTIONS",
    "RayExecutor",
    "RunInfo",
    "ThreadExecutor",
    "check_run_options",
    "make_executor",
    "make_runner",
    "run_info",
]
