"""What one run cost: the typed record every method attaches to its result (``Interactions.run``).

Why a type and not more ``meta`` keys: before it, each method wrote its own ``meta`` (``"algorithm"`` in
``spex``, ``"method"`` in the baselines; ``seconds`` a dict in one and a float in the other; ProxySPEX without
``cache_hits``), and nothing read :meth:`QueryRunner.stats`. :func:`run_info` is the one place that turns a
runner's counters, the budget, the key and the stage timings into a :class:`RunInfo`; ``spex``, ``proxyspex``,
every baseline and :func:`spexjax.explain` call it, so the same question ("how many rows were paid, how many
came from the cache, how many batches were retried, where did the time go") has one answer everywhere. The
methods still write their old ``meta`` keys (``evaluated``, ``cache_hits``, ``seconds``, ...), now read off
this record, so code that reads ``meta`` keeps working.

This module imports nothing of spexjax: :mod:`spexjax.interactions` reads it to save and load results.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["RUNNER_COUNTERS", "RunInfo", "key_label", "run_info"]

#: the counters of :meth:`spexjax.runs.QueryRunner.stats`, in its order.
RUNNER_COUNTERS: tuple[str, ...] = ("queries", "evaluated", "cache_hits", "calls", "retries", "nonfinite")


def key_label(key: Any) -> int | str:
    """``key`` as saved: an int seed as an int, anything else (a JAX key) as its ``str``."""
    if isinstance(key, bool):
        return str(key)
    try:
        return int(operator.index(key))
    except TypeError:
        return str(key)


@dataclass(frozen=True)
class RunInfo:
    """The cost of one run, filled by :func:`run_info` from the query runner's counters.

    Attributes:
      method: ``"spex"``, ``"proxyspex"``, a baseline's name, or ``"faithfulness"`` (the held-out check).
      budget: the most rows the method was allowed (``None``: no cap, e.g. ``spex(budget=None)``).
      queries: rows the run needed, cache hits included (what ``Interactions.queries`` reports).
      evaluated: rows the value function actually computed (``queries - cache_hits`` up to dropped rows).
      cache_hits: rows read from the ``cache=`` file.
      calls: value-function calls (batches).
      retries: batches re-run after their call raised.
      nonfinite: rows whose value was not finite (dropped or zeroed per ``on_nonfinite``).
      seconds: wall time by stage (``"total"`` always; e.g. ``"query"``, ``"peel"``, ``"proxy_fit"``).
      rounds: query rounds (1 for a fixed design; SPEX with ``target_r2``: one per design it decoded).
      key: the seed (an int) or the ``str`` of a JAX key.
      held_out: :func:`spexjax.explain`'s held-out faithfulness rows, paid through the same run options but
        not charged to ``budget``; ``None`` for a method's own result.
    """

    method: str
    budget: int | None
    queries: int
    evaluated: int = 0
    cache_hits: int = 0
    calls: int = 0
    retries: int = 0
    nonfinite: int = 0
    seconds: Mapping[str, float] = field(default_factory=dict)
    rounds: int = 1
    key: int | str = 0
    held_out: RunInfo | None = None

    def replace(self, **changes: Any) -> RunInfo:
        """A copy with some fields changed (the record itself is frozen)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return RunInfo(**values)

    @property
    def total_seconds(self) -> float:
        return float(self.seconds.get("total", 0.0))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (what :meth:`spexjax.Interactions.save` writes under ``"run"``)."""
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["seconds"] = {str(k): float(v) for k, v in self.seconds.items()}
        out["held_out"] = None if self.held_out is None else self.held_out.to_dict()
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> RunInfo:
        """Inverse of :meth:`to_dict`; unknown keys (from a newer spexjax) are ignored."""
        if not isinstance(doc, Mapping):
            raise TypeError(f"run must be a dict (RunInfo.to_dict()); got {type(doc).__name__}")
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in doc.items() if k in names}
        if "method" not in values or "queries" not in values:
            raise ValueError("run lacks 'method' or 'queries'")
        values["seconds"] = {str(k): float(v) for k, v in dict(values.get("seconds") or {}).items()}
        held = values.get("held_out")
        values["held_out"] = None if held is None else cls.from_dict(held)
        return cls(**values)


def run_info(
    method: str,
    stats: Mapping[str, int] | None,
    *,
    budget: Any,
    key: Any,
    seconds: Mapping[str, float],
    rounds: int = 1,
    held_out: RunInfo | None = None,
) -> RunInfo:
    """The one way a method fills its :class:`RunInfo`.

    Args:
      method: the method's name.
      stats: ``runner.stats()`` of the runner that paid the rows (``None``: the run paid no row, e.g.
        ``proxyspex(budget=0, samples=...)``).
      budget: the method's budget (``None`` for no cap).
      key: the user's key (saved as :func:`key_label` gives it).
      seconds: wall time by stage; must hold ``"total"``.
      rounds: query rounds.
      held_out: the held-out check's own record (:func:`spexjax.explain` only).
    """
    counts = {name: int((stats or {}).get(name, 0) or 0) for name in RUNNER_COUNTERS}
    return RunInfo(
        method=str(method),
        budget=None if budget is None else int(budget),
        seconds={str(k): float(v) for k, v in seconds.items()},
        rounds=int(rounds),
        key=key_label(key),
        held_out=held_out,
        **counts,
    )

