"""Conversions between Fourier, Möbius and interaction indices.

(Placeholder implementation by dictionary; to be replaced by the vectorised one — keep the signatures.)
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

Support = tuple[int, ...]


def fourier_to_mobius(supports: Sequence[Support], coeffs: np.ndarray) -> tuple[list[Support], np.ndarray]:
    """a(S) = (-2)^|S| sum_{T superset S} F(T)."""
    out: dict[Support, float] = {}
    for t, c in zip(supports, np.asarray(coeffs, dtype=np.float64), strict=True):
        t = tuple(sorted(t))
        for r in range(len(t) + 1):
            for s in itertools.combinations(t, r):
                out[s] = out.get(s, 0.0) + c * (-2.0) ** r
    keys = list(out)
    return keys, np.array([out[k] for k in keys], dtype=np.float64)


def mobius_to_fourier(supports: Sequence[Support], coeffs: np.ndarray) -> tuple[list[Support], np.ndarray]:
    """F(S) = sum_{T superset S} a(T) 2^-|T| (-1)^|S|."""
    out: dict[Support, float] = {}
    for t, c in zip(supports, np.asarray(coeffs, dtype=np.float64), strict=True):
        t = tuple(sorted(t))
        for r in range(len(t) + 1):
            for s in itertools.combinations(t, r):
                out[s] = out.get(s, 0.0) + c * 2.0 ** (-len(t)) * (-1.0) ** r
    keys = list(out)
    return keys, np.array([out[k] for k in keys], dtype=np.float64)
