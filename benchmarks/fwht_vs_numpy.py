"""Time ``spexjax.kernels.fwht`` against a NumPy radix-32 tensor-reshape FWHT in the same process.

Usage::

    PYTHONPATH=. python3 benchmarks/fwht_vs_numpy.py                       # default sizes, float64
    PYTHONPATH=. python3 benchmarks/fwht_vs_numpy.py --sizes 10 16 20 --dtype float32 --repeats 5

JAX is timed warm (one compile call first) with ``block_until_ready``. The implementations are timed in
alternating blocks: ``--repeats`` rounds; in each round every implementation gets a short pause, one untimed
call, then ``--per-block`` timed calls. Alternating blocks rather than alternating single calls because, on
this 2-core machine, OpenBLAS's worker threads keep spinning for a while after a NumPy call (and JAX's
runtime slows NumPy in turn, see below): call-by-call interleaving measures each side's threads fighting the
other's leftovers (measured: the JAX FWHT at 2^20 float64 took 3.4-11.7 ms, minimum to 75th percentile, when every
call followed a NumPy call, and 3.6-4.9 ms in the same loop with ``OPENBLAS_NUM_THREADS=1``; the machine's
other tenants add noise of their own on top). Both the minimum (best case, least load-sensitive)
and the median are reported, and in how many rounds our block's median beat NumPy's. For a comparison
without thread pools run it under ``taskset -c 0`` (pinning from inside would miss OpenBLAS's threads,
which start when NumPy is imported).

JAX's asynchronous CPU dispatch is switched off (``--async-dispatch`` turns it back on): with it on, the
NumPy side ran 1.5-1.7x slower in the same process (2^20 float64, four runs alternating the setting:
NumPy 7.1-8.0 ms with it, 4.6-4.8 ms without), which would flatter us. Our calls are timed to completion
(``block_until_ready``) either way.

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

from spexjax.kernels.fwht import fwht  # noqa: E402


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


def _time_blocks(fns: dict, repeats: int, per_block: int, pause: float) -> dict[str, list[list[float]]]:
    """Seconds per call of every function in ``fns``, one list per block, timed in alternating blocks."""
    times: dict[str, list[list[float]]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, f in fns.items():
            time.sleep(pause)
            f()  # untimed: the first call after a switch pays for the other side's threads and caches
            block = []
            for _ in range(per_block):
                t0 = time.perf_counter()
                f()
                block.append(time.perf_counter() - t0)
            times[name].append(block)
    return times


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=list(range(10, 23, 2)), help="log2 lengths")
    ap.add_argument("--batched", type=str, nargs="*", default=["363x11"], help="BATCHxLOG2N cases")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    ap.add_argument("--repeats", type=int, default=9, help="rounds of alternating blocks")
    ap.add_argument("--per-block", type=int, default=5, help="timed calls per block")
    ap.add_argument("--pause", type=float, default=0.1, help="seconds of sleep before each block")
    ap.add_argument("--async-dispatch", action="store_true",
                    help="keep JAX's asynchronous CPU dispatch on (it slows the NumPy side, see the module doc)")
    ap.add_argument("--radix", type=int, default=None, help="spexjax radix (static; default: per layout)")
    ap.add_argument("--np-radix", type=int, default=32)
    ap.add_argument("--out", type=str, default=str(Path(__file__).parent / "results" / "fwht_cpu.json"))
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args(argv)

    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    jax.config.update("jax_cpu_enable_async_dispatch", bool(args.async_dispatch))
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
    print(f"{'shape':>16} {'numpy ms':>9} {'spexjax ms':>10} {'min ratio':>9} {'med ratio':>9} {'faster':>7} "
          f"{'tensordot ms':>12} {'td ratio':>8} {'td median':>9} {'max rel err':>11}   "
          "(ms: min [median]; ratio = numpy / spexjax; faster: rounds where our block median wins)")
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
        fns = {
            "numpy": lambda x=x: numpy_fwht(x, args.np_radix),
            "spexjax": lambda xj=xj: fwht(xj, radix=args.radix).block_until_ready(),
            "tensordot": lambda x=x: numpy_fwht_tensordot(x, args.np_radix),
        }
        blocks = _time_blocks(fns, args.repeats, args.per_block, args.pause)
        t = {k: [c for blk in v for c in blk] for k, v in blocks.items()}
        lo = {k: min(v) for k, v in t.items()}
        med = {k: float(np.median(v)) for k, v in t.items()}
        # per round: NumPy's block median over ours (the two blocks are ~0.1 s apart, so drift cancels)
        per_round = np.median(blocks["numpy"], axis=1) / np.median(blocks["spexjax"], axis=1)
        row = {"shape": list(shape), "max_rel_err": err, "calls_per_side": len(t["numpy"])}
        for k in fns:
            row[f"{k}_ms_min"] = lo[k] * 1e3
            row[f"{k}_ms_median"] = med[k] * 1e3
        row["ratio_numpy_over_spexjax_min"] = lo["numpy"] / lo["spexjax"]
        row["ratio_numpy_over_spexjax_median"] = med["numpy"] / med["spexjax"]
        row["rounds_spexjax_faster"] = f"{int(np.sum(per_round > 1))}/{len(per_round)}"
        row["ratio_tensordot_over_spexjax_min"] = lo["tensordot"] / lo["spexjax"]
        row["ratio_tensordot_over_spexjax_median"] = med["tensordot"] / med["spexjax"]
        rows.append(row)
        print(
            f"{str(shape):>16} {lo['numpy'] * 1e3:9.3f} {lo['spexjax'] * 1e3:10.3f} "
            f"{row['ratio_numpy_over_spexjax_min']:9.2f} {row['ratio_numpy_over_spexjax_median']:9.2f} "
            f"{row['rounds_spexjax_faster']:>7} {lo['tensordot'] * 1e3:12.3f} "
            f"{row['ratio_tensordot_over_spexjax_min']:8.2f} {row['ratio_tensordot_over_spexjax_median']:9.2f} "
            f"{err:11.1e}   "
            f"[{med['numpy'] * 1e3:.3f} / {med['spexjax'] * 1e3:.3f}]",
            flush=True,
        )

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
        "per_block": args.per_block,
        "pause_s": args.pause,
        "cpu_affinity": sorted(os.sched_getaffinity(0)),
        "jax_async_dispatch": bool(args.async_dispatch),
        "statistic": "min and median over all timed calls; alternating blocks (see the module doc)",
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
