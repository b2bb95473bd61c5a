"""Stores of precomputed trainings in the datamodels format, explained without loading them.

A store is two ``.npy`` files: ``masks`` ``bool[M, n]`` (row r: which of the ``n`` training points model r was
trained on) and ``outputs`` ``float[M, T]`` (its margin on each of ``T`` test points). The public CIFAR-10
runs are M = 300,000 by n = 50,000 (15 GB of masks), so nothing here holds the masks in memory: passes over
the store read blocks of rows with plain file reads into one reused buffer (a long-lived memory map would
keep every page it touched resident), and only the columns that survive screening are gathered.

Explaining test point ``j`` (:meth:`DatamodelsStore.explain`):

1. hold out the last ``holdout`` share of the rows (datamodels rows are i.i.d. random masks);
2. at large ``n``, screen: one streaming pass computes each point's marginal effect (mean output with the
   point kept minus without) and its z-score; ProxySPEX's hierarchy (an important set has important subsets,
   so its points have marginal effects) makes this a safe filter; the top ``screen`` points clearing a
   Gaussian max bound are kept;
3. ProxySPEX on the stored rows of the screened columns (``budget=0, samples=...``: no new trainings);
4. supports mapped back to the full index, R^2 on the held-out rows recorded in ``meta``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from spexjax.errors import SpexError
from spexjax.interactions import Interactions
from spexjax.metrics import r2_score
from spexjax.proxyspex import proxyspex

__all__ = ["DatamodelsStore", "write_store"]


def _npy_layout(path: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """``(shape, dtype, data offset)`` of a C-ordered ``.npy`` file, from its header alone."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(fh)
        offset = fh.tell()
    if fortran:
        raise SpexError(f"{path}: Fortran-ordered arrays are not supported (rows must be contiguous)")
    return tuple(int(s) for s in shape), np.dtype(dtype), offset


def _write_header(fh: Any, dtype: Any, shape: tuple[int, ...]) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_2_0(fh, header)


def write_store(masks_path: str | os.PathLike, outputs_path: str | os.PathLike, M: int, n: int, T: int,
                fill: Any, *, chunk_rows: int = 4096, outputs_dtype: Any = np.float32) -> None:
    """Write a store block by block: ``fill(lo, hi) -> (bool[hi-lo, n], float[hi-lo, T])``.

    Plain appends after an ``.npy`` header (no memory map, whose dirty pages would stay in this process's
    resident set), so a store larger than memory can be generated.
    """
    with open(masks_path, "wb") as fm, open(outputs_path, "wb") as fo:
        _write_header(fm, np.bool_, (int(M), int(n)))
        _write_header(fo, outputs_dtype, (int(M), int(T)))
        for lo in range(0, int(M), int(chunk_rows)):
            hi = min(int(M), lo + int(chunk_rows))
            x, y = fill(lo, hi)
            x = np.ascontiguousarray(x, dtype=np.bool_)
            if x.shape != (hi - lo, n):
                raise SpexError(f"fill({lo}, {hi}) returned masks of shape {x.shape}; expected {(hi - lo, n)}")
            fm.write(x.tobytes())
            fo.write(np.ascontiguousarray(np.asarray(y, dtype=outputs_dtype).reshape(hi - lo, T)).tobytes())


class DatamodelsStore:
    """Precomputed trainings: ``masks`` ``bool[M, n]`` and ``outputs`` ``float[M, T]`` (or ``float[M]``).

    Args:
      masks_path, outputs_path: ``.npy`` files (C order). Masks may be ``bool`` or ``uint8`` 0/1.
      feature_names: optional names of the ``n`` training points.
      chunk_bytes: bytes of masks read per block in streaming passes (bounds the resident set).
    """

    def __init__(self, masks_path: str | os.PathLike, outputs_path: str | os.PathLike, *,
                 feature_names: Any = None, chunk_bytes: int = 1 << 26):
        self.masks_path, self.outputs_path = os.fspath(masks_path), os.fspath(outputs_path)
        for name, p in (("masks_path", self.masks_path), ("outputs_path", self.outputs_path)):
            if not os.path.isfile(p):
                raise SpexError(f"{name}: no such file {p!r}")
        shape, dtype, self._moff = _npy_layout(self.masks_path)
        if len(shape) != 2 or dtype not in (np.dtype(np.bool_), np.dtype(np.uint8)):
            raise SpexError(f"masks_path must hold a bool (or uint8 0/1) array [M, n]; got {dtype} {shape}")
        self.M, self.n = shape
        oshape, odtype, self._ooff = _npy_layout(self.outputs_path)
        if len(oshape) not in (1, 2) or odtype.kind != "f":
            raise SpexError(f"outputs_path must hold a float array [M, T] or [M]; got {odtype} {oshape}")
        if oshape[0] != self.M:
            raise SpexError(f"outputs_path has {oshape[0]} rows but masks_path has {self.M}")
        self.T = oshape[1] if len(oshape) == 2 else 1
        self._odtype = odtype
        if self.M < 1 or self.n < 1:
            raise SpexError(f"the store is empty: masks shape {shape}")
        self.feature_names = None if feature_names is None else [str(s) for s in feature_names]
        if self.feature_names is not None and len(self.feature_names) != self.n:
            raise SpexError(f"feature_names must have {self.n} names; got {len(self.feature_names)}")
        if isinstance(chunk_bytes, bool) or not isinstance(chunk_bytes, int) or chunk_bytes < 1:
            raise SpexError(f"chunk_bytes must be an int >= 1; got {chunk_bytes!r}")
        self.chunk_rows = max(1, int(chunk_bytes) // self.n)

    # -- raw access ------------------------------------------------------------------------------------------
    @property
    def masks(self) -> np.memmap:
        """The masks as a read-only memory map (random access; pages touched stay resident while it lives)."""
        return np.load(self.masks_path, mmap_mode="r")

    def read_masks(self, lo: int, hi: int, out: np.ndarray | None = None) -> np.ndarray:
        """Rows ``[lo, hi)`` of the masks as ``bool[hi - lo, n]``, read from the file (no mapping kept)."""
        rows = hi - lo
        buf = np.empty((rows, self.n), np.uint8) if out is None else out[:rows].view(np.uint8)
        with open(self.masks_path, "rb", buffering=0) as fh:
            fh.seek(self._moff + lo * self.n)
            view = memoryview(buf.reshape(-1))
            got = 0
            while got < view.nbytes:
                k = fh.readinto(view[got:])
                if not k:
                    raise SpexError(f"{self.masks_path}: file ends before row {hi}")
                got += k
        if buf.size and buf.max(initial=0) > 1:
            raise SpexError(f"masks_path rows {lo}..{hi} hold values other than 0 and 1")
        return buf.view(np.bool_)

    def read_outputs(self, j: int | None = None, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Outputs of rows ``[lo, hi)``: column ``j`` as ``float64[rows]``, or all columns if ``j`` is None."""
        hi = self.M if hi is None else hi
        width = self.T
        item = self._odtype.itemsize
        out = []
        step = max(1, (1 << 26) // (width * item))
        with open(self.outputs_path, "rb", buffering=0) as fh:
            for a in range(lo, hi, step):
                b = min(hi, a + step)
                fh.seek(self._ooff + a * width * item)
                block = np.frombuffer(fh.read((b - a) * width * item), dtype=self._odtype).reshape(b - a, width)
                out.append(block[:, j].astype(np.float64) if j is not None else block.astype(np.float64))
        res = np.concatenate(out) if out else np.zeros((0,) if j is not None else (0, width))
        if not np.all(np.isfinite(res)):
            bad = np.nonzero(~np.isfinite(res.reshape(len(res), -1)).all(axis=1))[0][:10] + lo
            raise SpexError(f"outputs_path has non-finite outputs in rows {bad.tolist()}")
        return res

    def iter_masks(self, lo: int = 0, hi: int | None = None) -> Iterator[tuple[int, int, np.ndarray]]:
        """``(a, b, bool[b - a, n])`` blocks of rows ``[lo, hi)``, reusing one buffer (copy to keep one)."""
        hi = self.M if hi is None else hi
        buf = np.empty((min(self.chunk_rows, max(1, hi - lo)), self.n), np.bool_)
        for a in range(lo, hi, self.chunk_rows):
            b = min(hi, a + self.chunk_rows)
            yield a, b, self.read_masks(a, b, out=buf)

    def _check_j(self, j: Any) -> int:
        if isinstance(j, bool) or not isinstance(j, int | np.integer) or not 0 <= int(j) < self.T:
            raise SpexError(f"j (test point) must be an int in [0, {self.T}); got {j!r}")
        return int(j)

    # -- streaming statistics --------------------------------------------------------------------------------
    def marginal_effects(self, j: int, lo: int = 0, hi: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Per training point: ``mean(out_j | kept) - mean(out_j | dropped)`` over rows ``[lo, hi)`` and its
        z-score (Welch-free: pooled output variance). One streaming pass; ``float64[n]`` each."""
        j = self._check_j(j)
        hi = self.M if hi is None else hi
        y = self.read_outputs(j, lo, hi)
        yc = (y - y.mean()).astype(np.float32)
        s1 = np.zeros(self.n)  # sum of centred outputs over rows keeping the point
        c1 = np.zeros(self.n)
        for a, b, x in self.iter_masks(lo, hi):
            xf = x.view(np.uint8)
            s1 += yc[a - lo : b - lo] @ xf.astype(np.float32)
            c1 += xf.sum(axis=0, dtype=np.int64)
        m = hi - lo
        c0 = m - c1
        with np.errstate(divide="ignore", invalid="ignore"):
            # sum over dropped rows of centred outputs is -s1
            effect = np.where((c1 > 0) & (c0 > 0), s1 / np.maximum(c1, 1) + s1 / np.maximum(c0, 1), 0.0)
            se = y.std() * np.sqrt(1.0 / np.maximum(c1, 1) + 1.0 / np.maximum(c0, 1))
            z = np.where(se > 0, effect / se, 0.0)
        return effect, z

    def gather(self, cols: np.ndarray, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """``bool[hi - lo, len(cols)]``: the chosen columns of rows ``[lo, hi)``, one streaming pass."""
        hi = self.M if hi is None else hi
        cols = np.asarray(cols, dtype=np.int64)
        out = np.empty((hi - lo, len(cols)), np.bool_)
        for a, b, x in self.iter_masks(lo, hi):
            out[a - lo : b - lo] = x[:, cols]
        return out

    # -- explanation -----------------------------------------------------------------------------------------
    def explain(self, j: int, *, budget: int | None = None, holdout: float = 0.1, screen: int | None = None,
                max_degree: int = 3, key: Any = 0, max_terms: int | None = 512, **options: Any) -> Interactions:
        """ProxySPEX on the stored trainings for test point ``j`` (no new trainings).

        Args:
          j: column of ``outputs``.
          budget: stored rows used to fit (the first ``budget`` rows before the held-out block; default all).
          holdout: share of rows at the end held out for ``meta["holdout_r2"]`` (0 for none).
          screen: most training points kept by marginal-effect screening; default ``None`` screens only when
            ``n > 1024`` (to 1024 points). Screened points must also beat a Gaussian max bound on |z|
            (at least 64 are kept). ``screen >= n`` turns screening off.
          max_degree, key, max_terms, **options: passed to :func:`spexjax.proxyspex`.
        Returns:
          :class:`Interactions` over all ``n`` points; ``meta["store"]`` records the rows, the screened
          points, timings and the held-out R^2.
        """
        j = self._check_j(j)
        if not 0.0 <= float(holdout) < 1.0:
            raise SpexError(f"holdout must be in [0, 1); got {holdout!r}")
        n_hold = int(round(float(holdout) * self.M))
        avail = self.M - n_hold
        if budget is None:
            budget = avail
        if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or not 1 <= budget <= avail:
            raise SpexError(f"budget must be an int in [1, {avail}] (stored rows before the held-out block); "
                            f"got {budget!r}")
        budget = int(budget)
        t0 = time.perf_counter()
        limit = 1024 if screen is None else int(screen)
        if limit < 1:
            raise SpexError(f"screen must be an int >= 1; got {screen!r}")
        z = None
        if self.n > limit:
            _, z = self.marginal_effects(j, 0, budget)
            order = np.argsort(-np.abs(z), kind="stable")
            bound = np.sqrt(2.0 * np.log(2.0 * self.n)) + 1.0
            k = int(np.clip(np.sum(np.abs(z) > bound), min(64, limit), limit))
            cols = np.sort(order[:k])
        else:
            cols = np.arange(self.n)
        t_screen = time.perf_counter()
        X = self.gather(cols, 0, budget) if len(cols) < self.n else self._all_rows(0, budget)
        y = self.read_outputs(j, 0, budget)
        t_gather = time.perf_counter()

        def _no_queries(masks: np.ndarray) -> np.ndarray:
            raise SpexError("DatamodelsStore.explain trains nothing: budget=0 queries")

        sub = proxyspex(_no_queries, len(cols), budget=0, samples=(X, y), max_degree=max_degree, key=key,
                        max_terms=max_terms, **options)
        del X
        t_fit = time.perf_counter()
        sup_sub, coef = sub.fourier()
        supports = [tuple(int(cols[i]) for i in s) for s in sup_sub]
        r2 = None
        if n_hold:
            pred, actual = [], self.read_outputs(j, avail, self.M)
            for _, _, x in self.iter_masks(avail, self.M):
                pred.append(sub.predict(x[:, cols]))
            r2 = float(r2_score(actual, np.concatenate(pred)))
        t_end = time.perf_counter()
        meta = dict(sub.meta) | {"store": {
            "masks_path": self.masks_path, "outputs_path": self.outputs_path, "M": self.M, "n": self.n,
            "test_point": j, "fit_rows": budget, "holdout_rows": n_hold, "holdout_r2": r2,
            "screened": int(len(cols)) if len(cols) < self.n else None,
            "screened_points": cols.tolist() if len(cols) < self.n else None,
            "seconds": {"screen": t_screen - t0, "gather": t_gather - t_screen, "proxyspex": t_fit - t_gather,
                        "holdout": t_end - t_fit, "total": t_end - t0}}}
        return Interactions(self.n, supports, coef, queries=0, feature_names=self.feature_names, meta=meta,
                            run=sub.run)

    def _all_rows(self, lo: int, hi: int) -> np.ndarray:
        out = np.empty((hi - lo, self.n), np.bool_)
        for a, b, x in self.iter_masks(lo, hi):
            out[a - lo : b - lo] = x
        return out

    def __repr__(self) -> str:
        return f"DatamodelsStore(M={self.M}, n={self.n}, T={self.T}, masks={self.masks_path!r})"
