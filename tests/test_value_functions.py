"""Structured query blocks: the XOR-doubling mask builder against the obvious per-row definition."""

import numpy as np
import pytest

from spexjax.value_functions import AffineQueries, _parity_u32


class _Delays:
    num_delays = 5

    def __init__(self, n):
        self.m = np.random.default_rng(1).random((n, 5)) < 0.5
        self.m[:, 0] = False

    def bits(self, idx):
        return self.m[idx]


@pytest.mark.parametrize("n,b", [(1, 3), (37, 5), (300, 6)])
def test_dense_blocks_match_definition(n, b):
    codes = np.random.default_rng(0).integers(0, 2**b, size=(2, n), dtype=np.uint32)
    q = AffineQueries(codes, _Delays(n), np.array([[0, 0], [1, 3], [0, 4]], np.int32), b)
    ells = np.arange(2**b, dtype=np.uint32)[:, None]
    for g, (c, p) in enumerate(q.groups):
        # x(l)_i = <M_c[:, i], l> XOR d_p[i]
        ref = _parity_u32(ells & codes[c][None]).astype(bool) ^ q.delays.bits(np.arange(n))[:, p][None]
        np.testing.assert_array_equal(q.dense_block(g), ref)
        np.testing.assert_array_equal(q.dense_block(g, 4, 8), ref[4:8])  # aligned: doubling path
        np.testing.assert_array_equal(q.dense_block(g, 1, 7), ref[1:7])  # unaligned: direct path
        chunks = np.concatenate([m for gg, _, _, m in q.iter_dense(5) if gg == g])
        np.testing.assert_array_equal(chunks, ref)
    assert q.dense().shape == (3 * 2**b, n)
