"""Fast Walsh-Hadamard transform (natural / Hadamard order) as a chain of small dense matmuls.

``H_{2^k} = H_{r_1} (x) ... (x) H_{r_m}`` (Kronecker), so the length-``2^k`` axis is reshaped into
factors of at most ``radix`` and each factor is contracted with a small ``+-1`` matrix. On XLA this beats
``k`` butterfly passes: each contraction is one BLAS/cuBLAS call that reads the array once, and the
number of passes drops from ``k`` to ``ceil(k / log2(radix))``.

Two ways to lay the passes out, picked by shape (``_layout``):

* **rotating** (contiguous rows, ``post == 1``): every pass is one plain GEMM ``H_r @ X^T`` on the
  array viewed as ``(rest, r)``; the transformed bits move to the top of the index and the next pass
  finds the next bits at the bottom (constant geometry, as in Pease's FFT). A batch of rows ends up
  transposed, ``(n, rows)``, and is transposed back once.
* **in place order** (``_fwht_3d``): viewing the data as ``(pre, r, post)``, each factor is a batched
  ``H_r @ (r, post)`` that writes its result in place order, so nothing is transposed. Best for many
  short rows and for axes that are not last.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

__all__ = ["fwht", "hadamard", "factor_bits", "DEFAULT_RADIX", "ROW_RADIX"]

# Measured on CPU (benchmarks/fwht_vs_numpy.py): 16 balances flops (grow with the factor size) against
# memory passes (shrink with it) for batches; a single long row does better with radix 8 (2^20 float64:
# lower median in 9 of 10 paired runs, 3.2-8.8 ms vs 5.7-10.0 ms), its plain GEMMs being compute-bound
# at 16.
DEFAULT_RADIX = 16
ROW_RADIX = 8


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


def _rotating(y: jax.Array, radix: int, scale: float) -> jax.Array:
    """Transform every row of ``(rows, n)`` with one plain GEMM per factor (constant geometry, as in Pease).

    Each step views the flat array as ``(rest, r)``, contracts its fastest ``r`` with ``H_r`` and writes
    the result as ``(r, rest)``: the transformed bits move to the top of the index, so the next step finds
    the next bits at the bottom. After all factors a single row is back in place, with no step ever
    transposing; a batch has its row index at the bottom, ``(n, rows)``, and is transposed back once.
    A plain ``H_r @ X^T`` GEMM runs at full BLAS speed at every step, unlike the batched
    ``(pre, r, post)`` products in the middle of ``_fwht_3d`` (measured at 2^20 float64: ~3.3 ms vs ~6 ms
    for the same five radix-16 passes; 183 x 8192 float64: 1.15-1.26x NumPy vs 0.90-0.99x).
    """
    rows, n = y.shape
    v = y.reshape(-1)
    for step, b in enumerate(factor_bits(n.bit_length() - 1, radix)):
        r = 1 << b
        h = hadamard(r, np.float64)
        if step == 0 and scale != 1.0:
            h = h * scale  # a power of two: exact
        v = lax.dot_general(
            jnp.asarray(h, v.dtype), v.reshape(-1, r), (((1,), (1,)), ((), ())),
            precision=lax.Precision.HIGHEST, preferred_element_type=v.dtype,
        ).reshape(-1)
    return v.reshape(n, rows).T if rows > 1 else v.reshape(1, n)


# Rows longer than a cache block are transformed block by block: all low-bit passes of one block while it
# sits in cache (a sequential ``lax.map``), then the high bits across blocks (one plain GEMM per factor of
# ``n / block``). Two passes over memory instead of one per factor, which matters once the row and its
# temporaries outgrow L3.
BLOCK_BYTES = 1 << 21
BLOCKED_MIN_BLOCKS = 8
# A batch of rows this long is transformed row by row (``lax.map``): batched layouts keep every row's
# temporaries live at once, which spills L3 (2 x 2^20 float64: 25 ms vs 12 ms).
ROW_MAP_BYTES = 1 << 22
# Shorter rows than this stay with ``_fwht_3d``: for them the rotating layout's final transpose costs
# more than the middle factors' batched GEMMs (300 x 1024 float64, two runs: min ratio to NumPy 0.76-1.10x
# vs 1.12-1.93x).
ROTATE_MIN_LENGTH = 4096


def _layout(pre: int, n: int, post: int, itemsize: int) -> str:
    """Which pass layout ``_transform`` uses for a ``(pre, n, post)`` array (static, by shape).

    ``"blocked"``: rows of at least ``BLOCKED_MIN_BLOCKS`` cache blocks; ``"row"``: one row
    (rotating GEMMs); ``"rows"``: a batch of long rows, one at a time; ``"rotate"``: a batch of medium
    rows, rotating over the whole batch; ``"batched"``: short rows and non-last axes (``_fwht_3d``).
    """
    if post != 1:
        return "batched"
    if n >= BLOCKED_MIN_BLOCKS * max(1, BLOCK_BYTES // itemsize):
        return "blocked"
    if pre == 1:
        return "row"
    if n * itemsize >= ROW_MAP_BYTES:
        return "rows"
    if n >= ROTATE_MIN_LENGTH:
        return "rotate"
    return "batched"


def _transform(y: jax.Array, radix: int | None, scale: float) -> jax.Array:
    """Transform the middle axis of a real ``(pre, n, post)`` array, choosing the pass layout by shape.

    ``radix=None`` uses each layout's measured default (``ROW_RADIX`` for single rows, ``DEFAULT_RADIX``
    otherwise).
    """
    pre, n, post = y.shape
    layout = _layout(pre, n, post, y.dtype.itemsize)
    row_radix, radix = radix or ROW_RADIX, radix or DEFAULT_RADIX

    def row(v: jax.Array) -> jax.Array:  # one row ``(m,)``
        return _rotating(v.reshape(1, -1), row_radix, scale).reshape(-1)

    if layout == "blocked":
        block = max(1, BLOCK_BYTES // y.dtype.itemsize)
        nb = n // block
        rows = lax.map(row, y.reshape(pre * nb, block))
        return _fwht_3d(rows.reshape(pre, nb, block), radix, 1.0).reshape(pre, n, 1)
    if layout == "row":
        return row(y.reshape(n)).reshape(1, n, 1)
    if layout == "rows":
        return lax.map(row, y.reshape(pre, n)).reshape(pre, n, 1)
    if layout == "rotate":
        return _rotating(y.reshape(pre, n), radix, scale).reshape(pre, n, 1)
    return _fwht_3d(y, radix, scale)


@functools.partial(jax.jit, static_argnames=("axis", "normalize", "radix"))
def fwht(x: jax.Array, axis: int = -1, *, normalize: bool = False, radix: int | None = None) -> jax.Array:
    """Walsh-Hadamard transform of ``x`` along ``axis``, batched over all other axes.

    ``out[..., j, ...] = c * sum_l (-1)^{popcount(j & l)} x[..., l, ...]`` with ``c = 1`` or, with
    ``normalize=True``, ``c = 1 / N`` (the SPEX convention ``U[j] = 2^-b sum_l (-1)^{<j,l>} y[l]``).
    Unnormalised, ``fwht(fwht(x)) == N * x``; so ``fwht(fwht(x, normalize=True)) == x``.

    Args:
      x: array whose ``axis`` has a power-of-two length ``N`` (``N = 1`` is the identity). Real
        floating and complex dtypes are kept; integer/bool inputs are promoted to the default float.
      axis: the axis to transform (static).
      normalize: divide by ``N`` (exact: ``N`` is a power of two).
      radix: largest Hadamard factor used per matmul (static power of two), or ``None`` for the
        measured default of the chosen layout. Larger means fewer passes over memory but more flops
        per element (``~ 2 * N * sum(factors)``).

    Returns:
      Array of the same shape and (promoted) dtype as ``x``.

    Raises:
      ValueError: at trace time, if ``N`` is not a power of two or ``radix`` is invalid.
    """
    if radix is not None:
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
