"""The exact maximiser of a recovered surrogate under a size constraint (pruning: which ``k`` units to keep).

A surrogate in Möbius form is a polynomial in binary variables, ``f(x) = sum_T a(T) prod_{i in T} x_i``. Choosing
the ``k`` kept features that maximise (or minimise) it is a cardinality-constrained pseudo-Boolean program; we
solve it exactly as a mixed-integer linear program with HiGHS (``scipy.optimize.milp``):

- one binary ``x_i`` per feature that occurs in a term, ``sum_i x_i = k`` (features in no term are filler);
- one continuous ``y_T in [0, 1]`` per term of order >= 2 standing for ``prod_{i in T} x_i``; only the side the
  objective pushes against is constrained (sign-aware linearisation): a term the objective wants large gets
  ``y_T <= x_i`` for every ``i in T``, a term it wants small gets ``y_T >= sum_{i in T} x_i - (|T| - 1)``;
  with binary ``x`` the optimum then sets ``y_T`` to the product exactly;
- order-1 terms act on ``x_i`` directly; the constant term is added back.

The objective is scaled to ``max |a(T)| = 1`` and solved with a zero relative gap, then the solution is checked
by exact evaluation and polished by 1-swaps (a no-op when HiGHS proved optimality, a guard against its 1e-6
absolute tolerances). Surrogates of order <= 1 are solved by sorting.

Fallback beyond what is exact: with ``time_limit`` (seconds) reached, HiGHS's best feasible point (or a greedy
start when it has none) is polished by 1-swaps and returned with an :class:`ApproximateOptimumWarning` that
states the remaining optimality gap; ``SubsetOptimum.exact`` is then ``False``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from spexjax._checks import check_finite, is_int
from spexjax.errors import ArgumentError, ArgumentTypeError, SpexError

__all__ = [
    "ApproximateOptimumWarning",
    "SubsetOptimum",
    "best_subset",
    "optimize_mobius",
    "subset_value",
]

Support = tuple[int, ...]


class ApproximateOptimumWarning(UserWarning):
    """The optimiser stopped at its time limit: the subset returned is the best found, not proven optimal."""


@dataclass(frozen=True)
class SubsetOptimum:
    """What :func:`optimize_mobius` found.

    Attributes:
      subset: the kept features, a sorted tuple of ``size`` indices.
      value: the surrogate at that subset (all other features ablated), evaluated exactly.
      exact: ``True`` when optimality was proven (HiGHS status optimal, or the sorting path).
      gap: HiGHS's relative gap between the value found and its bound (0 when exact).
      method: ``"sort"``, ``"milp"`` or ``"milp+time_limit"`` / ``"greedy+time_limit"``.
    """

    subset: tuple[int, ...]
    value: float
    exact: bool
    gap: float
    method: str


def _check_size(size: Any, n: int) -> int:
    if not is_int(size):
        raise ArgumentTypeError(f"size must be an int in [0, n={n}]; got {type(size).__name__} {size!r}")
    size = int(size)
    if not 0 <= size <= n:
        raise ArgumentError(f"size must be in [0, n={n}] (how many features to keep); got {size}")
    return size


def _clean_terms(n: int, supports: Sequence[Sequence[int]], coeffs: Any) -> tuple[float, dict[Support, float]]:
    """Merge duplicate supports; split off the constant; drop exact zeros."""
    coef = np.asarray(coeffs, dtype=np.float64).reshape(-1)
    if len(supports) != coef.shape[0]:
        raise SpexError(f"supports and coeffs must have the same length; got {len(supports)} and {coef.shape[0]}")
    check_finite("coeffs", coef)
    const = 0.0
    terms: dict[Support, float] = {}
    for s, c in zip(supports, coef, strict=True):
        t = tuple(sorted({int(i) for i in s}))
        if t and (t[0] < 0 or t[-1] >= n):
            raise SpexError(f"supports: {t} has a feature outside [0, {n})")
        if not t:
            const += float(c)
        else:
            terms[t] = terms.get(t, 0.0) + float(c)
    return const, {t: c for t, c in terms.items() if c != 0.0}


def subset_value(n: int, supports: Sequence[Sequence[int]], coeffs: Any, subset: Sequence[int]) -> float:
    """``f(x)`` of a Möbius expansion at the mask keeping exactly ``subset``: the sum of ``a(T)``, ``T ⊆ subset``."""
    kept = {int(i) for i in subset}
    total = 0.0
    for s, c in zip(supports, np.asarray(coeffs, dtype=np.float64).reshape(-1), strict=True):
        if all(int(i) in kept for i in s):
            total += float(c)
    return total


class _Evaluator:
    """Exact values of many subsets at once (for the check and the 1-swap polish), non-constant terms only."""

    def __init__(self, n: int, terms: dict[Support, float]):
        self.n = n
        self.coef = np.fromiter(terms.values(), dtype=np.float64, count=len(terms))
        d = max((len(t) for t in terms), default=1)
        # padding points at column n, which is always "kept"
        self.padded = np.full((len(terms), d), n, dtype=np.int64)
        for j, t in enumerate(terms):
            self.padded[j, : len(t)] = t
        self.active = sorted({i for t in terms for i in t})

    def values(self, kept: np.ndarray) -> np.ndarray:
        kept = np.atleast_2d(kept)
        ext = np.concatenate([kept, np.ones((kept.shape[0], 1), bool)], axis=1)
        return ext[:, self.padded].all(axis=-1).astype(np.float64) @ self.coef

    def value(self, kept: np.ndarray) -> float:
        return float(self.values(kept)[0]) if self.coef.size else 0.0

    def polish(self, kept: np.ndarray, sign: float, max_rounds: int = 10_000) -> np.ndarray:
        """Best-improvement 1-swaps (drop one kept, add one ablated) until none improves ``sign * f``."""
        kept = kept.copy()
        if not self.coef.size:
            return kept
        active = set(self.active)
        for _ in range(max_rounds):
            # every feature outside all terms is interchangeable: one representative of each side suffices
            ins = [i for i in self.active if kept[i]] + [i for i in range(self.n) if kept[i] and i not in active][:1]
            outs = [i for i in self.active if not kept[i]]
            outs += [i for i in range(self.n) if not kept[i] and i not in active][:1]
            if not ins or not outs:
                return kept
            pairs = np.array([(i, o) for i in ins for o in outs])
            cand = np.repeat(kept[None, :], len(pairs), axis=0)
            cand[np.arange(len(pairs)), pairs[:, 0]] = False
            cand[np.arange(len(pairs)), pairs[:, 1]] = True
            vals = sign * self.values(cand)
            base = sign * self.value(kept)
            j = int(np.argmax(vals))
            if not vals[j] > base + 1e-12 * max(1.0, abs(base)):
                return kept
            kept = cand[j]
        return kept


def _fill(kept: np.ndarray, size: int, order: Sequence[int]) -> np.ndarray:
    """Top up (or trim) ``kept`` to ``size`` features, taking fillers in ``order``."""
    kept = kept.copy()
    need = size - int(kept.sum())
    for i in order:
        if need == 0:
            break
        if need > 0 and not kept[i]:
            kept[i], need = True, need - 1
        elif need < 0 and kept[i]:
            kept[i], need = False, need + 1
    return kept


def optimize_mobius(
    n: int,
    supports: Sequence[Sequence[int]],
    coeffs: Any,
    size: int,
    *,
    maximize: bool = True,
    time_limit: float | None = None,
) -> SubsetOptimum:
    """The ``size`` kept features that maximise (or minimise) ``f(x) = sum_T a(T) prod_{i in T} x_i``.

    Exact (see the module docstring) unless ``time_limit`` seconds run out, in which case the best subset
    found is returned with an :class:`ApproximateOptimumWarning`. Ties are broken towards the solver's
    choice; the returned ``value`` is always the exact surrogate value of the returned subset.
    """
    n = int(n)
    if n < 1:
        raise SpexError(f"n must be >= 1; got {n}")
    size = _check_size(size, n)
    if time_limit is not None and not (isinstance(time_limit, int | float) and time_limit > 0):
        raise SpexError(f"time_limit must be a positive number of seconds or None; got {time_limit!r}")
    const, terms = _clean_terms(n, supports, coeffs)
    sign = 1.0 if maximize else -1.0
    ev = _Evaluator(n, terms)
    active = ev.active

    def done(kept: np.ndarray, exact: bool, gap: float, method: str) -> SubsetOptimum:
        subset = tuple(int(i) for i in np.flatnonzero(kept))
        return SubsetOptimum(subset, const + ev.value(kept), exact, gap, method)

    # order <= 1 (or nothing to choose): sorting is exact
    if size in (0, n) or all(len(t) == 1 for t in terms):
        lin = np.zeros(n)
        for t, c in terms.items():
            lin[t[0]] += c
        order = np.argsort(-sign * lin, kind="stable")
        kept = np.zeros(n, bool)
        kept[order[:size]] = True
        return done(kept, True, 0.0, "sort")

    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix

    # variables: x for the active features, then y for terms of order >= 2
    pos = {f: j for j, f in enumerate(active)}
    p = len(active)
    higher = [(t, c) for t, c in terms.items() if len(t) >= 2]
    nv = p + len(higher)
    scale = max(abs(c) for c in terms.values())
    obj = np.zeros(nv)  # milp minimises: obj = -sign * a / scale
    for t, c in terms.items():
        if len(t) == 1:
            obj[pos[t[0]]] -= sign * c / scale
    rows, cols, vals, lo, hi = [], [], [], [], []
    r = 0
    for j, (t, c) in enumerate(higher):
        y = p + j
        obj[y] = -sign * c / scale
        if sign * c > 0:  # the objective wants y large: y <= x_i for every i in T
            for i in t:
                rows += [r, r]
                cols += [y, pos[i]]
                vals += [1.0, -1.0]
                lo.append(-np.inf)
                hi.append(0.0)
                r += 1
        else:  # the objective wants y small: y >= sum x_i - (|T| - 1)
            rows.append(r)
            cols.append(y)
            vals.append(1.0)
            for i in t:
                rows.append(r)
                cols.append(pos[i])
                vals.append(-1.0)
            lo.append(-(len(t) - 1.0))
            hi.append(np.inf)
            r += 1
    # cardinality: the active features kept may be fewer than ``size`` when inactive fillers exist
    n_filler = n - p
    rows += [r] * p
    cols += list(range(p))
    vals += [1.0] * p
    lo.append(float(max(0, size - n_filler)))
    hi.append(float(min(size, p)))
    r += 1
    A = coo_matrix((vals, (rows, cols)), shape=(r, nv)).tocsr()
    integrality = np.concatenate([np.ones(p), np.zeros(len(higher))])
    options: dict[str, Any] = {"mip_rel_gap": 0.0, "presolve": True}
    if time_limit is not None:
        options["time_limit"] = float(time_limit)
    res = milp(
        obj,
        integrality=integrality,
        bounds=Bounds(np.zeros(nv), np.ones(nv)),
        constraints=LinearConstraint(A, np.asarray(lo), np.asarray(hi)),
        options=options,
    )
    filler_order = [i for i in range(n) if i not in pos]
    if res.x is not None:
        kept = np.zeros(n, bool)
        kept[np.asarray(active)[np.asarray(res.x[:p]) > 0.5]] = True
        kept = _fill(kept, size, filler_order + active)
        method = "milp"
    else:  # no feasible point within the limit: greedy start
        kept = np.zeros(n, bool)
        for _ in range(size):
            cand = [i for i in range(n) if not kept[i]]
            gains = []
            for i in cand:
                kept[i] = True
                gains.append(sign * ev.value(kept))
                kept[i] = False
            kept[cand[int(np.argmax(gains))]] = True
        method = "greedy"
    kept = ev.polish(kept, sign)
    if res.status == 0:
        return done(kept, True, 0.0, method)
    gap = float(getattr(res, "mip_gap", math.nan) or math.nan) if res.x is not None else math.nan
    warnings.warn(
        f"best_subset: HiGHS stopped ({res.message.strip()}) before proving optimality; returning the best subset "
        f"found (relative gap {gap:.3g}), polished by 1-swaps. Raise time_limit for an exact answer.",
        ApproximateOptimumWarning,
        stacklevel=3,
    )
    return done(kept, False, gap, method + "+time_limit")


def best_subset(result: Any, size: int, *, maximize: bool = True, time_limit: float | None = None) -> SubsetOptimum:
    """:func:`optimize_mobius` on the Möbius expansion of an :class:`~spexjax.Interactions` result."""
    supports, coeffs = result.mobius()
    return optimize_mobius(result.n, supports, coeffs, size, maximize=maximize, time_limit=time_limit)
