"""The one object through which the engine touches the value function.

:class:`QueryRunner` validates masks, splits them into batches of at most ``batch_size`` rows, skips rows
already in the persistent cache, hands the rest to an executor, retries failed batches with exponential
backoff, checks every returned batch (shape, dtype, finiteness), writes each finished batch to the cache
at once (so a SIGKILL loses at most the batches in flight) and reports progress.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from spexjax._checks import check_choice, check_int
from spexjax.errors import ArgumentError, MaskError, ValueFunctionError
from spexjax.runs.cache import QueryCache, mask_keys
from spexjax.runs.executors import Executor, make_executor
from spexjax.runs.progress import Progress
from spexjax.value_functions import AffineQueries, ValueFunction, as_value_function, check_masks, check_n

__all__ = ["QueryRunner"]

log = logging.getLogger("spexjax.runs")

_POLICIES = ("raise", "drop", "zero")

#: While a runner calls the value function (inline, or in the thread executor's workers, which run each batch in
#: a copy of the runner's context), its ``max_retries``: a backend that retries its own requests
#: (``OpenAICompatible`` with ``max_retries=None``) reads this and tries once when the runner will retry the
#: batch anyway, so the two retry loops do not multiply. ``None`` outside a runner and in process/Ray workers
#: (which do not inherit it: there the backend keeps its own retries).
CALLER_RETRIES: ContextVar[int | None] = ContextVar("spexjax_caller_retries", default=None)
_EXECUTORS = ("inline", "thread", "process", "ray")
# Rows materialised at once when a structured batch has to be turned into dense masks (bounded in bytes).
_DENSE_CHUNK_BYTES = 1 << 27


# -- what executors run (module level so that process pools and Ray can pickle them) ------------------
class _DenseCall:
    """Worker side of a dense batch: call the value function, hand back a NumPy array."""

    def __init__(self, vf: ValueFunction):
        self.vf = vf

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        return np.asarray(self.vf.evaluate(masks))


class _AffineCall:
    """Worker side of a structured batch (a subset of an :class:`AffineQueries`' groups)."""

    def __init__(self, vf: ValueFunction):
        self.vf = vf

    def __call__(self, queries: AffineQueries) -> np.ndarray:
        return np.asarray(self.vf.evaluate_affine(queries))


def _fmt_rows(rows: np.ndarray, limit: int = 10) -> str:
    rows = [int(r) for r in np.asarray(rows).reshape(-1)[: limit + 1]]
    head = ", ".join(map(str, rows[:limit]))
    return f"[{head}, ...]" if len(rows) > limit else f"[{head}]"


def _span(rows: np.ndarray) -> str:
    return f"{int(rows[0])}..{int(rows[-1])}"


class QueryRunner:
    """Batched, cached, retried, validated access to a value function.

    Args:
      value_fn: any ``f(masks: bool[m, n]) -> float[m]`` or a :class:`~spexjax.ValueFunction`.
      n: number of features.
      batch_size: most rows per value-function call (``None``: a whole request in one call).
      cache: SQLite file path or a :class:`QueryCache`; finished rows are stored and never evaluated again.
      executor: ``"inline"`` (default), ``"thread"``, ``"process"``, ``"ray"`` or an object with
        ``map_batches`` (see :mod:`spexjax.runs.executors`).
      on_nonfinite: ``"raise"`` (default: :class:`ValueFunctionError` naming the rows), ``"drop"`` (those
        rows come back as NaN and ``last_valid`` is False there: the caller must leave them out) or
        ``"zero"`` (replaced by 0; ``last_valid`` still marks them).
      max_retries: extra attempts for a batch whose call raised; waits ``retry_backoff * 2**k`` seconds.
      progress: ``None`` = auto (terminal, or runs long enough to matter), ``True``/``False`` to force.
      fingerprint: identity of the value function in the cache. It overrides ``value_fn.fingerprint()``;
        one of the two is required when ``cache`` is set (code is never hashed behind your back).
      desc: label of the progress line.

    Attributes:
      queries: rows the run has needed so far, cache hits included (the design's cost).
      evaluated: rows whose values came from the value function in this process.
      cache_hits: rows answered by the cache.
      calls: successful value-function calls (batches) in this process.
      retries: failed attempts that were retried; ``failures`` keeps a record of each.
      nonfinite: rows with a NaN/inf value seen under ``"drop"``/``"zero"``.
      last_valid: ``bool`` array shaped like the last ``evaluate``/``evaluate_affine`` result: True
        where the value is a finite value returned by the value function.
    """

    def __init__(
        self,
        value_fn: Any,
        n: int,
        *,
        batch_size: int | None = None,
        cache: str | os.PathLike | QueryCache | None = None,
        executor: str | Executor = "inline",
        on_nonfinite: str = "raise",
        max_retries: int = 2,
        retry_backoff: float = 0.5,
        progress: bool | None = None,
        fingerprint: str | None = None,
        desc: str = "queries",
    ):
        self.n = check_n(n)
        self.vf = as_value_function(value_fn, self.n)
        checked = QueryRunner.check_options(
            batch_size=batch_size,
            cache=cache,
            executor=executor,
            on_nonfinite=on_nonfinite,
            max_retries=max_retries,
            retry_backoff=retry_backoff,
            progress=progress,
            fingerprint=fingerprint,
        )
        self.batch_size = checked["batch_size"]
        self.on_nonfinite = on_nonfinite
        self.max_retries = checked["max_retries"]
        self.retry_backoff = checked["retry_backoff"]
        self.progress = progress
        self.desc = str(desc)

        self._owns_executor = isinstance(executor, str)
        self.executor = make_executor(executor)
        # One call object per kind for the runner's lifetime: executors memoise it in their workers.
        self._dense_call = _DenseCall(self.vf)
        self._affine_call = _AffineCall(self.vf)

        own_fp = self.vf.fingerprint()
        self.fingerprint = fingerprint or (own_fp if isinstance(own_fp, str) and own_fp else None)

        self._owns_cache = False
        self.cache: QueryCache | None = None
        if cache is not None:
            if self.fingerprint is None:
                raise ValueError(
                    "cache= needs a fingerprint that identifies the value function across runs: pass "
                    "fingerprint='...' (e.g. model name + weights hash + input id), or give the value "
                    "function a fingerprint() method returning a str"
                )
            if isinstance(cache, QueryCache):
                self.cache = cache
            else:
                self.cache = QueryCache(cache)
                self._owns_cache = True
        # n is part of the namespace: packed keys of different n could coincide.
        self._namespace = f"{self.fingerprint}|n={self.n}" if self.fingerprint else None

        self.queries = 0
        self.evaluated = 0
        self.cache_hits = 0
        self.calls = 0
        self.retries = 0
        self.nonfinite = 0
        self.failures: list[dict[str, Any]] = []
        self.last_valid = np.ones(0, dtype=bool)

    @staticmethod
    def check_options(
        *,
        batch_size: Any = None,
        cache: Any = None,
        executor: Any = "inline",
        on_nonfinite: Any = "raise",
        max_retries: Any = 2,
        retry_backoff: Any = 0.5,
        progress: Any = None,
        fingerprint: Any = None,
    ) -> dict[str, Any]:
        """Check option values without building anything (no cache file, no pool); return them normalised.

        Methods call this (through :func:`spexjax.runs.check_run_options`) before their first query, so a bad
        option never costs a paid query.
        """
        batch_size = check_int("batch_size", batch_size, minimum=1, expected="a positive int or None", allow_none=True)
        if not isinstance(on_nonfinite, str):
            raise ArgumentError(f"on_nonfinite must be one of 'raise', 'drop', 'zero'; got {on_nonfinite!r}")
        check_choice("on_nonfinite", on_nonfinite, _POLICIES, expected="one of 'raise', 'drop', 'zero'")
        check_int("max_retries", max_retries, minimum=0)
        try:
            backoff = float(retry_backoff)
        except (TypeError, ValueError) as err:
            raise TypeError(f"retry_backoff must be a number of seconds; got {type(retry_backoff).__name__}") from err
        if not np.isfinite(backoff) or backoff < 0:
            raise ValueError(f"retry_backoff must be a finite number of seconds >= 0; got {backoff}")
        if progress is not None and not isinstance(progress, bool):
            raise TypeError(f"progress must be True, False or None (auto); got {type(progress).__name__}")
        if fingerprint is not None and (not isinstance(fingerprint, str) or not fingerprint):
            raise TypeError(f"fingerprint must be a non-empty str; got {fingerprint!r}")
        if isinstance(executor, str):
            if executor not in _EXECUTORS:
                raise ValueError(
                    f"executor must be one of 'inline', 'thread', 'process', 'ray' or an Executor; got {executor!r}"
                )
        elif not callable(getattr(executor, "map_batches", None)):
            raise TypeError(
                "executor must be 'inline', 'thread', 'process', 'ray' or an object with "
                f"map_batches(fn, batches); got {type(executor).__name__}"
            )
        if cache is not None and (isinstance(cache, bytes) or not isinstance(cache, (str, os.PathLike, QueryCache))):
            raise TypeError(f"cache must be a path (str or os.PathLike) or a QueryCache; got {type(cache).__name__}")
        return {
            "batch_size": batch_size,
            "cache": cache,
            "executor": executor,
            "on_nonfinite": on_nonfinite,
            "max_retries": int(max_retries),
            "retry_backoff": backoff,
            "progress": progress,
            "fingerprint": fingerprint,
        }

    # -- public ------------------------------------------------------------------------------------
    def evaluate(self, masks: Any) -> np.ndarray:
        """``bool[m, n]`` masks -> ``float64[m]`` values (see the class doc for NaN handling)."""
        masks = check_masks(masks, self.n)
        m = masks.shape[0]
        self.queries += m
        prog = self._progress(m)
        try:
            out = self._evaluate_dense(masks, prog, offset=0, total=m)
        finally:
            prog.close()
        return self._finish(out, m)

    def evaluate_affine(self, q: AffineQueries) -> np.ndarray:
        """A structured batch -> ``float64[G, 2**b]``, without dense masks when the function allows it."""
        if not isinstance(q, AffineQueries):
            raise TypeError(f"q must be an AffineQueries; got {type(q).__name__}")
        if q.n != self.n:
            raise MaskError(f"q is a batch for n={q.n}, but this runner has n={self.n}")
        total = q.num_rows
        self.queries += total
        prog = self._progress(total)
        try:
            if self.vf.supports_affine and self.cache is None:
                out = self._affine_direct(q, prog)
            elif self.vf.supports_affine:
                out = self._affine_cached(q, prog)
            else:
                out = self._affine_dense(q, prog)
        finally:
            prog.close()
        return self._finish(out, total)

    def stats(self) -> dict[str, int]:
        return {
            "queries": self.queries,
            "evaluated": self.evaluated,
            "cache_hits": self.cache_hits,
            "calls": self.calls,
            "retries": self.retries,
            "nonfinite": self.nonfinite,
        }

    def close(self) -> None:
        """Release what the runner created itself (its cache connection, its executor's pool)."""
        if self._owns_cache and self.cache is not None:
            self.cache.close()
        if self._owns_executor:
            close = getattr(self.executor, "close", None)
            if callable(close):
                close()

    def __enter__(self) -> QueryRunner:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"QueryRunner({self.vf!r}, n={self.n}, batch_size={self.batch_size}, cache={self.cache!r}, "
            f"executor={self.executor!r}, on_nonfinite={self.on_nonfinite!r})"
        )

    # -- dense path --------------------------------------------------------------------------------
    def _evaluate_dense(self, masks: np.ndarray, prog: Progress, *, offset: int, total: int) -> np.ndarray:
        """Raw values (non-finite kept) for ``masks``; rows are numbered ``offset + i`` in errors."""
        m = masks.shape[0]
        out = np.full(m, np.nan)
        if m == 0:
            return out
        keys: list[bytes] | None = None
        todo = np.arange(m)
        dup_src = dup_dst = None
        if self.cache is not None:
            keys = mask_keys(masks)
            hit, vals = self.cache.lookup(self._namespace, keys)
            out[hit] = vals[hit]
            nhit = int(hit.sum())
            self.cache_hits += nhit
            if nhit:
                prog.update(nhit, cached=True)
                self._raise_nonfinite(out[hit], np.flatnonzero(hit) + offset, total, cached=True)
            # Each distinct missing mask is evaluated once; repeats are filled in afterwards.
            miss = np.flatnonzero(~hit)
            first: dict[bytes, int] = {}
            src, dst = [], []
            uniq = []
            for i in miss:
                j = first.setdefault(keys[i], int(i))
                if j == i:
                    uniq.append(int(i))
                else:
                    src.append(j)
                    dst.append(int(i))
            todo = np.asarray(uniq, dtype=np.int64)
            if dst:
                dup_src, dup_dst = np.asarray(src), np.asarray(dst)
                prog.update(len(dst), cached=True)
        metas = self._split(todo)

        def check(value: Any, rows: np.ndarray) -> np.ndarray:
            return self._check_values(value, (len(rows),), rows + offset, total)

        def commit(rows: np.ndarray, vals: np.ndarray) -> None:
            out[rows] = vals
            if self.cache is not None:
                self.cache.store(self._namespace, [keys[i] for i in rows], vals)
            prog.update(len(rows))
            self._raise_nonfinite(vals, rows + offset, total)

        self._drive(
            self._dense_call, metas, lambda rows: _take_rows(masks, rows), lambda rows: rows + offset, check, commit
        )
        if dup_dst is not None:
            out[dup_dst] = out[dup_src]
        return out

    def _split(self, todo: np.ndarray) -> list[np.ndarray]:
        if todo.size == 0:
            return []
        step = self.batch_size or todo.size
        return [todo[i : i + step] for i in range(0, todo.size, step)]

    # -- structured path ---------------------------------------------------------------------------
    def _group_chunks(self, groups: np.ndarray, size: int) -> list[np.ndarray]:
        per = max(1, self.batch_size // size) if self.batch_size else max(1, groups.size)
        return [groups[i : i + per] for i in range(0, groups.size, per)]

    def _affine_direct(
        self,
        q: AffineQueries,
        prog: Progress,
        groups: np.ndarray | None = None,
        on_block: Callable[[np.ndarray, np.ndarray], None] | None = None,
    ) -> np.ndarray:
        size = 1 << q.b
        G = q.groups.shape[0]
        out = np.full((G, size), np.nan)
        groups = np.arange(G) if groups is None else groups
        total = G * size

        def rows_of(gs: np.ndarray) -> np.ndarray:
            return (gs[:, None] * size + np.arange(size)[None, :]).reshape(-1)

        def check(value: Any, gs: np.ndarray) -> np.ndarray:
            arr = np.asarray(value)
            if arr.shape == (gs.size * size,):
                arr = arr.reshape(gs.size, size)
            return self._check_values(arr, (gs.size, size), rows_of(gs), total, flat_ok=False)

        def commit(gs: np.ndarray, vals: np.ndarray) -> None:
            out[gs] = vals
            if on_block is not None:
                on_block(gs, vals)
            prog.update(vals.size)
            self._raise_nonfinite(vals.reshape(-1), rows_of(gs), total)

        def payload(gs: np.ndarray) -> AffineQueries:
            return dataclasses.replace(q, groups=np.asarray(q.groups)[gs])

        self._drive(self._affine_call, self._group_chunks(groups, size), payload, rows_of, check, commit)
        return out

    def _affine_cached(self, q: AffineQueries, prog: Progress) -> np.ndarray:
        size = 1 << q.b
        G = q.groups.shape[0]
        keys = _block_keys(q)
        found = self.cache.get_many(self._namespace, keys, table="blocks")
        out = np.full((G, size), np.nan)
        hit = np.zeros(G, dtype=bool)
        for g, k in enumerate(keys):
            v = found.get(k)
            if v is not None:
                out[g] = np.frombuffer(v, dtype="<f8")
                hit[g] = True
        nhit = int(hit.sum()) * size
        self.cache_hits += nhit
        if nhit:
            prog.update(nhit, cached=True)
            gh = np.flatnonzero(hit)
            bad = ~np.isfinite(out[gh])
            if bad.any():
                self._raise_nonfinite(
                    out[gh].reshape(-1), (gh[:, None] * size + np.arange(size)).reshape(-1), G * size, cached=True
                )
        first: dict[bytes, int] = {}
        uniq, dups = [], []
        for g in np.flatnonzero(~hit):
            j = first.setdefault(keys[g], int(g))
            (uniq if j == g else dups).append((int(g), j))
        if dups:
            prog.update(len(dups) * size, cached=True)

        def on_block(gs: np.ndarray, vals: np.ndarray) -> None:
            self.cache.put_many(
                self._namespace,
                ((keys[g], np.ascontiguousarray(v, dtype="<f8").tobytes()) for g, v in zip(gs, vals, strict=True)),
                table="blocks",
            )

        todo = np.asarray([g for g, _ in uniq], dtype=np.int64)
        fresh = self._affine_direct(q, prog, groups=todo, on_block=on_block)
        out[todo] = fresh[todo]
        for g, j in dups:
            out[g] = out[j]
        return out

    def _affine_dense(self, q: AffineQueries, prog: Progress) -> np.ndarray:
        size = 1 << q.b
        G = q.groups.shape[0]
        total = G * size
        out = np.full((G, size), np.nan)
        cap = max(1, _DENSE_CHUNK_BYTES // max(1, self.n))
        window = int(getattr(self.executor, "window", 1) or 1) if not _is_ray(self.executor) else 8
        want = self.batch_size * max(1, window) if self.batch_size else 1 << 16
        chunk_rows = max(self.batch_size or 1, min(want, cap))
        buf: list[tuple[int, int, int, np.ndarray]] = []
        nbuf = 0

        def flush() -> None:
            nonlocal buf, nbuf
            if not buf:
                return
            masks = np.concatenate([m for *_, m in buf], axis=0) if len(buf) > 1 else buf[0][3]
            # iter_dense yields consecutive block-major rows, so one chunk is a contiguous row range.
            offset = buf[0][0] * size + buf[0][1]
            vals = self._evaluate_dense(masks, prog, offset=offset, total=total)
            i = 0
            for g, lo, hi, _ in buf:
                out[g, lo:hi] = vals[i : i + hi - lo]
                i += hi - lo
            buf, nbuf = [], 0

        for g, lo, hi, masks in q.iter_dense(chunk_rows):
            buf.append((g, lo, hi, masks))
            nbuf += hi - lo
            if nbuf >= chunk_rows:
                flush()
        flush()
        return out

    # -- shared machinery --------------------------------------------------------------------------
    def _drive(
        self,
        fn: Callable[[Any], Any],
        metas: Sequence[np.ndarray],
        make_payload: Callable[[Any], Any],
        global_rows: Callable[[Any], np.ndarray],
        check: Callable[[Any, Any], np.ndarray],
        commit: Callable[[Any, np.ndarray], None],
    ) -> None:
        """Run every batch through the executor; retry, check and commit each as its result arrives."""
        if not metas:
            return
        token = CALLER_RETRIES.set(self.max_retries)
        results = None
        try:
            # inside the try: an executor may refuse the function at once (process: not picklable), and the
            # context variable must be reset then too
            results = self.executor.map_batches(fn, (make_payload(m) for m in metas))
            for meta, outcome in zip(metas, results, strict=True):
                value = (
                    outcome.value
                    if outcome.ok
                    else self._retry(fn, make_payload(meta), global_rows(meta), outcome.error)
                )
                vals = check(value, meta)
                self.calls += 1
                self.evaluated += vals.size
                commit(meta, vals)
        finally:
            close = getattr(results, "close", None)
            if callable(close):
                close()
            CALLER_RETRIES.reset(token)

    def _retry(self, fn: Callable[[Any], Any], payload: Any, rows: np.ndarray, err: BaseException) -> Any:
        attempts = 1 + self.max_retries
        for attempt in range(1, attempts):
            delay = self.retry_backoff * 2 ** (attempt - 1)
            self.retries += 1
            self.failures.append({"rows": (int(rows[0]), int(rows[-1])), "attempt": attempt, "error": repr(err)})
            log.warning(
                "value function raised %s on batch rows %s (attempt %d of %d): %s; retrying in %.2g s",
                type(err).__name__,
                _span(rows),
                attempt,
                attempts,
                err,
                delay,
            )
            time.sleep(delay)
            outcome = next(iter(self.executor.map_batches(fn, [payload])))
            if outcome.ok:
                log.warning("batch rows %s succeeded on attempt %d of %d", _span(rows), attempt + 1, attempts)
                return outcome.value
            err = outcome.error
        self.failures.append({"rows": (int(rows[0]), int(rows[-1])), "attempt": attempts, "error": repr(err)})
        tries = f" after {attempts} attempts" if attempts > 1 else ""
        raise ValueFunctionError(
            f"value function raised {type(err).__name__} on batch rows {_span(rows)} ({rows.size} masks){tries}: {err}"
        ) from err

    def _check_values(
        self, value: Any, shape: tuple[int, ...], rows: np.ndarray, total: int, flat_ok: bool = True
    ) -> np.ndarray:
        """Shape/dtype check of one returned batch; ``rows`` are its global row numbers."""
        try:
            arr = np.asarray(value)
        except Exception as err:  # noqa: BLE001 - ragged or exotic results
            raise ValueFunctionError(
                f"value function must return float[m]; got an unconvertible {type(value).__name__} for batch rows "
                f"{_span(rows)} ({rows.size} masks of {total})"
            ) from err
        if arr.dtype.kind not in "biuf":
            raise ValueFunctionError(
                f"value function must return real numbers (float[m]); got dtype {arr.dtype} for batch rows "
                f"{_span(rows)} ({rows.size} masks of {total})"
            )
        k = shape[0]
        ok_shapes = [shape] + ([(k, 1)] if flat_ok else [])
        if arr.shape not in ok_shapes:
            expected = " or ".join(str(s) for s in ok_shapes)
            raise ValueFunctionError(
                f"value function returned shape {arr.shape} for a batch of {rows.size} masks (rows {_span(rows)} "
                f"of {total}); expected {expected}"
            )
        return arr.reshape(shape).astype(np.float64, copy=False)

    def _raise_nonfinite(self, vals: np.ndarray, rows: np.ndarray, total: int, *, cached: bool = False) -> None:
        if self.on_nonfinite != "raise":
            return
        bad = ~np.isfinite(vals)
        if not bad.any():
            return
        where = " (stored in the cache)" if cached else ""
        raise ValueFunctionError(
            f"value function returned non-finite values (NaN or inf){where} for {int(bad.sum())} of {total} masks "
            f"at rows {_fmt_rows(rows[bad])}; fix the value function or pass on_nonfinite='drop' (leave those rows "
            "out) or on_nonfinite='zero' (use 0 for them)"
        )

    def _finish(self, out: np.ndarray, total: int) -> np.ndarray:
        valid = np.isfinite(out)
        nbad = int(valid.size - valid.sum())
        if nbad:
            self.nonfinite += nbad
            rows = np.flatnonzero(~valid.reshape(-1))
            log.warning(
                "value function returned non-finite values for %d of %d masks at rows %s; %s",
                nbad,
                total,
                _fmt_rows(rows),
                "dropped" if self.on_nonfinite == "drop" else "set to 0",
            )
            out[~valid] = np.nan if self.on_nonfinite == "drop" else 0.0
        self.last_valid = valid
        return out

    def _progress(self, total: int) -> Progress:
        return Progress(total, self.desc, self.progress)


def _is_ray(executor: Any) -> bool:
    return type(executor).__name__ == "RayExecutor"


def _delay_identity(q: AffineQueries) -> bytes:
    """The delay source's ``fingerprint`` if it has one, else a digest of all its bits (read in chunks)."""
    fp = getattr(q.delays, "fingerprint", None)
    if callable(fp):
        fp = fp()
    if isinstance(fp, str) and fp:
        return b"fp:" + fp.encode()
    h = hashlib.sha256()
    step = 1 << 16
    for lo in range(0, q.n, step):
        idx = np.arange(lo, min(q.n, lo + step))
        h.update(np.packbits(np.asarray(q.delays.bits(idx), dtype=bool), axis=1).tobytes())
    return b"bits:" + h.digest()


def _block_keys(q: AffineQueries) -> list[bytes]:
    """One cache key per block: digest of (hash matrix, b, delay index, number of delays, delay identity)."""
    groups = np.asarray(q.groups)
    code_digest: dict[int, bytes] = {}
    for c in np.unique(groups[:, 0]) if groups.size else []:
        code_digest[int(c)] = hashlib.sha256(np.ascontiguousarray(q.hash_codes[int(c)], dtype="<u4").tobytes()).digest()
    delay_id = _delay_identity(q) if groups.size else b""
    head = b"affine-v1" + np.asarray([q.b, q.delays.num_delays], dtype="<i8").tobytes() + delay_id
    keys = []
    for c, p in groups:
        h = hashlib.sha256(head)
        h.update(code_digest[int(c)])
        h.update(np.int64(p).astype("<i8").tobytes())
        keys.append(h.digest())
    return keys


def _take_rows(masks: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``masks[rows]`` without a copy when ``rows`` is a contiguous range (the common case)."""
    if len(rows) and int(rows[-1]) - int(rows[0]) + 1 == len(rows) and np.all(np.diff(rows) == 1):
        return masks[int(rows[0]) : int(rows[-1]) + 1]
    return masks[rows]
