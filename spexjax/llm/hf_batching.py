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
    lengths: Sequence[int], *, max_tokens: int, max_batch: int, sort: bool = True
) -> list[np.ndarray]:
    """Groups of row indices; each group's ``rows * longest <= max_tokens`` and ``rows <= max_batch``.

    With ``sort`` the rows are taken in order of length (stable), so each group holds sequences of similar
    length (a bucket); without it they are taken in the given order (the naive strategy, for comparison).
    A single sequence longer than ``max_tokens`` forms its own group rather than failing.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    lens = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(lens, kind="stable") if sort else np.arange(len(lens))
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


def padding_waste(lengths: Sequence[int], groups: Sequence[np.ndarray]) -> float:
    """Fraction of the padded token slots that are padding (0 = none wasted)."""
    lens = np.asarray(lengths, dtype=np.int64)
    padded = sum(len(g) * int(lens[g].max()) for g in groups if len(g))
    return 0.0 if padded == 0 else 1.0 - float(lens.sum()) / padded
