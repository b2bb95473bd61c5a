"""best_subset / optimize_mobius against brute force over every subset."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import spexjax
from spexjax.errors import SpexError
from spexjax.optimize import ApproximateOptimumWarning, optimize_mobius, subset_value
from spexjax.testing import random_sparse_fourier


def _all_values_mobius(n, supports, coeffs):
    """f at every mask, index = bit pattern (bit i = feature i kept), straight from the Möbius definition."""
    idx = np.arange(1 << n, dtype=np.int64)
    out = np.zeros(1 << n)
    for s, c in zip(supports, coeffs, strict=True):
        bits = sum(1 << int(i) for i in s)
        out += c * ((idx & bits) == bits)
    return idx, out


def _popcount(idx):
    return np.array([bin(int(v)).count("1") for v in idx])


def _check_against_brute(res, n, sizes=None):
    sup, coef = res.mobius()
    idx, vals = _all_values_mobius(n, sup, coef)
    pc = _popcount(idx)
    for size in sizes if sizes is not None else range(n + 1):
        sel = pc == size
        group_idx, group_vals = idx[sel], vals[sel]
        for maximize in (True, False):
            sub = res.best_subset(size, maximize=maximize)
            assert len(sub) == size and list(sub) == sorted(set(sub))
            bits = sum(1 << i for i in sub)
            got = vals[bits]
            best = group_vals.max() if maximize else group_vals.min()
            tol = 1e-9 * max(1.0, np.abs(vals).max())
            assert abs(got - best) <= tol, (size, maximize, got, best)
            # where the optimum is unique the subset itself must be the brute-force one
            order = np.sort(group_vals)[::-1] if maximize else np.sort(group_vals)
            if len(order) == 1 or abs(order[0] - order[1]) > tol:
                want = group_idx[np.argmax(group_vals) if maximize else np.argmin(group_vals)]
                assert bits == want
            # the predicted surrogate agrees with the Möbius brute force at that subset
            mask = np.zeros((1, n), bool)
            mask[0, list(sub)] = True
            assert res.predict(mask)[0] == pytest.approx(got, abs=1e-8)


@pytest.mark.parametrize("key", range(6))
def test_best_subset_equals_brute_force_small(key):
    rng = np.random.default_rng(key)
    n = int(rng.integers(3, 11))
    f = random_sparse_fourier(n, int(rng.integers(2, 3 * n)), 3, key=key)
    res = spexjax.Interactions(n, *zip(*zip(f.supports, f.coeffs, strict=True), strict=True))
    _check_against_brute(res, n)


@pytest.mark.parametrize("key", [0, 1])
def test_best_subset_equals_brute_force_n20_mobius(key):
    """n = 20, Möbius surrogates of order <= 3 with mixed signs (the linearisation's both sides), every size."""
    rng = np.random.default_rng(100 + key)
    n = 20
    sup = set()
    while len(sup) < 40:
        d = int(rng.integers(1, 4))
        sup.add(tuple(sorted(rng.choice(n, d, replace=False).tolist())))
    sup = sorted(sup)
    coef = rng.choice([-1.0, 1.0], len(sup)) * rng.uniform(0.1, 2.0, len(sup))
    res = spexjax.Interactions.from_mobius(n, sup, coef)
    _check_against_brute(res, n)


def test_orders_one_and_constant_and_fillers():
    # order <= 1 goes through sorting; features in no term are fillers
    res = spexjax.Interactions.from_mobius(6, [(), (1,), (4,), (2,)], [5.0, 2.0, -1.0, 0.5])
    assert res.best_subset(2) == (1, 2)
    assert res.best_subset(1, maximize=False) == (4,)
    assert res.best_subset(0) == ()
    assert res.best_subset(6) == (0, 1, 2, 3, 4, 5)
    # a pure pair interaction: keeping it needs both; minimising avoids it
    res = spexjax.Interactions.from_mobius(5, [(0, 3), (1,)], [3.0, 1.0])
    assert res.best_subset(2) == (0, 3)
    assert set(res.best_subset(3)) == {0, 1, 3}
    sub = res.best_subset(2, maximize=False)
    assert 1 not in sub and not {0, 3} <= set(sub)


def test_optimum_details_and_value():
    sup, coef = [(0, 1, 2), (2, 3), (1,)], [2.0, -1.0, 0.25]
    opt = optimize_mobius(5, sup, coef, 3)
    assert opt.exact and opt.gap == 0.0 and opt.method == "milp"
    assert opt.subset == (0, 1, 2)
    assert opt.value == pytest.approx(2.25) == pytest.approx(subset_value(5, sup, coef, opt.subset))


@pytest.mark.parametrize("bad", [-1, 7])
def test_size_out_of_range(bad):
    res = spexjax.Interactions.from_mobius(6, [(0, 1)], [1.0])
    with pytest.raises(SpexError, match=r"size must be in \[0, n=6\]"):
        res.best_subset(bad)


@pytest.mark.parametrize("bad", [2.0, True, "3", None])
def test_size_wrong_type(bad):
    res = spexjax.Interactions.from_mobius(6, [(0, 1)], [1.0])
    with pytest.raises(TypeError, match="size must be an int"):
        res.best_subset(bad)


def test_time_limit_fallback_warns_and_is_feasible():
    """A hard instance with a tiny time limit: best found, flagged; the subset still has the right size."""
    rng = np.random.default_rng(7)
    n = 90
    sup = {tuple(sorted(rng.choice(n, int(rng.integers(2, 4)), replace=False).tolist())) for _ in range(2500)}
    sup = sorted(sup)
    coef = rng.normal(size=len(sup))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        opt = optimize_mobius(n, sup, coef, 45, time_limit=0.05)
    assert len(opt.subset) == 45
    assert opt.value == pytest.approx(subset_value(n, sup, coef, opt.subset))
    if opt.exact:  # solved within the limit after all: nothing to flag
        assert not [w for w in caught if issubclass(w.category, ApproximateOptimumWarning)]
    else:
        assert any(issubclass(w.category, ApproximateOptimumWarning) for w in caught)
        assert "time_limit" in opt.method


def test_time_limit_validated():
    with pytest.raises(SpexError, match="time_limit"):
        optimize_mobius(4, [(0, 1)], [1.0], 2, time_limit=0)
