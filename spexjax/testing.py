"""Exact synthetic value functions with known ground truth.

They evaluate both dense masks and structured :class:`~spexjax.value_functions.AffineQueries` batches;
the latter costs ``O(terms * degree)`` per query and never builds a mask, so they work at n = 10^6+.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax._checks import check_finite
from spexjax._rng import TESTING_FOURIER, TESTING_MOBIUS, numpy_rng
from spexjax.indices import mobius_to_fourier
from spexjax.interactions import supports_to_padded
from spexjax.kernels.characters import eval_fourier, eval_fourier_affine, xor_reduce_codes
from spexjax.value_functions import AffineQueries, ValueFunction, check_masks, check_n


def _check_terms(n: int, supports: Sequence[Sequence[int]], coeffs: Any) -> tuple[list[tuple[int, ...]], np.ndarray]:
    sup = [tuple(sorted(int(i) for i in s)) for s in supports]
    coef = np.asarray(coeffs, dtype=np.float64).reshape(-1)
    if len(sup) != coef.shape[0]:
        raise ValueError(f"supports and coeffs must have the same length; got {len(sup)} and {coef.shape[0]}")
    check_finite("coeffs", coef)
    for s in sup:
        if len(set(s)) != len(s):
            raise ValueError(f"support {s} repeats a feature")
        if s and (s[0] < 0 or s[-1] >= n):
            raise ValueError(f"support {s} has a feature outside [0, {n})")
    return sup, coef


class SparseFourier(ValueFunction):
    """``f(x) = sum_S F(S) (-1)^{sum_{i in S} x_i}`` for the given supports and coefficients."""

    def __init__(self, n: int, supports: Sequence[Sequence[int]], coeffs: Any):
        self.n = check_n(n)
        self.supports, self.coeffs = _check_terms(self.n, supports, coeffs)
        self.padded = supports_to_padded(self.supports)

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        return eval_fourier(check_masks(masks, self.n), self.padded, self.coeffs)

    def evaluate_affine(self, queries: AffineQueries) -> np.ndarray:
        import jax
        import jax.numpy as jnp

        if queries.n != self.n:
            raise ValueError(f"queries are for n={queries.n}, this function has n={self.n}")
        groups = np.asarray(queries.groups)
        out = np.empty((groups.shape[0], 1 << queries.b))
        if not self.supports:
            out[:] = 0.0
            return out
        flat = np.unique(self.padded[self.padded >= 0])
        # delay bits of each term: XOR of its features' delay columns
        col_bits = queries.delays.bits(flat)  # (F, P+1)
        pos = np.searchsorted(flat, np.where(self.padded >= 0, self.padded, flat[0]))
        tb = col_bits[pos] & (self.padded >= 0)[..., None]  # (K, d, P+1)
        term_dbits = np.bitwise_xor.reduce(tb.astype(np.uint8), axis=1)  # (K, P+1)
        with jax.enable_x64(True):
            coeffs = jnp.asarray(self.coeffs)
            for c in np.unique(groups[:, 0]):
                rows = np.nonzero(groups[:, 0] == c)[0]
                codes = xor_reduce_codes(queries.hash_codes[c], self.padded)
                dq = term_dbits[:, groups[rows, 1]].T  # (Q, K)
                out[rows] = np.asarray(eval_fourier_affine(jnp.asarray(codes), jnp.asarray(dq), coeffs, b=queries.b))
        return out

    def fingerprint(self) -> str:
        import hashlib

        h = hashlib.sha256()
        h.update(np.int64(self.n).tobytes())
        h.update(self.padded.tobytes())
        h.update(self.coeffs.tobytes())
        return "SparseFourier:" + h.hexdigest()

    def __repr__(self) -> str:
        return f"SparseFourier(n={self.n}, terms={len(self.supports)})"


def mobius_to_fourier_terms(supports: Sequence[tuple[int, ...]], coeffs: np.ndarray) -> tuple[list, np.ndarray]:
    """Exact Fourier form of a Möbius expansion: ``prod_{i in T} x_i = 2^-|T| sum_{S subset T} (-1)^|S| chi_S``."""
    return mobius_to_fourier(supports, coeffs)


class SparseMobius(SparseFourier):
    """``f(x) = sum_{T subset kept(x)} a(T)``: a sum of unanimity games with the given weights."""

    def __init__(self, n: int, supports: Sequence[Sequence[int]], coeffs: Any):
        n = check_n(n)
        m_sup, m_coef = _check_terms(n, supports, coeffs)
        self.mobius_supports, self.mobius_coeffs = m_sup, m_coef
        f_sup, f_coef = mobius_to_fourier_terms(m_sup, m_coef)
        super().__init__(n, f_sup, f_coef)

    def __repr__(self) -> str:
        return f"SparseMobius(n={self.n}, terms={len(self.mobius_supports)})"


def random_supports(rng: np.random.Generator, n: int, num_terms: int, max_degree: int, min_degree: int = 1):
    """``num_terms`` distinct supports, degree uniform in ``[min_degree, max_degree]``."""
    max_degree = min(max_degree, n)
    seen: set[tuple[int, ...]] = set()
    out: list[tuple[int, ...]] = []
    tries = 0
    while len(out) < num_terms:
        tries += 1
        if tries > 100 * num_terms + 1000:
            raise ValueError(f"cannot draw {num_terms} distinct supports of degree <= {max_degree} from n={n}")
        d = int(rng.integers(min_degree, max_degree + 1))
        s = tuple(sorted(int(v) for v in rng.choice(n, size=d, replace=False))) if n > 4 * d else tuple(
            sorted(int(v) for v in rng.permutation(n)[:d])
        )
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def random_sparse_fourier(n: int, num_terms: int, max_degree: int, *, key: Any = 0) -> SparseFourier:
    """A random ``SparseFourier``: distinct supports with degree uniform in ``1..max_degree`` and
    coefficients of random sign and magnitude uniform in ``[0.5, 1.5]`` (well separated from 0, as in
    the papers' synthetic experiments)."""
    n = check_n(n)
    rng = numpy_rng(key, TESTING_FOURIER)
    sup = random_supports(rng, n, int(num_terms), int(max_degree))
    coef = rng.choice([-1.0, 1.0], size=len(sup)) * rng.uniform(0.5, 1.5, size=len(sup))
    return SparseFourier(n, sup, coef)


def random_hierarchical_mobius(
    n: int, num_top: int, max_degree: int, *, key: Any = 0, decay: float = 0.5
) -> SparseMobius:
    """Sums of unanimity games whose subsets also carry weight (the hierarchy real models show).

    Draw ``num_top`` sets of degree ``<= max_degree``; every non-empty subset of each gets a Möbius weight
    ``sign * decay^(|top| - |subset|)``-scaled, so lower-order parts of important sets are important too.
    """
    import itertools

    n = check_n(n)
    rng = numpy_rng(key, TESTING_MOBIUS)
    tops = random_supports(rng, n, int(num_top), int(max_degree), min_degree=max(1, min(2, max_degree)))
    weights: dict[tuple[int, ...], float] = {}
    for top in tops:
        scale = rng.uniform(0.5, 1.5) * rng.choice([-1.0, 1.0])
        for r in range(1, len(top) + 1):
            for sub in itertools.combinations(top, r):
                w = scale * decay ** (len(top) - r) * rng.uniform(0.5, 1.0)
                weights[sub] = weights.get(sub, 0.0) + w
    sup = list(weights)
    return SparseMobius(n, sup, np.array([weights[s] for s in sup]))


def noisy_additive(n: int = 200, seed: int = 0, noise_sd: float = 3.0):
    """A dense, weak, additive function with noise, like the margins of retrained models: half of the features
    carry a Gaussian weight, and the noise (sd ``noise_sd``) is a fixed function of the mask, so a mask asked
    twice gets the same value. ``f(masks, noise=False)`` is the noiseless part (for held-out R^2).

    Why here: it is where ProxySPEX's term selection overfits (``energy="auto"`` keeps hundreds of chance
    terms), used by the energy tests and ``benchmarks/energy_holdout.py --overfit``."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0, 1, n) * (rng.random(n) < 0.5)

    def f(masks, noise=True):
        x = np.asarray(masks, bool)
        y = x.astype(float) @ w
        if noise:
            packed = np.packbits(x, axis=1)
            y = y + np.array([np.random.default_rng(int.from_bytes(r.tobytes()[:8], "little")).normal(0, noise_sd)
                              for r in packed])
        return y

    return f


__all__ = [
    "SparseFourier",
    "SparseMobius",
    "noisy_additive",
    "random_hierarchical_mobius",
    "random_sparse_fourier",
    "random_supports",
]
