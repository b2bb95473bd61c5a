"""Binary narrow-sense BCH codes for SPEX delays: construction, syndromes, decoding (hard and Chase-soft).

Convention. ``N = 2**m - 1``; codewords ``c in {0,1}^N`` satisfy ``sum_pos c_pos alpha**(i*pos) = 0`` for
``i = 1..2t``. The generator has degree ``P`` (size of the union of the cyclotomic cosets of
``1, 3, ..., 2t-1``). Systematic layout: parity bits at positions ``0..P-1``, feature ``j`` at position
``P + j``, shortened to ``n`` features. ``make_code`` picks the smallest ``m`` with ``N - P >= n``, as the
reference ``sparse_transform`` ``BCH.parameter_search`` does, so ``P`` equals its parity length. With the
same primitive polynomials as ``galois`` (see ``gf2m``), the code space is galois' (position = polynomial
degree), and the reference's ``get_delay_matrix()[1:]`` equals our ``delay_matrix()`` with both axes
reversed (its feature ``j`` is our ``n-1-j``, its delay ``p`` our parity bit ``P-1-p``).

SPEX observes, for a bin holding one coefficient ``F(k)``, the parity bits ``r = XOR_{j in k} d_j`` (the
delay columns). Decoding ``r`` is syndrome decoding of the word "zeros at message positions, ``r`` at
parity positions": error positions ``>= P`` are the features, positions ``< P`` are flipped parity bits.

Everything after construction is batched and jit-compiled with static shapes; failures are reported in
``ok`` flags, never raised. Host-side helpers (construction, delay columns, encoding) use NumPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache, partial
from typing import Any, Literal, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .gf2m import M_MAX, GF2m, gf2m_field, inv, mul, square

RootFinder = Literal["auto", "chien", "algebraic"]
# Above this many code positions ``auto`` stops scanning (Chien) and solves for the roots algebraically.
CHIEN_MAX_POSITIONS = 4096
# The algebraic root finder enumerates 2^t candidates per word; Chien keeps ``t * position`` in int32.
ALGEBRAIC_MAX_T = 12
T_MAX = 32


# ------------------------------------------------------------------------------------------ construction


def parity_length(m: int, t: int) -> int:
    """``P = deg g``: size of the union of the cyclotomic cosets of ``1, 3, ..., 2t-1`` mod ``2**m - 1``."""
    N = (1 << m) - 1
    seen: set[int] = set()
    for i in range(1, 2 * t, 2):
        x = i % N
        for _ in range(m):
            seen.add(x)
            x = (2 * x) % N
    return len(seen)


def _gf2_left_inverse(A: np.ndarray) -> np.ndarray:
    """``W`` with ``W @ A = I (mod 2)`` for a full-column-rank ``A: uint8[R, P]`` (Gauss-Jordan on ``[A | I]``)."""
    R, P = A.shape
    aug = np.concatenate([A.astype(np.uint8) & 1, np.eye(R, dtype=np.uint8)], axis=1)
    row = 0
    for col in range(P):
        piv = np.flatnonzero(aug[row:, col]) + row
        if piv.size == 0:
            raise RuntimeError("parity-check columns are not independent (internal error)")
        p = piv[0]
        if p != row:
            aug[[row, p]] = aug[[p, row]]
        hit = aug[:, col].astype(bool)
        hit[row] = False
        aug[hit] ^= aug[row]
        row += 1
    return np.ascontiguousarray(aug[:P, P:])


@dataclass(frozen=True, eq=False)
class BCHCode:
    """A shortened systematic binary BCH code (host object; arrays are NumPy).

    Attributes:
      n, t: number of features (message bits) and correctable errors.
      m, P: field degree and number of parity bits (= delays).
      field: GF(2^m) with host tables.
      H_par: ``uint8[m*t, P]`` rows = bits of ``alpha**(i*p)``, ``i = 1, 3, ..., 2t-1``, ``p < P``.
      W: ``uint8[P, m*t]`` GF(2) left inverse of ``H_par``; ``d_j = W h(P + j)``.
      syn_mat: ``uint8[P, 2t*m]``: bits of ``alpha**(i*p)`` for ``i = 1..2t`` (syndromes as a bit matmul).
    """

    n: int
    t: int
    m: int
    P: int
    field: GF2m
    H_par: np.ndarray
    W: np.ndarray
    syn_mat: np.ndarray

    @property
    def N(self) -> int:
        """Full (unshortened) code length ``2**m - 1``."""
        return (1 << self.m) - 1

    @property
    def length(self) -> int:
        """Shortened code length ``P + n``: valid error positions are ``0..length-1``."""
        return self.P + self.n

    @cached_property
    def _w_tables(self) -> np.ndarray:
        """``uint8[t, nbytes, 256, ceil(P/8)]``: packed ``W``-images of each byte of each ``alpha**(i*pos)``.

        Turns ``d_j = W h`` into ``t * ceil(m/8)`` table gathers XOR-ed together (no wide matmul).
        """
        m, t, P = self.m, self.t, self.P
        nbytes = -(-m // 8)
        Wb = self.W.reshape(P, t, m)
        tab = np.zeros((t, nbytes, 256, P), np.uint8)
        v = np.arange(256)
        for i in range(t):
            for b in range(nbytes):
                for k in range(min(8, m - 8 * b)):
                    sel = ((v >> k) & 1).astype(bool)
                    tab[i, b, sel] ^= Wb[:, i, 8 * b + k][None, :]
        return np.packbits(tab, axis=-1)

    def delay_columns(self, idx: Any) -> np.ndarray:
        """``uint8[len(idx), P]``: delay column ``d_j`` (parity bits of the codeword with message ``e_j``)."""
        idx = np.asarray(idx, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n):
            raise ValueError(f"delay_columns: indices must lie in [0, {self.n})")
        pos = self.P + idx
        tab = self._w_tables
        nbytes = tab.shape[1]
        acc = np.zeros((idx.size, tab.shape[-1]), np.uint8)
        for i in range(self.t):
            e = self.field.exp[((2 * i + 1) * pos) % self.N]
            for b in range(nbytes):
                acc ^= tab[i, b][(e >> (8 * b)) & 255]
        return np.unpackbits(acc, axis=-1, count=self.P)

    def delay_matrix(self) -> np.ndarray:
        """``bool[P, n]`` dense delay matrix (column ``j`` is :meth:`delay_columns` of ``j``)."""
        return self.delay_columns(np.arange(self.n)).T.astype(bool)

    @cached_property
    def _limit(self) -> jax.Array:
        return jnp.asarray(self.length, jnp.int32)

    @cached_property
    def _device(self) -> tuple[jax.Array, jax.Array, jax.Array]:
        f = self.field.device()
        return f.exp, f.log, jnp.asarray(self.syn_mat, jnp.float32)


@lru_cache(maxsize=64)
def _make_code(n: int, t: int) -> BCHCode:
    m = max(2, math.ceil(math.log2(2 * t + 2)))
    while m <= M_MAX and (1 << m) - 1 - parity_length(m, t) < n:
        m += 1
    if m > M_MAX:
        raise ValueError(f"make_code: no BCH code with m <= {M_MAX} has n={n} message bits at t={t}")
    P = parity_length(m, t)
    field = gf2m_field(m)
    N = field.order
    p = np.arange(P, dtype=np.int64)
    odd = np.arange(1, 2 * t, 2, dtype=np.int64)
    allz = np.arange(1, 2 * t + 1, dtype=np.int64)
    h = field.exp[(odd[:, None] * p[None, :]) % N]  # (t, P)
    H_par = ((h[:, None, :] >> np.arange(m)[None, :, None]) & 1).astype(np.uint8).reshape(t * m, P)
    W = _gf2_left_inverse(H_par)
    s = field.exp[(p[:, None] * allz[None, :]) % N]  # (P, 2t)
    syn_mat = ((s[..., None] >> np.arange(m)) & 1).astype(np.uint8).reshape(P, 2 * t * m)
    for a in (H_par, W, syn_mat):
        a.flags.writeable = False
    return BCHCode(n=n, t=t, m=m, P=P, field=field, H_par=H_par, W=W, syn_mat=syn_mat)


def make_code(n: int, t: int) -> BCHCode:
    """The BCH code for ``n`` features correcting ``t`` errors, with the smallest field that fits (cached)."""
    if int(n) != n or int(t) != t or n < 1 or not 1 <= t <= T_MAX:
        raise ValueError(f"make_code: need integers n >= 1 and 1 <= t <= {T_MAX}, got n={n!r}, t={t!r}")
    return _make_code(int(n), int(t))


def encode_support(code: BCHCode, supports: Any) -> np.ndarray:
    """``uint8[B, P]``: XOR of the delay columns of each row of ``supports: int[B, d]`` (``-1`` padded)."""
    sup = np.asarray(supports, dtype=np.int64)
    if sup.ndim == 1:
        sup = sup[None]
    valid = sup >= 0
    out = np.zeros((sup.shape[0], code.P), np.uint8)
    if valid.any():
        cols = code.delay_columns(sup[valid])
        rows = np.nonzero(valid)[0]
        np.bitwise_xor.at(out, rows, cols)
    return out


# --------------------------------------------------------------------------------------------- kernels


class _Static(NamedTuple):
    """Static (compile-time) configuration. ``n`` enters only through ``chien`` (the number of positions to
    scan, 0 = algebraic root finder); the range limit ``P + n`` is a traced argument, so codes that share
    ``(m, t)`` share compiled programs whatever their ``n``."""

    m: int
    t: int
    P: int
    chien: int

    @property
    def N(self) -> int:
        return (1 << self.m) - 1


def _static(code: BCHCode, root_finder: str = "auto") -> _Static:
    if root_finder == "auto":
        root_finder = "chien" if code.length <= CHIEN_MAX_POSITIONS else "algebraic"
    if root_finder not in ("chien", "algebraic"):
        raise ValueError(f"root_finder must be 'auto', 'chien' or 'algebraic', got {root_finder!r}")
    if root_finder == "algebraic" and code.t > ALGEBRAIC_MAX_T:
        raise ValueError(f"the algebraic root finder supports t <= {ALGEBRAIC_MAX_T}; use root_finder='chien'")
    return _Static(code.m, code.t, code.P, code.length if root_finder == "chien" else 0)


def _xor_reduce(x: jax.Array, axis: int) -> jax.Array:
    return jax.lax.reduce(x, jnp.zeros((), x.dtype), jax.lax.bitwise_xor, (axis % x.ndim,))


def _pack(bits: jax.Array, m: int) -> jax.Array:
    """``bits[..., m] -> int32[...]``."""
    w = jnp.left_shift(jnp.int32(1), jnp.arange(m, dtype=jnp.int32))
    return jnp.sum(bits.astype(jnp.int32) * w, axis=-1, dtype=jnp.int32)


def _syndromes(syn_mat: jax.Array, bits: jax.Array, st: _Static) -> jax.Array:
    """GF(2) bit-matrix product ``bits @ syn_mat`` (exact in float32: sums <= P), then pack to elements."""
    prod = jnp.matmul(bits.astype(jnp.float32), syn_mat, precision=jax.lax.Precision.HIGHEST)
    sbits = jnp.mod(prod, 2.0).astype(jnp.int32).reshape(bits.shape[:-1] + (2 * st.t, st.m))
    return _pack(sbits, st.m)


def _bm(f: GF2m, S: jax.Array, t: int, binary: bool = True) -> tuple[jax.Array, jax.Array]:
    """Berlekamp-Massey on ``S[B, 2t]`` with polynomials of length ``2t+1`` (so ``L > t`` is seen, not clipped).

    ``binary``: for syndromes of binary words (``S_2i = S_i^2``) every second discrepancy vanishes, so only
    the ``t`` even steps are computed (Berlekamp's simplification); otherwise all ``2t`` steps run.
    """
    B = S.shape[0]
    Lc = 2 * t + 1
    one = jnp.zeros((B, Lc), jnp.int32).at[:, 0].set(1)
    ar = jnp.arange(Lc)

    def step(k, carry):
        C, Bp, L, shift, b = carry
        r = 2 * k if binary else k
        idx = r - ar
        Sv = jnp.where(idx >= 0, jnp.take(S, jnp.clip(idx, 0, 2 * t - 1), axis=1), 0)
        d = _xor_reduce(mul(f, C, Sv), axis=1)
        coef = mul(f, d, inv(f, b))
        src = ar[None, :] - shift[:, None]
        Bs = jnp.where(src >= 0, jnp.take_along_axis(Bp, jnp.clip(src, 0, Lc - 1), axis=1), 0)
        Cn = C ^ mul(f, coef[:, None], Bs)
        nz = d != 0
        upd = nz & (2 * L <= r)
        Bp = jnp.where(upd[:, None], C, Bp)
        L = jnp.where(upd, r + 1 - L, L)
        b = jnp.where(upd, d, b)
        shift = jnp.where(upd, 1, shift + 1) + (1 if binary else 0)  # + the skipped zero-discrepancy step
        C = jnp.where(nz[:, None], Cn, C)
        return C, Bp, L, shift, b

    init = (one, one, jnp.zeros(B, jnp.int32), jnp.ones(B, jnp.int32), jnp.ones(B, jnp.int32))
    C, _, L, _, _ = jax.lax.fori_loop(0, t if binary else 2 * t, step, init)
    return C, L


def _compact_sorted(key: jax.Array, keep: jax.Array, width: int) -> jax.Array:
    """First ``width`` kept values of each row in ascending order, ``-1`` padded."""
    big = jnp.iinfo(jnp.int32).max
    k = jnp.sort(jnp.where(keep, key, big), axis=-1)
    if k.shape[-1] < width:
        k = jnp.concatenate([k, jnp.full(k.shape[:-1] + (width - k.shape[-1],), big, k.dtype)], axis=-1)
    k = k[..., :width]
    return jnp.where(k == big, -1, k).astype(jnp.int32)


def _chien(f: GF2m, Lam: jax.Array, st: _Static) -> tuple[jax.Array, jax.Array]:
    """Scan positions ``0..P+n-1`` in chunks: ``pos`` is an error position iff ``Lambda(alpha**-pos) = 0``."""
    B, T1 = Lam.shape
    t, N, total = st.t, st.N, st.chien
    chunk = int(min(total, max(64, (1 << 22) // max(1, B * T1))))
    nchunks = -(-total // chunk)
    logL = f.log[Lam]
    nzL = Lam != 0
    jj = jnp.arange(T1, dtype=jnp.int32)

    def body(carry, c):
        out, cnt = carry
        pos = c * chunk + jnp.arange(chunk, dtype=jnp.int32)  # (chunk,)
        e = jnp.mod(logL[:, None, :] - jj[None, None, :] * pos[None, :, None], N)  # (B, chunk, T1)
        terms = jnp.where(nzL[:, None, :], f.exp[e], 0)
        root = (_xor_reduce(terms, axis=2) == 0) & (pos < total)[None, :]
        rank = cnt[:, None] + jnp.cumsum(root, axis=1, dtype=jnp.int32) - 1
        col = jnp.where(root, rank, t)  # column t is out of bounds -> dropped
        rows = jnp.broadcast_to(jnp.arange(B)[:, None], col.shape)
        out = out.at[rows, col].set(jnp.broadcast_to(pos[None, :], col.shape), mode="drop")
        return (out, cnt + jnp.sum(root, axis=1, dtype=jnp.int32)), None

    init = (jnp.full((B, t), -1, jnp.int32), jnp.zeros(B, jnp.int32))
    (out, cnt), _ = jax.lax.scan(body, init, jnp.arange(nchunks, dtype=jnp.int32))
    return out, cnt


def _reduce_mod_monic(f: GF2m, p: jax.Array, s: jax.Array, t: int) -> jax.Array:
    """``p mod sigma`` for ``p[B, D]`` (D <= 2t-1) and monic degree-``t`` ``sigma`` (low coeffs ``s[B, t]``)."""
    D = p.shape[1]
    if D <= t:
        return jnp.pad(p, ((0, 0), (0, t - D)))

    def step(j, p):
        k = D - 1 - j
        lead = jax.lax.dynamic_slice_in_dim(p, k, 1, axis=1)
        win = jax.lax.dynamic_slice_in_dim(p, k - t, t, axis=1) ^ mul(f, lead, s)
        p = jax.lax.dynamic_update_slice_in_dim(p, win, k - t, axis=1)
        return jax.lax.dynamic_update_slice_in_dim(p, jnp.zeros_like(lead), k, axis=1)

    return jax.lax.fori_loop(0, D - t, step, p)[:, :t]


def _affine_roots(f: GF2m, Lam: jax.Array, st: _Static, limit: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Roots via an affine multiple; cost independent of ``n`` (about ``t^3 + m^2 + 2^t t`` field ops per row).

    With ``sigma(z) = z^t Lambda(1/z)`` (monic, degree ``t``; roots ``alpha**pos`` plus ``0`` if ``deg < t``),
    find ``A(z) = sum_{i<=t} a_i z^(2^i) + c`` divisible by ``sigma`` (null vector of a ``t x (t+2)`` system
    of the residues ``z^(2^i) mod sigma``). ``y -> sum a_i y^(2^i)`` is GF(2)-linear, so the roots lie in the
    affine space ``{y : L(y) = c}`` (dimension <= t): enumerate it and keep the roots of ``sigma``.
    Loops are ``fori_loop``s (not unrolled) to keep compile time low.
    """
    B = Lam.shape[0]
    t, m = st.t, st.m
    s = Lam[:, ::-1][:, :t]  # sigma = z^t + sum_{k<t} s_k z^k, s_k = Lambda_{t-k}
    bidx = jnp.arange(B)

    # residues R_i = z^(2^i) mod sigma, i = 0..t, as the columns of a t x (t+2) system (+ constant 1)
    R0 = _reduce_mod_monic(f, jnp.zeros((B, 2), jnp.int32).at[:, 1].set(1), s, t)

    def next_res(R, _):
        sq = jnp.zeros((B, 2 * t - 1), jnp.int32).at[:, ::2].set(square(f, R))
        Rn = _reduce_mod_monic(f, sq, s, t)
        return Rn, Rn

    _, Rs = jax.lax.scan(next_res, R0, None, length=t)  # (t, B, t)
    const = jnp.zeros((B, t), jnp.int32).at[:, 0].set(1)
    M = jnp.concatenate([R0[:, :, None], jnp.moveaxis(Rs, 0, 2), const[:, :, None]], axis=2)

    # Gauss-Jordan over GF(2^m) to RREF, then the null vector of the first free column.
    rows = jnp.arange(t)

    def gj(col, carry):
        M, used, pivcol = carry
        mc = M[:, :, col]
        cand = (~used) & (mc != 0)
        has = jnp.any(cand, axis=1)
        r = jnp.argmax(cand, axis=1)
        isr = rows[None, :] == r[:, None]
        prow = M[bidx, r]
        prow = mul(f, prow, inv(f, prow[:, col])[:, None])
        Mn = M ^ mul(f, jnp.where(isr, 0, mc)[:, :, None], prow[:, None, :])
        Mn = jnp.where(isr[:, :, None], prow[:, None, :], Mn)
        hit = has[:, None] & isr
        return jnp.where(has[:, None, None], Mn, M), used | hit, jnp.where(hit, col, pivcol)

    init = (M, jnp.zeros((B, t), bool), jnp.full((B, t), -1, jnp.int32))
    M, _, pivcol = jax.lax.fori_loop(0, t + 2, gj, init)
    pslot = jnp.where(pivcol >= 0, pivcol, t + 2)
    is_piv = jnp.zeros((B, t + 3), bool).at[bidx[:, None], pslot].set(True)
    free = jnp.argmin(is_piv[:, : t + 2], axis=1)  # exists: t+2 unknowns, t equations
    x = jnp.zeros((B, t + 3), jnp.int32).at[bidx, free].set(1)
    x = x.at[bidx[:, None], pslot].set(jnp.take_along_axis(M, free[:, None, None], axis=2)[:, :, 0])
    a, c = x[:, : t + 1], x[:, t + 1]

    # Linear map L(y) = sum a_i y^(2^i) as packed columns v_k = L(alpha^k).
    basis = jnp.broadcast_to(jnp.left_shift(jnp.int32(1), jnp.arange(m, dtype=jnp.int32)), (B, m))

    def lin(i, carry):
        v, y = carry
        return v ^ mul(f, a[:, i][:, None], y), square(f, y)

    v, _ = jax.lax.fori_loop(0, t + 1, lin, (jnp.zeros((B, m), jnp.int32), basis))

    # Solve L(y) = c over GF(2) by column elimination; zero columns' combinations span the kernel.
    ks = jnp.arange(m)

    def elim(bit, carry):
        v, comb, target, tcomb, piv = carry
        hasbit = ((v >> bit) & 1).astype(bool)
        cand = hasbit & ~piv
        has = jnp.any(cand, axis=1)
        k = jnp.argmax(cand, axis=1)
        pc, pm = v[bidx, k], comb[bidx, k]
        hit = hasbit & (ks[None, :] != k[:, None]) & has[:, None]
        th = has & ((target >> bit) & 1).astype(bool)
        return (
            jnp.where(hit, v ^ pc[:, None], v),
            jnp.where(hit, comb ^ pm[:, None], comb),
            jnp.where(th, target ^ pc, target),
            jnp.where(th, tcomb ^ pm, tcomb),
            piv | (has[:, None] & (ks[None, :] == k[:, None])),
        )

    init = (v, basis, c, jnp.zeros(B, jnp.int32), jnp.zeros((B, m), bool))
    _, comb, target, tcomb, piv = jax.lax.fori_loop(0, m, elim, init)
    kern = ~piv
    kdim = jnp.sum(kern, axis=1)
    krank = jnp.cumsum(kern, axis=1) - 1
    kb = jnp.zeros((B, t), jnp.int32).at[bidx[:, None], jnp.where(kern, krank, t)].set(comb, mode="drop")

    # Enumerate the affine space y0 + span(kernel) and keep the nonzero roots of sigma.
    subs = jnp.arange(1 << t, dtype=jnp.int32)
    sbits = ((subs[:, None] >> jnp.arange(t)) & 1).astype(bool)  # (2^t, t)
    cand = tcomb[:, None] ^ _xor_reduce(jnp.where(sbits[None], kb[:, None, :], 0), axis=2)  # (B, 2^t)
    valid = (target == 0)[:, None] & (subs[None, :] < jnp.left_shift(1, jnp.minimum(kdim, t))[:, None])

    pos = f.log[cand]
    N = st.N

    def horner(j, acc):  # acc * cand with log(cand) hoisted out of the loop
        la = f.log[acc] + pos
        prod = jnp.where(acc == 0, 0, f.exp[jnp.where(la >= N, la - N, la)])
        return prod ^ s[:, t - 1 - j][:, None]

    acc = jax.lax.fori_loop(0, t, horner, jnp.ones_like(cand))  # sigma is monic; cand == 0 is masked below
    root = valid & (cand != 0) & (acc == 0) & (pos < limit)
    cnt = jnp.sum(root, axis=1, dtype=jnp.int32)
    return _compact_sorted(pos, root, t), cnt


def _roots(f: GF2m, Lam: jax.Array, st: _Static, limit: jax.Array) -> tuple[jax.Array, jax.Array]:
    return _chien(f, Lam, st) if st.chien else _affine_roots(f, Lam, st, limit)


def _decode_from_syndromes(
    f: GF2m, S: jax.Array, st: _Static, limit: jax.Array
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``S[B, 2t] -> (positions int32[B, t] ascending, -1 padded; count int32[B]; ok bool[B])``."""
    C, L = _bm(f, S, st.t)
    Lam = C[:, : st.t + 1]
    pos, cnt = _roots(f, Lam, st, limit)
    ok = (L <= st.t) & (cnt == L)
    return pos, cnt, ok


def _split(pos: jax.Array, ok: jax.Array, st: _Static) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Error positions -> (feature support, number of parity flips, ok)."""
    feat = (pos >= st.P) & ok[:, None]
    support = _compact_sorted(pos - st.P, feat, st.t)
    flips = jnp.where(ok, jnp.sum((pos >= 0) & (pos < st.P), axis=1, dtype=jnp.int32), 0)
    return support, flips, ok


@partial(jax.jit, static_argnames=("st",))
def _decode_hard_jit(exp, log, syn_mat, limit, bits, *, st: _Static):
    f = GF2m(st.m, 0, exp, log)
    S = _syndromes(syn_mat, bits, st)
    pos, _, ok = _decode_from_syndromes(f, S, st, limit)
    return _split(pos, ok, st)


@partial(jax.jit, static_argnames=("st", "depth", "prefer_hard"))
def _decode_soft_jit(exp, log, syn_mat, limit, llr, *, st: _Static, depth: int, prefer_hard: bool):
    f = GF2m(st.m, 0, exp, log)
    B, P = llr.shape
    hard = (llr < 0).astype(jnp.float32)
    rel = jnp.abs(llr).astype(jnp.float32)
    S0 = _syndromes(syn_mat, hard, st)  # (B, 2t)
    _, lr = jax.lax.top_k(-rel, depth)  # (B, depth) least reliable positions
    # Syndromes are linear: S(hard ^ flips) = S(hard) ^ sum over flipped positions of S(e_p).
    Sf = _syndromes(syn_mat, jax.nn.one_hot(lr, P, dtype=jnp.float32), st)  # (B, depth, 2t)
    npat = 1 << depth
    pat = ((jnp.arange(npat)[:, None] >> jnp.arange(depth)) & 1).astype(bool)  # (npat, depth)
    S = S0[:, None, :] ^ _xor_reduce(jnp.where(pat[None, :, :, None], Sf[:, None], 0), axis=2)
    pos, _, ok = _decode_from_syndromes(f, S.reshape(B * npat, 2 * st.t), st, limit)
    pos, ok = pos.reshape(B, npat, st.t), ok.reshape(B, npat)
    # Re-encoded parity = hard ^ flips ^ (decoded parity errors q): cost = reliability on flips XOR q.
    q = (pos >= 0) & (pos < P)
    rel_lr = jnp.take_along_axis(rel, lr, axis=1)  # (B, depth)
    rel_q = jnp.take_along_axis(rel[:, None, :], jnp.clip(pos, 0, P - 1), axis=2)  # (B, npat, t)
    q_in_f = jnp.any((pos[..., None] == lr[:, None, None, :]) & pat[None, :, None, :], axis=-1) & q
    cost = jnp.sum(jnp.where(pat[None], rel_lr[:, None, :], 0), -1) + jnp.sum(
        jnp.where(q, rel_q, 0) * jnp.where(q_in_f, -1.0, 1.0), -1
    )
    nflip = jnp.sum(pat, -1)[None, :] + jnp.sum(q, -1) - 2 * jnp.sum(q_in_f, -1)
    cost = jnp.where(ok, cost, jnp.inf)
    if prefer_hard:  # the reference's rule: a successful hard decode is final
        cost = cost.at[:, 0].set(jnp.where(ok[:, 0], -jnp.inf, jnp.inf))
    best = jnp.argmin(cost, axis=1)  # first minimum: the unflipped word wins ties
    bidx = jnp.arange(B)
    okb = ok[bidx, best]
    support, _, okb = _split(pos[bidx, best], okb, st)
    return support, jnp.where(okb, nflip[bidx, best], 0).astype(jnp.int32), okb


# ------------------------------------------------------------------------------------------ public API


def _flat(x: Any, tail: int) -> tuple[jax.Array, tuple[int, ...]]:
    x = jnp.asarray(x)
    return x.reshape((-1, tail)), x.shape[:-1]


def syndromes(code: BCHCode, bits: Any) -> jax.Array:
    """``int32[..., 2t]``: ``S_i = sum_{p < P, bits_p = 1} alpha**(i*p)`` for ``i = 1..2t`` (jit, batched)."""
    b, lead = _flat(bits, code.P)
    S = _syndromes_jit(code._device[2], b, st=_static(code, "algebraic"))
    return S.reshape(lead + (2 * code.t,))


@partial(jax.jit, static_argnames=("st",))
def _syndromes_jit(syn_mat, bits, *, st):
    return _syndromes(syn_mat, bits, st)


@partial(jax.jit, static_argnames=("st", "binary"))
def _bm_jit(exp, log, S, *, st, binary):
    C, L = _bm(GF2m(st.m, 0, exp, log), S, st.t, binary)
    return C[:, : st.t + 1], L


def berlekamp_massey(code: BCHCode, S: Any, binary: bool = True) -> tuple[jax.Array, jax.Array]:
    """Error locator ``Lambda(x) = prod (1 - alpha**pos x)`` from ``S[..., 2t]`` (fixed iteration count).

    ``binary=True`` (``t`` steps) assumes ``S_2i = S_i^2``, true for :func:`syndromes` of any bit vector;
    pass ``False`` for arbitrary sequences (``2t`` steps, textbook Massey).

    Returns ``(Lambda int32[..., t+1], L int32[...])`` with ``Lambda[..., 0] = 1``. ``L > t`` means more
    than ``t`` errors (``Lambda`` is then truncated and meaningless).
    """
    s, lead = _flat(jnp.asarray(S, jnp.int32), 2 * code.t)
    exp, log, _ = code._device
    Lam, L = _bm_jit(exp, log, s, st=_static(code, "algebraic"), binary=bool(binary))
    return Lam.reshape(lead + (code.t + 1,)), L.reshape(lead)


@partial(jax.jit, static_argnames=("st",))
def _roots_jit(exp, log, limit, Lam, *, st):
    return _roots(GF2m(st.m, 0, exp, log), Lam, st, limit)


def find_roots(code: BCHCode, Lam: Any, root_finder: RootFinder = "auto") -> tuple[jax.Array, jax.Array]:
    """Error positions ``pos in [0, P+n)`` with ``Lambda(alpha**-pos) = 0`` for ``Lam[..., t+1]``.

    Returns ``(positions int32[..., t] ascending, -1 padded; count int32[...])``; ``count`` counts all roots
    in range (a row with more than ``t`` would be a bug: ``deg Lambda <= t``). ``"chien"`` scans every
    position (cost grows with ``n``); ``"algebraic"`` uses the affine-multiple method (cost independent
    of ``n``); ``"auto"`` picks Chien up to ``CHIEN_MAX_POSITIONS`` positions.
    """
    lam, lead = _flat(jnp.asarray(Lam, jnp.int32), code.t + 1)
    exp, log, _ = code._device
    pos, cnt = _roots_jit(exp, log, code._limit, lam, st=_static(code, root_finder))
    return pos.reshape(lead + (code.t,)), cnt.reshape(lead)


def decode_hard(
    code: BCHCode, bits: Any, root_finder: RootFinder = "auto"
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Bounded-distance decoding of observed parity bits ``uint8/bool[B, P]`` (all bins at once).

    Returns ``(support int32[B, t]`` features ascending, ``-1`` padded; ``n_flips int32[B]`` parity bits
    corrected; ``ok bool[B])``. ``ok`` is False when ``deg Lambda > t``, the locator does not split into
    distinct roots, or a root lies outside ``[0, P+n)``; failed rows have support ``-1`` and 0 flips.
    """
    b = jnp.asarray(bits)
    if b.ndim != 2 or b.shape[1] != code.P:
        raise ValueError(f"decode_hard: bits must have shape (B, {code.P}), got {b.shape}")
    exp, log, syn = code._device
    st = _static(code, root_finder)
    return _decode_hard_jit(exp, log, syn, code._limit, b.astype(jnp.float32), st=st)


def default_chase_depth(t: int) -> int:
    """Chase-2 flips the ``t`` least reliable positions (``d // 2``); capped at 5 (32 trial words)."""
    return min(t, 5)


def decode_soft(
    code: BCHCode,
    llr: Any,
    depth: int | None = None,
    root_finder: RootFinder = "auto",
    prefer_hard: bool = False,
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Chase decoding of parity LLRs ``float[B, P]`` (positive = bit 0).

    Hard decisions ``llr < 0``; every subset of the ``depth`` least reliable positions is flipped
    (``2**depth`` trial words, all decoded in one batch through the linearity of the syndromes); among
    successful trials the one whose re-encoded parity disagrees with the hard decisions in the least total
    ``|llr|`` wins (ties go to the unflipped word). The metric sees parity bits only: the message bits are
    not observed, so a larger support is not penalised; callers verify candidates downstream.
    ``prefer_hard=True`` keeps a successful hard decode unconditionally (the reference's rule).

    Returns ``(support int32[B, t], n_flips int32[B], ok bool[B])`` where ``n_flips`` counts parity bits
    at which the re-encoded word differs from the hard decisions.
    """
    x = jnp.asarray(llr)
    if x.ndim != 2 or x.shape[1] != code.P:
        raise ValueError(f"decode_soft: llr must have shape (B, {code.P}), got {x.shape}")
    depth = default_chase_depth(code.t) if depth is None else int(depth)
    if not 0 <= depth <= min(code.P, 12):
        raise ValueError(f"decode_soft: depth must be in [0, {min(code.P, 12)}], got {depth}")
    exp, log, syn = code._device
    x = x.astype(jnp.float32)
    st = _static(code, root_finder)
    return _decode_soft_jit(exp, log, syn, code._limit, x, st=st, depth=depth, prefer_hard=bool(prefer_hard))


class BCHTables(NamedTuple):
    """The device arrays a decoder reads (a pytree): passed to jitted callers as *arguments*, so the GF(2^m)
    tables never become HLO constants (at m = 24 they were 269 MB of HLO and 95 s of compile)."""

    exp: jax.Array
    log: jax.Array
    syn_mat: jax.Array
    limit: jax.Array


def code_tables(code: BCHCode) -> BCHTables:
    """The :class:`BCHTables` of ``code`` (device copies, cached on the code)."""
    exp, log, syn = code._device
    return BCHTables(exp, log, syn, code._limit)


@dataclass(frozen=True)
class BCHDecoder:
    """A batched BCH decoder as a hashable static value: ``decoder(x, tables) -> (support int32[B, t], ok)``.

    Holds only compile-time configuration (field degree, t, P, root finder, soft/hard, Chase depth), so two
    codes with the same ``(m, t)`` share one compiled program; the tables come in as a traced pytree
    (:func:`code_tables`). ``x`` is hard bits ``[B, P]`` or soft LLRs ``float[B, P]`` (``soft=True``).
    """

    st: _Static
    soft: bool = True
    depth: int = 5
    prefer_hard: bool = False

    @staticmethod
    def for_code(
        code: BCHCode, *, soft: bool = True, depth: int | None = None, root_finder: RootFinder = "auto"
    ) -> BCHDecoder:
        depth = default_chase_depth(code.t) if depth is None else int(depth)
        if soft and not 0 <= depth <= min(code.P, 12):
            raise ValueError(f"decode_soft: depth must be in [0, {min(code.P, 12)}], got {depth}")
        return BCHDecoder(_static(code, root_finder), bool(soft), depth if soft else 0)

    @property
    def support_width(self) -> int:
        """``t``: the peel reads it instead of tracing the decoder to learn the support width."""
        return self.st.t

    def __call__(self, x: jax.Array, tables: BCHTables) -> tuple[jax.Array, jax.Array]:
        exp, log, syn, limit = tables
        if self.soft:
            support, _flips, ok = _decode_soft_jit(
                exp, log, syn, limit, x.astype(jnp.float32), st=self.st, depth=self.depth,
                prefer_hard=self.prefer_hard,
            )
        else:
            support, _flips, ok = _decode_hard_jit(exp, log, syn, limit, x.astype(jnp.float32), st=self.st)
        return support, ok


__all__ = [
    "ALGEBRAIC_MAX_T",
    "CHIEN_MAX_POSITIONS",
    "T_MAX",
    "BCHCode",
    "BCHDecoder",
    "BCHTables",
    "berlekamp_massey",
    "code_tables",
    "decode_hard",
    "decode_soft",
    "default_chase_depth",
    "encode_support",
    "find_roots",
    "make_code",
    "parity_length",
    "syndromes",
]
