"""The result of an explanation: a sparse Fourier expansion and everything users derive from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax.value_functions import check_masks

Support = tuple[int, ...]


def supports_to_padded(supports: Sequence[Support]) -> np.ndarray:
    """``int64[K, d]`` with rows sorted ascending and ``-1`` padding (``d >= 1``)."""
    d = max([len(s) for s in supports] + [1])
    out = np.full((len(supports), d), -1, dtype=np.int64)
    for k, s in enumerate(supports):
        if s:
            out[k, : len(s)] = sorted(s)
    return out


def padded_to_supports(padded: np.ndarray) -> list[Support]:
    padded = np.asarray(padded)
    return [tuple(int(v) for v in row if v >= 0) for row in padded]


class Interactions:
    """A sparse surrogate ``f(x) ~ sum_S F(S) (-1)^{|S & kept(x)|}`` with provenance.

    Args:
      n: number of features.
      supports: Fourier supports, sorted tuples (the empty tuple is the constant term).
      coeffs: Fourier coefficients, one per support.
      queries: value-function rows actually evaluated to get this result.
      feature_names: optional names, one per feature, used by ``repr``/``top``/plots.
      meta: free-form provenance (algorithm, plan, timings) saved with the result.
    """

    def __init__(
        self,
        n: int,
        supports: Sequence[Support],
        coeffs: Any,
        *,
        queries: int = 0,
        feature_names: Sequence[str] | None = None,
        meta: dict[str, Any] | None = None,
    ):
        self.n = int(n)
        sup = [tuple(sorted(int(i) for i in s)) for s in supports]
        coef = np.asarray(coeffs, dtype=np.float64).reshape(-1)
        if len(sup) != coef.shape[0]:
            raise ValueError(f"supports and coeffs must have the same length; got {len(sup)} and {coef.shape[0]}")
        # merge duplicates so each support appears once
        merged: dict[Support, float] = {}
        for s, c in zip(sup, coef, strict=True):
            merged[s] = merged.get(s, 0.0) + float(c)
        self._supports: list[Support] = list(merged.keys())
        self._coeffs = np.fromiter(merged.values(), dtype=np.float64, count=len(merged))
        self.queries = int(queries)
        if feature_names is not None and len(feature_names) != self.n:
            raise ValueError(f"feature_names must have n={self.n} entries; got {len(feature_names)}")
        self.feature_names = None if feature_names is None else [str(f) for f in feature_names]
        self.meta: dict[str, Any] = dict(meta or {})
        self._padded: np.ndarray | None = None

    # -- expansions --------------------------------------------------------------------------
    def fourier(self) -> tuple[list[Support], np.ndarray]:
        return list(self._supports), self._coeffs.copy()

    def mobius(self) -> tuple[list[Support], np.ndarray]:
        from spexjax.indices import fourier_to_mobius

        return fourier_to_mobius(self._supports, self._coeffs)

    moebius = mobius

    @property
    def baseline(self) -> float:
        """f(empty mask) as modelled: with no feature kept every character is +1."""
        return float(self._coeffs.sum())

    @property
    def padded_supports(self) -> np.ndarray:
        if self._padded is None:
            self._padded = supports_to_padded(self._supports)
        return self._padded

    def predict(self, masks: Any) -> np.ndarray:
        """The surrogate evaluated on ``bool[m, n]`` masks."""
        x = check_masks(masks, self.n)
        if not self._supports:
            return np.zeros(x.shape[0])
        from spexjax.kernels.characters import eval_fourier

        return np.asarray(eval_fourier(x, self.padded_supports, self._coeffs))

    def __len__(self) -> int:
        return len(self._supports)

    def __repr__(self) -> str:
        return f"Interactions(n={self.n}, terms={len(self)}, queries={self.queries})"
