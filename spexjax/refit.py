"""Regularised refits of chosen Fourier coefficients on sampled (mask, value) pairs, in JAX.

Shared by ProxySPEX (its final step) and usable by SPEX for its final refinement. The constant term (the
all ``-1`` padded row) is never penalised: it is handled by centring, exactly like an intercept.

* ``"ridge"``: the whole alpha path costs one eigendecomposition; the alpha is chosen by exact leave-one-out
  error (NumPy/LAPACK).
* ``"lasso"``: K-fold CV over an alpha path (FISTA on the Gram matrix, vmapped over alphas), then a
  ridge refit of the selected terms (relaxed lasso) so the kept coefficients are not shrunk.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spexjax._checks import check_finite
from spexjax._rng import REFIT_FOLDS, numpy_rng
from spexjax.kernels.characters import characters_matrix

__all__ = ["design_matrix", "refit", "ridge_loo", "lasso_cv", "gram_ridge_cv"]

METHODS = ("ridge", "lasso", "ols")
DEFAULT_ALPHAS = np.logspace(-6, 6, 61)


def design_matrix(masks: Any, padded_supports: Any) -> np.ndarray:
    """``float64[m, K]`` Walsh characters ``(-1)^{|S_k & kept(x)|}`` (column of ones for the constant).

    One definition: :func:`spexjax.kernels.characters.characters_matrix` (NumPy in row chunks).
    """
    pad = np.asarray(padded_supports, dtype=np.int64)
    if pad.ndim != 2:
        raise ValueError(f"padded_supports must have shape (K, d); got {pad.shape}")
    return characters_matrix(np.asarray(masks, dtype=bool), pad)


def _ridge_path(X: Any, y: Any, alphas: Any, xp: Any = np, gram: Any = None) -> tuple[Any, Any]:
    """LOO mean squared error per alpha and the coefficient path ``(A, K)`` from one eigendecomposition.

    The Gram matrix of the smaller side (``X'X`` when ``m >= K``, else ``XX'``) is diagonalised once; every
    alpha then costs matrix products only (hat-matrix diagonal included), never a new factorisation.
    ``gram`` (``X'X``, used when ``m >= K``) may be passed by a caller that grows ``X`` column by column
    and keeps its Gram matrix up to date (:func:`spexjax.term_selection._choose_terms`), saving the ``m K^2``
    product. ``xp`` is ``numpy`` (default) or ``jax.numpy``.
    """
    m, K = X.shape
    if m >= K:
        lam, V = xp.linalg.eigh(X.T @ X if gram is None else gram)
        lam = xp.maximum(lam, 0.0)
        XV = X @ V  # (m, K)
        z = XV.T @ y
        inv = 1.0 / (lam[None, :] + alphas[:, None])  # (A, K)
        fitted = (inv * z[None, :]) @ XV.T  # (A, m)
        h = inv @ (XV * XV).T
        coefs = (inv * z[None, :]) @ V.T
    else:
        lam, U = xp.linalg.eigh(X @ X.T)
        lam = xp.maximum(lam, 0.0)
        uy = U.T @ y
        inv = 1.0 / (lam[None, :] + alphas[:, None])  # (A, m)
        shrink = lam[None, :] * inv
        fitted = (shrink * uy[None, :]) @ U.T
        h = shrink @ (U * U).T
        coefs = ((inv * uy[None, :]) @ U.T) @ X
    loo = (y[None, :] - fitted) / xp.maximum(1.0 - h, 1e-12)
    return xp.mean(loo * loo, axis=1), coefs


def ridge_loo(
    X: np.ndarray, y: np.ndarray, alphas: Any = None, *, return_error: bool = False, gram: Any = None
) -> tuple[np.ndarray, float] | tuple[np.ndarray, float, float]:
    """Ridge with the alpha of least leave-one-out error; returns ``(coef, alpha)`` (no intercept), and
    that mean squared LOO error too when ``return_error``. ``gram``: ``X'X`` if the caller has it.

    NumPy/LAPACK throughout: a jitted JAX path (tried up to this version for ``m K min(m, K) >= 2e9``) was
    1.5-1.8x *slower* than NumPy on one BLAS thread at m = 10,000, K = 512 and 1024 on the shared 2-core
    machine, and it compiled once per new size.
    """
    alphas = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64).reshape(-1)
    if X.shape[1] == 0:
        err0 = float(np.mean(np.asarray(y) ** 2)) if len(y) else 0.0
        return (np.zeros(0), float(alphas[0]), err0) if return_error else (np.zeros(0), float(alphas[0]))
    g = None if gram is None else np.asarray(gram, np.float64)
    err, coefs = _ridge_path(np.asarray(X, np.float64), np.asarray(y, np.float64), alphas, xp=np, gram=g)
    err = np.where(np.isfinite(err), err, np.inf)
    best = int(np.argmin(err))
    out = np.asarray(coefs[best]), float(alphas[best])
    return (*out, float(err[best])) if return_error else out


@partial(jax.jit, static_argnames=("iters",))
def _lasso_fista(G: jax.Array, c: jax.Array, alphas: jax.Array, iters: int = 300) -> jax.Array:
    """``argmin 0.5 w'Gw - c'w + alpha |w|_1`` for each alpha: ``(A, K)``."""
    L = jnp.maximum(jnp.linalg.eigvalsh(G)[-1], 1e-12)

    def solve(alpha):
        def body(_, st):
            w, z, t = st
            g = G @ z - c
            u = z - g / L
            w_new = jnp.sign(u) * jnp.maximum(jnp.abs(u) - alpha / L, 0.0)
            t_new = 0.5 * (1.0 + jnp.sqrt(1.0 + 4.0 * t * t))
            z_new = w_new + ((t - 1.0) / t_new) * (w_new - w)
            return w_new, z_new, t_new

        w0 = jnp.zeros_like(c)
        w, _, _ = jax.lax.fori_loop(0, iters, body, (w0, w0, jnp.float64(1.0)))
        return w

    return jax.vmap(solve)(alphas)


def lasso_cv(
    X: np.ndarray, y: np.ndarray, *, alphas: Any = None, folds: int = 5, key: Any = 0, iters: int = 300
) -> tuple[np.ndarray, float]:
    """Lasso (objective ``|y - Xw|^2 / (2m) + alpha |w|_1``) with K-fold CV; returns ``(coef, alpha)``."""
    m, K = X.shape
    if K == 0:
        return np.zeros(0), 0.0
    with jax.enable_x64(True):
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        if alphas is None:
            amax = float(jnp.max(jnp.abs(Xj.T @ yj))) / max(m, 1)
            alphas = amax * np.logspace(0, -4, 20) if amax > 0 else np.array([1e-12])
        alphas = np.asarray(alphas, dtype=np.float64).reshape(-1)
        folds = int(max(2, min(folds, m)))
        fold = numpy_rng(key, REFIT_FOLDS).permutation(m) % folds
        err = np.zeros(len(alphas))
        for k in range(folds):
            tr, te = fold != k, fold == k
            Xt, yt = Xj[tr], yj[tr]
            W = _lasso_fista(Xt.T @ Xt / Xt.shape[0], Xt.T @ yt / Xt.shape[0], jnp.asarray(alphas), iters=iters)
            res = yj[te][None, :] - W @ Xj[te].T
            err += np.asarray(jnp.sum(res * res, axis=1))
        best = int(np.argmin(err))
        w = _lasso_fista(Xj.T @ Xj / m, Xj.T @ yj / m, jnp.asarray(alphas[best : best + 1]), iters=iters)[0]
        return np.asarray(w), float(alphas[best])


def refit(
    masks: Any,
    y: Any,
    padded_supports: Any,
    *,
    method: str = "ridge",
    alphas: Any = None,
    key: Any = 0,
    folds: int = 5,
    return_info: bool = False,
) -> np.ndarray | tuple[np.ndarray, dict[str, Any]]:
    """Fourier coefficients of the given supports fitted to ``y`` on ``masks``.

    Args:
      masks: ``bool[m, n]`` sampled masks.
      y: ``float[m]`` their values.
      padded_supports: ``int[K, d]`` supports padded with ``-1``; an all ``-1`` row is the constant term and
        is fitted without penalty (if absent, no intercept is fitted).
      method: ``"ridge"`` (LOO-CV alpha), ``"lasso"`` (K-fold CV, then ridge on the kept terms) or
        ``"ols"`` (least squares, minimum norm).
      alphas: penalty grid (default: ``logspace(-6, 6, 61)`` for ridge, a 20-point path for lasso).
      key: seed for the lasso folds.
    Returns ``float64[K]`` (and an info dict with the chosen alpha when ``return_info``).
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}; got {method!r}")
    pad = np.asarray(padded_supports, dtype=np.int64)
    yv = np.asarray(y, dtype=np.float64).reshape(-1)
    X = design_matrix(masks, pad)
    if X.shape[0] != yv.shape[0]:
        raise ValueError(f"y must have one value per mask; got {yv.shape[0]} values for {X.shape[0]} masks")
    check_finite("y", yv)
    K = pad.shape[0]
    coef = np.zeros(K)
    info: dict[str, Any] = {"method": method, "alpha": None, "kept": K}
    if K == 0 or X.shape[0] == 0:
        return (coef, info) if return_info else coef
    const = np.all(pad < 0, axis=1)
    ci = np.nonzero(const)[0]
    rest = np.nonzero(~const)[0]
    if len(ci):
        x_mean = X[:, rest].mean(axis=0)
        y_mean = float(yv.mean())
        Xc, yc = X[:, rest] - x_mean, yv - y_mean
    else:
        Xc, yc = X[:, rest], yv
    if method == "ols":
        w = np.linalg.lstsq(Xc, yc, rcond=None)[0] if len(rest) else np.zeros(0)
    elif method == "ridge":
        w, info["alpha"] = ridge_loo(Xc, yc, alphas)
    else:
        w_l, info["alpha"] = lasso_cv(Xc, yc, alphas=alphas, folds=folds, key=key)
        keep = np.nonzero(w_l != 0.0)[0]
        w = np.zeros(len(rest))
        if len(keep):
            w[keep], info["ridge_alpha"] = ridge_loo(Xc[:, keep], yc)
        info["kept"] = int(len(keep)) + len(ci[:1])
    coef[rest] = w
    if len(ci):
        coef[ci[0]] = y_mean - float(x_mean @ w)  # duplicates of the constant row get 0
    return (coef, info) if return_info else coef


# ----------------------------------------------------------------------------------------------
# Ridge over nested candidate sets, chosen by cross-validation, from per-fold Gram matrices
# ----------------------------------------------------------------------------------------------
GRAM_ALPHAS = (0.0, 1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)  # x the mean diagonal of the Gram matrix


def _ridge_gram_solve(G: np.ndarray, r: np.ndarray, const: int | None, alphas: np.ndarray) -> np.ndarray:
    """``argmin w'Gw - 2 r'w + alpha |w_rest|^2`` for each alpha -> ``(A, K)``; ``const`` (a column index) is
    never penalised: it is eliminated first (the Gram-matrix form of centring), so the whole alpha path
    costs one symmetric eigendecomposition. A relative alpha is scaled by the mean diagonal."""
    K = G.shape[0]
    out = np.zeros((len(alphas), K))
    if K == 0:
        return out
    rest = np.arange(K) if const is None else np.delete(np.arange(K), const)
    if const is not None:
        g00 = float(G[const, const])
        if g00 <= 0.0:  # the constant is not observed in this fold: leave it at 0
            rest_only = _ridge_gram_solve(G[np.ix_(rest, rest)], r[rest], None, alphas)
            out[:, rest] = rest_only
            return out
        g = G[rest, const]
        Gr = G[np.ix_(rest, rest)] - np.outer(g, g) / g00
        rr = r[rest] - g * (r[const] / g00)
    else:
        Gr, rr = G[np.ix_(rest, rest)], r[rest]
    if len(rest):
        lam, V = np.linalg.eigh(Gr)
        lam = np.maximum(lam, 0.0)
        scale = max(float(np.mean(np.diag(Gr))), 1e-300)
        z = V.T @ rr
        a = np.asarray(alphas, np.float64)[:, None] * scale
        tiny = 1e-12 * max(float(lam[-1]), 1e-300)
        denom = lam[None, :] + a
        inv = np.where(denom > tiny, 1.0 / np.maximum(denom, tiny), 0.0)  # alpha 0: minimum-norm least squares
        out[:, rest] = (inv * z[None, :]) @ V.T
    if const is not None:
        out[:, const] = (r[const] - out[:, rest] @ G[rest, const]) / g00
    return out


def gram_ridge_cv(
    G: np.ndarray,
    r: np.ndarray,
    yy: np.ndarray,
    models: list[np.ndarray],
    *,
    const: int | None = None,
    alphas: Any = GRAM_ALPHAS,
    prefer_first: float = 0.02,
) -> dict[str, Any]:
    """Choose a candidate set and a ridge penalty by cross-validation, from sufficient statistics only.

    ``G: float[F, K, K]``, ``r: float[F, K]``, ``yy: float[F]`` are ``X_f'X_f``, ``X_f'y_f`` and ``y_f'y_f`` of
    the ``F`` folds' rows over all ``K`` candidate columns (SPEX builds them in the bin domain without ever
    forming a mask). ``models`` are nested column-index sets (each one a superset of the one before);
    ``const`` the column of the constant term (unpenalised; must lie in every model). Held-out error of fold
    ``f`` is ``yy_f - 2 w'r_f + w'G_f w`` for ``w`` fitted on the other folds.

    ``prefer_first``: the first model (what SPEX found by peeling) is kept unless a larger one lowers the
    cross-validated error by more than this fraction; so an exactly sparse function, whose first model
    already has zero error, is never replaced by a larger fit.

    Returns ``{"model": index, "alpha": relative alpha, "coef": float[len(models[model])] fitted on every
    fold, "errors": float[len(models), len(alphas)] summed held-out squared error}``.
    """
    G, r, yy = np.asarray(G, np.float64), np.asarray(r, np.float64), np.asarray(yy, np.float64)
    alphas = np.asarray(alphas, np.float64).reshape(-1)
    F = G.shape[0]
    Gs, rs, yys = G.sum(0), r.sum(0), float(yy.sum())
    errors = np.zeros((len(models), len(alphas)))
    for mi, cols in enumerate(models):
        cols = np.asarray(cols, np.int64)
        ci = None if const is None else int(np.nonzero(cols == const)[0][0])
        for f in range(F):
            Gt = (Gs - G[f])[np.ix_(cols, cols)]
            rt = (rs - r[f])[cols]
            W = _ridge_gram_solve(Gt, rt, ci, alphas)  # (A, k)
            Gf = G[f][np.ix_(cols, cols)]
            errors[mi] += yy[f] - 2.0 * (W @ r[f][cols]) + np.einsum("ak,kl,al->a", W, Gf, W)
    errors = np.maximum(errors, 0.0)
    best_per_model = errors.min(axis=1)
    m = 0
    target = best_per_model[0] * (1.0 - prefer_first)
    better = np.nonzero(best_per_model < target)[0]
    if len(better):
        m = int(better[np.argmin(best_per_model[better])])
    a = int(np.argmin(errors[m]))
    cols = np.asarray(models[m], np.int64)
    ci = None if const is None else int(np.nonzero(cols == const)[0][0])
    coef = _ridge_gram_solve(Gs[np.ix_(cols, cols)], rs[cols], ci, alphas[a : a + 1])[0]
    return {"model": m, "alpha": float(alphas[a]), "coef": coef, "errors": errors, "total": yys}
