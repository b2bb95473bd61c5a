"""Refits of chosen Fourier coefficients: exact recovery, penalties, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

from spexjax.interactions import supports_to_padded
from spexjax.refit import design_matrix, refit, ridge_loo


def _problem(m: int = 400, n: int = 12, noise: float = 0.0, seed: int = 0):
    rng = np.random.default_rng(seed)
    sup = [(), (0,), (1, 2), (3, 4, 5), (7,)]
    coef = np.array([2.0, 1.0, -0.7, 0.5, 0.25])
    x = rng.random((m, n)) < 0.5
    pad = supports_to_padded(sup)
    y = design_matrix(x, pad) @ coef + noise * rng.normal(size=m)
    return x, y, pad, coef


def test_design_matrix_matches_definition() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((50, 9)) < 0.5
    pad = supports_to_padded([(), (2,), (0, 8), (1, 3, 4)])
    X = design_matrix(x, pad)
    for k, s in enumerate([(), (2,), (0, 8), (1, 3, 4)]):
        want = (-1.0) ** x[:, list(s)].sum(axis=1) if s else np.ones(50)
        np.testing.assert_array_equal(X[:, k], want)


@pytest.mark.parametrize("method", ["ridge", "lasso", "ols"])
def test_exact_recovery_noiseless(method: str) -> None:
    x, y, pad, coef = _problem()
    got = refit(x, y, pad, method=method, key=0)
    np.testing.assert_allclose(got, coef, atol=1e-3)


def test_lasso_drops_spurious_terms() -> None:
    x, y, pad, coef = _problem(m=600, noise=0.05)
    extra = supports_to_padded([(), (0,), (1, 2), (3, 4, 5), (7,), (8,), (9, 10), (2, 6, 11)])
    got, info = refit(x, y, extra, method="lasso", key=0, return_info=True)
    np.testing.assert_allclose(got[:5], coef, atol=0.05)
    assert np.all(np.abs(got[5:]) < 0.03)
    assert info["alpha"] > 0


def test_constant_is_not_penalised() -> None:
    x, y, pad, _ = _problem()
    y = y + 100.0
    got = refit(x, y, pad, method="ridge", alphas=[1e3])  # heavy penalty on everything else
    assert got[0] == pytest.approx(102.0, abs=0.5)


def test_edge_cases() -> None:
    x, y, pad, _ = _problem(m=30)
    assert refit(x, y, np.zeros((0, 1), np.int64)).shape == (0,)
    only_const = refit(x, y, np.full((1, 1), -1))
    assert only_const[0] == pytest.approx(y.mean())
    # more terms than samples: still finite
    many = supports_to_padded([()] + [(i,) for i in range(12)] + [(i, j) for i in range(12) for j in range(i + 1, 12)])
    out = refit(x[:20], y[:20], many)
    assert np.all(np.isfinite(out))
    # constant target: everything but the constant is zero
    out = refit(x, np.full(30, 3.0), pad)
    np.testing.assert_allclose(out, [3.0, 0, 0, 0, 0], atol=1e-9)
    with pytest.raises(ValueError, match="method"):
        refit(x, y, pad, method="nope")
    with pytest.raises(ValueError, match="one value per mask"):
        refit(x, y[:-1], pad)


def _brute_force_ridge_loo(X: np.ndarray, y: np.ndarray, alphas: np.ndarray,
                           loo_errors) -> tuple[np.ndarray, float, float]:
    """The obvious definition: the alpha with the least refit-by-refit LOO error, and its full-data fit."""
    K = X.shape[1]
    errs = loo_errors(X, y, alphas)
    best = int(np.argmin(errs))
    w = np.linalg.solve(X.T @ X + alphas[best] * np.eye(K), X.T @ y)
    return w, float(alphas[best]), float(errs[best])


@pytest.mark.parametrize("with_gram", [False, True])
def test_ridge_loo_matches_brute_force_leave_one_out(with_gram: bool, ridge_loo_reference) -> None:
    rng = np.random.default_rng(5)
    x = rng.random((40, 8)) < 0.5
    pad = supports_to_padded([(0,), (1, 2), (3,), (4, 5, 6), (7,)])
    X = design_matrix(x, pad)
    X = X - X.mean(axis=0)
    y = X @ np.array([1.0, -0.5, 0.3, 0.2, 0.0]) + 0.3 * rng.standard_normal(40)
    y = y - y.mean()
    alphas = np.logspace(-3, 3, 13)
    want = _brute_force_ridge_loo(X, y, alphas, ridge_loo_reference)
    got = ridge_loo(X, y, alphas, return_error=True, gram=X.T @ X if with_gram else None)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-9, atol=1e-12)
    assert got[1] == want[1]
    assert got[2] == pytest.approx(want[2], rel=1e-9)
