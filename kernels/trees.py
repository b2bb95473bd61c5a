"""Exact Walsh (Fourier) spectrum of tree ensembles on binary inputs.

A leaf is the indicator of its root path, a product of one-feature conditions. On ``x_f in {0, 1}`` every
condition is ``g(x_f)`` with ``g(0) = a``, ``g(1) = b``, i.e. ``(a + b)/2 + (a - b)/2 * (-1)^{x_f}``; a leaf's
spectrum is therefore the product expansion over its path features, and an ensemble's spectrum is the sum
over leaves. Everything here runs vectorised over *all leaves of all trees*: the paths come from a parent
walk (one step per depth level for every leaf at once) and the expansion from a fixed table of subset
patterns, so the cost never involves Python recursion per node.

Trees arrive as flat arrays (no knowledge of any library): internal node ``i`` tests ``feature[i]``;
``left_child[i]``/``right_child[i]`` are internal node ids when ``>= 0`` and leaves ``~c`` (i.e. ``-c - 1``)
when negative; ``zero_left[i]``/``one_left[i]`` say whether ``x_f = 0``/``x_f = 1`` goes left. Several
trees simply concatenate their nodes and leaves with offsets (see :func:`concat_trees`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

__all__ = ["concat_trees", "leaf_paths", "paths_to_fourier", "tree_fourier"]


def concat_trees(trees: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Merge per-tree arrays (keys as in :func:`tree_fourier`) into one forest with global ids."""
    feats, zl, ol, lc, rc, lv = [], [], [], [], [], []
    node_off = leaf_off = 0
    for t in trees:
        f = np.asarray(t["feature"], dtype=np.int64).reshape(-1)
        left = np.asarray(t["left_child"], dtype=np.int64).reshape(-1)
        right = np.asarray(t["right_child"], dtype=np.int64).reshape(-1)
        vals = np.asarray(t["leaf_value"], dtype=np.float64).reshape(-1)
        shift = lambda c: np.where(c >= 0, c + node_off, c - leaf_off)  # noqa: B023 - used immediately
        feats.append(f)
        zl.append(np.asarray(t["zero_left"], dtype=bool).reshape(-1))
        ol.append(np.asarray(t["one_left"], dtype=bool).reshape(-1))
        lc.append(shift(left))
        rc.append(shift(right))
        lv.append(vals)
        node_off += f.shape[0]
        leaf_off += vals.shape[0]
    cat = lambda xs, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(0, dt)
    return {
        "feature": cat(feats, np.int64),
        "zero_left": cat(zl, bool),
        "one_left": cat(ol, bool),
        "left_child": cat(lc, np.int64),
        "right_child": cat(rc, np.int64),
        "leaf_value": cat(lv, np.float64),
    }


def leaf_paths(
    feature: np.ndarray,
    zero_left: np.ndarray,
    one_left: np.ndarray,
    left_child: np.ndarray,
    right_child: np.ndarray,
    num_leaves: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Root paths of every leaf as ``(path_feature int[L, D], a float[L, D], b float[L, D])``.

    Entry ``(l, j)`` is the ``j``-th condition above leaf ``l``: feature, and whether the leaf is reachable
    when that feature is 0 (``a``) or 1 (``b``). Padding has feature ``-1`` and ``a = b = 1``. ``D`` is
    the deepest leaf's depth; a one-leaf tree (no parent) has an empty path.
    """
    feature = np.asarray(feature, dtype=np.int64)
    left_child = np.asarray(left_child, dtype=np.int64)
    right_child = np.asarray(right_child, dtype=np.int64)
    zero_left = np.asarray(zero_left, dtype=bool)
    one_left = np.asarray(one_left, dtype=bool)
    N, L = feature.shape[0], int(num_leaves)
    node_parent = np.full(N, -1, np.int64)
    node_side = np.zeros(N, bool)  # True: this node is its parent's left child
    leaf_parent = np.full(L, -1, np.int64)
    leaf_side = np.zeros(L, bool)
    ids = np.arange(N)
    for child, is_left in ((left_child, True), (right_child, False)):
        inner = child >= 0
        node_parent[child[inner]] = ids[inner]
        node_side[child[inner]] = is_left
        leaf = ~child[~inner]
        leaf_parent[leaf] = ids[~inner]
        leaf_side[leaf] = is_left
    cur, side = leaf_parent.copy(), leaf_side.copy()
    cols_f, cols_a, cols_b = [], [], []
    for _ in range(N + 1):  # at most N levels; stops at the deepest leaf's depth
        live = cur >= 0
        if not live.any():
            break
        node = np.where(live, cur, 0)
        zl, ol = zero_left[node], one_left[node]
        cols_f.append(np.where(live, feature[node], -1))
        cols_a.append(np.where(live, np.where(side, zl, ~zl), True).astype(np.float64))
        cols_b.append(np.where(live, np.where(side, ol, ~ol), True).astype(np.float64))
        side = np.where(live, node_side[node], False)
        cur = np.where(live, node_parent[node], -1)
    if not cols_f:
        return np.full((L, 0), -1, np.int64), np.ones((L, 0)), np.ones((L, 0))
    return np.stack(cols_f, 1), np.stack(cols_a, 1), np.stack(cols_b, 1)


def _patterns(depth: int, max_degree: int) -> np.ndarray:
    """Positions of every subset of ``range(depth)`` with at most ``max_degree`` elements, ``-1`` padded,
    as ``int64[P, max(1, k)]`` (row 0 is the empty subset)."""
    k = min(depth, max_degree)
    rows = [c for r in range(k + 1) for c in itertools.combinations(range(depth), r)]
    out = np.full((len(rows), max(1, k)), -1, np.int64)
    for i, c in enumerate(rows):
        out[i, : len(c)] = c
    return out


def paths_to_fourier(
    path_feature: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    leaf_value: np.ndarray,
    *,
    max_degree: int | None = None,
    chunk_elems: int = 1 << 22,
) -> tuple[np.ndarray, np.ndarray]:
    """Fourier terms of ``sum_l leaf_value[l] * prod_j g_lj(x_{path_feature[l, j]})``.

    Repeated features on one path are merged (their conditions multiply), trivial conditions (``a = b``)
    drop out, unreachable leaves (some ``a = b = 0``) vanish. Terms of degree above ``max_degree`` are
    dropped (``None``: keep all; the cost is ``sum_{r <= k} C(depth, r)`` per leaf).

    Returns ``(padded int64[K, d], coeffs float64[K])``: sorted supports with ``-1`` padding (the constant
    term is the all ``-1`` row), duplicates summed, exact zeros removed.
    """
    feat = np.asarray(path_feature, dtype=np.int64)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    v = np.asarray(leaf_value, dtype=np.float64).reshape(-1)
    L, D = feat.shape
    valid = feat >= 0
    # merge repeated features on a path: conditions on one feature multiply
    if D:
        eq = (feat[:, :, None] == feat[:, None, :]) & valid[:, :, None] & valid[:, None, :]
        earlier = np.tril(np.ones((D, D), bool), -1)
        first = valid & ~np.any(eq & earlier[None], axis=2)
        a_m = np.prod(np.where(eq, a[:, None, :], 1.0), axis=2)
        b_m = np.prod(np.where(eq, b[:, None, :], 1.0), axis=2)
        a = np.where(first, a_m, 1.0)
        b = np.where(first, b_m, 1.0)
        valid = first
    c0 = np.where(valid, 0.5 * (a + b), 1.0)
    c1 = np.where(valid, 0.5 * (a - b), 0.0)
    # a leaf's constant factor: product over conditions that do not vary with their feature
    active = valid & (c1 != 0.0)
    scale = v * np.prod(np.where(active, 1.0, c0), axis=1)
    keep = scale != 0.0
    feat, c0, c1, active, scale = feat[keep], c0[keep], c1[keep], active[keep], scale[keep]
    # compact active conditions to the front, sorted by feature, so chosen subsets come out sorted
    order = np.argsort(np.where(active, feat, np.iinfo(np.int64).max), axis=1, kind="stable")
    feat = np.take_along_axis(feat, order, 1)
    c0 = np.take_along_axis(c0, order, 1)
    c1 = np.take_along_axis(c1, order, 1)
    r = active.sum(axis=1)
    depth = int(r.max(initial=0))
    feat, c0, c1 = feat[:, :depth], c0[:, :depth], c1[:, :depth]
    k = depth if max_degree is None else min(depth, int(max_degree))
    pats = _patterns(depth, k)  # (P, kk)
    P, kk = pats.shape
    sel = np.zeros((P, max(depth, 1)), bool)
    for j in range(kk):
        m = pats[:, j] >= 0
        sel[np.nonzero(m)[0], pats[m, j]] = True
    sel = sel[:, :depth]
    pat_max = pats.max(axis=1)  # highest position used (-1 for the empty subset)
    pos = np.where(pats >= 0, pats, 0)
    nbits = max(1, int(np.max(feat, initial=0) + 2).bit_length())
    packable = nbits * kk <= 62
    keys, sups, coefs = [], [], []
    step = max(1, chunk_elems // max(1, P * max(depth, 1)))
    for lo in range(0, feat.shape[0], step):
        sl = slice(lo, lo + step)
        f, z, o, rr, s = feat[sl], c0[sl], c1[sl], r[sl], scale[sl]
        ok = pat_max[None, :] < rr[:, None]  # (l, P): subset lies within the leaf's active conditions
        if depth:
            fac = np.where(sel[None], o[:, None, :], z[:, None, :])  # (l, P, depth)
            coef = s[:, None] * np.prod(fac, axis=2)
        else:
            coef = np.broadcast_to(s[:, None], ok.shape)
        li, pi = np.nonzero(ok & (coef != 0.0))
        coefs.append(coef[li, pi])
        sup = np.where(pats[pi] >= 0, f[li[:, None], pos[pi]] if depth else -1, -1)
        if packable:
            shifts = np.arange(kk, dtype=np.int64) * nbits
            keys.append(np.sum((sup + 1) << shifts[None, :], axis=1))
        else:
            sups.append(sup)
    if not coefs:
        return np.full((0, max(1, kk)), -1, np.int64), np.zeros(0)
    coef = np.concatenate(coefs)
    if packable:
        key = np.concatenate(keys)
        uniq, inv = np.unique(key, return_inverse=True)
        shifts = np.arange(kk, dtype=np.int64) * nbits
        padded = ((uniq[:, None] >> shifts[None, :]) & ((1 << nbits) - 1)) - 1
    else:
        padded, inv = np.unique(np.concatenate(sups), axis=0, return_inverse=True)
    total = np.bincount(inv.reshape(-1), weights=coef, minlength=padded.shape[0])
    nz = total != 0.0
    padded = padded[nz]
    # rows sorted ascending with -1 padding at the end
    padded = np.sort(np.where(padded >= 0, padded, np.iinfo(np.int64).max), axis=1)
    padded = np.where(padded == np.iinfo(np.int64).max, -1, padded)
    return padded.astype(np.int64), total[nz]


def tree_fourier(
    feature: np.ndarray,
    zero_left: np.ndarray,
    one_left: np.ndarray,
    left_child: np.ndarray,
    right_child: np.ndarray,
    leaf_value: np.ndarray,
    *,
    max_degree: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Fourier spectrum of a forest given as flat arrays (see the module docstring); the prediction is the
    sum of the reached leaves' values over all trees. Returns ``(padded supports, coeffs)``."""
    leaf_value = np.asarray(leaf_value, dtype=np.float64).reshape(-1)
    pf, pa, pb = leaf_paths(feature, zero_left, one_left, left_child, right_child, leaf_value.shape[0])
    return paths_to_fourier(pf, pa, pb, leaf_value, max_degree=max_degree)
