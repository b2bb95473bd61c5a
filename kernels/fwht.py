"""Fast Walsh-Hadamard transform (natural / Hadamard order) as a chain of small dense matmuls.

``H_{2^k} = H_{r_1} (x) ... (x) H_{r_m}`` (Kronecker), so the length-``2^k`` axis is reshaped into
factors of at most ``radix`` and each factor is contracted with a small ``+-1`` matrix. On XLA this beats
``k`` butterfly passes: each contraction is one BLAS/cuBLAS call that reads the array once, and the
number of passes drops from ``k`` to ``ceil(k / log2(radix))``.

Viewing the data as ``(pre, r, post)`` for each factor, the contraction is a (batched) ``H_r @ (r, post)``
that writes its result in place order, so no transposes are ever materialised; the transformed axis
need not be last either (other axes are just ``pre``/``post``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["fwht", "hadamard", "factor_bits", "DEFAULT_RADIX"]

# Measured on CPU (benchmarks/fwht_vs_numpy.py): 16 balances flops (grow with the factor size)
# against memory passes (shrink with it).
DEFAULT_RADIX = 16


def hadamard(n: int, dtype=np.float64) -> np.ndarray:
    """Dense Sylvester Hadamard matrix ``H[i, j] = (-1)^{popcount(i & j)}`` (a NumPy constant)."""
    if n < 1 or n & (n - 1):
        raise ValueError(f"Hadamard size must be a power of two, got {n}")
    i = np.arange(n, dtype=np.uint64)
    bits = i[:, None] & i[None, :]
    parity = np.zeros((n, n), dtype=np.uint64)
    while bits.any():
        parity ^= bits & np.uint64(1)
        bits = bits >> np.uint64(1)
    return (1 - 2 * parity.astype(np.int64)).astype(dtype)


def factor_bits(k: int, radix: int) -> tuple[int, ...]:
    """Split ``k`` bits into as few factors of at most ``log2(radix)`` bits as possible, balanced.

    Balanced splits cost fewer flops than a remainder factor (e.g. 22 bits at radix 32 ->
    4+4+4+5+5 rather than 5+5+5+5+2), for the same number of passes.
    """
    p = radix.bit_length() - 1
    if k == 0:
        return ()
    m = -(-k // p)
    q, rem = divmod(k, m)
    return (q,) * (m - rem) + (q + 1,) * rem


def _check_radix(radix: int) -> None:
    if not isinstance(radix, int | np.integer) or radix < 2 or radix & (radix - 1):
        raise ValueError(f"radix must be a power of two >= 2, got {radix!r}")


def _fwht_3d(y: jax.Array, radix: int, scale: float) -> jax.Array:
    """Transform the middle axis of a real ``(pre, n, post)`` array."""
    shape = y.shape
    pre, rest, q = shape
    bits = factor_bits(rest.bit_length() - 1, radix)
    if not bits:
        return y
    dims = (((1,), (0,)), ((), ()))
    for step, b in enumerate(bits):
        r = 1 << b
        h_np = hadamard(r, np.float64)
        if step == 0 and scale != 1.0:
            h_np = h_np * scale  # a power of two: folding it in is exact and saves a pass
        h = jnp.asarray(h_np, y.dtype)
        rest //= r
        post = rest * q
        kw = dict(precision=lax.Precision.HIGHEST, preferred_element_type=y.dtype)  # +-1 stays exact
        if post == 1:  # contiguous factor: (pre, r) @ H
            y = lax.dot_general(y.reshape(pre, r), h, dims, **kw)
        elif pre == 1:  # leading factor: H @ (r, post)
            y = lax.dot_general(h, y.reshape(r, post), dims, **kw)
        else:
            # batched H @ (r, post) over pre: no transposes, unlike contracting a middle axis directly,
            # which XLA lowers to transpose + GEMM (two passes). The broadcast costs r / post of a pass.
            hb = jnp.broadcast_to(h, (pre, r, r))
            y = lax.dot_general(hb, y.reshape(pre, r, post), (((2,), (1,)), ((0,), (0,))), **kw)
        pre *= r
    return y.reshape(shape)


# Long rows are transformed in cache-sized blocks: all low-bit passes of one block while it sits in L2
# (a sequential ``lax.map``), then one pass for the high bits across blocks; 2 passes over memory instead
# of ceil(k / log2(radix)). Measured at 2^22 float64: 40 ms blocked vs 58 ms unblocked (NumPy radix-32: 70).
BLOCK_BYTES = 1 << 19


def _transform(y: jax.Array, radix: int, scale: float) -> jax.Array:
    """``_fwht_3d`` with cache blocking for long contiguous rows (``post == 1``)."""
    pre, n, post = y.shape
    block = max(1, BLOCK_BYTES // y.dtype.itemsize)
    if post != 1 or n < 32 * block:  # below ~16 MB the unblocked passes measured as fast or faster
        return _fwht_3d(y, radix, scale)
    nb = n // block
    rows = y.reshape(pre * nb, block)
    rows = lax.map(lambda r: _fwht_3d(r.reshape(1, block, 1), radix, scale).reshape(block), rows)
    return _fwht_3d(rows.reshape(pre, nb, block), radix, 1.0).reshape(pre, n, 1)


@functools.partial(jax.jit, static_argnames=("axis", "normalize", "radix"))
def fwht(x: jax.Array, axis: int = -1, *, normalize: bool = False, radix: int = DEFAULT_RADIX) -> jax.Array:
    """Walsh-Hadamard transform of ``x`` along ``axis``, batched over all other axes.

    ``out[..., j, ...] = c * sum_l (-1)^{popcount(j & l)} x[..., l, ...]`` with ``c = 1`` or, with
    ``normalize=True``, ``c = 1 / N`` (the SPEX convention ``U[j] = 2^-b sum_l (-1)^{<j,l>} y[l]``).
    Unnormalised, ``fwht(fwht(x)) == N * x``; so ``fwht(fwht(x, normalize=True)) == x``.

    Args:
      x: array whose ``axis`` has a power-of-two length ``N`` (``N = 1`` is the identity). Real
        floating and complex dtypes are kept; integer/bool inputs are promoted to the default float.
      axis: the axis to transform (static).
      normalize: divide by ``N`` (exact: ``N`` is a power of two).
      radix: largest Hadamard factor used per matmul (static power of two). Larger means fewer passes
        over memory but more flops per element (``~ 2 * N * sum(factors)``).

    Returns:
      Array of the same shape and (promoted) dtype as ``x``.

    Raises:
      ValueError: at trace time, if ``N`` is not a power of two or ``radix`` is invalid.
    """
    _check_radix(radix)
    x = jnp.asarray(x)
    if x.ndim == 0:
        raise ValueError("fwht needs at least one axis")
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        x = x.astype(jnp.result_type(float))
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis < x.ndim:
        raise ValueError(f"axis {axis} out of range for an array with {x.ndim} dims")
    n = x.shape[axis]
    if n < 1 or n & (n - 1):
        raise ValueError(f"fwht length must be a power of two, got {n} (axis {axis} of shape {x.shape})")
    scale = 1.0 / n if normalize else 1.0

    pre, post = math.prod(x.shape[:axis]), math.prod(x.shape[axis + 1 :])
    y = x.reshape(pre, n, post)
    if jnp.issubdtype(x.dtype, jnp.complexfloating):
        # two real transforms: avoids complex-by-complex flops against a real matrix
        both = _transform(jnp.concatenate([jnp.real(y), jnp.imag(y)], axis=0), radix, scale)
        y = lax.complex(both[:pre], both[pre:])
    else:
        y = _transform(y, radix, scale)
    return y.reshape(x.shape)
