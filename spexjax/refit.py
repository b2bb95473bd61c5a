"""Regularised refits of chosen Fourier coefficients on sampled (mask, value) pairs, in JAX.

Shared by ProxySPEX (its final step) and usable by SPEX for its final refinement. The constant term (the
all ``-1`` padded row) is never penalised: it is handled by centring, exactly like an intercept.

* ``"ridge"``: the whole alpha path costs one SVD; the alpha is chosen by exact leave-one-out error.
* ``"lasso"``: K-fold CV over an alpha path (FISTA on the Gram matrix, vmapped over alphas), then a
  ridge refit of the selected terms (relaxed lasso) so the kept coefficients are not shrunk.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spexjax._rng import numpy_rng

__all__ = ["design_matrix", "refit", "ridge_loo", "lasso_cv"]

METHODS = ("ridge", "lasso", "ols")
DEFAULT_ALPHAS = np.logspace(-6, 6, 61)


@jax.jit
def _characters(x: jax.Array, padded: jax.Array) -> jax.Array:
    valid = padded >= 0
    bits = jnp.take(x, jnp.where(valid, padded, 0), axis=1) & valid[None]  # (m, K, d)
    par = jnp.bitwise_xor.reduce(bits.astype(jnp.uint8), axis=2)
    return 1.0 - 2.0 * par.astype(jnp.float64)


def design_matrix(masks: Any, padded_supports: Any, *, chunk_elems: int = 1 << 25) -> np.ndarray:
    """``float64[m, K]`` Walsh characters ``(-1)^{|S_k & kept(x)|}`` (column of ones for the constant)."""
    x = np.asarray(masks, dtype=bool)
    pad = np.asarray(padded_supports, dtype=np.int64)
    if pad.ndim != 2:
        raise ValueError(f"padded_supports must have shape (K, d); got {pad.shape}")
    out = np.empty((x.shape[0], pad.shape[0]))
    if pad.shape[0] == 0 or x.shape[0] == 0:
        return out
    step = max(1, chunk_elems // max(1, pad.size))
    with jax.enable_x64(True):
        pj = jnp.asarray(pad, dtype=jnp.int32 if x.shape[1] < 2**31 else jnp.int64)
        for lo in range(0, x.shape[0], step):
            out[lo : lo + step] = np.asarray(_characters(jnp.asarray(x[lo : lo + step]), pj))
    return out


@jax.jit
def _ridge_path(X: jax.Array, y: jax.Array, alphas: jax.Array) -> tuple[jax.Array, jax.Array]:
    """LOO mean squared error per alpha and the coefficient path ``(A, K)`` from one thin SVD."""
    U, s, Vt = jnp.linalg.svd(X, full_matrices=False)
    uy = U.T @ y  # (r,)
    s2 = s * s
    shrink = s2[None, :] / (s2[None, :] + alphas[:, None])  # (A, r); all alphas as matrix products
    fitted = (shrink * uy[None, :]) @ U.T  # (A, m)
    h = shrink @ (U * U).T  # (A, m): diagonal of each hat matrix
    loo = (y[None, :] - fitted) / jnp.maximum(1.0 - h, 1e-12)
    inv = jnp.where(s[None, :] > 0, s[None, :] / (s2[None, :] + alphas[:, None]), 0.0)
    return jnp.mean(loo * loo, axis=1), (inv * uy[None, :]) @ Vt


def ridge_loo(X: np.ndarray, y: np.ndarray, alphas: Any = None) -> tuple[np.ndarray, float]:
    """Ridge with the alpha of least leave-one-out error; returns ``(coef, alpha)`` (no intercept)."""
    alphas = np.asarray(DEFAULT_ALPHAS if alphas is None else alphas, dtype=np.float64).reshape(-1)
    if X.shape[1] == 0:
        return np.zeros(0), float(alphas[0])
    with jax.enable_x64(True):
        err, coefs = _ridge_path(jnp.asarray(X), jnp.asarray(y), jnp.asarray(alphas))
        err = np.asarray(err)
        err = np.where(np.isfinite(err), err, np.inf)
        best = int(np.argmin(err))
        return np.asarray(coefs[best]), float(alphas[best])


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
        fold = numpy_rng(key, 0x1A55).permutation(m) % folds
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
    if not np.all(np.isfinite(yv)):
        raise ValueError("y must be finite")
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
