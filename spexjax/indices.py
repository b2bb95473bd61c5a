"""Exact, vectorised conversions: Fourier <-> Möbius -> Shapley/Banzhaf interaction indices.

Every index shapiq computes from Möbius coefficients is linear in them with a weight that depends only on
the two set sizes: ``I(S) = sum_{T superset S} W[|S|, |T|] a(T)`` (shapiq's ``MoebiusConverter``,
Fumagalli et al. 2023, "SHAP-IQ"; Tsai et al. 2023, "Faithful Shapley interactions"). Composing with
``a(U) = (-2)^|U| sum_{T superset U} F(T)`` shows the same holds from Fourier coefficients, with
``V[s, t] = sum_{u=s..t} C(t-s, u-s) (-2)^u W[s, u]``. So a conversion is one *closure-and-aggregate*:
enumerate every subset ``S`` (of the requested sizes) of every input support ``T`` with a fixed
``C(|T|, |S|)`` combination table per degree, weight it by ``W[|S|, |T|] * c(T)``, and sum equal subsets
after one sort. No loop over pairs of sets; the tables are exact rationals (:class:`fractions.Fraction`),
so the alternating sums above cancel exactly instead of in floating point.

Möbius weights ``W[s, t]`` for ``s <= t`` (``k`` = order; ``B_j`` Bernoulli numbers with ``B_1 = -1/2``):

========  =========================================================================================
Moebius   ``[s == t]``
Fourier   ``(-1)^s 2^-t``
SII       ``1 / (t - s + 1)`` (Grabisch & Roubens 1999)
BII       ``2^-(t - s)``
k-SII     ``sum_{u=s..min(k,t)} C(t-s, u-s) B_{u-s} / (t - u + 1)`` (Bordt & von Luxburg 2023)
STII      ``[s == t]`` for ``s < k``; ``1 / C(t, k)`` for ``s = k <= t`` (Sundararajan et al. 2020)
FSII      ``[s == t]`` if ``t <= k`` else
          ``(-1)^(k-s) s/(k+s) C(k, s) C(t-1, k) / C(t+k-1, k+s)`` (Tsai et al. 2023)
FBII      ``[s == t]`` if ``t <= k`` else ``(-1)^(k-s) 2^-(t-s) C(t-s-1, k-s)`` (Tsai et al. 2023)
SV, BV    SII and BII at order 1.
========  =========================================================================================

The empty interaction ``()`` follows ``shapiq.ExactComputer`` exactly: ``f(empty)`` (``= a(())``) for
Moebius, k-SII, STII, FSII, SV and SII at order 1 (shapiq calls order-1 SII "SV"); the discrete-derivative
value ``sum_T a(T)/(|T|+1)`` for SII at order >= 2; ``sum_T 2^-|T| a(T) = F(())`` (the mean of f over
uniform masks) for BII, BV and Fourier; the least-squares intercept
``a(()) + sum_{|T|>k} (-1)^k 2^-|T| C(|T|-1, k) a(T)`` for FBII.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from spexjax._checks import is_int
from spexjax.errors import ArgumentError, ArgumentTypeError

Support = tuple[int, ...]

INDICES: tuple[str, ...] = ("Fourier", "Moebius", "SII", "BII", "k-SII", "STII", "FSII", "FBII", "SV", "BV")
"""Index names accepted by :func:`fourier_to_index`, :func:`mobius_to_index` and ``Interactions.index``."""

_ALIASES = {"Mobius": "Moebius", "Möbius": "Moebius", "kSII": "k-SII"}
_MAX_PAIRS = 400_000_000  # closure rows one conversion may materialise (~20 GB); beyond this, lower the order


def check_index(index: str) -> str:
    """Canonical index name, or a ``ValueError`` listing the valid ones."""
    if not isinstance(index, str):
        raise TypeError(f"index must be a str, one of {INDICES}; got {type(index).__name__}")
    name = _ALIASES.get(index, index)
    if name not in INDICES:
        raise ValueError(f"index must be one of {INDICES}; got {index!r}")
    return name


def check_order(order: int | None, index: str, *, name: str = "order") -> int | None:
    """``None`` or a non-negative int (``>= 1`` for the Shapley/Banzhaf family)."""
    if order is None:
        return None
    if not is_int(order):
        raise ArgumentTypeError(f"{name} must be an int or None; got {type(order).__name__}")
    order = int(order)
    if order < 0:
        raise ArgumentError(f"{name} must be >= 0; got {order}")
    if order == 0 and index not in ("Fourier", "Moebius"):
        raise ArgumentError(f"{name} must be >= 1 for index {index!r}; got 0")
    return order


# -- exact weight tables ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _bernoulli(m: int) -> tuple[Fraction, ...]:
    """``B_0..B_m`` with ``B_1 = -1/2`` (the convention of shapiq / scipy.special.bernoulli)."""
    b = [Fraction(1)]
    for j in range(1, m + 1):
        b.append(-sum(math.comb(j + 1, i) * b[i] for i in range(j)) / (j + 1))
    return tuple(b)


def _mobius_weight(index: str, k: int, s: int, t: int) -> Fraction:
    """``W[s, t]``: weight of Möbius term ``T`` (``|T| = t``) on interaction ``S subset T`` (``|S| = s``)."""
    one, zero = Fraction(1), Fraction(0)
    if index == "Moebius":
        return one if s == t else zero
    if index == "Fourier":
        return Fraction((-1) ** s, 2**t)
    if index in ("SII", "SV"):
        if s == 0 and k == 1:  # shapiq: order-1 SII is SV, whose empty value is the baseline
            return one if t == 0 else zero
        return Fraction(1, t - s + 1)
    if index in ("BII", "BV"):
        return Fraction(1, 2 ** (t - s))
    if index == "k-SII":
        if s == 0:
            return one if t == 0 else zero
        bern = _bernoulli(min(k, t))
        return sum(
            (Fraction(math.comb(t - s, u - s)) * bern[u - s] / (t - u + 1) for u in range(s, min(k, t) + 1)),
            zero,
        )
    if index == "STII":
        if s < k:
            return one if s == t else zero
        return Fraction(1, math.comb(t, k)) if t >= k else zero
    if index == "FSII":
        if t <= k or s == 0:
            return one if s == t else zero
        return (
            Fraction((-1) ** (k - s) * s, k + s)
            * math.comb(k, s)
            * math.comb(t - 1, k)
            / math.comb(t + k - 1, k + s)
        )
    if index == "FBII":
        if t <= k:
            return one if s == t else zero
        return Fraction((-1) ** (k - s) * math.comb(t - s - 1, k - s), 2 ** (t - s))
    raise ValueError(f"index must be one of {INDICES}; got {index!r}")  # pragma: no cover


@functools.lru_cache(maxsize=256)
def weight_table(index: str, order: int, max_size: int, source: str = "Moebius") -> np.ndarray:
    """``float64[order + 1, max_size + 1]``: ``W[s, t]`` from ``source`` coefficients (0 where ``s > t``).

    ``source="Fourier"`` composes with Fourier -> Möbius exactly (in rationals) before rounding.
    """
    index = check_index(index)
    k = 1 if index in ("SV", "BV") else order
    smax = min(k, max_size)
    out = np.zeros((smax + 1, max_size + 1))
    for s in range(smax + 1):
        for t in range(s, max_size + 1):
            if source == "Moebius":
                w = _mobius_weight(index, k, s, t)
            elif source == "Fourier":
                if index == "Fourier":
                    w = Fraction(1 if s == t else 0)
                else:
                    w = sum(
                        (
                            math.comb(t - s, u - s) * Fraction(-2) ** u * _mobius_weight(index, k, s, u)
                            for u in range(s, t + 1)
                        ),
                        Fraction(0),
                    )
            else:
                raise ValueError(f"source must be 'Fourier' or 'Moebius'; got {source!r}")
            out[s, t] = float(w)
    return out


# -- closure and aggregation ---------------------------------------------------------------------------


def pad_supports(supports: Sequence[Sequence[int]] | np.ndarray, *, name: str = "supports") -> np.ndarray:
    """``int64[K, d]`` rows sorted ascending with ``-1`` padding (``d >= 1``), built without a per-row loop."""
    if isinstance(supports, np.ndarray) and supports.ndim == 2 and supports.dtype.kind in "iu":
        padded = supports.astype(np.int64, copy=True)
        if padded.shape[1] == 0:
            padded = np.full((padded.shape[0], 1), -1, np.int64)
    else:
        sup = list(supports)
        lens = np.fromiter((len(s) for s in sup), dtype=np.int64, count=len(sup))
        d = max(int(lens.max()) if len(sup) else 0, 1)
        flat = np.fromiter(itertools.chain.from_iterable(sup), dtype=np.int64, count=int(lens.sum()))
        padded = np.full((len(sup), d), -1, np.int64)
        rows = np.repeat(np.arange(len(sup)), lens)
        cols = np.arange(flat.shape[0]) - np.repeat(np.cumsum(lens) - lens, lens)
        padded[rows, cols] = flat
    valid = padded >= 0
    if np.any(padded < -1):
        raise ValueError(f"{name} must hold non-negative feature indices")
    big = np.iinfo(np.int64).max
    padded = np.sort(np.where(valid, padded, big), axis=1)
    valid = padded != big
    if padded.shape[1] > 1 and np.any(valid[:, 1:] & (padded[:, 1:] == padded[:, :-1])):
        raise ValueError(f"{name}: a support repeats a feature")
    return np.where(valid, padded, -1)


def _sort_unique_sum(rows: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum ``vals`` over equal rows of ``int64[N, s]`` (non-negative); rows come back in lexicographic order.

    Rows are packed into as few int64 words as the feature range allows, so one argsort (or a lexsort over
    two or three words at n = 10^6, s = 5) replaces a structured ``np.unique(axis=0)``.
    """
    m, s = rows.shape
    if m == 0:
        return rows, vals
    if s == 0:
        return rows[:1], np.array([vals.sum()])
    bits = max(int(rows.max()).bit_length(), 1)
    per = max(62 // bits, 1)
    words = []
    for c0 in range(0, s, per):
        w = np.zeros(m, np.int64)
        for c in range(c0, min(s, c0 + per)):
            w = (w << bits) | rows[:, c]
        words.append(w)
    order = np.argsort(words[0], kind="stable") if len(words) == 1 else np.lexsort(words[::-1])
    new = np.zeros(m, dtype=bool)
    new[0] = True
    for w in words:
        ws = w[order]
        new[1:] |= ws[1:] != ws[:-1]
    starts = np.flatnonzero(new)
    return rows[order[starts]], np.add.reduceat(vals[order], starts)


@functools.lru_cache(maxsize=256)
def _combos(t: int, s: int) -> np.ndarray:
    if s == 0:
        return np.zeros((1, 0), np.int64)
    return np.asarray(list(itertools.combinations(range(t), s)), dtype=np.int64).reshape(-1, s)


def convert_padded(
    padded: np.ndarray, coeffs: np.ndarray, table: np.ndarray, *, min_order: int = 0, keep_empty: bool = True
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Closure-and-aggregate: ``out(S) = sum_{T superset S} table[|S|, |T|] coeffs(T)``.

    Args:
      padded: input supports ``int64[K, d]`` (sorted rows, ``-1`` padding).
      coeffs: ``float64[K]``.
      table: ``W[s, t]``; output sizes are ``min_order..table.shape[0]-1``.
      min_order: smallest output size.
      keep_empty: with ``min_order == 0``, keep ``()`` even when it is zero (shapiq always lists it).

    Returns:
      one ``(rows int64[U_s, s], values float64[U_s])`` per output size ``s``, rows lexicographic, exact
      zeros dropped (as shapiq's converter does).
    """
    coeffs = np.asarray(coeffs, dtype=np.float64)
    sizes = (padded >= 0).sum(axis=1)
    if coeffs.shape[0] and int(sizes.max()) >= table.shape[1]:
        raise ValueError(f"weight table covers degree <= {table.shape[1] - 1}; got degree {int(sizes.max())}")
    present = np.unique(sizes)
    total = sum(
        int((sizes == t).sum()) * math.comb(int(t), s)
        for t in present
        for s in range(min_order, min(int(t), table.shape[0] - 1) + 1)
    )
    if total > _MAX_PAIRS:
        raise ValueError(
            f"order: this conversion would enumerate {total:,} (subset, term) pairs (limit {_MAX_PAIRS:,}); "
            "ask for a lower order"
        )
    by_size = {t: np.flatnonzero(sizes == t) for t in present.tolist()}
    out = []
    for s in range(min_order, table.shape[0]):
        parts_r, parts_v = [], []
        for t, idx in by_size.items():
            if t < s or table[s, t] == 0.0:
                continue
            cmb = _combos(t, s)
            # (K_t * C, s): every size-s subset of every term
            sub = padded[idx][:, cmb].reshape(idx.shape[0] * cmb.shape[0], s)
            parts_r.append(sub)
            parts_v.append(np.repeat(coeffs[idx] * table[s, t], cmb.shape[0]))
        if parts_r:
            rows, vals = _sort_unique_sum(np.concatenate(parts_r), np.concatenate(parts_v))
            nz = vals != 0.0
            if s == 0 and keep_empty:
                nz[:] = True
            rows, vals = rows[nz], vals[nz]
        else:
            rows, vals = np.zeros((0, s), np.int64), np.zeros(0)
        if s == 0 and keep_empty and rows.shape[0] == 0:
            rows, vals = np.zeros((1, 0), np.int64), np.zeros(1)
        out.append((rows, vals))
    return out


def _to_lists(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[list[Support], np.ndarray]:
    sup: list[Support] = []
    for rows, _ in parts:
        sup.extend(map(tuple, rows.tolist()))
    vals = np.concatenate([v for _, v in parts]) if parts else np.zeros(0)
    return sup, vals


def _convert(
    supports: Sequence[Support] | np.ndarray,
    coeffs: np.ndarray,
    index: str,
    order: int | None,
    source: str,
    min_order: int = 0,
) -> tuple[list[Support], np.ndarray]:
    index = check_index(index)
    order = check_order(order, index)
    min_order = check_order(min_order, "Moebius", name="min_order")
    padded = pad_supports(supports)
    coeffs = np.asarray(coeffs, dtype=np.float64).reshape(-1)
    if coeffs.shape[0] != padded.shape[0]:
        raise ValueError(
            f"supports and coeffs must have the same length; got {padded.shape[0]} and {coeffs.shape[0]}"
        )
    dmax = int((padded >= 0).sum(axis=1).max()) if padded.shape[0] else 0
    # order=None means "all orders" (shapiq's order = n); only SII's empty value notices k = 1 vs k >= 2
    k = (max(dmax, 2) if index == "SII" else dmax) if order is None else order
    if index in ("SV", "BV"):
        k = 1
    elif index not in ("Fourier", "Moebius"):
        k = max(k, 1)
    table = weight_table(index, k, dmax, source)
    return _to_lists(convert_padded(padded, coeffs, table, min_order=min_order))


def fourier_to_mobius(supports: Sequence[Support], coeffs: np.ndarray) -> tuple[list[Support], np.ndarray]:
    """Möbius coefficients ``a(S) = (-2)^|S| sum_{T superset S} F(T)`` (the downward closure of the supports)."""
    return _convert(supports, coeffs, "Moebius", None, "Fourier")


def mobius_to_fourier(supports: Sequence[Support], coeffs: np.ndarray) -> tuple[list[Support], np.ndarray]:
    """Fourier coefficients ``F(S) = (-1)^|S| sum_{T superset S} 2^-|T| a(T)``."""
    return _convert(supports, coeffs, "Fourier", None, "Moebius")


def fourier_to_index(
    supports: Sequence[Support],
    coeffs: np.ndarray,
    index: str,
    order: int | None = None,
    *,
    min_order: int = 0,
) -> tuple[list[Support], np.ndarray]:
    """``index`` (see :data:`INDICES`) of all interactions of size ``min_order..order`` from Fourier terms.

    ``order=None`` means the largest degree present (for k-SII/STII/FSII/FBII the index then equals the
    Möbius transform, as in shapiq with ``order = n``). SV and BV ignore ``order`` (always 1). Interactions
    not returned are exactly zero; ``()`` is always returned when ``min_order == 0``.
    """
    return _convert(supports, coeffs, index, order, "Fourier", min_order)


def mobius_to_index(
    supports: Sequence[Support],
    coeffs: np.ndarray,
    index: str,
    order: int | None = None,
    *,
    min_order: int = 0,
) -> tuple[list[Support], np.ndarray]:
    """Like :func:`fourier_to_index`, from Möbius coefficients (what shapiq's ``MoebiusConverter`` takes)."""
    return _convert(supports, coeffs, index, order, "Moebius", min_order)


__all__ = [
    "INDICES",
    "check_index",
    "convert_padded",
    "fourier_to_index",
    "fourier_to_mobius",
    "mobius_to_fourier",
    "mobius_to_index",
    "pad_supports",
    "weight_table",
]
