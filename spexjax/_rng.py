"""One place that turns a user ``key`` (int seed or JAX PRNG key) into deterministic generators."""

from __future__ import annotations

from typing import Any

import numpy as np


def key_to_seed(key: Any) -> int:
    """A 64-bit seed derived deterministically from an int or a JAX PRNG key."""
    if isinstance(key, bool):
        raise TypeError("key must be an int seed or a JAX PRNG key; got bool")
    if isinstance(key, (int, np.integer)):
        return int(key) & 0xFFFFFFFFFFFFFFFF
    try:
        import jax

        if hasattr(key, "dtype") and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
    except Exception:  # noqa: BLE001 - fall through to the generic array path
        pass
    arr = np.asarray(key)
    if arr.dtype.kind not in "iu" or arr.size == 0:
        raise TypeError(f"key must be an int seed or a JAX PRNG key; got {type(key).__name__}")
    seed = 0
    for v in arr.reshape(-1).astype(np.uint64):
        seed = (seed * 0x9E3779B97F4A7C15 + int(v)) & 0xFFFFFFFFFFFFFFFF
    return seed


def numpy_rng(key: Any, *streams: int) -> np.random.Generator:
    """A NumPy generator for ``key`` and an optional stream id (independent per stream)."""
    return np.random.default_rng([key_to_seed(key), *streams])
