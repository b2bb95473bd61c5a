"""Arithmetic in GF(2^m), 2 <= m <= 24, for the BCH kernels.

Elements are integers ``0 <= x < 2**m`` in the polynomial basis (bit ``k`` is the coefficient of
``alpha**k``), stored as ``int32`` so that they ride along with other integer work without x64.

Multiplication goes through ``exp``/``log`` tables (gathers are cheap on every backend and keep jitted
code branch-free). :class:`GF2m` is a pytree whose *leaves are the tables* and whose static part is
``(m, poly)``: passing a field into a jitted function passes the tables as arguments, so they are not
baked into every compiled program as constants. :func:`gf2m_field` returns host (NumPy) tables and
:meth:`GF2m.device` a cached copy with JAX arrays.

Every operation dispatches on its inputs: all-NumPy in, NumPy out (host precomputation); any JAX
array or tracer in, JAX out (inside jit).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

# Primitive polynomials (bit k = coefficient of x^k, including x^m): MATLAB's default ``primpoly``
# choices (the fewest-term ones), which ``galois.BCH`` also uses for its extension field. The primitive
# element alpha = x therefore matches the reference, and with it every BCH code space and delay matrix.
PRIMITIVE_POLYS: dict[int, int] = {
    2: 0x7,  # x^2+x+1
    3: 0xB,  # x^3+x+1
    4: 0x13,  # x^4+x+1
    5: 0x25,  # x^5+x^2+1
    6: 0x43,  # x^6+x+1
    7: 0x89,  # x^7+x^3+1
    8: 0x11D,  # x^8+x^4+x^3+x^2+1
    9: 0x211,  # x^9+x^4+1
    10: 0x409,  # x^10+x^3+1
    11: 0x805,  # x^11+x^2+1
    12: 0x1053,  # x^12+x^6+x^4+x+1
    13: 0x201B,  # x^13+x^4+x^3+x+1
    14: 0x4443,  # x^14+x^10+x^6+x+1
    15: 0x8003,  # x^15+x+1
    16: 0x1100B,  # x^16+x^12+x^3+x+1
    17: 0x20009,  # x^17+x^3+1
    18: 0x40027,  # x^18+x^5+x^2+x+1
    19: 0x80027,  # x^19+x^5+x^2+x+1
    20: 0x100009,  # x^20+x^3+1
    21: 0x200005,  # x^21+x^2+1
    22: 0x400003,  # x^22+x+1
    23: 0x800021,  # x^23+x^5+1
    24: 0x100001B,  # x^24+x^4+x^3+x+1
}

M_MIN, M_MAX = 2, 24


def _xp(*xs: Any) -> Any:
    """``jnp`` if any argument is a JAX array (or tracer), else ``np``."""
    return jnp if any(isinstance(x, jax.Array) for x in xs) else np


@jax.tree_util.register_pytree_node_class
@dataclass(frozen=True, eq=False)
class GF2m:
    """GF(2^m) with primitive element ``alpha`` (root of ``poly``).

    ``exp[k] = alpha**k`` for ``0 <= k < N = 2**m - 1``; ``log[x]`` is the discrete log of ``x != 0``
    (``log[0] = 0`` is a placeholder: every operation masks zeros explicitly).
    """

    m: int
    poly: int
    exp: Any  # int32[N]
    log: Any  # int32[2**m]

    @property
    def order(self) -> int:
        """``N = 2**m - 1``, the multiplicative order of ``alpha``."""
        return (1 << self.m) - 1

    def device(self) -> GF2m:
        """The same field with tables as (cached) JAX device arrays."""
        return _device_field(self.m)

    def tree_flatten(self) -> tuple[tuple[Any, Any], tuple[int, int]]:
        return (self.exp, self.log), (self.m, self.poly)

    @classmethod
    def tree_unflatten(cls, aux: tuple[int, int], leaves: tuple[Any, Any]) -> GF2m:
        return cls(aux[0], aux[1], leaves[0], leaves[1])


def _mul_int(a: int, b: int, m: int, poly: int) -> int:
    """Plain-int carry-less multiply mod ``poly`` (shift-and-add with reduction at every step)."""
    r = 0
    while b:
        if b & 1:
            r ^= a
        b >>= 1
        a <<= 1
        if a >> m:
            a ^= poly
    return r


def _build_tables(m: int, poly: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised ``exp``/``log`` tables: no Python loop over the 2^m elements.

    ``exp[i*B + j] = beta**i * alpha**j`` with ``beta = alpha**B``. The ~sqrt(N) powers of ``alpha``
    and of ``beta`` are made sequentially; multiplication by ``alpha**j`` is GF(2)-linear, so the outer
    product is assembled from per-row byte tables (``T[i, byte] = beta**i * byte`` summed over basis).
    """
    N = (1 << m) - 1
    B = 1 << ((m + 1) // 2)
    blk = np.empty(B, np.int64)
    x = 1
    for j in range(B):
        blk[j] = x
        x <<= 1
        if x >> m:
            x ^= poly
    beta = x
    R = -(-N // B)
    rows = np.empty(R, np.int64)
    y = 1
    for i in range(R):
        rows[i] = y
        y = _mul_int(y, beta, m, poly)
    # basis[k, i] = beta**i * alpha**k (k < m): shift with reduction, vectorised over rows.
    basis = np.empty((m, R), np.int64)
    v = rows.copy()
    for k in range(m):
        basis[k] = v
        v <<= 1
        v ^= np.where(v >> m, poly, 0)
    out = np.zeros((R, B), np.int32)
    for g in range(0, m, 8):
        nb = min(8, m - g)
        sub = np.arange(1 << nb)
        tab = np.zeros((R, 1 << nb), np.int64)
        for k in range(nb):
            tab ^= np.where((sub >> k) & 1, basis[g + k][:, None], 0)
        out ^= np.take(tab.astype(np.int32), (blk >> g) & ((1 << nb) - 1), axis=1)
    exp = np.ascontiguousarray(out.reshape(-1)[:N])
    if np.count_nonzero(exp == 1) != 1:  # alpha**k == 1 for some 0 < k < N
        raise ValueError(f"polynomial {poly:#x} is not primitive for m={m}")
    log = np.zeros(N + 1, np.int32)
    log[exp] = np.arange(N, dtype=np.int32)
    return exp, log


@cache
def gf2m_field(m: int) -> GF2m:
    """The field GF(2^m) with host (NumPy int32) tables; cached per ``m``."""
    if not isinstance(m, int | np.integer) or not M_MIN <= int(m) <= M_MAX:
        raise ValueError(f"gf2m_field: need {M_MIN} <= m <= {M_MAX}, got {m!r}")
    m = int(m)
    exp, log = _build_tables(m, PRIMITIVE_POLYS[m])
    exp.flags.writeable = False
    log.flags.writeable = False
    return GF2m(m, PRIMITIVE_POLYS[m], exp, log)


@cache
def _device_field(m: int) -> GF2m:
    f = gf2m_field(m)
    return GF2m(m, f.poly, jnp.asarray(f.exp, jnp.int32), jnp.asarray(f.log, jnp.int32))


# ----------------------------------------------------------------------------------------- operations


def _i32(xp: Any, x: Any) -> Any:
    return xp.asarray(x).astype(xp.int32) if xp is jnp else np.asarray(x, dtype=np.int64)


def _addmod(xp: Any, a: Any, b: Any, N: int) -> Any:
    """``(a + b) mod N`` for ``0 <= a, b < N`` without a division."""
    s = a + b
    return xp.where(s >= N, s - N, s)


def mul(field: GF2m, a: Any, b: Any) -> Any:
    """Elementwise product (broadcasting)."""
    xp = _xp(a, b, field.exp)
    a, b = _i32(xp, a), _i32(xp, b)
    la, lb = field.log[a], field.log[b]
    r = field.exp[_addmod(xp, la, lb, field.order)]
    return xp.where((a == 0) | (b == 0), 0, r).astype(xp.int32)


def square(field: GF2m, a: Any) -> Any:
    """``a**2`` (the Frobenius map, GF(2)-linear)."""
    xp = _xp(a, field.exp)
    a = _i32(xp, a)
    la = field.log[a]
    r = field.exp[_addmod(xp, la, la, field.order)]
    return xp.where(a == 0, 0, r).astype(xp.int32)


def inv(field: GF2m, a: Any) -> Any:
    """Multiplicative inverse; ``inv(0) = 0`` by convention (callers mask zero pivots)."""
    xp = _xp(a, field.exp)
    a = _i32(xp, a)
    la = field.log[a]
    r = field.exp[xp.where(la == 0, 0, field.order - la)]
    return xp.where(a == 0, 0, r).astype(xp.int32)


def _mulmod_i32(x: Any, y: Any, N: int) -> Any:
    """``x*y mod N`` for ``0 <= x, y < N < 2**24`` in int32: 7-bit digits of ``y`` keep products < 2**31."""
    r = jnp.zeros_like(x)
    for shift in range(21, -1, -7):
        r = jnp.mod(r * 128, N)
        r = _addmod(jnp, r, jnp.mod(x * ((y >> shift) & 127), N), N)
    return r


def pow(field: GF2m, a: Any, e: Any) -> Any:  # noqa: A001 - mirrors the math name
    """``a**e`` for integer ``e`` (negative allowed for ``a != 0``); ``0**0 = 1``, ``0**e = 0``."""
    xp = _xp(a, e, field.exp)
    a, e = _i32(xp, a), _i32(xp, e)
    N = field.order
    la = field.log[a]
    em = xp.mod(e, N)
    if xp is np:
        k = (la.astype(np.int64) * em) % N
    else:
        la, em = jnp.broadcast_arrays(la, em)
        k = _mulmod_i32(la, em, N)
    r = field.exp[k]
    r = xp.where(a == 0, xp.where(e == 0, 1, 0), r)
    return r.astype(xp.int32)


def alpha_pow(field: GF2m, k: Any) -> Any:
    """``alpha**k`` for integer ``k`` of any sign (reduced mod ``N``)."""
    xp = _xp(k, field.exp)
    k = _i32(xp, k)
    return field.exp[xp.mod(k, field.order)].astype(xp.int32)


def mul_bits(a: Any, b: Any, m: int, poly: int | None = None) -> Any:
    """Table-free product: carry-less multiply reduced at every step (reference and cross-check).

    All intermediates stay below ``2**(m+1)``, so int32 suffices for ``m <= 24``.
    """
    poly = PRIMITIVE_POLYS[m] if poly is None else poly
    xp = _xp(a, b)
    a, b = _i32(xp, a), _i32(xp, b)
    a, b = xp.broadcast_arrays(a, b)
    r = xp.zeros_like(a)
    for k in range(m):
        r = r ^ xp.where((b >> k) & 1, a, 0)
        a = a << 1
        a = a ^ xp.where(a >> m, poly, 0)
    return r.astype(xp.int32)


def to_bits(x: Any, m: int) -> Any:
    """``int[...] -> uint8[..., m]`` (bit ``k`` at index ``k``)."""
    xp = _xp(x)
    x = _i32(xp, x)
    return ((x[..., None] >> xp.arange(m)) & 1).astype(xp.uint8)


def from_bits(bits: Any) -> Any:
    """Inverse of :func:`to_bits`: ``bits[..., m] -> int32[...]``."""
    xp = _xp(bits)
    m = bits.shape[-1]
    w = (1 << xp.arange(m)).astype(xp.int32)
    return xp.sum(xp.asarray(bits).astype(xp.int32) * w, axis=-1).astype(xp.int32)


__all__ = [
    "GF2m",
    "M_MAX",
    "M_MIN",
    "PRIMITIVE_POLYS",
    "alpha_pow",
    "from_bits",
    "gf2m_field",
    "inv",
    "mul",
    "mul_bits",
    "pow",
    "square",
    "to_bits",
]
