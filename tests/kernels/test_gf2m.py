"""GF(2^m) kernels against plain-Python carry-less arithmetic."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spexjax.kernels import gf2m


def py_mul(a: int, b: int, m: int) -> int:
    """Schoolbook carry-less product, then reduction of the (2m-1)-bit result."""
    poly = gf2m.PRIMITIVE_POLYS[m]
    r = 0
    for k in range(m):
        if (b >> k) & 1:
            r ^= a << k
    for k in range(2 * m - 2, m - 1, -1):
        if (r >> k) & 1:
            r ^= poly << (k - m)
    return r


def py_pow(a: int, e: int, m: int) -> int:
    r = 1
    while e:
        if e & 1:
            r = py_mul(r, a, m)
        a = py_mul(a, a, m)
        e >>= 1
    return r


def prime_factors(x: int) -> list[int]:
    out, p = [], 2
    while p * p <= x:
        if x % p == 0:
            out.append(p)
            while x % p == 0:
                x //= p
        p += 1
    return out + ([x] if x > 1 else [])


@pytest.mark.parametrize("m", range(2, 25))
def test_alpha_is_primitive(m):
    N = (1 << m) - 1
    assert gf2m.PRIMITIVE_POLYS[m] >> m == 1  # degree m
    assert py_pow(2, N, m) == 1
    for p in prime_factors(N):
        assert py_pow(2, N // p, m) != 1, (m, p)


@pytest.mark.parametrize("m", [2, 3, 5, 8, 11, 16])
def test_tables_consistent(m):
    f = gf2m.gf2m_field(m)
    N = f.order
    assert f.exp.shape == (N,) and f.log.shape == (N + 1,)
    assert len(np.unique(f.exp)) == N and f.exp.min() == 1 and f.exp.max() == N
    x = np.arange(1, N + 1)
    np.testing.assert_array_equal(f.exp[f.log[x]], x)
    # exp[k+1] = alpha * exp[k] by the table-free multiply
    np.testing.assert_array_equal(gf2m.mul_bits(f.exp, 2, m), np.roll(f.exp, -1))


def test_large_table_sample():
    f = gf2m.gf2m_field(24)
    rng = np.random.default_rng(0)
    k = rng.integers(0, f.order, 200)
    assert [int(v) for v in f.exp[k]] == [py_pow(2, int(e), 24) for e in k]
    x = rng.integers(1, 1 << 24, 200)
    np.testing.assert_array_equal(f.exp[f.log[x]], x)
    assert gf2m.gf2m_field(24) is f  # cached


@pytest.mark.parametrize("m", [2, 4, 9, 13, 20, 24])
def test_ops_vs_python(m):
    f = gf2m.gf2m_field(m)
    rng = np.random.default_rng(m)
    a = rng.integers(0, 1 << m, 300)
    b = rng.integers(0, 1 << m, 300)
    a[:3], b[3:6] = 0, 0
    e = rng.integers(-(10**6), 10**6, 300)
    e[:2] = 0
    want_mul = np.array([py_mul(int(x), int(y), m) for x, y in zip(a, b, strict=True)])
    want_inv = np.array([py_pow(int(x), (1 << m) - 2, m) if x else 0 for x in a])
    want_pow = np.array(
        [py_pow(int(x), int(k) % f.order, m) if x else int(k == 0) for x, k in zip(a, e, strict=True)]
    )
    np.testing.assert_array_equal(gf2m.mul(f, a, b), want_mul)
    np.testing.assert_array_equal(gf2m.mul_bits(a, b, m), want_mul)
    np.testing.assert_array_equal(gf2m.inv(f, a), want_inv)
    np.testing.assert_array_equal(gf2m.square(f, a), [py_mul(int(x), int(x), m) for x in a])
    np.testing.assert_array_equal(gf2m.pow(f, a, e), want_pow)
    np.testing.assert_array_equal(gf2m.alpha_pow(f, e), [py_pow(2, int(k) % f.order, m) for k in e])

    # the same through jit, with the tables passed as pytree leaves
    @jax.jit
    def ops(fd, a, b, e):
        return (gf2m.mul(fd, a, b), gf2m.inv(fd, a), gf2m.pow(fd, a, e), gf2m.mul_bits(a, b, m))

    aj, bj, ej = (jnp.asarray(v, jnp.int32) for v in (a, b, e))
    got = ops(f.device(), aj, bj, ej)
    for g, w in zip(got, (want_mul, want_inv, want_pow, want_mul), strict=True):
        assert g.dtype == jnp.int32
        np.testing.assert_array_equal(np.asarray(g), w)


def test_bits_roundtrip_and_errors():
    x = np.array([0, 1, 5, (1 << 24) - 1])
    bits = gf2m.to_bits(x, 24)
    assert bits.shape == (4, 24) and bits.dtype == np.uint8
    np.testing.assert_array_equal(gf2m.from_bits(bits), x)
    np.testing.assert_array_equal(np.asarray(gf2m.from_bits(gf2m.to_bits(jnp.asarray(x), 24))), x)
    for bad in (1, 25, 3.5):
        with pytest.raises(ValueError):
            gf2m.gf2m_field(bad)
