"""Budget -> design: matches the reference's (b, t) choice and never wastes the budget."""

import math

import pytest

from spexjax.errors import BudgetError
from spexjax.plans import bch_dimensions, cyclotomic_parity_length, make_plan, minimum_budget


def _parity_length_bruteforce(m: int, t: int) -> int:
    """GF(2)-rank of the binary syndrome matrix rows alpha^(i*pos), i = 1, 3, ..., 2t-1."""
    N = (1 << m) - 1
    # build GF(2^m) with a known primitive polynomial
    prim = {3: 0b1011, 4: 0b10011, 5: 0b100101, 6: 0b1000011, 7: 0b10001001, 8: 0b100011101}[m]
    exp = [1]
    for _ in range(N - 1):
        v = exp[-1] << 1
        if v >> m:
            v ^= prim
        exp.append(v)
    rows = []
    for i in range(1, 2 * t, 2):
        for bit in range(m):
            rows.append(sum(((exp[(i * pos) % N] >> bit) & 1) << pos for pos in range(N)))
    rank = 0
    rows = [r for r in rows if r]
    while rows:
        pivot = max(rows)
        top = pivot.bit_length() - 1
        rank += 1
        rows = [r ^ pivot if (r >> top) & 1 else r for r in rows if r != pivot]
        rows = [r for r in rows if r]
    return rank


@pytest.mark.parametrize("m,t", [(4, 1), (4, 2), (5, 2), (6, 3), (7, 3), (8, 5)])
def test_parity_length_is_the_syndrome_rank(m, t):
    assert cyclotomic_parity_length(m, t) == _parity_length_bruteforce(m, t)


def test_known_reference_dimensions():
    # nc - kc of the reference's BCH.parameter_search (sparse_transform 0.2.1 + galois, run 2026-11-24)
    assert bch_dimensions(128, 5) == (8, 40)
    assert bch_dimensions(512, 5) == (10, 50)
    assert bch_dimensions(1024, 5) == (11, 55)
    assert bch_dimensions(2048, 3) == (12, 36)
    assert bch_dimensions(8192, 5) == (14, 70)
    # beyond the reference's limit (it refuses m >= 20): P = m * t when all cosets are full
    assert bch_dimensions(10**6, 5) == (20, 100)
    assert bch_dimensions(10**7, 4) == (24, 96)


def test_plan_uses_the_budget():
    plan = make_plan(512, 10_000, 5)
    # reference: largest b with 3 groups: 3 * 51 * 2^b <= 10000 -> b = 6
    assert plan.b == 6 and plan.P == 50
    assert plan.groups >= 3
    assert plan.queries == 10_000
    assert plan.structured_queries == plan.groups * 51 * 64
    assert plan.extra < 51 * 64  # what is left cannot pay for another group


def test_plan_same_design_as_reference_when_budget_is_exact():
    n, t = 1024, 5
    _, P = bch_dimensions(n, t)
    budget = 3 * (P + 1) * 2**7
    plan = make_plan(n, budget, t)
    assert (plan.b, plan.groups, plan.extra) == (7, 3, 0)


def test_budget_too_small_names_minimum():
    need = minimum_budget(128, 5)
    with pytest.raises(BudgetError, match=str(need)):
        make_plan(128, need - 1, 5)
    assert make_plan(128, need, 5).b == 3


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_bad_degree(bad):
    with pytest.raises((ValueError, TypeError)):
        make_plan(128, 10_000, bad)


def test_default_budget_none():
    plan = make_plan(100, None, 3)
    assert plan.b == 8 and plan.groups == 3 and plan.extra == 0
    assert plan.queries == 3 * (plan.P + 1) * 256
    assert math.log2(plan.rows_per_group // (plan.P + 1)) == 8
