"""SPEX scaling: wall time and peak memory against the number of features n and the number of terms.

Cells (each a ``spexjax.testing.random_sparse_fourier`` function, noise-free, hard decoding, ``key=7``):
  * n sweep:     n in 10^2 .. 10^7, 100 terms of degree <= 4, ``b = 8``;
  * terms sweep: n = 10^6, 10 / 100 / 1000 terms of degree <= 5, ``b = ceil(log2 terms) + 1`` (the 1000-term
    cell is the million-feature acceptance case: ``budget = 3 * 101 * 2048``);
  * ceiling:     n = 10^7, 1000 terms of degree <= 5, ``b = 11`` (not drawn in the PNG; in the JSON).
Budget = ``3 * (P + 1) * 2^b`` (three hash groups, no random extra rows).

What a cell records (fresh subprocesses, so "cold" is cold and peak RSS is per cell):
  * ``cold_s``       -- first ``spex`` call in a fresh process with an *empty* persistent compile cache
                        (``SPEXJAX_CACHE_DIR`` = a new temporary folder): every XLA compile is paid;
  * ``warm_s``       -- the identical call repeated in that process (in-memory jit cache);
  * ``cached_s``     -- first call in a second fresh process that reuses the now filled compile cache
                        (what a user sees on the second run of a script);
  * ``rss_spex_mb``  -- peak RSS of the first process after both calls (imports included), before R^2;
  * ``rss_mb``       -- peak RSS including the R^2 evaluation;
  * ``r2``           -- R^2 of ``result.predict`` against the function on 2000 uniform random dense masks,
                        generated and evaluated in chunks of at most 2^27 mask bits (so memory stays bounded);
  * plan ``(b, t, C, P, m)``, queries, recovered/true terms, exact-support flag, stage seconds, load average.
The machine running this may be shared: ``os.getloadavg()`` is stored before and after every timed call.

Usage:
  PYTHONPATH=. python3 benchmarks/scaling.py                          # full grid -> results/scaling_cpu.{json,png}
  PYTHONPATH=. python3 benchmarks/scaling.py --quick                  # n <= 10^4 only (smoke test)
  PYTHONPATH=. python3 benchmarks/scaling.py --device-label h100 --devices all   # on an accelerator machine
  PYTHONPATH=. python3 benchmarks/scaling.py --render                 # re-draw the PNG from the JSON
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EVAL_MASKS = 2000
MAX_MASK_BITS = 1 << 27  # bits of dense masks alive at once during the R^2 evaluation (128 MiB as bool)


def cells(quick: bool) -> list[dict]:
    ns = [100, 1_000, 10_000] if quick else [100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]
    out = [dict(sweep="n", n=n, terms=100, degree=4, b=8) for n in ns]
    if not quick:
        for terms in (10, 100, 1000):
            b = max(4, math.ceil(math.log2(terms)) + 1)
            out.append(dict(sweep="terms", n=1_000_000, terms=terms, degree=5, b=b))
        # the ceiling: ten million features, 1,000 terms of degree <= 5 (target: <= 60 s, <= 8 GB on 2 cores)
        out.append(dict(sweep="ceiling", n=10_000_000, terms=1000, degree=5, b=11))
    return out


# ------------------------------------------------------------------------------------------------ child


def _rows_per_chunk(n: int, total: int = EVAL_MASKS) -> int:
    """Largest divisor of ``total`` with ``rows * n <= MAX_MASK_BITS`` (equal chunks: one compile)."""
    limit = max(1, MAX_MASK_BITS // n)
    return max(d for d in range(1, total + 1) if total % d == 0 and d <= limit)


def chunked_r2(result, f, n: int, seed: int = 2024, total: int = EVAL_MASKS) -> float:
    """R^2 on ``total`` uniform random dense masks, built ``rows`` at a time from random bytes."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = _rows_per_chunk(n, total)
    y, yhat = [], []
    for _ in range(total // rows):
        raw = rng.integers(0, 256, size=(rows, (n + 7) // 8), dtype=np.uint8)
        masks = np.unpackbits(raw, axis=1, count=n).view(bool)
        y.append(np.asarray(f(masks)))
        yhat.append(np.asarray(result.predict(masks)))
    return common.r2_score(np.concatenate(y), np.concatenate(yhat))


def run_child(spec: dict) -> dict:
    import numpy as np

    t_import = time.perf_counter()
    import spexjax
    from spexjax.plans import bch_dimensions
    from spexjax.testing import random_sparse_fourier

    import_s = time.perf_counter() - t_import
    n, terms, degree, b = spec["n"], spec["terms"], spec["degree"], spec["b"]
    t0 = time.perf_counter()
    f = random_sparse_fourier(n, terms, degree, key=spec["seed"])
    gen_s = time.perf_counter() - t0
    _, P = bch_dimensions(n, degree)
    budget = 3 * (P + 1) * (1 << b)

    def call():
        load0 = common.loadavg()
        t = time.perf_counter()
        res = spexjax.spex(f, n, budget=budget, max_degree=degree, decoder="hard", key=7, devices=spec["devices"])
        return res, time.perf_counter() - t, [load0, common.loadavg()]

    out: dict = {"import_s": import_s, "gen_s": gen_s, "budget": budget}
    res, out["first_s"], out["first_load"] = call()
    out["first_stages"] = res.meta["seconds"]
    if spec["repeat"]:
        res, out["warm_s"], out["warm_load"] = call()
        out["warm_stages"] = res.meta["seconds"]
    out["rss_spex_mb"] = common.peak_rss_mb()
    sup, coef = res.fourier()
    truth = dict(zip(f.supports, f.coeffs, strict=True))
    # the constant term is always refit, so it is listed even when it is (numerically) zero
    got = {s: c for s, c in zip(sup, coef, strict=True) if s in truth or abs(c) > 1e-9}
    out.update(
        plan=res.meta["plan"],
        queries=int(res.queries),
        recovered=len(got),
        exact_supports=set(got) == set(truth),
        max_coef_err=float(max(abs(got.get(k, 0.0) - v) for k, v in truth.items())) if truth else 0.0,
        rounds=res.meta["rounds"],
    )
    if spec["r2"]:
        t = time.perf_counter()
        out["r2"] = chunked_r2(res, f, n)
        out["r2_s"] = time.perf_counter() - t
    out["rss_mb"] = common.peak_rss_mb()
    out["devices"] = [str(d) for d in __import__("jax").devices()]
    del np
    return out


# ----------------------------------------------------------------------------------------------- parent


def _spawn(spec: dict, cache_dir: str, timeout: float) -> dict:
    env = dict(os.environ)
    env["SPEXJAX_CACHE_DIR"] = cache_dir
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--child", json.dumps(spec)],
        env=env, capture_output=True, text=True, timeout=timeout, cwd=str(ROOT),
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        return {"error": proc.stderr[-3000:], "process_s": wall}
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["process_s"] = wall
    return res


def measure(cell: dict, devices, timeout: float) -> dict:
    cache = tempfile.mkdtemp(prefix="spexjax-scaling-cache-")
    try:
        base = dict(cell, seed=1, devices=devices)
        first = _spawn(dict(base, repeat=True, r2=True), cache, timeout)
        second = _spawn(dict(base, repeat=False, r2=False), cache, timeout) if "error" not in first else {}
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    row = dict(cell)
    if "error" in first:
        row["error"] = first["error"]
        return row
    row.update(
        {k: first[k] for k in ("plan", "queries", "recovered", "exact_supports", "max_coef_err", "rounds", "r2",
                               "r2_s", "rss_spex_mb", "rss_mb", "import_s", "gen_s", "budget", "devices")},
        cold_s=first["first_s"], cold_stages=first["first_stages"], cold_load=first["first_load"],
        warm_s=first["warm_s"], warm_stages=first["warm_stages"], warm_load=first["warm_load"],
        cached_s=second.get("first_s"), cached_stages=second.get("first_stages"),
        cached_load=second.get("first_load"), cached_rss_mb=second.get("rss_spex_mb"),
        process_s=first["process_s"],
    )
    return row


def render(doc: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in doc["rows"] if "error" not in r]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for col, (sweep, xkey, xlabel, title) in enumerate(
        [
            ("n", "n", "features n", "n sweep: 100 terms, degree <= 4, b = 8"),
            ("terms", "terms", "terms (non-zero Fourier coefficients)", "terms sweep: n = 10^6, degree <= 5"),
        ]
    ):
        rs = sorted((r for r in rows if r["sweep"] == sweep), key=lambda r: r[xkey])
        if not rs:
            continue
        x = [r[xkey] for r in rs]
        ax = axes[0, col]
        for key, label, style in [
            ("cold_s", "cold (empty compile cache)", "o-"),
            ("cached_s", "new process, compile cache filled", "s--"),
            ("warm_s", "repeat call in process", "^:"),
        ]:
            pts = [(xi, r[key]) for xi, r in zip(x, rs, strict=True) if r.get(key)]
            if pts:
                ax.loglog(*zip(*pts, strict=True), style, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("wall time of spex() [s]")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        ax = axes[1, col]
        ax.loglog(x, [r["rss_spex_mb"] for r in rs], "o-", label="peak RSS, spex calls")
        ax.loglog(x, [r["rss_mb"] for r in rs], "s--", label="peak RSS incl. R^2 on 2000 dense masks")
        for xi, r in zip(x, rs, strict=True):
            ax.annotate(f"R²={r['r2']:.4f}", (xi, r["rss_spex_mb"]), fontsize=7, xytext=(3, -10),
                        textcoords="offset points")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("peak RSS [MiB]")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    loads = [ld for r in rows for ld in (r.get("cold_load") or [])[:1] if ld]
    fig.suptitle(
        f"spexjax SPEX scaling on {doc['device_label']} ({doc['machine']['cpu']['model']}, "
        f"{doc['machine']['cpu']['cores']} cores; load avg ~{max((ld[0] for ld in loads), default=0):.0f})",
        fontsize=11,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="n <= 10^4 only")
    ap.add_argument("--device-label", default="cpu", help="names the output files: scaling_<label>.{json,png}")
    ap.add_argument("--devices", default=None, help='passed to spex(devices=...): "all" or an int')
    ap.add_argument("--only", default=None, help="comma-separated n values to run (others kept from the JSON)")
    ap.add_argument("--render", action="store_true", help="only re-draw the PNG from the JSON")
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per subprocess")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(json.loads(args.child))))
        return
    stem = f"scaling_{args.device_label}" + ("_quick" if args.quick else "")
    json_path, png_path = RESULTS / f"{stem}.json", RESULTS / f"{stem}.png"
    if args.render:
        render(json.loads(json_path.read_text()), png_path)
        return
    devices = None if args.devices is None else (args.devices if args.devices == "all" else int(args.devices))
    old = {}
    if args.only and json_path.exists():
        old = {(r["sweep"], r["n"], r["terms"]): r for r in json.loads(json_path.read_text())["rows"]}
    only = None if not args.only else {int(float(v)) for v in args.only.split(",")}
    rows = []
    for cell in cells(args.quick):
        if only is not None and cell["n"] not in only:
            if (cell["sweep"], cell["n"], cell["terms"]) in old:
                rows.append(old[(cell["sweep"], cell["n"], cell["terms"])])
            continue
        row = measure(cell, devices, args.timeout)
        row["date"] = common.now_iso()
        rows.append(row)
        brief = {k: row.get(k) for k in ("sweep", "n", "terms", "cold_s", "cached_s", "warm_s", "rss_mb", "r2")}
        print(json.dumps(brief), flush=True)
        if "error" in row:
            print(row["error"], file=sys.stderr)
    doc = {
        "benchmark": "scaling",
        "device_label": args.device_label,
        "date": common.now_iso(),
        "machine": {"cpu": common.cpu_info(), "loadavg_at_end": common.loadavg()},
        "versions": common.versions("jax", "jaxlib", "numpy"),
        "settings": {"eval_masks": EVAL_MASKS, "max_mask_bits": MAX_MASK_BITS, "decoder": "hard", "key": 7,
                     "function_seed": 1, "devices": args.devices},
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(doc, indent=1) + "\n")
    render(doc, png_path)
    print(f"wrote {json_path} and {png_path}")


if __name__ == "__main__":
    main()
