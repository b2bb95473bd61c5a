"""Evaluating sparse Walsh (Fourier) expansions on dense masks and on affine query blocks.

Supports travel as ``int[K, d]`` index arrays padded with ``-1`` (tuples live only at the API boundary).
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np


@jax.jit
def _eval_dense_chunk(x: jax.Array, padded: jax.Array, coeffs: jax.Array) -> jax.Array:
    valid = padded >= 0
    idx = jnp.where(valid, padded, 0)
    bits = jnp.take(x, idx, axis=1) & valid[None]  # (m, K, d)
    par = jnp.bitwise_xor.reduce(bits.astype(jnp.uint8), axis=2)  # (m, K)
    sign = 1.0 - 2.0 * par.astype(coeffs.dtype)
    return sign @ coeffs


def eval_fourier(x: np.ndarray, padded: np.ndarray, coeffs: np.ndarray, *, chunk: int = 4096) -> np.ndarray:
    """``sum_k coeffs[k] * (-1)^{sum_{i in S_k} x_i}`` for each row of ``x: bool[m, n]``.

    Runs in float64 so that exact synthetic functions stay exact; rows are processed in chunks so
    that ``m * K * d`` never blows up memory.
    """
    x = np.asarray(x, dtype=bool)
    padded = np.asarray(padded)
    m = x.shape[0]
    out = np.empty(m, dtype=np.float64)
    if padded.shape[0] == 0:
        out[:] = 0.0
        return out
    # keep m*K*d per chunk around 2**26 elements
    per_row = max(1, padded.shape[0] * padded.shape[1])
    chunk = int(max(1, min(chunk, (1 << 26) // per_row)))
    with jax.enable_x64(True):
        pj = jnp.asarray(padded, dtype=jnp.int32 if x.shape[1] < 2**31 else jnp.int64)
        cj = jnp.asarray(coeffs, dtype=jnp.float64)
        for lo in range(0, m, chunk):
            hi = min(m, lo + chunk)
            xb = x[lo:hi]
            if hi - lo < chunk and m > chunk:  # pad the ragged tail so the jit cache stays small
                xb = np.concatenate([xb, np.zeros((chunk - (hi - lo), x.shape[1]), bool)])
            out[lo:hi] = np.asarray(_eval_dense_chunk(jnp.asarray(xb), pj, cj))[: hi - lo]
    return out


def parity_u32(v: jax.Array) -> jax.Array:
    """Parity of the set bits of each uint32 (0 or 1, same dtype); NumPy or JAX arrays (one definition)."""
    v = v ^ (v >> 16)
    v = v ^ (v >> 8)
    v = v ^ (v >> 4)
    v = v ^ (v >> 2)
    v = v ^ (v >> 1)
    return v & v.dtype.type(1)


def xor_reduce_codes(codes: np.ndarray, padded: np.ndarray) -> np.ndarray:
    """``XOR_{i in S_k} codes[..., i]`` for each padded support: ``uint32[..., K]``."""
    valid = padded >= 0
    idx = np.where(valid, padded, 0)
    g = codes[..., idx]  # (..., K, d)
    g = np.where(valid, g, 0).astype(np.uint32)
    return np.bitwise_xor.reduce(g, axis=-1)


@partial(jax.jit, static_argnames=("b",))
def eval_fourier_affine(codes: jax.Array, dbits: jax.Array, coeffs: jax.Array, *, b: int) -> jax.Array:
    """Values of a sparse Walsh expansion on affine blocks ``x = M^T l XOR d_p`` sharing one ``M``.

    Since ``<S, M^T l XOR d> = <M S, l> XOR <S, d>``, each term needs only its hash code ``M S`` and its
    delay bits; no mask is ever built.

    Args:
      codes: ``uint32[K]``, ``M S_k`` packed as b-bit integers.
      dbits: ``uint8[Q, K]``, ``<S_k, d_q>`` for each of the Q requested delays.
      coeffs: ``float[K]``.
    Returns ``float[Q, 2**b]``; cost ``O(K)`` per query (one ``(K, 2**b)`` sign matrix shared by all delays).
    """
    ell = jnp.arange(1 << b, dtype=jnp.uint32)
    s_ell = 1.0 - 2.0 * parity_u32(codes[:, None] & ell[None, :]).astype(coeffs.dtype)  # (K, L)
    s_d = 1.0 - 2.0 * dbits.astype(coeffs.dtype)  # (Q, K)
    return (s_d * coeffs[None, :]) @ s_ell


def characters_matrix(x: np.ndarray, padded: np.ndarray) -> np.ndarray:
    """``float64[m, K]`` with entry ``(-1)^{sum_{i in S_k} x_i}``: the design matrix of a refit."""
    x = np.asarray(x, dtype=bool)
    padded = np.asarray(padded)
    valid = padded >= 0
    idx = np.where(valid, padded, 0)
    out = np.empty((x.shape[0], padded.shape[0]))
    step = max(1, (1 << 24) // max(1, padded.size))
    for lo in range(0, x.shape[0], step):
        bits = x[lo : lo + step][:, idx] & valid[None]
        out[lo : lo + step] = 1.0 - 2.0 * np.bitwise_xor.reduce(bits, axis=2)
    return out
