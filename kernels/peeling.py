"""Singleton detection, BCH identification and peeling over all bins at once.

Data layout (all static shapes inside jit):
  ``U``: ``float[C, P+1, B]`` — per hash group ``c`` and delay ``p``, the normalised Walsh transform over the
  ``B = 2**b`` bins. A bin holding one coefficient ``F(k)`` shows ``U[c, p, j] = F(k) (-1)^{<k, d_p>}``.
  ``hash_codes``: ``uint32[C, n]`` (column ``i`` of ``M_c`` packed), ``delay_packed``: ``uint32[n, W]``
  (bit ``p`` of column ``i`` of the delay matrix; bit 0 is the zero delay).

One round visits the groups in order; in each it decodes every bin, verifies the candidate singletons
(hash consistency, delay signs, residual energy against the noise level) and subtracts each accepted
term from its bin in every group, which may turn multitons elsewhere into singletons for the next visit.
Rounds repeat (bounded ``lax.while_loop``) until a round accepts nothing; then one relaxed round may also
accept terms that dominate a multiton (see :func:`peel`), after which strict rounds resume.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

Decoder = Callable[[jax.Array], tuple[jax.Array, jax.Array]]


class PeelResult(NamedTuple):
    supports: jax.Array  # int32[K, t], -1 padded
    coeffs: jax.Array  # float[K]
    count: jax.Array  # int32, valid rows in supports/coeffs (clipped to K)
    rounds: jax.Array  # int32, rounds run
    residual: jax.Array  # float[C, P+1, B] after peeling
    overflow: jax.Array  # bool, more terms were accepted than K could hold


def pack_bits(bits: np.ndarray) -> np.ndarray:
    """``bool[..., L] -> uint32[..., ceil(L/32)]`` with bit ``p`` of the row in word ``p // 32``."""
    bits = np.asarray(bits, dtype=np.uint32)
    L = bits.shape[-1]
    W = max(1, (L + 31) // 32)
    pad = W * 32 - L
    if pad:
        bits = np.concatenate([bits, np.zeros(bits.shape[:-1] + (pad,), np.uint32)], axis=-1)
    bits = bits.reshape(bits.shape[:-1] + (W, 32))
    return np.bitwise_or.reduce(bits << np.arange(32, dtype=np.uint32), axis=-1).astype(np.uint32)


def unpack_bits(words: jax.Array, L: int) -> jax.Array:
    """Inverse of :func:`pack_bits` in JAX: ``uint32[..., W] -> uint8[..., L]``."""
    shifts = jnp.arange(32, dtype=jnp.uint32)
    bits = (words[..., :, None] >> shifts) & jnp.uint32(1)
    return bits.reshape(words.shape[:-1] + (-1,))[..., :L].astype(jnp.uint8)


def _call_with(decode, args, x):
    return decode(x, args)


def _xor_gather(table: jax.Array, support: jax.Array) -> jax.Array:
    """``XOR_{i in support} table[..., i, ...]`` for -1 padded supports; table ``[n, ...]``."""
    valid = support >= 0
    g = table[jnp.where(valid, support, 0)]  # (B, t, ...)
    mask = valid.reshape(valid.shape + (1,) * (g.ndim - valid.ndim))
    g = jnp.where(mask, g, jnp.zeros((), g.dtype))
    return jax.lax.reduce(g, jnp.zeros((), g.dtype), jax.lax.bitwise_xor, (support.ndim - 1,))


def peel_local(
    U: jax.Array,
    hash_codes: jax.Array,
    delay_packed: jax.Array,
    noise_var: jax.Array,
    decode_args: Any = None,
    *,
    decode: Decoder,
    soft: bool,
    max_terms: int,
    max_rounds: int = 32,
    gamma: float = 1.0,
    rel_tol: float = 1e-6,
    dominant: bool = True,
    dominance: float = 0.3,
    chunk_bins: int = 1 << 30,
    axis_name: str | None = None,
) -> PeelResult:
    """Peel all singletons out of ``U``; see the module docstring. :func:`peel` is this, jitted.

    ``decode`` maps hard bits ``uint8[B, P]`` (or, with ``soft``, reliabilities ``float[B, P]`` whose sign
    is the bit) to ``(support int32[B, t], ok bool[B])``. ``noise_var`` is the per-bin noise variance
    (0 for exact values); a candidate is accepted when its residual energy per delay is at most
    ``gamma * noise_var`` plus ``rel_tol**2 * F^2`` (round-off), its support hashes to its own bin and its
    magnitude clears the noise.

    With ``dominant`` (default), once a round accepts no clean singleton, one *relaxed* round also accepts
    candidates from multitons dominated by one term: the candidate must hash to its bin, explain at least
    ``dominance`` of the bin's energy, and its projections in its bins of the other groups must agree with
    it (within half its size); its coefficient is the mean projection over all groups. Strict rounds
    follow. This is what lets peeling go on past the singleton threshold (more terms than bins), where the
    final least-squares refit corrects the approximate coefficients.

    Only bins holding energy are decoded, in chunks of ``chunk_bins`` (rounded down to a power of two): one
    compiled decoder, as many chunks as needed; the result is the same as decoding every bin.

    ``decode`` may carry an int attribute ``support_width`` (= t); otherwise it is traced once to learn it.

    ``decode_args`` (a pytree of arrays, e.g. the GF(2^m) tables) is handed to ``decode(x, decode_args)`` as a
    traced argument. Tables the decoder closed over would be embedded in the program as constants instead:
    at m = 24 that is 269 MB of HLO, and compiling and cache-keying it dominated SPEX at n = 10^7.

    With ``axis_name=None`` ``U`` holds all bins. Inside ``shard_map`` over ``axis_name`` (see
    :mod:`spexjax.sharding`) ``U`` holds this device's contiguous slice of the bins: decoding and
    verification stay local, and per visit the candidates of all bins are ``all_gather``-ed so that every
    device applies the same, globally ordered update list to the bins it owns and keeps an identical copy
    of the output buffers. The result therefore does not depend on the number of devices.
    """
    C, P1, Bl = U.shape
    P = P1 - 1
    t = None  # set from the first decode trace
    dtype = U.dtype
    if axis_name is None:
        offset = jnp.int32(0)

        def gather(x, axis):
            return x
    else:
        offset = (jax.lax.axis_index(axis_name) * Bl).astype(jnp.int32)

        def gather(x, axis):
            return jax.lax.all_gather(x, axis_name, axis=axis, tiled=True)

    bins = (offset + jnp.arange(Bl, dtype=jnp.int32)).astype(jnp.uint32)
    hash_rows = hash_codes.T  # (n, C): one row gather per support member; transposed once, not per visit
    width = getattr(decode, "support_width", None)  # a decoder may say how wide its supports are
    if decode_args is not None:
        decode = partial(_call_with, decode, decode_args)

    def visit(c, carry):
        U, sup_buf, coef_buf, count, relaxed = carry
        u = jax.lax.dynamic_index_in_dim(U, c, axis=0, keepdims=False)  # (P+1, B)
        u0 = u[0]
        sgn0 = jnp.where(u0 < 0, -1.0, 1.0).astype(dtype)
        rel = (u[1:] * sgn0[None, :]).T  # (B, P): positive => delay bit 0
        x = rel if soft else (rel < 0).astype(jnp.uint8)
        # Decode only bins that hold energy (the others can never be accepted): their indices first, then
        # one compiled decoder over as many chunks of M bins as there are such bins. After the first round
        # most bins are empty, so this is where soft (Chase) decoding saves most of its 2^depth trials.
        energy = jnp.mean(u * u, axis=0)
        nonzero = energy > 4.0 * noise_var + 1e-300
        M = 1 << (min(Bl, max(1, chunk_bins)).bit_length() - 1)  # a power of two, so it divides Bl
        if M >= Bl:
            support, ok = decode(x)
        else:
            order = jnp.nonzero(nonzero, size=Bl, fill_value=Bl)[0]  # O(B) compaction; padding is dropped

            def chunk(i, sk):
                idx = jax.lax.dynamic_slice_in_dim(order, i * M, M)
                sub_s, sub_ok = decode(x[jnp.minimum(idx, Bl - 1)])
                return sk[0].at[idx].set(sub_s, mode="drop"), sk[1].at[idx].set(sub_ok, mode="drop")

            init = (jnp.full((Bl, t), -1, jnp.int32), jnp.zeros((Bl,), bool))
            support, ok = jax.lax.fori_loop(0, (jnp.sum(nonzero) + M - 1) // M, chunk, init)
        # verify every candidate: it must hash to its own bin, clear the noise, and (strict) leave a residual
        # no larger than the noise; an empty support (all-zero syndrome) is the constant term, in bin 0
        codes = _xor_gather(hash_rows, support).T  # (C, B)
        own = jax.lax.dynamic_index_in_dim(codes, c, axis=0, keepdims=False)
        dbits = unpack_bits(_xor_gather(delay_packed, support), P1)  # (B, P+1)
        s = (1.0 - 2.0 * dbits.astype(dtype)).T  # (P+1, B)
        coef = jnp.mean(u * s, axis=0)  # (B,)
        resid = jnp.mean((u - coef[None, :] * s) ** 2, axis=0)
        tol = gamma * noise_var + (rel_tol**2) * coef * coef
        base = ok & nonzero & (own == bins) & (coef * coef > 4.0 * noise_var / P1)
        accept = base & (resid <= tol)
        # every device sees every candidate, in global bin order (identity on one device)
        codes, s, coef, accept, support = (
            gather(codes, 1), gather(s, 1), gather(coef, 0), gather(accept, 0), gather(support, 0)
        )
        local = codes.astype(jnp.int32) - offset  # (C, B): each candidate's bin per group, on this device
        here = (local >= 0) & (local < Bl)
        if dominant:
            # A multiton dominated by one term shows that term's delay signs exactly, so it decodes to it.
            # Accept it when it explains a share of its bin's energy *and* its projection in the other
            # groups' bins agrees (a wrong candidate that only hashes here by chance does not); estimate its
            # coefficient from all groups. Only in relaxed rounds, i.e. when clean singletons ran out.
            base, energy = gather(base, 0), gather(energy, 0)
            cols = jnp.take_along_axis(U, jnp.where(here, local, 0)[:, None, :], axis=2)  # (C, P+1, B)
            proj = jnp.where(here, jnp.mean(cols * s[None], axis=1), 0.0)  # (C, B)
            if axis_name is not None:
                proj = jax.lax.psum(proj, axis_name)
            others = (jnp.sum(proj, axis=0) - coef) / max(C - 1, 1)
            agree = jnp.abs(others - coef) <= 0.5 * jnp.abs(coef) if C > 1 else jnp.ones_like(base)
            dom = base & agree & (coef * coef >= dominance * energy)
            dom_only = relaxed & dom & ~accept
            accept = accept | dom_only
            coef = jnp.where(dom_only, jnp.mean(proj, axis=0), coef)
        coef = jnp.where(accept, coef, 0.0)
        # subtract accepted terms from their bin in every group (one scatter for all groups); a device
        # applies only the updates that land in its own bins
        delta = -(coef[:, None] * s.T)  # (B, P+1)
        gidx = jnp.broadcast_to(jnp.arange(C)[:, None], codes.shape)  # (C, B)
        local = jnp.where(here, local, Bl)  # out of range => dropped
        U = U.at[gidx, :, local].add(jnp.broadcast_to(delta[None], (C,) + delta.shape), mode="drop")
        # append to the output buffer
        slot = (count + jnp.cumsum(accept.astype(jnp.int32)) - 1).astype(jnp.int32)
        slot = jnp.where(accept, slot, max_terms)  # out of range => dropped
        sup_buf = sup_buf.at[slot].set(support, mode="drop")
        coef_buf = coef_buf.at[slot].set(coef, mode="drop")
        count = (count + jnp.sum(accept.astype(jnp.int32))).astype(jnp.int32)
        return U, sup_buf, coef_buf, count, relaxed

    # the support width t: from the decoder if it says, else by tracing it once (costs a decoder trace)
    t = int(width) if width is not None else jax.eval_shape(
        lambda x: decode(x)[0], jnp.zeros((Bl, P), dtype if soft else jnp.uint8)
    ).shape[1]

    def body(state):
        U, sup_buf, coef_buf, count, rounds, _, relaxed = state
        before = count
        U, sup_buf, coef_buf, count, _ = jax.lax.fori_loop(0, C, visit, (U, sup_buf, coef_buf, count, relaxed))
        changed = count > before
        # strict rounds until they stall, then one relaxed round (dominated multitons); stop when that stalls too
        go = changed | (~relaxed & jnp.bool_(dominant))
        return U, sup_buf, coef_buf, count, (rounds + 1).astype(jnp.int32), go, ~changed & jnp.bool_(dominant)

    def cond(state):
        *_, count, rounds, go, _ = state
        return go & (rounds < max_rounds) & (count < max_terms)

    init = (
        U,
        jnp.full((max_terms, t), -1, jnp.int32),
        jnp.zeros((max_terms,), dtype),
        jnp.int32(0),
        jnp.int32(0),
        jnp.bool_(True),
        jnp.bool_(False),
    )
    U, sup_buf, coef_buf, count, rounds, _, _ = jax.lax.while_loop(cond, body, init)
    return PeelResult(
        supports=sup_buf,
        coeffs=coef_buf,
        count=jnp.minimum(count, max_terms),
        rounds=rounds,
        residual=U,
        overflow=count > max_terms,
    )


_PEEL_STATIC = ("decode", "soft", "max_terms", "max_rounds", "dominant", "chunk_bins", "axis_name")

#: XLA options for the peel on CPU. The peel is a long chain of small, branchy steps that runs once per
#: ``spex`` call, so on CPU its cold call is mostly compilation (3.5 of 3.6 s at n = 512 on a 2-core Xeon, jax
#: 0.10), most of it in XLA's CPU fusion emitters. Without them the peel compiles in ~55-60 % of the time and runs
#: about as fast (n = 512 / 2048, 100 terms: compile 5.3 / 5.0 s -> 2.9 / 2.7 s, warm peel 89 / 115 ms -> 69 / 168
#: ms, one shell at load 6-7); ``xla_backend_optimization_level=0`` saved as much compile but doubled the warm
#: peel. GPU backends keep XLA's defaults (not measured here). A jaxlib that no longer knows an option falls back
#: to the defaults (:func:`peel`).
CPU_COMPILER_OPTIONS = {"xla_cpu_use_fusion_emitters": False}

_peel_jit = jax.jit(peel_local, static_argnames=_PEEL_STATIC)
_peel_jit_cpu = jax.jit(peel_local, static_argnames=_PEEL_STATIC, compiler_options=CPU_COMPILER_OPTIONS)


def peel(U: jax.Array, *args: Any, **kwargs: Any) -> PeelResult:
    """:func:`peel_local` jitted (``axis_name`` stays ``None``: sharded peeling calls ``peel_local`` in
    ``shard_map``), with :data:`CPU_COMPILER_OPTIONS` when ``U`` lives on (or would go to) a CPU."""
    global _peel_jit_cpu
    devices = U.devices() if isinstance(U, jax.Array) else ()
    platform = next(iter(devices)).platform if devices else jax.default_backend()
    if platform != "cpu":
        return _peel_jit(U, *args, **kwargs)
    try:
        return _peel_jit_cpu(U, *args, **kwargs)
    except jax.errors.JaxRuntimeError as e:
        if "No such compile option" not in str(e):
            raise
        _peel_jit_cpu = _peel_jit  # this jaxlib does not know the option: XLA's defaults from now on
        return _peel_jit(U, *args, **kwargs)
