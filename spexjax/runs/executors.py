"""Where query batches run: in-process, a thread/process pool, or a Ray cluster.

An executor only moves batches to workers and results back. It never raises for a failed batch: each
result is an :class:`Outcome` carrying the value or the exception, yielded in submission order, so the
driver (:class:`~spexjax.runs.QueryRunner`) owns retries, cache writes and progress as results arrive.
At most ``window`` batches are in flight, so a killed run loses at most that many.
"""

from __future__ import annotations

import contextvars
import hashlib
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "Executor",
    "InlineExecutor",
    "Outcome",
    "ProcessExecutor",
    "RayExecutor",
    "ThreadExecutor",
    "make_executor",
]


@dataclass(frozen=True)
class Outcome:
    """The result of one batch: ``value`` if it succeeded, else ``error`` (the exception it raised)."""

    value: Any = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Executor(Protocol):
    """Runs ``fn`` on each batch; yields one :class:`Outcome` per batch, in the batches' order."""

    def map_batches(self, fn: Callable[[Any], Any], batches: Iterable[Any]) -> Iterator[Outcome]: ...


class InlineExecutor:
    """Calls ``fn`` in the driver, one batch at a time (the default: no copies, exact call order)."""

    window = 1

    def map_batches(self, fn: Callable[[Any], Any], batches: Iterable[Any]) -> Iterator[Outcome]:
        for batch in batches:
            try:
                yield Outcome(value=fn(batch))
            except Exception as err:  # noqa: BLE001 - reported to the driver, which retries
                yield Outcome(error=err)

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return "InlineExecutor()"


def _windowed(
    submit: Callable[[Any], Any],
    resolve: Callable[[Any], Any],
    cancel: Callable[[Any], None],
    batches: Iterable[Any],
    window: int,
) -> Iterator[Outcome]:
    """Keep ``window`` jobs in flight, yield their outcomes in order, cancel the rest if abandoned."""
    pending: deque = deque()
    it = iter(batches)
    exhausted = False
    try:
        while True:
            while not exhausted and len(pending) < window:
                try:
                    batch = next(it)
                except StopIteration:
                    exhausted = True
                    break
                pending.append(submit(batch))
            if not pending:
                return
            job = pending.popleft()
            try:
                yield Outcome(value=resolve(job))
            except Exception as err:  # noqa: BLE001 - reported to the driver, which retries
                yield Outcome(error=err)
    finally:
        for job in pending:
            cancel(job)


class ThreadExecutor:
    """A thread pool: useful when the value function releases the GIL (JAX, PyTorch, HTTP calls)."""

    def __init__(self, max_workers: int | None = None, *, window: int | None = None):
        from concurrent.futures import ThreadPoolExecutor

        self.max_workers = max_workers or min(8, os.cpu_count() or 1)
        self.window = window or 2 * self.max_workers
        self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="spexjax-query")

    def map_batches(self, fn: Callable[[Any], Any], batches: Iterable[Any]) -> Iterator[Outcome]:
        return _windowed(
            # each batch runs in a copy of the submitting thread's context (the runner's CALLER_RETRIES)
            lambda b: self._pool.submit(contextvars.copy_context().run, fn, b), lambda f: f.result(),
            lambda f: f.cancel(), batches, self.window
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __repr__(self) -> str:
        return f"ThreadExecutor(max_workers={self.max_workers})"


def _call_packed(fn: Callable[[Any], Any], payload: Any) -> Any:
    """Worker side of remote executors: unpack bit-packed masks (8x less to ship), call, return NumPy."""
    if isinstance(payload, _PackedMasks):
        payload = payload.unpack()
    return np.asarray(fn(payload))


# Worker-side memo of unpickled value functions: a function that loads its model lazily on first call keeps
# it loaded for every later batch the same worker runs, instead of reloading it per batch.
_WORKER_FNS: dict[str, Any] = {}


def _worker_fn(token: str, load: Callable[[], Any]) -> Any:
    fn = _WORKER_FNS.get(token)
    if fn is None:
        if len(_WORKER_FNS) >= 4:
            _WORKER_FNS.pop(next(iter(_WORKER_FNS)))
        fn = _WORKER_FNS[token] = load()
    return fn


def _call_pickled(token: str, blob: bytes, payload: Any) -> Any:
    return _call_packed(_worker_fn(token, lambda: pickle.loads(blob)), payload)


def _call_ray(token: str, boxed_ref: list, payload: Any) -> Any:
    import ray

    # The ref is boxed in a list so Ray does not fetch and unpickle it for every task.
    return _call_packed(_worker_fn(token, lambda: pickle.loads(ray.get(boxed_ref[0]))), payload)


@dataclass(frozen=True)
class _PackedMasks:
    bits: np.ndarray  # uint8[m, ceil(n / 8)]
    n: int

    @staticmethod
    def pack(batch: Any) -> Any:
        if isinstance(batch, np.ndarray) and batch.dtype == np.bool_ and batch.ndim == 2:
            return _PackedMasks(np.packbits(batch, axis=1), int(batch.shape[1]))
        return batch

    def unpack(self) -> np.ndarray:
        return np.unpackbits(self.bits, axis=1, count=self.n).astype(bool)


def _pickle_fn(fn: Any, executor: str) -> tuple[str, bytes]:
    try:
        blob = pickle.dumps(fn)
    except Exception as err:  # noqa: BLE001 - any pickling failure means the same thing to the user
        raise TypeError(
            f"executor={executor!r} needs a picklable value function (a module-level function or an instance of "
            f"a module-level class); {err}. Use executor='thread' or 'inline' for closures and lambdas."
        ) from err
    return hashlib.sha256(blob).hexdigest(), blob


class ProcessExecutor:
    """A process pool (``spawn`` by default: safe with JAX's threads). The value function must pickle.

    As with any ``spawn`` pool, a script that uses it needs the ``if __name__ == "__main__":`` guard. The
    function is pickled once per request and unpickled once per worker; give big models a lazy loader
    (load on first call, leave the weights out of ``__getstate__``) so each worker loads them once.
    Up to ``window`` batches run at once, so a killed run may pay for that many batches again.
    """

    def __init__(self, max_workers: int | None = None, *, window: int | None = None, mp_context: str = "spawn"):
        self.max_workers = max_workers or min(8, os.cpu_count() or 1)
        self.window = window or 2 * self.max_workers
        self.mp_context = mp_context
        self._pool = None

    def _get_pool(self):
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.max_workers, mp_context=mp.get_context(self.mp_context))
        return self._pool

    def map_batches(self, fn: Callable[[Any], Any], batches: Iterable[Any]) -> Iterator[Outcome]:
        token, blob = _pickle_fn(fn, "process")
        pool = self._get_pool()
        return _windowed(
            lambda b: pool.submit(_call_pickled, token, blob, _PackedMasks.pack(b)),
            lambda f: f.result(),
            lambda f: f.cancel(),
            batches,
            self.window,
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"ProcessExecutor(max_workers={self.max_workers}, mp_context={self.mp_context!r})"


def _import_ray():
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            "executor='ray' needs Ray, which is an optional extra: pip install 'spexjax[ray]' (or pip install ray)"
        ) from err
    return ray


class RayExecutor:
    """Spreads batches over a Ray cluster as ``ray.remote`` tasks; results come back in order.

    Args:
      address: passed to ``ray.init`` if Ray is not initialised yet (``None`` starts a local instance, or
        joins the cluster named by ``RAY_ADDRESS``; ``"auto"`` joins a running one).
      window: most tasks in flight (default: 2 x the cluster's CPUs, at least 2).
      task_options: ``.options(...)`` for each task, e.g. ``{"num_gpus": 1}`` for a model per GPU.
      init_kwargs: further ``ray.init`` arguments.

    The value function is put into the object store once per ``map_batches`` call, not once per task.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        window: int | None = None,
        task_options: dict | None = None,
        **init_kwargs: Any,
    ):
        self._ray = _import_ray()
        self.address = address
        self.init_kwargs = init_kwargs
        self.task_options = dict(task_options or {})
        self._window = window
        self._remote = None
        self._refs: dict[str, Any] = {}

    def _ensure(self):
        ray = self._ray
        if not ray.is_initialized():
            ray.init(address=self.address, **self.init_kwargs)
        if self._remote is None:
            self._remote = ray.remote(_call_ray)
            if self.task_options:
                self._remote = self._remote.options(**self.task_options)
        return ray

    @property
    def window(self) -> int:
        if self._window:
            return self._window
        ray = self._ensure()
        cpus = int(ray.cluster_resources().get("CPU", 1))
        return max(2, 2 * cpus)

    def map_batches(self, fn: Callable[[Any], Any], batches: Iterable[Any]) -> Iterator[Outcome]:
        ray = self._ensure()
        try:
            blob = ray.cloudpickle.dumps(fn)
        except Exception as err:  # noqa: BLE001 - surface as the same clear error as the process pool
            raise TypeError(f"executor='ray' needs a value function that cloudpickle can serialise; {err}") from err
        token = hashlib.sha256(blob).hexdigest()
        if token not in self._refs:  # one object-store copy per distinct function (the last few kept)
            if len(self._refs) >= 4:
                self._refs.pop(next(iter(self._refs)))
            self._refs[token] = ray.put(blob)
        fn_ref = self._refs[token]
        remote = self._remote

        def cancel(ref):
            try:
                ray.cancel(ref)
            except Exception:  # noqa: BLE001 - best effort: the task may have finished already
                pass

        return _windowed(
            lambda b: remote.remote(token, [fn_ref], _PackedMasks.pack(b)), _ray_get(ray), cancel, batches, self.window
        )

    def close(self) -> None:
        pass  # the Ray instance belongs to the user (or to this process) and outlives one run

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r})"


def _ray_get(ray):
    def get(ref):
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as err:
            # Report the user's exception (the driver names its type), chained to Ray's remote traceback.
            cause = getattr(err, "cause", None)
            if isinstance(cause, Exception):
                raise cause from err
            raise

    return get


def make_executor(executor: str | Executor = "inline", **kwargs: Any) -> Executor:
    """``"inline" | "thread" | "process" | "ray"`` or an object with ``map_batches`` (returned as is)."""
    if isinstance(executor, str):
        kinds = {"inline": InlineExecutor, "thread": ThreadExecutor, "process": ProcessExecutor, "ray": RayExecutor}
        if executor not in kinds:
            raise ValueError(
                f"executor must be one of 'inline', 'thread', 'process', 'ray' or an Executor; got {executor!r}"
            )
        return kinds[executor](**kwargs)
    if callable(getattr(executor, "map_batches", None)):
        return executor
    raise TypeError(
        "executor must be 'inline', 'thread', 'process', 'ray' or an object with "
        f"map_batches(fn, batches); got {type(executor).__name__}"
    )
