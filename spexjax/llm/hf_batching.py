"""How a batch of token sequences of mixed length is cut into padded forwards.

An explanation sends hundreds of ablated prompts whose lengths differ by up to the whole prompt. Padding
them all to the longest wastes compute on pad tokens; sorting by length and cutting the sorted list into
groups whose padded size fits a token budget keeps the waste small. Pure NumPy, so it is tested without torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["plan_batches", "padding_waste"]


def plan_batches(
    lengths: Sequence[int], *, max_tokens: int, max_batch: int, sort: bool = True, forward_cost: int = 128
) -> list[np.ndarray]:
    """Groups of row indices; each group's ``rows * longest <= max_tokens`` and ``rows <= max_batch``.

    With ``sort`` the rows are sorted by length (stable) and cut where it is cheapest: the split minimises
    ``sum over groups of (rows * longest + forward_cost)`` exactly (dynamic programming over the sorted order),
    so a batch of mixed lengths is not padded to its longest row just because it would fit in one forward.
    ``forward_cost`` is the fixed cost of one forward in padded-token units (launch, Python, the logits head).
    Without ``sort`` the rows are taken in the given order and cut greedily (the naive strategy, for
    comparison). A single sequence longer than ``max_tokens`` forms its own group rather than failing.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    if forward_cost < 0:
        raise ValueError(f"forward_cost must be >= 0, got {forward_cost}")
    lens = np.asarray(lengths, dtype=np.int64)
    if sort:
        return _optimal_cuts(lens, max_tokens, max_batch, forward_cost)
    order = np.arange(len(lens))
    groups: list[np.ndarray] = []
    start, longest = 0, 0
    for pos, row in enumerate(order):
        size = int(lens[row])
        new_longest = max(longest, size)
        count = pos - start
        if count and (count + 1 > max_batch or (count + 1) * new_longest > max_tokens):
            groups.append(order[start:pos])
            start, new_longest = pos, size
        longest = new_longest
    if len(order) > start:
        groups.append(order[start:])
    return groups


def _optimal_cuts(lens: np.ndarray, max_tokens: int, max_batch: int, forward_cost: int) -> list[np.ndarray]:
    """Cheapest cut of the length-sorted rows into contiguous groups (``dp[j]``: best cost of the first j)."""
    order = np.argsort(lens, kind="stable")
    srt = lens[order]
    n = len(srt)
    dp = np.zeros(n + 1, dtype=np.float64)
    cut = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):
        longest = int(srt[j - 1])  # sorted: the last row of a group is its longest
        most = max(1, min(max_batch, max_tokens // max(longest, 1)))
        i = np.arange(max(0, j - most), j)
        cost = dp[i] + (j - i) * longest + forward_cost
        k = int(np.argmin(cost))
        dp[j], cut[j] = cost[k], i[k]
    groups: list[np.ndarray] = []
    j = n
    while j > 0:
        groups.append(order[cut[j] : j])
        j = int(cut[j])
    return groups[::-1]


def padding_waste(lengths: Sequence[int], groups: Sequence[np.ndarray]) -> float:
    """Fraction of the padded token slots that are padding (0 = none wasted)."""
    lens = np.asarray(lengths, dtype=np.int64)
    padded = sum(len(g) * int(lens[g].max()) for g in groups if len(g))
    return 0.0 if padded == 0 else 1.0 - float(lens.sum()) / padded
