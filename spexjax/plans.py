"""One place that turns a query budget into a SPEX design (b, t, C, P).

Cost of a design: ``C * (P + 1) * 2**b`` value-function rows, where ``C`` hash groups of ``2**b`` bins
are each queried under ``P + 1`` delays (the zero delay plus the ``P`` parity rows of a shortened binary
BCH code with designed distance ``2t + 1``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from spexjax._checks import check_budget, check_max_degree
from spexjax.errors import BudgetError
from spexjax.kernels.bch import parity_length

MIN_B = 3  # like the reference: fewer than 8 bins per group peels nothing useful
DEFAULT_GROUPS = 3


def cyclotomic_parity_length(m: int, t: int) -> int:
    """``deg g`` of the narrow-sense binary BCH code of length ``2^m - 1`` and designed distance ``2t+1``
    (defined once, in :func:`spexjax.kernels.bch.parity_length`)."""
    return parity_length(m, t)


def bch_dimensions(n: int, t: int) -> tuple[int, int]:
    """Smallest ``m`` whose BCH code (distance ``2t+1``) carries ``n`` message bits, and its ``P``.

    Same search as the reference (`sparse_transform`'s ``BCH.parameter_search``) so that designs match,
    but with no upper limit on ``m`` (the reference refuses past n ~ 10^6).
    """
    m = max(2, math.ceil(math.log2(2 * t + 2)))
    while True:
        P = cyclotomic_parity_length(m, t)
        if (1 << m) - 1 - P >= n:
            return m, P
        m += 1


@dataclass(frozen=True)
class SpexPlan:
    """A SPEX design. ``groups`` are the hash groups, ``extra`` the leftover rows spent on random masks."""

    n: int
    t: int
    b: int
    groups: int
    m: int
    P: int
    budget: int | None

    @property
    def rows_per_group(self) -> int:
        return (self.P + 1) << self.b

    @property
    def structured_queries(self) -> int:
        return self.groups * self.rows_per_group

    @property
    def extra(self) -> int:
        """Leftover budget, spent on uniform random masks (refit and held-out faithfulness)."""
        return 0 if self.budget is None else self.budget - self.structured_queries

    @property
    def queries(self) -> int:
        return self.structured_queries + self.extra

    def as_dict(self) -> dict:
        return {**asdict(self), "queries": self.queries, "extra": self.extra}


def minimum_budget(n: int, max_degree: int, groups: int = DEFAULT_GROUPS) -> int:
    """The smallest budget that pays for ``groups`` groups of ``2**MIN_B`` bins at this degree."""
    _, P = bch_dimensions(n, max_degree)
    return groups * (P + 1) << MIN_B


def make_plan(
    n: int,
    budget: int | None,
    max_degree: int,
    *,
    b: int | None = None,
    groups: int | None = None,
    default_b: int = 8,
) -> SpexPlan:
    """Choose ``(b, C)`` for a budget.

    Like the reference, ``b`` is the largest that affords ``DEFAULT_GROUPS`` groups; unlike it, the rest of
    the budget is not thrown away: as many whole groups as fit are used (more groups make peeling more
    robust) and the remainder becomes random masks for the refit. ``budget=None`` means ``b=default_b``
    with 3 groups. ``b``/``groups`` may be forced.
    """
    t = check_max_degree(max_degree)
    m, P = bch_dimensions(n, t)
    per_bin_row = P + 1
    if budget is not None:
        budget = check_budget(budget, minimum=None)  # the type; the minimum below names the design
        g0 = DEFAULT_GROUPS if groups is None else int(groups)
        if g0 < 1:
            raise ValueError(f"groups must be >= 1; got {g0}")
        minimum = g0 * per_bin_row << MIN_B
        if b is not None:
            minimum = g0 * per_bin_row << int(b)
        if budget < minimum:
            raise BudgetError(
                f"budget={budget} is too small for max_degree={t} at n={n}: SPEX needs at least {minimum} "
                f"queries ({g0} groups x {per_bin_row} delays x {2 ** (MIN_B if b is None else int(b))} bins); "
                "raise the budget or lower max_degree"
            )
        if b is None:
            b = int(math.floor(math.log2(budget / (g0 * per_bin_row))))
            b = max(MIN_B, min(b, 30))
        C = g0 if groups is not None else max(g0, budget // (per_bin_row << b))
        return SpexPlan(n=n, t=t, b=int(b), groups=int(C), m=m, P=P, budget=budget)
    b = default_b if b is None else int(b)
    C = DEFAULT_GROUPS if groups is None else int(groups)
    return SpexPlan(n=n, t=t, b=b, groups=C, m=m, P=P, budget=None)
