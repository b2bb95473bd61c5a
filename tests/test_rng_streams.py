"""Named random streams (``spexjax._rng``): no two names, keys or index words give the same draws.

The trap these tests guard: ``default_rng([s, 3, 0])`` is ``default_rng([s, 3])`` (NumPy zero-pads the entropy
pool), which once made SPEX's first held-out block equal to ProxySPEX's first training masks for one key.
"""

from __future__ import annotations

import itertools

import jax
import numpy as np
import pytest

from spexjax import _rng
from spexjax._rng import STREAMS, numpy_rng

KEYS = [0, 1, 7, 2**32, 2**32 + 1, 2**63 + 5]


def _first_block(key, sid: int, index: tuple[int, ...]) -> bytes:
    return numpy_rng(key, sid, *index).integers(0, 256, size=(4, 16), dtype=np.uint8).tobytes()


def test_every_named_stream_key_and_index_draws_its_own_first_block() -> None:
    seen: dict[bytes, tuple] = {}
    for name, (sid, arity) in STREAMS.items():
        indices = [()] if arity == 0 else [(i,) for i in (0, 1, 2, 32)]
        for key, index in itertools.product(KEYS, indices):
            block = _first_block(key, sid, index)
            assert block not in seen, f"{name}{index} key={key} repeats {seen.get(block)}"
            seen[block] = (name, index, key)
    assert len(seen) == len(KEYS) * sum(1 if a == 0 else 4 for _, a in STREAMS.values())


def test_streams_are_deterministic_and_names_are_module_constants() -> None:
    for name, (sid, arity) in STREAMS.items():
        assert getattr(_rng, name) == sid
        index = (3,) * arity
        assert _first_block(5, sid, index) == _first_block(5, sid, index)
    # a JAX key and an int key both work, and equal key data gives equal draws
    assert _first_block(jax.random.PRNGKey(3), _rng.LGBM_SPLIT, ()) == _first_block(
        jax.random.PRNGKey(3), _rng.LGBM_SPLIT, ()
    )


def test_streams_keep_the_draws_of_the_old_lists_where_those_did_not_collide() -> None:
    """For keys below 2**32 a stream's words are the old ``[seed, id, *index]`` list (zero-padded): the
    figures recorded before the named streams stay reproducible. Only SPEX's held-out blocks moved."""
    for key in (0, 5, 2**32 - 1):
        assert _first_block(key, _rng.PROXYSPEX_SAMPLES, ()) == np.random.default_rng([key, 3]).integers(
            0, 256, size=(4, 16), dtype=np.uint8).tobytes()
        assert _first_block(key, _rng.SPEX_HASH, (32,)) == np.random.default_rng([key, 1, 32]).integers(
            0, 256, size=(4, 16), dtype=np.uint8).tobytes()
        assert _first_block(key, _rng.DIGITS_SPLIT, ()) == np.random.default_rng(key).integers(
            0, 256, size=(4, 16), dtype=np.uint8).tobytes()
        old_block0 = np.random.default_rng([key, 3, 0]).integers(0, 256, size=(4, 16), dtype=np.uint8).tobytes()
        assert _first_block(key, _rng.SPEX_HELDOUT, (0,)) != old_block0


def test_unnamed_streams_and_wrong_index_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="stream"):
        numpy_rng(0, 999_999)
    with pytest.raises(ValueError, match="index word"):
        numpy_rng(0, _rng.SPEX_HELDOUT)  # the block number is required: no trailing-zero aliasing
    with pytest.raises(ValueError, match="index word"):
        numpy_rng(0, _rng.PROXYSPEX_SAMPLES, 0)
    with pytest.raises(ValueError, match="index words"):
        numpy_rng(0, _rng.SPEX_HELDOUT, -1)
    with pytest.raises(TypeError, match="key"):
        numpy_rng(True, _rng.LGBM_SPLIT)


def test_spex_held_out_masks_and_proxyspex_samples_are_disjoint() -> None:
    from spexjax.proxyspex import uniform_masks
    from spexjax.spex import _test_block

    n = 40
    for key in (0, 1, 2**32):
        held_out = {row.tobytes() for k in range(8) for row in _test_block(key, k, n)}
        samples = {row.tobytes() for row in uniform_masks(key, 2000, n)}
        assert len(held_out) == 8 * 64
        assert not held_out & samples


def test_spex_target_r2_and_proxyspex_query_disjoint_rows() -> None:
    """End to end: every row SPEX (growing design, held-out blocks) asks for vs every row ProxySPEX asks for."""
    from spexjax import proxyspex, spex
    from spexjax.testing import random_sparse_fourier

    n = 24
    f = random_sparse_fourier(n, 6, 2, key=0)
    seen: dict[str, set[bytes]] = {"spex": set(), "proxyspex": set()}

    def recorder(name):
        def vf(x):
            x = np.asarray(x, dtype=bool)
            seen[name].update(row.tobytes() for row in x)
            return f(x)

        return vf

    spex(recorder("spex"), n, max_degree=2, target_r2=0.9, key=11)
    proxyspex(recorder("proxyspex"), n, budget=300, max_degree=2, key=11)
    assert len(seen["spex"]) > 64 and len(seen["proxyspex"]) == 300
    assert not seen["spex"] & seen["proxyspex"]
