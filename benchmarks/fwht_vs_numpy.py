"""Time ``spexjax.kernels.fwht`` against a NumPy radix-32 tensor-reshape FWHT in the same process.

Usage::

    PYTHONPATH=. python3 benchmarks/fwht_vs_numpy.py                       # default sizes, float64
    PYTHONPATH=. python3 benchmarks/fwht_vs_numpy.py --sizes 10 16 20 --dtype float32 --repeats 5

JAX is timed warm (one compile call first) with ``block_until_ready``; both sides report the minimum
over ``--repeats`` interleaved runs, which is the least load-sensitive statistic on a shared machine.
The main baseline (``numpy_fwht``) broadcasts one BLAS GEMM per factor with no transposes; the textbook
``tensordot`` + ``moveaxis`` version (``numpy_fwht_tensordot``) is timed too, as a second column.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

from kernels.fwht import DEFAULT_RADIX, fwht  # noqa: E402


def _np_hadamard(r: int, dtype) -> np.ndarray:
    h = np.ones((1, 1), dtype=dtype)
    while h.shape[0] < r:
        h = np.block([[h, h], [h, -h]])
    return h


def numpy_fwht(x: np.ndarray, radix: int = 32) -> np.ndarray:
    """Reference FWHT over the last axis: factors of ``radix`` (plus one remainder), one matmul each.

    Viewing the row as ``(pre, r, post)``, ``np.matmul(H_r, view)`` broadcasts a single ``r x r`` BLAS
    GEMM over ``pre`` with ``post`` contiguous columns; the last factor (``post == 1``) is a plain
    ``(rows, r) @ H_r``.
    """
    x = np.asarray(x)
    n = x.shape[-1]
    if n & (n - 1):
        raise ValueError("length must be a power of two")
    k, p = n.bit_length() - 1, radix.bit_length() - 1
    sizes = [1 << p] * (k // p) + ([1 << (k % p)] if k % p else [])
    pre, post = x.size // n, n
    y = x.reshape(pre, n)
    for r in sizes:
        post //= r
        h = _np_hadamard(r, x.dtype)
        y = np.matmul(h, y.reshape(pre, r, post)) if post > 1 else y.reshape(pre, r) @ h
        pre *= r
    return y.reshape(x.shape)


def numpy_fwht_tensordot(x: np.ndarray, radix: int = 32) -> np.ndarray:
    """The textbook tensor-reshape FWHT: view the row as ``(r, r, ..., r)`` and contract ``H_r`` into each
    axis with ``np.tensordot`` (+ ``moveaxis``), one copy per axis. Weaker than :func:`numpy_fwht` (which
    avoids the transposes); reported as a second baseline."""
    x = np.asarray(x)
    n = x.shape[-1]
    k, p = n.bit_length() - 1, radix.bit_length() - 1
    sizes = [1 << p] * (k // p) + ([1 << (k % p)] if k % p else [])
    lead = x.shape[:-1]
    y = x.reshape(*lead, *sizes)
    for i, r in enumerate(sizes):
        ax = len(lead) + i
        y = np.moveaxis(np.tensordot(_np_hadamard(r, x.dtype), y, axes=([1], [ax])), 0, ax)
    return np.ascontiguousarray(y).reshape(x.shape)


def _time_pair(f_np, f_jax, repeats: int, f_np2=None) -> tuple[float, float, float | None]:
    t_np, t_jax, t_np2 = [], [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f_np()
        t_np.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        f_jax().block_until_ready()
        t_jax.append(time.perf_counter() - t0)
        if f_np2 is not None:
            t0 = time.perf_counter()
            f_np2()
            t_np2.append(time.perf_counter() - t0)
    return min(t_np), min(t_jax), (min(t_np2) if t_np2 else None)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(range(10, 23, 2)), help="log2 lengths")
    ap.add_argument("--batched", type=str, nargs="*", default=["363x11"], help="BATCHxLOG2N cases")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--radix", type=int, default=DEFAULT_RADIX, help="spexjax radix (static)")
    ap.add_argument("--np-radix", type=int, default=32)
    ap.add_argument("--out", type=str, default=str(Path(__file__).parent / "results" / "fwht_cpu.json"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(0)
    shapes = [(1 << s,) for s in args.sizes]
    for case in args.batched:
        b, s = case.lower().split("x")
        shapes.append((int(b), 1 << int(s)))

    dev = jax.devices()[0]
    load_before = os.getloadavg()
    rows = []
    print(
        f"device={dev.platform}:{dev.device_kind} jax={jax.__version__} numpy={np.__version__} "
        f"dtype={args.dtype} radix={args.radix} np_radix={args.np_radix} cpus={os.cpu_count()}"
    )
    print(f"{'shape':>16} {'numpy ms':>10} {'spexjax ms':>11} {'np/jax':>7} {'max rel err':>12} "
          f"{'tensordot ms':>13} {'td/jax':>7}")
    for shape in shapes:
        x = rng.standard_normal(shape).astype(args.dtype)
        xj = jnp.asarray(x)
        ref = numpy_fwht(x, args.np_radix)
        got = np.asarray(fwht(xj, radix=args.radix))  # compile + check
        err = float(np.max(np.abs(got - ref)) / max(1e-30, float(np.max(np.abs(ref)))))
        tol = 1e-5 if args.dtype == "float32" else 1e-12
        if not err < tol:
            raise AssertionError(f"{shape}: spexjax and numpy disagree (rel err {err:.2e})")
        if not np.allclose(numpy_fwht_tensordot(x, args.np_radix), ref, atol=tol * np.abs(ref).max()):
            raise AssertionError(f"{shape}: the two numpy FWHTs disagree")
        f_td = lambda x=x: numpy_fwht_tensordot(x, args.np_radix)  # noqa: E731
        t_np, t_jax, t_td = _time_pair(
            lambda x=x: numpy_fwht(x, args.np_radix), lambda xj=xj: fwht(xj, radix=args.radix), args.repeats, f_td
        )
        rows.append(
            {
                "shape": list(shape),
                "numpy_ms": t_np * 1e3,
                "spexjax_ms": t_jax * 1e3,
                "ratio_numpy_over_spexjax": t_np / t_jax,
                "numpy_tensordot_ms": t_td * 1e3 if t_td else None,
                "ratio_tensordot_over_spexjax": t_td / t_jax if t_td else None,
                "max_rel_err": err,
            }
        )
        td = f"{t_td * 1e3:13.3f} {t_td / t_jax:7.2f}" if t_td else f"{'-':>13} {'-':>7}"
        print(f"{str(shape):>16} {t_np * 1e3:10.3f} {t_jax * 1e3:11.3f} {t_np / t_jax:7.2f} {err:12.1e} {td}",
              flush=True)

    result = {
        "benchmark": "fwht_vs_numpy",
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "device": f"{dev.platform}:{dev.device_kind}",
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "jax_version": jax.__version__,
        "numpy_version": np.__version__,
        "dtype": args.dtype,
        "radix": args.radix,
        "numpy_radix": args.np_radix,
        "repeats": args.repeats,
        "statistic": "min over repeats, interleaved",
        "loadavg_1_5_15_before": [round(v, 2) for v in load_before],
        "loadavg_1_5_15_after": [round(v, 2) for v in os.getloadavg()],
        "note": "shared machine: load (see loadavg) inflates timings, multithreaded OpenBLAS most of all",
        "rows": rows,
    }
    if not args.no_write:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
