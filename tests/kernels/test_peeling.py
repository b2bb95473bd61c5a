"""Peeling kernel against a plain-Python peeling decoder (brute-force support search), jit vs eager,
chunked decoding, and dominated-multiton rounds."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spexjax.kernels import peeling
from spexjax.kernels.bch import BCHDecoder, code_tables
from spexjax.kernels.peeling import peel, peel_local
from spexjax.spex import BCHDelays, _code

N, T = 24, 2


def _problem(n: int, t: int, terms: int, b: int, C: int, seed: int, noise: float = 0.0):
    """Bins ``U[c, p, j] = sum_{k: M_c k = j} F(k) (-1)^{<d_p, k>}`` computed straight from the definition."""
    rng = np.random.default_rng(seed)
    code = _code(n, t)
    delays = BCHDelays(code, n)
    B = 1 << b
    hash_codes = rng.integers(0, B, size=(C, n), dtype=np.uint32)
    supports = set()
    while len(supports) < terms:
        d = int(rng.integers(1, t + 1))
        supports.add(tuple(sorted(rng.choice(n, size=d, replace=False).tolist())))
    supports = sorted(supports)
    coeffs = rng.choice([-1.0, 1.0], size=terms) * rng.uniform(0.5, 1.5, size=terms)
    dense = delays.bits(np.arange(n))  # (n, P+1)
    U = np.zeros((C, code.P + 1, B))
    for s, f in zip(supports, coeffs, strict=True):
        sign = 1.0 - 2.0 * np.bitwise_xor.reduce(dense[list(s)], axis=0)
        for c in range(C):
            U[c, :, int(np.bitwise_xor.reduce(hash_codes[c, list(s)]))] += f * sign
    U += noise * rng.standard_normal(U.shape)
    return code, delays, hash_codes, dict(zip(supports, coeffs, strict=True)), U, dense


def _decoder(code, soft: bool):
    return BCHDecoder.for_code(code, soft=soft, depth=2, root_finder="algebraic")


def _run(code, delays, hash_codes, U, *, soft=False, chunk_bins=1 << 30, dominant=True, jit=True):
    dec = _decoder(code, soft)
    fn = peel if jit else peel_local
    with jax.enable_x64(True):
        res = fn(jnp.asarray(U), jnp.asarray(hash_codes), jnp.asarray(delays.packed), jnp.float64(1e-20),
                 code_tables(code), decode=dec, soft=soft, max_terms=4 * U.shape[0] * U.shape[2],
                 max_rounds=64, dominant=dominant, chunk_bins=chunk_bins)
        k = int(res.count)
        out: dict[tuple, float] = {}
        for s, f in zip(np.asarray(res.supports)[:k], np.asarray(res.coeffs)[:k], strict=True):
            key = tuple(int(i) for i in s if i >= 0)
            out[key] = out.get(key, 0.0) + float(f)
        return {k: v for k, v in out.items() if abs(v) > 1e-9}, res


def _reference_peel(U, hash_codes, dense, t):
    """Textbook peeling: visit every bin of every group; a bin is a singleton when some support of weight
    <= t (found by brute force) hashes to it and its delay signs explain the bin exactly."""
    U = U.copy()
    C, P1, B = U.shape
    n = dense.shape[0]
    cands = [s for d in range(t + 1) for s in itertools.combinations(range(n), d)]
    sig = np.array([1.0 - 2.0 * np.bitwise_xor.reduce(dense[list(s)], axis=0) if s else np.ones(P1) for s in cands])
    hashes = np.array([[int(np.bitwise_xor.reduce(hash_codes[c, list(s)])) if s else 0 for s in cands]
                       for c in range(C)])
    found: dict[tuple, float] = {}
    changed = True
    while changed:
        changed = False
        for c in range(C):
            for j in range(B):
                u = U[c, :, j]
                if np.mean(u * u) < 1e-18:
                    continue
                rel = np.where(u * np.sign(u[0]) < 0, -1.0, 1.0)  # delay signs relative to the zero delay
                match = np.nonzero(np.all(sig == rel, axis=1) & (hashes[c] == j))[0]
                if len(match) != 1:
                    continue
                i = match[0]
                f = float(np.mean(u * sig[i]))
                if np.max(np.abs(u - f * sig[i])) > 1e-9:
                    continue
                found[cands[i]] = found.get(cands[i], 0.0) + f
                for cc in range(C):
                    U[cc, :, hashes[cc, i]] -= f * sig[i]
                changed = True
    return {k: v for k, v in found.items() if abs(v) > 1e-9}


@pytest.mark.parametrize("soft", [False, True])
def test_peel_matches_reference_peeling(soft):
    code, delays, hc, truth, U, dense = _problem(N, T, terms=14, b=3, C=3, seed=1)
    ref = _reference_peel(U, hc, dense, T)
    got, res = _run(code, delays, hc, U, soft=soft, dominant=False)
    assert set(got) == set(ref)
    for k in ref:
        assert abs(got[k] - ref[k]) < 1e-9
    assert set(ref) <= set(truth)
    assert int(res.rounds) >= 2  # peeling had to cascade


def test_peel_recovers_all_and_residual_empties():
    code, delays, hc, truth, U, _ = _problem(N, T, terms=6, b=4, C=3, seed=2)
    got, res = _run(code, delays, hc, U)
    assert set(got) == set(truth)
    assert max(abs(got[k] - truth[k]) for k in truth) < 1e-9
    assert float(np.max(np.abs(np.asarray(res.residual)))) < 1e-9
    assert not bool(res.overflow)


def test_jit_matches_eager():
    code, delays, hc, _, U, _ = _problem(N, T, terms=10, b=3, C=3, seed=3)
    a, ra = _run(code, delays, hc, U, soft=True, jit=True)
    with jax.disable_jit():
        b, rb = _run(code, delays, hc, U, soft=True, jit=False)
    assert a.keys() == b.keys()
    for k in a:
        assert abs(a[k] - b[k]) < 1e-12
    assert int(ra.rounds) == int(rb.rounds)


@pytest.mark.parametrize("soft", [False, True])
def test_cpu_compiler_options_change_nothing_but_compile_time(soft, monkeypatch):
    """On CPU ``peel`` compiles with ``CPU_COMPILER_OPTIONS`` (cold-call time): same terms, same rounds, same
    residual as the default compilation."""
    assert jax.default_backend() == "cpu"
    code, delays, hc, _, U, _ = _problem(N, T, terms=12, b=3, C=3, seed=5)
    a, ra = _run(code, delays, hc, U, soft=soft)
    monkeypatch.setattr(peeling, "_peel_jit_cpu", peeling._peel_jit)
    b, rb = _run(code, delays, hc, U, soft=soft)
    assert a.keys() == b.keys() and a
    for k in a:
        assert abs(a[k] - b[k]) < 1e-12
    assert int(ra.rounds) == int(rb.rounds)
    np.testing.assert_allclose(np.asarray(ra.residual), np.asarray(rb.residual), rtol=0, atol=1e-12)


def test_unknown_compiler_option_falls_back_to_defaults(monkeypatch):
    """A jaxlib without one of the CPU options still peels (with XLA's defaults), and keeps doing so."""
    code, delays, hc, _, U, _ = _problem(N, T, terms=8, b=3, C=3, seed=6)
    want, _ = _run(code, delays, hc, U)
    bogus = jax.jit(peel_local, static_argnames=peeling._PEEL_STATIC,
                    compiler_options={"xla_spexjax_no_such_option": False})
    monkeypatch.setattr(peeling, "_peel_jit_cpu", bogus)
    got, _ = _run(code, delays, hc, U)
    assert got.keys() == want.keys() and got
    assert peeling._peel_jit_cpu is peeling._peel_jit


@pytest.mark.parametrize("soft", [False, True])
def test_chunked_decoding_equals_decoding_every_bin(soft):
    """Decoding only the bins holding energy, a few at a time, changes nothing."""
    code, delays, hc, _, U, _ = _problem(N, T, terms=12, b=4, C=3, seed=4, noise=0.02)
    every, r1 = _run(code, delays, hc, U, soft=soft)
    chunked, r2 = _run(code, delays, hc, U, soft=soft, chunk_bins=2)
    assert every.keys() == chunked.keys() and len(every) >= 8
    for k in every:
        assert abs(every[k] - chunked[k]) < 1e-12
    np.testing.assert_array_equal(np.asarray(r1.residual), np.asarray(r2.residual))


def test_dominated_multitons_need_relaxed_rounds():
    """More terms than bins: strict peeling stalls; relaxed rounds take dominant terms out of multitons."""
    code, delays, hc, truth, U, _ = _problem(N, T, terms=30, b=3, C=3, seed=5)  # 30 terms, 8 bins per group
    strict, _ = _run(code, delays, hc, U, dominant=False)
    relaxed, _ = _run(code, delays, hc, U, dominant=True)
    assert len(set(strict) & set(truth)) < 10
    assert set(truth) <= set(relaxed)
