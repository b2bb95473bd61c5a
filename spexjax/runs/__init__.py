"""Run management: the query runner (batching, retries, validation), its SQLite cache and executors.

The engine reaches the value function only through :class:`QueryRunner`, so every run gets the same
guarantees: bad values are named by row, failed batches are retried, finished rows are never paid twice
(``cache=``) and batches may run in threads, processes or on a Ray cluster (``executor=``).
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
    "RayExecutor",
    "ThreadExecutor",
    "make_executor",
]
