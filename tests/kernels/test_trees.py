"""Tree -> Fourier extraction against brute force (all 2^n masks) on small random forests."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from spexjax.kernels import trees


def _random_tree(rng: np.random.Generator, n: int, max_depth: int, p_split: float = 0.8) -> dict[str, np.ndarray]:
    """A random binary tree with arbitrary (also degenerate) conditions and repeated features."""
    feature, zl, ol, left, right, values = [], [], [], [], [], []

    def grow(depth: int) -> int:
        if depth >= max_depth or rng.random() > p_split:
            values.append(float(rng.normal()))
            return ~(len(values) - 1)
        i = len(feature)
        feature.append(int(rng.integers(n)))
        kind = rng.random()
        if kind < 0.8:  # ordinary binary split (either orientation)
            z = bool(rng.random() < 0.7)
            zl.append(z)
            ol.append(not z)
        else:  # degenerate split: both values go the same way
            z = bool(rng.random() < 0.5)
            zl.append(z)
            ol.append(z)
        left.append(0)
        right.append(0)
        left[i] = grow(depth + 1)
        right[i] = grow(depth + 1)
        return i

    grow(0)
    return {
        "feature": np.array(feature, np.int64),
        "zero_left": np.array(zl, bool),
        "one_left": np.array(ol, bool),
        "left_child": np.array(left, np.int64),
        "right_child": np.array(right, np.int64),
        "leaf_value": np.array(values),
    }


def _predict(tree: dict[str, np.ndarray], x: np.ndarray) -> float:
    if tree["feature"].shape[0] == 0:
        return float(tree["leaf_value"][0])
    node = 0
    while True:
        bit = bool(x[tree["feature"][node]])
        go_left = tree["one_left"][node] if bit else tree["zero_left"][node]
        node = tree["left_child"][node] if go_left else tree["right_child"][node]
        if node < 0:
            return float(tree["leaf_value"][~node])


def _all_masks(n: int) -> np.ndarray:
    return np.array(list(itertools.product([0, 1], repeat=n)), dtype=bool)


def _brute_spectrum(y: np.ndarray, x: np.ndarray) -> dict[tuple[int, ...], float]:
    n = x.shape[1]
    out = {}
    for r in range(n + 1):
        for s in itertools.combinations(range(n), r):
            chi = 1.0 - 2.0 * (x[:, list(s)].sum(axis=1) % 2) if s else np.ones(len(y))
            c = float(np.mean(y * chi))
            if abs(c) > 1e-12:
                out[s] = c
    return out


def _as_dict(padded: np.ndarray, coeffs: np.ndarray) -> dict[tuple[int, ...], float]:
    return {tuple(int(v) for v in row if v >= 0): float(c) for row, c in zip(padded, coeffs, strict=True)}


@pytest.mark.parametrize("seed", range(12))
def test_forest_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 11))
    forest = [_random_tree(rng, n, int(rng.integers(0, 7))) for _ in range(int(rng.integers(1, 6)))]
    x = _all_masks(n)
    y = np.array([sum(_predict(t, row) for t in forest) for row in x])
    want = _brute_spectrum(y, x)
    flat = trees.concat_trees(forest)
    padded, coeffs = trees.tree_fourier(**flat)
    got = _as_dict(padded, coeffs)
    assert set(k for k, v in got.items() if abs(v) > 1e-12) == set(want)
    for k, v in want.items():
        assert got[k] == pytest.approx(v, abs=1e-10)
    # rows are sorted with -1 padding after the features
    for row in padded:
        f = row[row >= 0]
        assert np.all(np.diff(f) > 0) and np.all(row[len(f) :] == -1)


@pytest.mark.parametrize("k", [0, 1, 2, 3])
def test_max_degree_truncates_exactly(k: int) -> None:
    rng = np.random.default_rng(100 + k)
    n = 8
    forest = [_random_tree(rng, n, 5, p_split=0.95) for _ in range(4)]
    flat = trees.concat_trees(forest)
    full = _as_dict(*trees.tree_fourier(**flat))
    trunc = _as_dict(*trees.tree_fourier(**flat, max_degree=k))
    assert trunc.keys() == {s for s in full if len(s) <= k}
    for s, c in trunc.items():
        assert c == pytest.approx(full[s], abs=1e-12)


def test_single_leaf_and_empty_forest() -> None:
    stump = {
        "feature": np.zeros(0, np.int64), "zero_left": np.zeros(0, bool), "one_left": np.zeros(0, bool),
        "left_child": np.zeros(0, np.int64), "right_child": np.zeros(0, np.int64), "leaf_value": np.array([2.5]),
    }
    padded, coeffs = trees.tree_fourier(**trees.concat_trees([stump, stump]))
    assert _as_dict(padded, coeffs) == {(): 5.0}
    padded, coeffs = trees.tree_fourier(**trees.concat_trees([]))
    assert padded.shape[0] == 0 and coeffs.shape == (0,)


def test_large_feature_ids_use_unpacked_path() -> None:
    # feature ids near 2^40 cannot be packed into one int64 key for degree 3; results must not change
    rng = np.random.default_rng(7)
    tree = _random_tree(rng, 6, 4, p_split=1.0)
    big = dict(tree, feature=tree["feature"] + (1 << 40))
    small = _as_dict(*trees.tree_fourier(**tree))
    large = _as_dict(*trees.tree_fourier(**big))
    shift = {tuple(i - (1 << 40) for i in s): c for s, c in large.items()}
    assert shift.keys() == small.keys()
    for s, c in small.items():
        assert shift[s] == pytest.approx(c)
