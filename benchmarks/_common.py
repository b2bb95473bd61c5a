"""Helpers shared by the benchmark scripts: environment facts, peak memory, load, plain NumPy functions.

Nothing here imports JAX, so a child process that must stay JAX-free (e.g. one timing the reference
implementation) can use it without paying JAX's import time or memory.
"""

from __future__ import annotations

import datetime as _dt
import os
import platform
import resource
import sys
from importlib import metadata

import numpy as np


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (``ru_maxrss`` is KiB on Linux, bytes on macOS)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024.0


def current_rss_mb() -> float:
    """Current resident set size in MiB (Linux ``/proc``; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / (1 << 20)
    except (OSError, ValueError):
        return peak_rss_mb()


def loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover - not on every platform
        return None


def cpu_info() -> dict:
    """CPU model, logical cores visible to this process, total memory."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        cores = os.cpu_count()
    mem_gb = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal"):
                    mem_gb = round(int(line.split()[1]) / (1 << 20), 1)
                    break
    except OSError:
        pass
    return {"model": model, "cores": cores, "mem_total_gb": mem_gb, "platform": platform.platform()}


def versions(*packages: str) -> dict:
    """Python and installed package versions (``None`` when not installed); never imports the packages."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def now_iso() -> str:
    return _dt.datetime.now(_dt.UTC).astimezone().isoformat(timespec="seconds")


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    return 1.0 - ss_res / ss_tot if ss_tot > 0 else float(ss_res == 0.0)


def padded(supports: list[tuple[int, ...]], fill: int) -> np.ndarray:
    """``int64[K, d]`` support rows padded with ``fill`` (``d >= 1``)."""
    d = max([len(s) for s in supports] + [1])
    out = np.full((len(supports), d), fill, dtype=np.int64)
    for k, s in enumerate(supports):
        out[k, : len(s)] = s
    return out


class NumpyFourier:
    """``f(x) = sum_S F(S) (-1)^{|S & kept(x)|}`` on dense ``bool[m, n]`` masks, in plain NumPy.

    This is the "plain callable" both methods are given: no JAX, no structure, just masks in, values out.
    """

    def __init__(self, n: int, supports: list[tuple[int, ...]], coeffs: np.ndarray, chunk: int = 8192):
        self.n = int(n)
        self.idx = padded(supports, fill=self.n)  # column n of the extended mask is always False
        self.coeffs = np.asarray(coeffs, dtype=np.float64)
        self.chunk = chunk
        self.rows = 0  # value-function rows evaluated so far
        self.calls = 0

    def __call__(self, masks: np.ndarray) -> np.ndarray:
        x = np.asarray(masks, dtype=bool)
        if x.ndim != 2 or x.shape[1] != self.n:
            raise ValueError(f"masks must have shape (m, {self.n}); got {x.shape}")
        self.rows += x.shape[0]
        self.calls += 1
        out = np.empty(x.shape[0])
        for lo in range(0, x.shape[0], self.chunk):
            xb = x[lo : lo + self.chunk]
            xe = np.concatenate([xb, np.zeros((xb.shape[0], 1), bool)], axis=1)
            par = np.bitwise_xor.reduce(xe[:, self.idx], axis=2)  # (m, K)
            out[lo : lo + self.chunk] = (1.0 - 2.0 * par) @ self.coeffs
        return out


def mobius_predict(values: dict[tuple[int, ...], float], masks: np.ndarray) -> np.ndarray:
    """``f(x) = sum_{T subset kept(x)} a(T)`` for a Möbius expansion given as ``{T: a(T)}``."""
    x = np.asarray(masks, dtype=bool)
    n = x.shape[1]
    items = [(tuple(int(i) for i in t), float(v)) for t, v in values.items() if v != 0.0]
    if not items:
        return np.zeros(x.shape[0])
    sup = [t for t, _ in items]
    coef = np.array([v for _, v in items])
    idx = padded(sup, fill=n)  # column n is always True: padding never blocks a term
    xe = np.concatenate([x, np.ones((x.shape[0], 1), bool)], axis=1)
    out = np.zeros(x.shape[0])
    step = max(1, (1 << 26) // max(1, x.shape[0] * idx.shape[1]))
    for lo in range(0, len(sup), step):
        out += np.all(xe[:, idx[lo : lo + step]], axis=2) @ coef[lo : lo + step]
    return out
