"""Index conversions against brute force from the full game table (no shapiq needed).

The brute-force side uses the textbook definitions (discrete derivatives, weighted least squares), never
the Möbius weight tables, so it checks the tables as well as the vectorised closure-and-aggregate.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spexjax.indices import (
    INDICES,
    fourier_to_index,
    fourier_to_mobius,
    mobius_to_fourier,
    mobius_to_index,
    weight_table,
)

ATOL = 1e-10


# -- brute force -----------------------------------------------------------------------------------


def _subsets(items, max_size=None):
    items = tuple(items)
    top = len(items) if max_size is None else min(max_size, len(items))
    for r in range(top + 1):
        yield from itertools.combinations(items, r)


def game_table(n: int, mobius: dict) -> np.ndarray:
    """``v[mask]`` for every coalition bitmask."""
    v = np.zeros(1 << n)
    for mask in range(1 << n):
        v[mask] = sum(c for s, c in mobius.items() if all(mask >> i & 1 for i in s))
    return v


def _bits(s) -> int:
    return sum(1 << i for i in s)


def derivative(v: np.ndarray, S, T_mask: int) -> float:
    """Discrete derivative ``Delta_S v(T) = sum_{L subset S} (-1)^{|S|-|L|} v(T u L)``."""
    return sum((-1) ** (len(S) - len(L)) * v[T_mask | _bits(L)] for L in _subsets(S))


def _rest_masks(n, S):
    rest = [i for i in range(n) if i not in S]
    for T in _subsets(rest):
        yield len(T), _bits(T)


def brute_sii(v, n, S):
    s = len(S)
    return sum(
        math.factorial(n - t - s) * math.factorial(t) / math.factorial(n - s + 1) * derivative(v, S, m)
        for t, m in _rest_masks(n, S)
    )


def brute_bii(v, n, S):
    return sum(derivative(v, S, m) for _, m in _rest_masks(n, S)) / 2 ** (n - len(S))


def _bernoulli(m):
    b = [1.0]
    for j in range(1, m + 1):
        b.append(-sum(math.comb(j + 1, i) * b[i] for i in range(j)) / (j + 1))
    return b


def _lstsq_design(n, k):
    sets = list(_subsets(range(n), k))
    A = np.array([[all(m >> i & 1 for i in S) for S in sets] for m in range(1 << n)], dtype=np.float64)
    return sets, A


def brute_fsii(v, n, k):
    """Shapley-kernel weighted least squares with exact constraints beta_() = v(empty), sum = v(N)."""
    sets, A = _lstsq_design(n, k)
    sizes = np.array([bin(m).count("1") for m in range(1 << n)])
    inner = (sizes > 0) & (sizes < n)
    w = np.zeros(1 << n)
    w[inner] = (n - 1) / (np.array([math.comb(n, t) for t in sizes[inner]]) * sizes[inner] * (n - sizes[inner]))
    C = np.stack([A[0], A[-1]])  # prediction at the empty and the full coalition
    d = np.array([v[0], v[-1]])
    K = np.block([[2 * A.T @ (w[:, None] * A), C.T], [C, np.zeros((2, 2))]])
    rhs = np.concatenate([2 * A.T @ (w * v), d])
    beta = np.linalg.lstsq(K, rhs, rcond=None)[0][: len(sets)]
    return dict(zip(sets, beta, strict=True))


def brute_fbii(v, n, k):
    """Unweighted (Banzhaf) least squares over all coalitions with a free intercept."""
    sets, A = _lstsq_design(n, k)
    beta = np.linalg.lstsq(A, v, rcond=None)[0]
    return dict(zip(sets, beta, strict=True))


def brute_index(v: np.ndarray, n: int, index: str, k: int) -> dict:
    """Every interaction of size <= k (or 1 for SV/BV), shapiq ``ExactComputer`` empty-set conventions."""
    if index in ("SV", "BV"):
        k = 1
    sets = list(_subsets(range(n), k))
    if index == "Moebius":
        return {S: derivative(v, S, 0) for S in sets}
    if index == "Fourier":
        signs = np.array([[(-1) ** sum(m >> i & 1 for i in S) for m in range(1 << n)] for S in sets])
        return dict(zip(sets, signs @ v / 2**n, strict=True))
    if index in ("SII", "SV"):
        out = {S: brute_sii(v, n, S) for S in sets}
        if k == 1:
            out[()] = v[0]
        return out
    if index in ("BII", "BV"):
        return {S: brute_bii(v, n, S) for S in sets}
    if index == "k-SII":
        sii = {S: brute_sii(v, n, S) for S in sets}
        b = _bernoulli(k)
        out = {(): v[0]}
        for S in sets[1:]:
            out[S] = sum(b[len(U) - len(S)] * sii[U] for U in sets if set(S) <= set(U))
        return out
    if index == "STII":
        out = {S: derivative(v, S, 0) for S in sets if len(S) < k}
        for S in sets:
            if len(S) == k:
                out[S] = k / n * sum(derivative(v, S, m) / math.comb(n - 1, t) for t, m in _rest_masks(n, S))
        return out
    if index == "FSII":
        return brute_fsii(v, n, k)
    if index == "FBII":
        return brute_fbii(v, n, k)
    raise AssertionError(index)


def random_mobius(rng, n, terms, max_degree=None):
    max_degree = n if max_degree is None else max_degree
    out = {(): float(rng.normal())}
    while len(out) < terms + 1:
        d = int(rng.integers(1, max_degree + 1))
        out[tuple(sorted(rng.choice(n, size=d, replace=False).tolist()))] = float(rng.normal())
    return out


def assert_same(mine: dict, ref: dict, atol: float = ATOL) -> None:
    keys = set(mine) | set(ref)
    bad = {k: (mine.get(k, 0.0), ref.get(k, 0.0)) for k in keys if abs(mine.get(k, 0.0) - ref.get(k, 0.0)) > atol}
    assert not bad, f"{len(bad)} mismatches, e.g. {list(bad.items())[:3]}"


# -- exactness ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def game7():
    rng = np.random.default_rng(7)
    n = 7
    mob = random_mobius(rng, n, 14)
    v = game_table(n, mob)
    fs, fc = mobius_to_fourier(list(mob), np.array(list(mob.values())))
    return n, mob, v, (fs, fc)


@pytest.mark.parametrize("index", INDICES)
def test_every_index_every_order_matches_brute_force(game7, index):
    n, mob, v, (fs, fc) = game7
    orders = range(0 if index in ("Moebius", "Fourier") else 1, n + 1)
    for k in orders:
        if index in ("SV", "BV") and k > 1:
            continue
        ref = brute_index(v, n, index, k)
        from_m = dict(zip(*mobius_to_index(list(mob), list(mob.values()), index, k), strict=True))
        from_f = dict(zip(*fourier_to_index(fs, fc, index, k), strict=True))
        assert_same(from_m, ref)
        assert_same(from_f, ref)
        assert () in from_m and () in from_f


def test_dense_transforms_roundtrip():
    rng = np.random.default_rng(0)
    n = 6
    v = rng.normal(size=1 << n)
    mob = {S: derivative(v, S, 0) for S in _subsets(range(n))}
    fs, fc = mobius_to_fourier(list(mob), list(mob.values()))
    assert_same(dict(zip(fs, fc, strict=True)), brute_index(v, n, "Fourier", n))
    ms, mc = fourier_to_mobius(fs, fc)
    assert_same(dict(zip(ms, mc, strict=True)), mob)


def test_order_none_equals_mobius_for_efficient_indices(game7):
    n, mob, _, (fs, fc) = game7
    ref = dict(zip(*fourier_to_mobius(fs, fc), strict=True))
    for index in ("k-SII", "STII", "FSII", "FBII"):
        assert_same(dict(zip(*fourier_to_index(fs, fc, index), strict=True)), ref)


def test_min_order_is_a_filter_and_outputs_are_sorted(game7):
    _, mob, _, _ = game7
    full = dict(zip(*mobius_to_index(list(mob), list(mob.values()), "STII", 3), strict=True))
    top_sup, top_val = mobius_to_index(list(mob), list(mob.values()), "STII", 3, min_order=3)
    assert all(len(s) == 3 for s in top_sup)
    assert_same(dict(zip(top_sup, top_val, strict=True)), {s: v for s, v in full.items() if len(s) == 3})
    assert top_sup == sorted(top_sup)


# -- scale: the vectorised path at large n (multi-word keys) -------------------------------------------


def _reference_dict_convert(supports, coeffs, index, order, source):
    """Pair-loop reference using the same tables (checks closure/aggregation, not the weights)."""
    dmax = max(len(s) for s in supports)
    table = weight_table(index, order, dmax, source)
    out: dict = {}
    for T, c in zip(supports, coeffs, strict=True):
        for S in _subsets(T, table.shape[0] - 1):
            w = table[len(S), len(T)]
            if w:
                out[S] = out.get(S, 0.0) + w * c
    return out


@pytest.mark.parametrize("n", [10_000, 1_000_000, 2**40])
def test_large_feature_ids(n):
    rng = np.random.default_rng(n % 1000)
    sup = [tuple(sorted(rng.choice(min(n, 2**62), size=d, replace=False).tolist())) for d in rng.integers(1, 6, 300)]
    # shared sub-supports so aggregation actually merges rows
    sup += [s[:2] for s in sup[:50] if len(s) >= 2]
    sup = list(dict.fromkeys(sup))
    coef = rng.normal(size=len(sup))
    for index, order in [("Moebius", 5), ("k-SII", 3), ("FSII", 2), ("SV", 1)]:
        mine = dict(zip(*fourier_to_index(sup, coef, index, order), strict=True))
        ref = _reference_dict_convert(sup, coef, index, order, "Fourier")
        ref.setdefault((), 0.0)
        assert_same(mine, ref, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), k=st.integers(1, 4))
def test_efficiency_at_scale(seed, k):
    """k-SII, STII, FSII and SV distribute v(N) - v(empty) exactly (efficiency), at n = 10^5."""
    rng = np.random.default_rng(seed)
    n = 100_000
    sup = list({tuple(sorted(rng.choice(n, size=int(d), replace=False).tolist())) for d in rng.integers(1, 7, 40)})
    coef = rng.normal(size=len(sup))
    ms, mc = fourier_to_mobius(sup, coef)
    v_full, v_empty = float(mc.sum()), float(dict(zip(ms, mc, strict=True)).get((), 0.0))
    for index in ("k-SII", "STII", "FSII", "SV"):
        s, vals = fourier_to_index(sup, coef, index, k)
        d = dict(zip(s, vals, strict=True))
        assert d[()] == pytest.approx(v_empty, abs=1e-9)
        assert sum(v for key, v in d.items() if key) == pytest.approx(v_full - v_empty, abs=1e-8)
        assert max(len(key) for key in d) <= (1 if index == "SV" else k)


def test_speed_5000_terms_degree_5():
    from spexjax.testing import random_sparse_fourier

    f = random_sparse_fourier(10_000, 5000, 5, key=0)
    for index in ("Moebius", "SII", "k-SII", "FSII"):
        t0 = time.perf_counter()
        fourier_to_index(f.supports, f.coeffs, index, 5)
        assert time.perf_counter() - t0 < 5.0  # ~0.06 s measured; loose for shared CI cores


# -- errors ---------------------------------------------------------------------------------------------


def test_errors_name_the_argument():
    sup, coef = [(0,), (1, 2)], [1.0, 2.0]
    with pytest.raises(ValueError, match=r"index must be one of .*'k-SII'"):
        fourier_to_index(sup, coef, "kSIIX", 2)
    with pytest.raises(TypeError, match="index"):
        fourier_to_index(sup, coef, 3, 2)
    with pytest.raises(ValueError, match="order must be >= 0"):
        fourier_to_index(sup, coef, "SII", -1)
    with pytest.raises(ValueError, match="order must be >= 1"):
        fourier_to_index(sup, coef, "STII", 0)
    with pytest.raises(TypeError, match="order"):
        fourier_to_index(sup, coef, "SII", 2.0)
    with pytest.raises(ValueError, match="same length"):
        fourier_to_index(sup, [1.0], "SII", 2)
    with pytest.raises(ValueError, match="repeats"):
        fourier_to_index([(1, 1)], [1.0], "SII", 2)
    with pytest.raises(ValueError, match="non-negative"):
        fourier_to_index([(-3,)], [1.0], "SII", 2)


def test_aliases_and_empty_input():
    s, v = fourier_to_index([], [], "Mobius", 2)
    assert s == [()] and v.tolist() == [0.0]
    s, v = fourier_to_index([()], [2.5], "SII", 2)
    assert s == [()] and v.tolist() == [2.5]
