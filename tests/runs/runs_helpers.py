"""Picklable value functions for the run-management tests (module level, so process pools and Ray can ship them)."""

from __future__ import annotations

import os

import numpy as np

N = 12
SUPPORTS = [(0,), (1, 2), (3, 4, 5), (6, 11), (7, 8, 9, 10)]
COEFFS = np.array([1.5, -0.75, 0.5, 2.0, -1.25])


def parity_sum(masks: np.ndarray) -> np.ndarray:
    """A small exact Fourier function computed with NumPy only (cheap to import in workers)."""
    x = np.asarray(masks, dtype=np.int64)
    out = np.zeros(x.shape[0])
    for s, c in zip(SUPPORTS, COEFFS, strict=True):
        out += c * (1 - 2 * (x[:, list(s)].sum(axis=1) % 2))
    return out


class LoggedFn:
    """Appends the row count of every call to a file (fsync'd), so a killed process's calls are still counted."""

    def __init__(self, log_path: str, sleep: float = 0.0):
        self.log_path = log_path
        self.sleep = sleep

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        import time

        if self.sleep:
            time.sleep(self.sleep)
        y = parity_sum(masks)
        with open(self.log_path, "a") as fh:
            fh.write(f"{len(masks)}\n")
            fh.flush()
            os.fsync(fh.fileno())
        return y


def random_masks(m: int, n: int = N, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((m, n)) < 0.5


def fail_first_in_file(path: str):
    """A value function that raises until the counter file says it has failed ``k`` times (works across processes)."""
    return _FailFirst(path)


class _FailFirst:
    def __init__(self, path: str):
        self.path = path

    def __call__(self, masks):
        with open(self.path) as fh:
            left = int(fh.read().strip() or 0)
        if left > 0:
            with open(self.path, "w") as fh:
                fh.write(str(left - 1))
            raise RuntimeError("transient failure")
        return parity_sum(masks)


class LazyModel:
    """Loads its "model" on the first call in each process and records the load, like a real model wrapper."""

    def __init__(self, log_path: str):
        self.log_path = log_path
        self._model = None

    def __getstate__(self):
        return {"log_path": self.log_path}  # the loaded model never travels

    def __setstate__(self, state):
        self.log_path, self._model = state["log_path"], None

    def __call__(self, masks):
        if self._model is None:
            with open(self.log_path, "a") as fh:
                fh.write(f"{os.getpid()}\n")
            self._model = parity_sum
        return self._model(masks)
