"""Tests for ``kernels.fwht``: exact agreement with a dense Hadamard matrix, transform identities, and
jit/vmap behaviour."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from spexjax.kernels import fwht as fwht_mod
from spexjax.kernels.fwht import factor_bits, fwht, hadamard


def _dense_h(n: int) -> np.ndarray:
    """Sylvester construction by Kronecker products (independent of ``kernels.fwht.hadamard``)."""
    h = np.ones((1, 1))
    while h.shape[0] < n:
        h = np.kron(np.array([[1.0, 1.0], [1.0, -1.0]]), h)
    return h


def _ref(x: np.ndarray, axis: int) -> np.ndarray:
    x = np.moveaxis(np.asarray(x, dtype=np.complex128 if np.iscomplexobj(x) else np.float64), axis, -1)
    return np.moveaxis(x @ _dense_h(x.shape[-1]), -1, axis)


@pytest.fixture(autouse=True)
def _x64():
    with jax.enable_x64(True):
        yield


def _tol(dtype, n: int) -> dict:
    # sums of n terms of magnitude ~1: float32 error grows like eps * log2(n) * sqrt(n)
    if np.dtype(dtype) in (np.float32, np.complex64):
        return dict(rtol=1e-5, atol=1e-5 * np.sqrt(n) * max(1, np.log2(n)))
    return dict(rtol=1e-12, atol=1e-12 * np.sqrt(n) * max(1, np.log2(n)))


def test_hadamard_matrix_definition():
    for n in (1, 2, 4, 8, 32, 64):
        i = np.arange(n)
        expect = (-1.0) ** np.array([[bin(a & b).count("1") for b in i] for a in i])
        np.testing.assert_array_equal(hadamard(n), expect)
        np.testing.assert_array_equal(hadamard(n), _dense_h(n))
    with pytest.raises(ValueError):
        hadamard(6)


def test_factor_bits_balanced():
    assert factor_bits(0, 32) == ()
    assert factor_bits(5, 32) == (5,)
    assert factor_bits(22, 32) == (4, 4, 4, 5, 5)
    assert factor_bits(20, 16) == (4, 4, 4, 4, 4)
    for k in range(0, 30):
        for radix in (2, 8, 32, 64):
            bits = factor_bits(k, radix)
            assert sum(bits) == k and all(1 <= b <= radix.bit_length() - 1 for b in bits)
            assert not bits or max(bits) - min(bits) <= 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_lengths_against_dense(dtype):
    rng = np.random.default_rng(0)
    for k in range(0, 11):
        n = 1 << k
        x = rng.standard_normal((3, n)).astype(dtype)
        out = fwht(x)
        assert out.dtype == dtype and out.shape == x.shape
        np.testing.assert_allclose(np.asarray(out), _ref(x, -1), **_tol(dtype, n))


@pytest.mark.parametrize("radix", [2, 4, 8, 32, 64])
def test_radix_choices_agree(radix):
    rng = np.random.default_rng(1)
    for k in (1, 3, 7, 10) if radix < 8 else (1, 3, 7, 13):  # radix 2 at k=13 is 13 compiled matmuls
        x = rng.standard_normal((2, 1 << k))
        np.testing.assert_allclose(np.asarray(fwht(x, radix=radix)), _ref(x, -1), **_tol(np.float64, 1 << k))


@pytest.mark.parametrize(
    "shape,axis",
    [((16,), 0), ((5, 32), -1), ((32, 5), 0), ((2, 3, 64, 7), 2), ((2, 128, 3), -2), ((4, 1, 8), 1),
     ((3, 2, 1024), -1), ((1024, 3), 0), ((7, 2), 1)],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_shapes_and_axes(shape, axis, dtype):
    x = np.random.default_rng(2).standard_normal(shape).astype(dtype)
    out = fwht(x, axis=axis)
    assert out.shape == x.shape and out.dtype == dtype
    np.testing.assert_allclose(np.asarray(out), _ref(x, axis), **_tol(dtype, shape[axis]))


def test_normalize_is_spex_convention_and_inverse():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 256))
    u = fwht(x, normalize=True)
    np.testing.assert_allclose(np.asarray(u), _ref(x, -1) / 256, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(np.asarray(fwht(u)), x, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_involution_2_16(dtype):
    n = 1 << 16
    x = np.random.default_rng(4).standard_normal((2, n)).astype(dtype)
    twice = np.asarray(fwht(fwht(x)))
    np.testing.assert_allclose(twice / n, x, rtol=1e-4 if dtype == np.float32 else 1e-12,
                               atol=1e-4 if dtype == np.float32 else 1e-12)


def test_exact_on_integers_valued_floats():
    # +-1 matmuls must stay exact (Precision.HIGHEST): integer-valued inputs give integer outputs
    x = np.random.default_rng(5).integers(-8, 8, size=(3, 1 << 12)).astype(np.float64)
    np.testing.assert_array_equal(np.asarray(fwht(x)), (x @ _dense_h(1 << 12)))
    xi = x.astype(np.int32)
    out = fwht(xi)
    assert jnp.issubdtype(out.dtype, jnp.floating)
    np.testing.assert_array_equal(np.asarray(out), x @ _dense_h(1 << 12))


@pytest.mark.parametrize("dtype", [np.complex64, np.complex128])
def test_complex(dtype):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal((3, 64, 2)) + 1j * rng.standard_normal((3, 64, 2))).astype(dtype)
    out = fwht(x, axis=1, normalize=True)
    assert out.dtype == dtype
    np.testing.assert_allclose(np.asarray(out), _ref(x, 1) / 64, **_tol(dtype, 64))


def test_jit_matches_eager_and_vmap():
    rng = np.random.default_rng(7)
    x = jnp.asarray(rng.standard_normal((6, 4, 512)))
    eager = fwht(x, axis=-1)
    with jax.disable_jit():
        no_jit = fwht(x, axis=-1)
    np.testing.assert_allclose(np.asarray(no_jit), np.asarray(eager), rtol=1e-13, atol=1e-12)
    jitted = jax.jit(lambda v: fwht(v, normalize=True))(x)
    np.testing.assert_allclose(np.asarray(jitted), np.asarray(eager) / 512, rtol=1e-13, atol=1e-13)
    # vmap over a leading axis, over a trailing axis, and nested
    v0 = jax.vmap(lambda v: fwht(v))(x)
    v2 = jax.vmap(lambda v: fwht(v, axis=0), in_axes=1, out_axes=1)(jnp.moveaxis(x, -1, 0))
    vv = jax.vmap(jax.vmap(lambda v: fwht(v, radix=8)))(x)
    for got in (v0, jnp.moveaxis(v2, 0, -1), vv):
        np.testing.assert_allclose(np.asarray(got), np.asarray(eager), rtol=1e-12, atol=1e-12)


def test_grad_is_transform_of_cotangent():
    # H is symmetric, so the VJP of fwht is fwht itself
    x = jnp.asarray(np.random.default_rng(8).standard_normal(32))
    w = jnp.asarray(np.random.default_rng(9).standard_normal(32))
    g = jax.grad(lambda v: jnp.vdot(w, fwht(v)))(x)
    np.testing.assert_allclose(np.asarray(g), np.asarray(fwht(w)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n", [0, 3, 6, 12, 1000])
def test_bad_length_raises_at_trace_time(n):
    with pytest.raises(ValueError, match="power of two"):
        jax.eval_shape(lambda v: fwht(v), jax.ShapeDtypeStruct((2, n), jnp.float32))


def test_bad_arguments_raise():
    x = jnp.ones((4, 8))
    with pytest.raises(ValueError, match="radix"):
        fwht(x, radix=12)
    with pytest.raises(ValueError, match="radix"):
        fwht(x, radix=1)
    with pytest.raises(ValueError, match="axis"):
        fwht(x, axis=2)
    with pytest.raises(ValueError):
        fwht(jnp.ones(()))


def test_empty_batch_and_length_one():
    assert fwht(jnp.zeros((0, 16))).shape == (0, 16)
    x = jnp.asarray([[2.5], [-1.0]])
    np.testing.assert_array_equal(np.asarray(fwht(x, normalize=True)), np.asarray(x))


def test_module_exports():
    assert set(fwht_mod.__all__) >= {"fwht", "hadamard", "factor_bits"}


@pytest.mark.parametrize("shape", [(4096,), (3, 2048), (2, 512)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cache_blocked_path_against_dense(monkeypatch, shape, dtype):
    """Long rows go through the cache-blocked path (blocks of BLOCK_BYTES, then the high bits); shrink the
    block so small rows take it too, and compare with the dense matrix (eager, so the patch is seen)."""
    monkeypatch.setattr(fwht_mod, "BLOCK_BYTES", 16 * np.dtype(dtype).itemsize)  # 16-element blocks
    x = np.random.default_rng(7).standard_normal(shape).astype(dtype)
    with jax.disable_jit():
        got = np.asarray(fwht(jnp.asarray(x), normalize=True))
    np.testing.assert_allclose(got, _ref(x, -1) / shape[-1], **_tol(dtype, shape[-1]))


@pytest.mark.parametrize(
    ("shape", "patch", "layout"),
    [
        ((4096,), {}, "row"),
        ((8, 256), {}, "batched"),
        ((3, 4096), {}, "rotate"),
        ((5, 64), {"ROTATE_MIN_LENGTH": 64}, "rotate"),
        ((4, 64, 3), {}, "batched"),
        ((3, 512), {"ROW_MAP_BYTES": 512 * 8}, "rows"),
        ((2, 4096), {"BLOCK_BYTES": 16 * 8}, "blocked"),
        ((2048,), {"BLOCK_BYTES": 64 * 8}, "blocked"),
    ],
)
def test_every_layout_against_dense(monkeypatch, shape, patch, layout):
    """Each pass layout (picked by shape; thresholds shrunk so small arrays reach them) matches the dense
    Hadamard matrix, jitted and eager."""
    for name, value in patch.items():
        monkeypatch.setattr(fwht_mod, name, value)
    axis = 1 if len(shape) == 3 else -1
    pre = int(np.prod(shape[:axis] if axis == 1 else shape[:-1]))
    post = int(np.prod(shape[axis + 1 :])) if axis == 1 else 1
    assert fwht_mod._layout(pre, shape[axis], post, 8) == layout
    x = np.random.default_rng(3).standard_normal(shape)
    want = _ref(x, axis)
    fwht_mod.fwht.clear_cache()  # the thresholds are read at trace time
    tol = _tol(np.float64, shape[axis])
    for radix in (None, 4):
        np.testing.assert_allclose(np.asarray(fwht(jnp.asarray(x), axis=axis, radix=radix)), want, **tol)
        np.testing.assert_allclose(
            np.asarray(fwht(jnp.asarray(x), axis=axis, radix=radix, normalize=True)), want / shape[axis], **tol
        )
    with jax.disable_jit():
        np.testing.assert_allclose(np.asarray(fwht(jnp.asarray(x), axis=axis)), want, **tol)
    fwht_mod.fwht.clear_cache()
