"""Value functions: what spexjax queries, and the structured query batches it can hand them.

A value function maps a batch of masks ``bool[m, n]`` (True = feature kept) to ``float[m]``. Any callable
works. Subclasses of :class:`ValueFunction` know their own ``n`` and may also accept an
:class:`AffineQueries` batch directly, which describes ``G * 2^b`` masks through ``O(C * n)`` numbers; that is
how million-feature synthetic functions are evaluated without ever building a dense mask matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from spexjax._checks import check_masks, check_n  # noqa: F401 - defined once in _checks, imported from here too
from spexjax.errors import MaskError
from spexjax.kernels.characters import parity_u32

# ----------------------------------------------------------------------------------------------
# structured query batches
# ----------------------------------------------------------------------------------------------


@runtime_checkable
class DelaySource(Protocol):
    """Gives delay bits column by column, so large ``n`` never needs the dense ``(P+1, n)`` matrix."""

    num_delays: int  # P + 1; delay 0 is the all-zero delay

    def bits(self, idx: np.ndarray) -> np.ndarray:
        """``bool[len(idx), num_delays]``: bit ``p`` of row ``r`` is ``d_p[idx[r]]``."""
        ...


@dataclass(frozen=True)
class AffineQueries:
    """The masks ``x(g, l) = M_{c_g}^T l XOR d_{p_g}`` for every ``l`` in ``{0,1}^b``.

    Attributes:
      hash_codes: ``uint32[C, n]``; bit ``r`` of ``hash_codes[c, i]`` is ``M_c[r, i]``.
      delays: delay bits by feature (see :class:`DelaySource`).
      groups: ``int32[G, 2]`` rows ``(c, p)``: which hash matrix and which delay each block uses.
      b: number of hash bits; each block has ``2**b`` rows, row ``l`` being the integer whose bit ``r``
        is ``l_r``.

    The batch as a whole is ``G * 2**b`` masks in block-major order, the same order as
    :meth:`dense` produces and as ``evaluate_affine`` must return (shape ``(G, 2**b)``).
    """

    hash_codes: np.ndarray
    delays: DelaySource
    groups: np.ndarray
    b: int

    @property
    def n(self) -> int:
        return int(self.hash_codes.shape[1])

    @property
    def num_rows(self) -> int:
        return int(self.groups.shape[0]) << self.b

    def dense_block(self, g: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Masks ``bool[hi - lo, n]`` of block ``g`` for ``l`` in ``[lo, hi)``.

        Aligned power-of-two ranges (what :meth:`iter_dense` asks for) are built by XOR doubling:
        ``x(l + 2^r) = x(l) XOR M_c[r]``, so each mask row costs one vectorised XOR instead of a popcount per
        feature.
        """
        hi = (1 << self.b) if hi is None else hi
        c, p = (int(v) for v in self.groups[g])
        codes = self.hash_codes[c].astype(np.uint32)  # (n,)
        size = hi - lo
        # delay 0 is usually all-zero, but not always (a grown design's new half shifts every delay)
        d = np.asarray(self.delays.bits(np.arange(self.n)))[:, p].astype(bool)
        if size > 0 and size & (size - 1) == 0 and lo % size == 0:
            first = _parity_u32(np.uint32(lo) & codes).astype(bool) ^ d
            out = np.empty((size, self.n), dtype=bool)
            out[0] = first
            filled = 1
            r = 0
            while filled < size:
                row = ((codes >> np.uint32(r)) & np.uint32(1)).astype(bool)
                np.bitwise_xor(out[:filled], row[None, :], out=out[filled : 2 * filled])
                filled *= 2
                r += 1
            return out
        ells = np.arange(lo, hi, dtype=np.uint32)[:, None]  # (rows, 1)
        par = _parity_u32(ells & codes[None, :])
        par ^= d[None, :]
        return par.astype(bool)

    def iter_dense(self, max_rows: int) -> Iterator[tuple[int, int, int, np.ndarray]]:
        """Yields ``(g, lo, hi, masks)`` chunks of at most ``max_rows`` rows, block by block."""
        size = 1 << self.b
        step = 1 << max(0, min(self.b, int(max(1, max_rows)).bit_length() - 1))  # aligned power of two
        for g in range(self.groups.shape[0]):
            for lo in range(0, size, step):
                hi = min(size, lo + step)
                yield g, lo, hi, self.dense_block(g, lo, hi)

    def dense(self) -> np.ndarray:
        """All rows as ``bool[G * 2**b, n]`` (only sensible for small batches)."""
        return np.concatenate([m for *_, m in self.iter_dense(1 << self.b)], axis=0)


def _parity_u32(x: np.ndarray) -> np.ndarray:
    """Parity of the set bits of each uint32 (defined once, in :mod:`spexjax.kernels.characters`)."""
    return parity_u32(np.asarray(x, dtype=np.uint32))


# ----------------------------------------------------------------------------------------------
# value functions
# ----------------------------------------------------------------------------------------------


class ValueFunction:
    """Base for value functions that know their own ``n``.

    Subclasses implement :meth:`evaluate` (dense masks). Those that can evaluate structured batches
    cheaply also override :meth:`evaluate_affine`; the engine then never materialises masks for them.
    ``fingerprint`` identifies the function for the query cache (override it with something stable
    across processes, e.g. a hash of the model weights and the prompt).
    """

    n: int

    def evaluate(self, masks: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def evaluate_affine(self, queries: AffineQueries) -> np.ndarray:
        """Default: materialise the masks in blocks and call :meth:`evaluate`."""
        out = np.empty((queries.groups.shape[0], 1 << queries.b))
        for g, lo, hi, masks in queries.iter_dense(1 << 16):
            out[g, lo:hi] = np.asarray(self.evaluate(masks), dtype=np.float64).reshape(-1)
        return out

    @property
    def supports_affine(self) -> bool:
        return type(self).evaluate_affine is not ValueFunction.evaluate_affine

    def fingerprint(self) -> str | None:
        """A stable identity for caching; ``None`` means the caller must give one."""
        return None

    def __call__(self, masks: Any) -> np.ndarray:
        masks = check_masks(masks, getattr(self, "n", None))
        return np.asarray(self.evaluate(masks), dtype=np.float64)


class CallableValueFunction(ValueFunction):
    """Wraps a plain ``f(masks) -> values`` callable so the engine sees one interface."""

    def __init__(self, fn: Callable[[np.ndarray], Any], n: int):
        self.fn = fn
        self.n = int(n)

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        return np.asarray(self.fn(masks))

    def fingerprint(self) -> str | None:
        fp = getattr(self.fn, "fingerprint", None)
        return fp() if callable(fp) else None

    def __repr__(self) -> str:
        return f"CallableValueFunction({getattr(self.fn, '__name__', type(self.fn).__name__)}, n={self.n})"


def as_value_function(value_fn: Any, n: int) -> ValueFunction:
    """Adapter used at the API boundary; checks that ``value_fn`` is callable and ``n`` agrees."""
    if isinstance(value_fn, ValueFunction):
        own = getattr(value_fn, "n", None)
        if own is not None and int(own) != int(n):
            raise MaskError(f"n={n} does not match the value function's own n={own}")
        return value_fn
    if not callable(value_fn):
        raise TypeError(f"value_fn must be callable f(masks: bool[m, n]) -> float[m]; got {type(value_fn).__name__}")
    return CallableValueFunction(value_fn, n)
