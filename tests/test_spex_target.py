"""spex(..., target_r2=): a design grown one hash bit at a time, every paid row reused; arguments checked
before the first query; a finished run continued from its cache pays only for new rows."""

from __future__ import annotations

import numpy as np
import pytest

import spexjax
from spexjax.runs import QueryRunner
from spexjax.spex import BCHDelays, _code, _grow_half, _query_design
from spexjax.testing import SparseFourier, random_sparse_fourier


class CountingFourier(SparseFourier):
    """A SparseFourier that counts the rows it is asked for (dense and structured)."""

    def __init__(self, base: SparseFourier):
        super().__init__(base.n, base.supports, base.coeffs)
        self.rows = 0

    def evaluate(self, masks):
        self.rows += len(masks)
        return super().evaluate(masks)

    def evaluate_affine(self, queries):
        self.rows += queries.num_rows
        return super().evaluate_affine(queries)


def test_grown_half_equals_the_design_queried_at_once():
    n, t, b = 40, 2, 3
    f = random_sparse_fourier(n, 6, 2, key=3)
    code = _code(n, t)
    delays = BCHDelays(code, n)
    codes = np.random.default_rng(0).integers(0, 1 << 32, size=(3, n), dtype=np.uint64).astype(np.uint32)
    low = codes & np.uint32((1 << b) - 1)
    runner = QueryRunner(f, n)
    grown = np.concatenate([_query_design(runner, low, delays, b), _grow_half(runner, codes, delays, b)], axis=-1)
    direct = _query_design(runner, codes & np.uint32((1 << (b + 1)) - 1), delays, b + 1)
    np.testing.assert_allclose(grown, direct, atol=1e-12)
    # and through dense masks (a value function without evaluate_affine) as well
    dense_runner = QueryRunner(lambda m: f.evaluate(m), n)
    np.testing.assert_allclose(_grow_half(dense_runner, codes, delays, b), direct[..., 1 << b :], atol=1e-12)


def test_ten_terms_at_n2048_stop_within_10000_queries():
    f = CountingFourier(random_sparse_fourier(2048, 10, 5, key=1))
    res = spexjax.spex(f, 2048, target_r2=0.99, budget=10_000, key=0)
    assert res.meta["stopped"] == "target"
    assert res.queries <= 10_000 and f.rows == res.queries  # every paid row counted once
    X = np.random.default_rng(5).random((400, 2048)) < 0.5
    assert spexjax.faithfulness(res, f, X) >= 0.99
    rounds = res.meta["rounds"]
    assert rounds[-1]["r2"] >= 0.99 and all(0 < q["b"] - p["b"] <= 2 for p, q in zip(rounds, rounds[1:], strict=False))


def test_rounds_pay_only_the_new_half_and_the_budget_caps():
    n, t = 64, 2
    f = CountingFourier(random_sparse_fourier(n, 60, 2, key=4))
    P1 = _code(n, t).P + 1
    res = spexjax.spex(f, n, max_degree=t, target_r2=1.0, b=3, budget=3 * P1 * 32 + 64 + 600, key=2)
    rounds = res.meta["rounds"]
    assert len(rounds) >= 2 and res.queries <= 3 * P1 * 32 + 664 and f.rows == res.queries
    for prev, cur in zip(rounds, rounds[1:], strict=False):
        assert cur["b"] - prev["b"] == (2 if prev["r2"] < 0.5 else 1)
        grown = cur["queries"] - prev["queries"] - (cur["test_masks"] - prev["test_masks"])
        assert grown == 3 * P1 * ((1 << cur["b"]) - (1 << prev["b"]))  # only the rows whose new bits are not all 0


def test_continue_a_finished_run_from_its_cache(tmp_path):
    n, t = 64, 2
    db = str(tmp_path / "q.db")
    P1 = _code(n, t).P + 1
    base = random_sparse_fourier(n, 400, 2, key=4)
    f1 = CountingFourier(base)
    small = spexjax.spex(f1, n, max_degree=t, target_r2=1.0, b=3, budget=3 * P1 * 16 + 64, key=2, cache=db)
    assert small.meta["stopped"] == "budget" and f1.rows == small.queries
    f2 = CountingFourier(base)
    more = spexjax.spex(f2, n, max_degree=t, target_r2=1.0, b=3, budget=3 * P1 * 64 + 600, key=2, cache=db)
    assert len(more.meta["rounds"]) > len(small.meta["rounds"])
    assert more.meta["cache_hits"] >= small.queries
    assert f2.rows == more.queries - small.queries  # the value function saw only the new rows


@pytest.mark.parametrize(
    "kwargs",
    [
        {"devices": "gpu0"},
        {"devices": 10_000},
        {"feature_names": ["a", "b"]},
        {"feature_names": "abc"},
        {"noise_sd": -1.0},
        {"noise_sd": "big"},
        {"chase_depth": 99},
        {"refine": "yes"},
        {"target_r2": 1.5},
        {"target_r2": "high"},
        {"key": "seed"},
        {"decoder": "magic"},
        {"max_degree": 0},
        {"budget": 10},
        {"budget": 10, "target_r2": 0.9},
        {"batchsize": 3},
        {"executor": "gpu"},
    ],
)
def test_bad_arguments_cost_no_query(kwargs):
    calls = []

    def f(masks):
        calls.append(len(masks))
        return np.zeros(len(masks))

    with pytest.raises((TypeError, ValueError)):
        spexjax.spex(f, 12, max_degree=2, **{"b": 3, **kwargs})
    assert calls == []
