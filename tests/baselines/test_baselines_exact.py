"""With every coalition paid for, the baselines equal the exact indices, computed here by brute force."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from spexjax import baselines
from spexjax.indices import mobius_to_index

N = 5


def truth_table(f, n):
    rows = np.arange(1 << n)
    masks = ((rows[:, None] >> np.arange(n)) & 1).astype(bool)
    return masks, np.asarray(f(masks), dtype=np.float64)


def value_at(y, subset):
    return y[sum(1 << i for i in subset)]


def brute_mobius(y, n):
    """a(S) = sum_{T subset S} (-1)^{|S|-|T|} f(T), literally."""
    out = {}
    for k in range(n + 1):
        for S in itertools.combinations(range(n), k):
            out[S] = sum(
                (-1) ** (k - j) * value_at(y, T) for j in range(k + 1) for T in itertools.combinations(S, j)
            )
    return out


def brute_shapley(y, n):
    phi = np.zeros(n)
    for i in range(n):
        rest = [j for j in range(n) if j != i]
        for k in range(n):
            w = math.factorial(k) * math.factorial(n - k - 1) / math.factorial(n)
            for S in itertools.combinations(rest, k):
                phi[i] += w * (value_at(y, (*S, i)) - value_at(y, S))
    return phi


def brute_banzhaf(y, n):
    bv = np.zeros(n)
    for i in range(n):
        rest = [j for j in range(n) if j != i]
        for k in range(n):
            for S in itertools.combinations(rest, k):
                bv[i] += value_at(y, (*S, i)) - value_at(y, S)
    return bv / 2 ** (n - 1)


def brute_faith(y, n, order, kind):
    """Tsai et al.'s definition, solved directly: the (weighted) least-squares order-k polynomial over all
    2^n coalitions; Faith-Shap's empty/full rows as equality constraints (KKT system)."""
    masks, _ = truth_table(lambda m: np.zeros(len(m)), n)
    sups = [S for k in range(order + 1) for S in itertools.combinations(range(n), k)]
    X = np.array([[float(all(row[list(S)])) for S in sups] for row in masks])
    if kind == "banzhaf":
        beta = np.linalg.lstsq(X, y, rcond=None)[0]
        return dict(zip(sups, beta, strict=True))
    s = masks.sum(1)
    inner = (s > 0) & (s < n)
    w = np.array([(n - 1) / (math.comb(n, int(k)) * k * (n - k)) for k in s[inner]])
    A = X[inner].T @ (X[inner] * w[:, None])
    b = X[inner].T @ (w * y[inner])
    C = X[~inner]
    K = np.block([[A, C.T], [C, np.zeros((len(C), len(C)))]])
    sol = np.linalg.solve(K, np.concatenate([b, y[~inner]]))
    return dict(zip(sups, sol[: len(sups)], strict=True))


def random_game(n, seed):
    """A dense game with interactions of every order (random Möbius coefficients)."""
    rng = np.random.default_rng(seed)
    a = {S: rng.normal() / (1 + len(S)) for k in range(n + 1) for S in itertools.combinations(range(n), k)}

    def f(masks):
        masks = np.asarray(masks, bool)
        return np.array([sum(v for S, v in a.items() if all(row[list(S)])) for row in masks])

    return f


def as_array(d, sups):
    return np.array([d.get(S, 0.0) for S in sups])


@pytest.fixture(scope="module", params=[0, 1])
def game(request):
    f = random_game(N, request.param)
    masks, y = truth_table(f, N)
    return f, y


def test_kernel_shap_equals_shapley_values(game):
    f, y = game
    r = baselines.kernel_shap(f, N, budget=1 << N)
    assert r.queries == 1 << N and r.max_degree <= 1
    sv = r.index("SV")
    np.testing.assert_allclose([sv[(i,)] for i in range(N)], brute_shapley(y, N), atol=1e-10)
    assert sv[()] == pytest.approx(y[0], abs=1e-10)  # shapiq: SV of () is f(empty)
    # efficiency: the surrogate is exact on the full coalition
    assert r.predict(np.ones((1, N), bool))[0] == pytest.approx(y[-1], abs=1e-10)


def test_banzhaf_equals_banzhaf_values(game):
    f, y = game
    r = baselines.banzhaf(f, N, budget=10_000)  # more than 2^n: enumerates, pays 2^n
    assert r.queries == 1 << N and r.max_degree <= 1
    bv = r.index("BV")
    np.testing.assert_allclose([bv[(i,)] for i in range(N)], brute_banzhaf(y, N), atol=1e-10)
    assert bv[()] == pytest.approx(y.mean(), abs=1e-10)


@pytest.mark.parametrize("order", [1, 2, 3, N])
def test_faith_banzhaf_equals_fbii(game, order):
    f, y = game
    r = baselines.faith_banzhaf(f, N, budget=1 << N, order=order)
    assert r.max_degree <= order
    got = r.index("FBII", order)
    sups = list(brute_faith(y, N, order, "banzhaf"))
    ref = brute_faith(y, N, order, "banzhaf")
    np.testing.assert_allclose(as_array(got, sups), as_array(ref, sups), atol=1e-9)
    # and the library's closed form from the Möbius transform (shapiq's MoebiusConverter weights)
    mob = brute_mobius(y, N)
    s2, v2 = mobius_to_index(list(mob), np.array(list(mob.values())), "FBII", order)
    np.testing.assert_allclose(as_array(got, s2), v2, atol=1e-9)
    assert set(got) <= set(sups)


@pytest.mark.parametrize("order", [1, 2, 3, N])
def test_faith_shap_equals_fsii(game, order):
    f, y = game
    r = baselines.faith_shap(f, N, budget=1 << N, order=order)
    assert r.max_degree <= order
    got = r.index("FSII", order)
    ref = brute_faith(y, N, order, "shap")
    sups = list(ref)
    np.testing.assert_allclose(as_array(got, sups), as_array(ref, sups), atol=1e-9)
    mob = brute_mobius(y, N)
    s2, v2 = mobius_to_index(list(mob), np.array(list(mob.values())), "FSII", order)
    np.testing.assert_allclose(as_array(got, s2), v2, atol=1e-9)


def test_faith_order_one_is_the_marginal_value(game):
    f, y = game
    fs = baselines.faith_shap(f, N, budget=1 << N, order=1).index("FSII", 1)
    np.testing.assert_allclose([fs[(i,)] for i in range(N)], brute_shapley(y, N), atol=1e-10)
    fb = baselines.faith_banzhaf(f, N, budget=1 << N, order=1).index("FBII", 1)
    np.testing.assert_allclose([fb[(i,)] for i in range(N)], brute_banzhaf(y, N), atol=1e-10)


def test_full_order_faith_reproduces_the_function(game):
    f, y = game
    masks, _ = truth_table(f, N)
    for fn in (baselines.faith_shap, baselines.faith_banzhaf):
        r = fn(f, N, budget=1 << N, order=N)
        np.testing.assert_allclose(r.predict(masks), y, atol=1e-9)


def test_lime_is_exact_on_a_linear_function():
    w = np.array([1.5, -2.0, 0.0, 0.7, 3.0, -1.0])

    def f(m):
        return 0.3 + np.asarray(m, float) @ w

    r = baselines.lime(f, 6, budget=400, alpha=0.0)
    assert r.max_degree <= 1
    np.testing.assert_allclose([r.index("Moebius")[(i,)] for i in range(6)], w, atol=1e-9)
    # lime's default ridge penalty shrinks the slopes a little, never flips them
    r1 = baselines.lime(f, 6, budget=400)
    got = np.array([r1.index("Moebius").get((i,), 0.0) for i in range(6)])
    assert np.all(np.sign(got[w != 0]) == np.sign(w[w != 0]))
    assert np.abs(got - w).max() < 0.2
