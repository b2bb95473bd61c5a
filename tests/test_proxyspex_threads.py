"""LightGBM thread choice: one thread for the training sets explanations use, whatever the OpenMP policy."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("lightgbm", reason="lightgbm is the default proxy's optional dependency")

import spexjax.proxies.lgbm as lg  # noqa: E402
from spexjax.proxyspex import proxyspex, uniform_masks  # noqa: E402


def test_small_training_sets_use_one_thread_whatever_the_wait_policy(monkeypatch) -> None:
    """A few thousand rows: a second OpenMP thread only adds wake-ups (20 s instead of 1-2 s on an idle VM
    with PASSIVE waits, 16-36 s with ACTIVE waits under load), so the row count decides first."""
    for passive in (True, False):
        monkeypatch.setattr(lg, "_PASSIVE", passive)
        assert lg.default_threads(800, 40) == 1
        assert lg.default_threads(10_000, 32) == 1
        assert lg.default_threads(lg.ONE_THREAD_CELLS // 64 - 1, 64) == 1
    monkeypatch.setattr(lg, "_PASSIVE", True)
    assert lg.default_threads(lg.ONE_THREAD_CELLS // 64, 64) == lg.default_threads()
    monkeypatch.setattr(lg, "_PASSIVE", False)
    assert lg.default_threads(10**6, 512) == 1  # spinning threads are never more than one


def test_proxyspex_records_the_thread_count_it_used() -> None:
    n = 12
    rng = np.random.default_rng(0)
    w = rng.normal(size=n)

    def f(x):
        return np.asarray(x, float) @ w

    r = proxyspex(f, n, budget=200, max_degree=2, key=0)
    assert r.meta["proxy"]["params"]["num_threads"] == 1
    r2 = proxyspex(f, n, budget=200, max_degree=2, key=0, proxy=lg.LightGBMProxy(num_threads=2))
    assert r2.meta["proxy"]["params"]["num_threads"] == 2
    xt = uniform_masks(3, 500, n)
    np.testing.assert_allclose(r.predict(xt), r2.predict(xt), atol=1e-8)  # deterministic trees: same fit
