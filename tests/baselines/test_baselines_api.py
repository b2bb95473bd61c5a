"""Baselines: budget accounting, determinism, runner options, provenance and errors before any query."""

from __future__ import annotations

import numpy as np
import pytest

import spexjax
from spexjax import baselines
from spexjax.errors import BudgetError, SpexError
from spexjax.testing import SparseMobius

METHODS = ["lime", "kernel_shap", "banzhaf", "faith_banzhaf", "faith_shap"]


class Counting:
    """Value function that records every mask it sees."""

    def __init__(self, f):
        self.f = f
        self.rows = 0
        self.calls = 0

    def __call__(self, masks):
        masks = np.asarray(masks)
        self.rows += len(masks)
        self.calls += 1
        return self.f(masks)


def sparse(n):
    return SparseMobius(n, [(), (0,), (1, 2), (3,), (0, 4)], [0.5, 1.0, -2.0, 0.8, 1.5])


@pytest.mark.parametrize("method", METHODS)
def test_budget_is_respected_and_counted(method):
    n = 12
    f = Counting(sparse(n))
    r = getattr(baselines, method)(f, n, budget=300, batch_size=64)
    assert r.queries == f.rows == 300
    assert f.calls == 5  # batches of at most 64 rows
    assert r.meta["method"] == method and r.meta["budget"] == 300 and r.meta["queries"] == 300
    assert r.meta["order"] == (2 if method.startswith("faith") else 1)
    assert "weights" in r.meta and "sampling" in r.meta
    assert r.max_degree <= r.meta["order"]


@pytest.mark.parametrize("method", METHODS)
def test_same_key_same_result_other_key_other_masks(method):
    n = 10
    f = sparse(n)
    fn = getattr(baselines, method)
    a, b, c = fn(f, n, budget=200, key=3), fn(f, n, budget=200, key=3), fn(f, n, budget=200, key=4)
    assert a.fourier()[0] == b.fourier()[0]
    np.testing.assert_array_equal(a.fourier()[1], b.fourier()[1])
    assert not np.array_equal(a.fourier()[1], c.fourier()[1])


@pytest.mark.parametrize("method", ["kernel_shap", "banzhaf", "faith_banzhaf", "faith_shap"])
def test_sampled_fits_recover_a_function_inside_their_class(method):
    """A degree-2 Möbius function is inside the Faith-order-2 class: sampled fits are exact on it; an additive
    one is inside every order-1 class."""
    n = 9
    if method.startswith("faith"):
        f = sparse(n)
    else:
        f = SparseMobius(n, [(), (0,), (3,), (7,)], [0.5, 1.0, -2.0, 0.8])
    r = getattr(baselines, method)(f, n, budget=150)
    rng = np.random.default_rng(0)
    x = rng.random((500, n)) < 0.5
    assert spexjax.faithfulness(r, f, x) == pytest.approx(1.0, abs=1e-9)
    assert r.meta["sampling"] != "all coalitions"


def test_kernel_shap_sampled_converges_to_shapley_values():
    n = 14
    f = SparseMobius(n, [(0, 1), (2,), (3, 4, 5)], [2.0, 1.0, -3.0])
    exact = {0: 1.0, 1: 1.0, 2: 1.0, 3: -1.0, 4: -1.0, 5: -1.0}  # Möbius mass split evenly (SV)
    sv = baselines.kernel_shap(f, n, budget=4000, key=1).index("SV")
    got = np.array([sv.get((i,), 0.0) for i in range(n)])
    ref = np.array([exact.get(i, 0.0) for i in range(n)])
    assert np.abs(got - ref).max() < 0.1
    assert got.sum() == pytest.approx(2.0 + 1.0 - 3.0, abs=1e-9)  # efficiency: f(full) - f(empty), exactly


def test_cache_shares_queries_between_banzhaf_and_faith_banzhaf(tmp_path):
    """Same key -> same uniform masks; with one cache= file the second method pays nothing."""
    n = 10
    f = Counting(sparse(n))
    db = tmp_path / "q.sqlite"
    baselines.banzhaf(f, n, budget=200, cache=db, fingerprint="sparse-10")
    paid = f.rows
    r = baselines.faith_banzhaf(f, n, budget=200, cache=db, fingerprint="sparse-10")
    assert f.rows == paid and r.queries == 200


def test_feature_names_go_in_at_construction():
    n = 4
    names = ["a", "b", "c", "d"]
    r = baselines.banzhaf(SparseMobius(n, [(0,), (1, 2)], [1.0, 2.0]), n, budget=16, feature_names=names)
    assert r.feature_names == names


@pytest.mark.parametrize("method", METHODS)
def test_bad_input_fails_before_any_query(method):
    f = Counting(sparse(20))
    fn = getattr(baselines, method)
    with pytest.raises(BudgetError, match="at least"):
        fn(f, 20, budget=1)
    with pytest.raises(TypeError, match="budget"):
        fn(f, 20, budget=100.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        fn(f, 20, budget=500, bogus=1)
    assert f.rows == 0


@pytest.mark.parametrize("method", ["faith_banzhaf", "faith_shap"])
def test_faith_order_checks(method):
    f = Counting(sparse(20))
    fn = getattr(baselines, method)
    with pytest.raises(SpexError, match="order must be in"):
        fn(f, 20, budget=10_000, order=0)
    with pytest.raises(SpexError, match="order must be in"):
        fn(f, 20, budget=10_000, order=21)
    with pytest.raises(TypeError, match="order"):
        fn(f, 20, budget=10_000, order=1.5)
    with pytest.raises(SpexError, match="lower the order"):
        fn(f, 200, budget=10_000_000, order=3)
    with pytest.raises(BudgetError, match="at least 211"):  # 1 + 20 + 190 coefficients
        fn(f, 20, budget=210, order=2)
    assert f.rows == 0


def test_budget_minimums_are_the_coefficient_count():
    n = 8
    f = sparse(n)
    assert baselines.banzhaf(f, n, budget=n + 1).queries == n + 1
    assert baselines.kernel_shap(f, n, budget=n + 1).queries == n + 1
    with pytest.raises(BudgetError, match=f"at least {n + 1}"):
        baselines.kernel_shap(f, n, budget=n)
    # n = 2: 4 coalitions in all, order 2 needs all of them
    assert baselines.faith_shap(SparseMobius(2, [(0, 1)], [1.0]), 2, budget=4, order=2).queries == 4


def test_lime_sampler_and_kernel_follow_lime_text():
    from spexjax.baselines._regression import lime_masks
    from spexjax.baselines.lime import lime_weights

    m = lime_masks(np.random.default_rng(0), 5000, 20)
    assert m[0].all()
    removed = (~m[1:]).sum(1)
    assert removed.min() >= 1 and removed.max() == 20
    assert abs(np.bincount(removed, minlength=21)[1:].std() / (len(removed) / 20)) < 0.2  # ~uniform 1..20
    # lime: kernel(d) = sqrt(exp(-d^2/25^2)), d = cosine distance * 100
    x = np.zeros((1, 20), bool)
    x[0, :5] = True
    cos = 1 - 5 / (np.sqrt(5) * np.sqrt(20))
    assert lime_weights(x)[0] == pytest.approx(np.sqrt(np.exp(-((cos * 100) ** 2) / 25**2)))
    assert lime_weights(np.ones((1, 20), bool))[0] == 1.0


def test_kernel_sampler_sizes_follow_the_kernel():
    from spexjax.baselines._regression import kernel_masks

    n = 10
    m = kernel_masks(np.random.default_rng(1), 40_000, n, paired=True)
    s = m.sum(1)
    assert s.min() >= 1 and s.max() <= n - 1
    np.testing.assert_array_equal(m[0::2], ~m[1::2])
    p = np.array([1 / (k * (n - k)) for k in range(1, n)])
    p /= p.sum()
    freq = np.bincount(s, minlength=n)[1:n] / len(s)
    np.testing.assert_allclose(freq, p, atol=0.01)


def test_spexjax_attribute_and_exports():
    assert spexjax.baselines.lime is baselines.lime
    assert sorted(baselines.__all__) == sorted(METHODS)


def test_banzhaf_draws_proxyspex_masks():
    """Equal budget and key -> the very same uniform masks as ProxySPEX (a paired comparison)."""
    n = 10
    seen = {}

    def rec(name):
        def f(masks):
            seen.setdefault(name, []).append(np.asarray(masks).copy())
            return sparse(n)(masks)

        return f

    baselines.banzhaf(rec("b"), n, budget=120, key=5)
    spexjax.proxyspex(rec("p"), n, budget=120, key=5, max_degree=2)
    np.testing.assert_array_equal(np.concatenate(seen["b"]), np.concatenate(seen["p"]))
