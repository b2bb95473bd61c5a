"""DatamodelsStore: streamed reads equal the arrays, marginal effects equal the obvious formula, screening
plus ProxySPEX recovers planted terms, errors name the argument."""

import numpy as np
import pytest

from spexjax.data import DatamodelsStore, write_store
from spexjax.errors import SpexError


def _planted(x):
    x = x.astype(np.float64)
    return 2.0 * x[:, 3] + 1.5 * x[:, 17] - 1.0 * x[:, 3] * x[:, 17] + 1.0 * x[:, 40] * x[:, 41] + 0.5 * x[:, 90]


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    M, n = 3000, 120
    X = rng.random((M, n)) < 0.5
    Y = np.stack([_planted(X) + 0.05 * rng.standard_normal(M), rng.standard_normal(M)], axis=1)
    write_store(tmp_path / "m.npy", tmp_path / "o.npy", M, n, 2, lambda lo, hi: (X[lo:hi], Y[lo:hi]), chunk_rows=700)
    return DatamodelsStore(tmp_path / "m.npy", tmp_path / "o.npy", chunk_bytes=n * 256), X, Y


def test_streamed_reads_equal_arrays(store):
    st, X, Y = store
    assert (st.M, st.n, st.T) == X.shape + (2,)
    np.testing.assert_array_equal(np.load(st.masks_path), X)
    np.testing.assert_array_equal(st.read_masks(5, 900), X[5:900])
    np.testing.assert_allclose(st.read_outputs(1, 10, 20), Y[10:20, 1].astype(np.float32))
    np.testing.assert_array_equal(st.gather(np.array([0, 17, 119]), 100, 2000), X[100:2000][:, [0, 17, 119]])
    assert sum(b - a for a, b, _ in st.iter_masks()) == st.M


def test_marginal_effects_match_obvious_formula(store):
    st, X, Y = store
    eff, z = st.marginal_effects(0, 0, 2500)
    y = Y[:2500, 0].astype(np.float32).astype(np.float64)
    x = X[:2500]
    ref = np.array([y[x[:, i]].mean() - y[~x[:, i]].mean() for i in range(st.n)])
    np.testing.assert_allclose(eff, ref, atol=1e-5)
    assert set(np.argsort(-np.abs(z))[:5]) == {3, 17, 40, 41, 90}


def test_explain_with_screening_recovers_planted_terms(store):
    st, X, Y = store
    res = st.explain(0, screen=16, max_degree=2, key=0)
    info = res.meta["store"]
    assert info["screened"] == 16 and {3, 17, 40, 41, 90} <= set(info["screened_points"])
    assert info["holdout_rows"] == 300 and info["holdout_r2"] > 0.95
    mob = dict(zip(*res.mobius(), strict=True))
    assert abs(mob[(40, 41)] - 1.0) < 0.1 and abs(mob[(3, 17)] + 1.0) < 0.1 and abs(mob[(3,)] - 2.0) < 0.1
    # no screening below the threshold: the same answer on all columns
    full = st.explain(0, screen=st.n, max_degree=2, key=0, budget=2000)
    assert full.meta["store"]["screened"] is None and full.meta["store"]["holdout_r2"] > 0.95


def test_bad_inputs(tmp_path, store):
    st, X, Y = store
    with pytest.raises(SpexError, match="j"):
        st.explain(2)
    with pytest.raises(SpexError, match="budget"):
        st.explain(0, budget=st.M)
    with pytest.raises(SpexError, match="holdout"):
        st.explain(0, holdout=1.0)
    with pytest.raises(SpexError, match="masks_path"):
        DatamodelsStore(tmp_path / "nope.npy", st.outputs_path)
    np.save(tmp_path / "short.npy", np.zeros((5, 2), np.float32))
    with pytest.raises(SpexError, match="rows"):
        DatamodelsStore(st.masks_path, tmp_path / "short.npy")
    np.save(tmp_path / "f.npy", np.zeros((3000, 4), np.float32))
    with pytest.raises(SpexError, match="masks_path must hold a bool"):
        DatamodelsStore(tmp_path / "f.npy", st.outputs_path)
    bad = Y.astype(np.float32).copy()
    bad[7, 0] = np.nan
    np.save(tmp_path / "nan.npy", bad)
    with pytest.raises(SpexError, match=r"non-finite outputs in rows \[7\]"):
        DatamodelsStore(st.masks_path, tmp_path / "nan.npy").read_outputs(0)
