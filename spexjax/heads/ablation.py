"""Which heads a mask keeps, as per-head multipliers: the papers' ablation with its rescaling.

A head outside the kept set ``S`` is zeroed before the attention output projection, and the heads kept in
layer ``l`` are scaled by ``|H_l| / |S ∩ H_l|`` so the projection sees a concatenation of the same expected
magnitude (dropout's inverse scaling, per layer). A layer with no kept head contributes nothing (all zeros,
no division). Every backend receives these multipliers, so the rule lives in exactly one place.

Features are heads in layer-major order: feature ``l * heads + h`` is head ``h`` of layer ``l`` (``"L{l}H{h}"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spexjax.value_functions import check_masks

__all__ = ["head_names", "head_scales", "layer_of"]


def head_names(layers: int, heads: int) -> list[str]:
    """``["L0H0", "L0H1", ...]``, layer-major."""
    return [f"L{layer}H{head}" for layer in range(int(layers)) for head in range(int(heads))]


def layer_of(feature: int, heads: int) -> int:
    """The layer of head feature ``feature``."""
    return int(feature) // int(heads)


def head_scales(masks: Any, layers: int, heads: int, *, rescale: bool = True) -> np.ndarray:
    """``float32[m, layers, heads]`` multipliers of each head's output for ``bool[m, layers * heads]`` masks.

    With ``rescale`` (the papers' rule) a kept head of layer ``l`` gets ``heads / kept_in_l``; an ablated head 0.
    Without it, kept heads get exactly 1 (plain zeroing). All kept gives exactly 1 everywhere either way.
    """
    x = check_masks(masks, int(layers) * int(heads)).reshape(-1, int(layers), int(heads))
    keep = x.astype(np.float32)
    if not rescale:
        return keep
    kept = keep.sum(axis=2, keepdims=True)
    factor = np.where(kept > 0, np.float32(heads) / np.maximum(kept, 1.0), 0.0).astype(np.float32)
    return keep * factor
