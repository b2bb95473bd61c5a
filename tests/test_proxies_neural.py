"""The Fourier-network proxy (spexjax.proxies.fourier_net): exact readout, determinism, recovery."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import spexjax.testing as sjt
from spexjax.metrics import r2_score
from spexjax.proxies.fourier_net import FourierNetProxy, expand_units
from spexjax.proxyspex import proxyspex, uniform_masks

SMALL = {"units": 12, "steps": 300, "finetune_steps": 100, "batch_size": 128}


def _all_masks(n: int) -> np.ndarray:
    return np.array(list(itertools.product([False, True], repeat=n)), dtype=bool)


def _brute_spectrum(X: np.ndarray, v: np.ndarray, max_degree: int) -> dict[tuple[int, ...], float]:
    """Walsh coefficients ``mean(v * prod_{j in S} (-1)^{x_j})`` of a function tabulated on all 2^n masks."""
    n = X.shape[1]
    z = 1.0 - 2.0 * X
    out = {}
    for k in range(max_degree + 1):
        for S in itertools.combinations(range(n), k):
            out[S] = float(np.mean(v * np.prod(z[:, list(S)], axis=1)))
    return out


def test_expand_units_matches_the_product_form_including_repeated_features() -> None:
    rng = np.random.default_rng(0)
    U, d, n = 5, 4, 6
    a, c, w = rng.normal(size=U), rng.normal(size=(U, d)), rng.normal(size=(U, d))
    w[1, 2] = 0.0  # a constant factor
    idx = rng.integers(0, n, size=(U, d))
    idx[0, :2] = 3  # a feature met twice cancels (z^2 = 1)
    X = _all_masks(n)
    z = 1.0 - 2.0 * X
    direct = np.prod(c + w * z[:, idx], axis=-1) @ a + 0.7
    spec = expand_units(a, c, w, idx, 0.7)
    brute = _brute_spectrum(X, direct, n)
    for S, v in brute.items():
        assert spec.get(S, 0.0) == pytest.approx(v, abs=1e-10), S
    assert set(spec) <= set(brute)


def test_readout_equals_brute_force_spectrum_of_the_trained_proxy() -> None:
    n = 8
    f = sjt.random_hierarchical_mobius(n, 2, 3, key=1)
    X = uniform_masks(0, 400, n)
    p = FourierNetProxy(**SMALL).fit(X, f(X), max_degree=3, key=0)
    allx = _all_masks(n)
    pred = p.predict(allx)
    brute = _brute_spectrum(allx, pred, n)
    padded, coeffs = p.fourier(n, 3)
    got = {tuple(int(i) for i in row if i >= 0): float(c) for row, c in zip(padded, coeffs, strict=True)}
    assert sum(abs(v) > 1e-6 for v in got.values()) > 3  # the proxy learned something beyond a constant
    for S, v in brute.items():  # every coefficient, including the zero ones of degree > 3
        assert got.get(S, 0.0) == pytest.approx(v, abs=1e-5), S
    # the sparse spectrum reproduces the proxy's predictions exactly
    z = 1.0 - 2.0 * allx
    recon = sum(c * np.prod(z[:, list(S)], axis=1) for S, c in got.items())
    np.testing.assert_allclose(recon, pred, atol=1e-5)


def test_same_key_same_spectrum() -> None:
    n = 12
    f = sjt.random_hierarchical_mobius(n, 2, 3, key=2)
    X = uniform_masks(1, 300, n)
    y = f(X)
    runs = [FourierNetProxy(**SMALL).fit(X, y, max_degree=3, key=5).fourier(n, 3) for _ in range(2)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_recovers_a_planted_sparse_low_degree_function() -> None:
    n = 24
    # two unanimity games (all their subsets carry weight) and one main effect
    f = sjt.SparseMobius(n, [(2, 7, 11), (5, 19), (13,)], np.array([3.0, -2.0, 1.0]))
    X = uniform_masks(3, 600, n)
    y = f(X)
    p = FourierNetProxy(units=16, steps=600, batch_size=128).fit(X, y, max_degree=3, key=0)
    assert p.info["valid_r2"] > 0.95
    xt = uniform_masks(4, 2000, n)
    assert r2_score(f(xt), p.predict(xt)) > 0.95
    padded, coeffs = p.fourier(n, 3)
    got = {tuple(int(i) for i in row if i >= 0): float(c) for row, c in zip(padded, coeffs, strict=True)}
    # truth: a unanimity game prod_{j in S} x_j is prod_j (1 - z_j) / 2, one product unit
    idx = np.array([[2, 7, 11], [5, 19, 0], [13, 0, 0]])
    w = np.where(np.array([[1, 1, 1], [1, 1, 0], [1, 0, 0]]) > 0, -0.5, 0.0)
    truth = expand_units(np.array([3.0, -2.0, 1.0]), np.where(w != 0, 0.5, 1.0), w, idx, 0.0)
    assert truth[(2, 7, 11)] == pytest.approx(-3 / 8) and truth[()] == pytest.approx(3 / 8 - 2 / 4 + 1 / 2)
    for S, v in truth.items():  # every planted term, the triple included, with about its coefficient
        assert got.get(S, 0.0) == pytest.approx(v, abs=0.1), S
    spurious = sum(v * v for S, v in got.items() if S not in truth)
    assert spurious < 0.02 * sum(v * v for S, v in truth.items() if S)
    r = proxyspex(f, n, budget=0, samples=(X, y), max_degree=3, key=0, proxy="fourier",
                  proxy_params={"units": 16, "steps": 600, "batch_size": 128})
    assert r.meta["proxy"]["proxy"] == "fourier"
    assert r2_score(f(xt), r.predict(xt)) > 0.999
