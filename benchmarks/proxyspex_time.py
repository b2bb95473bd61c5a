"""ProxySPEX wall time against the reference implementations (shapiq, spectralexplain), same process, same load.

Hierarchical Möbius functions of 10-100 terms (``random_hierarchical_mobius``) at n = 32, 128, 512, budget
10,000 uniformly random masks (each method draws its own), ``max_degree`` = the function's degree. Every cell
runs spexjax, then the references, back to back in one process, so the *ratio* (faster reference's seconds /
spexjax's seconds) is measured under the same machine load; absolute times on a shared machine are noise.
R^2 is on 4000 fresh uniform masks against the exact function. spexjax also reports its per-stage times
(``meta["seconds"]``). A warm-up call (imports, JIT) precedes all timings for every library alike.

    nice /root/.pyenv/versions/3.12.1/bin/python3.12 benchmarks/proxyspex_time.py [--ns 32 128 512]
        [--functions small medium large] [--no-spectralexplain] [--out benchmarks/results/proxyspex_time.json]
"""

from __future__ import annotations

import os

# Both sides' LightGBM (spexjax's and shapiq's, n_jobs=-1) link libgomp: let its idle threads wait passively
# for everyone alike, before anything loads it (spexjax sets this default itself; see proxies.lgbm).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import datetime
import json
import platform
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import spexjax.testing as sjt  # noqa: E402
from spexjax.metrics import r2_score  # noqa: E402
from spexjax.proxyspex import proxyspex, uniform_masks  # noqa: E402

# (num_top, degree, key) of random_hierarchical_mobius: about 14, 37-39 and 88-94 Möbius terms at every n
FUNCTIONS = {"small": (3, 3, 1), "medium": (6, 4, 1), "large": (8, 4, 0)}


def run_ours(f, n, budget, degree, key=0, **kw):
    t = time.perf_counter()
    r = proxyspex(f, n, budget=budget, max_degree=degree, key=key, **kw)
    return r, time.perf_counter() - t


def _shapiq(f, n, budget, degree):
    from proxyspex import run_shapiq  # benchmarks/proxyspex.py: captures shapiq's Möbius transform

    return run_shapiq(f, n, budget, degree)


def _spectralexplain(f, n, budget, degree):
    from proxyspex import run_spectralexplain

    return run_spectralexplain(f, n, budget, degree)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--functions", nargs="+", default=list(FUNCTIONS), choices=list(FUNCTIONS))
    ap.add_argument("--budget", type=int, default=10000)
    ap.add_argument("--spectralexplain", action="store_true", help="also time spectralexplain (very slow)")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--max-degree", type=int, default=None, help="max_degree of every method (default: the "
                    "function's degree)")
    ap.add_argument("--keys", type=int, default=1, help="spexjax keys per cell (times: mean; R^2: worst)")
    ap.add_argument("--out", default="benchmarks/results/proxyspex_time.json")
    args = ap.parse_args()
    import jax
    import lightgbm

    out = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "python": sys.version.split()[0],
           "jax": jax.__version__, "lightgbm": lightgbm.__version__, "platform": platform.platform(),
           "cpus": os.cpu_count(), "budget": args.budget,
           "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "git": _git_rev(), "rows": []}
    try:
        import shapiq

        out["shapiq"] = shapiq.__version__
    except ImportError:
        args.no_reference = True
    warnings.simplefilter("ignore")
    fw = sjt.random_hierarchical_mobius(32, 3, 3, key=0)
    run_ours(fw, 32, 1000, 3)
    if not args.no_reference:
        _shapiq(fw, 32, 300, 2)
    for name in args.functions:
        top, fdeg, fkey = FUNCTIONS[name]
        deg = args.max_degree or fdeg
        for n in args.ns:
            f = sjt.random_hierarchical_mobius(n, top, fdeg, key=fkey)
            xt = uniform_masks(777, 4000, n)
            yt = f(xt)
            row = {"function": name, "n": n, "terms": len(f.supports), "degree": fdeg, "max_degree": deg,
                   "load": round(os.getloadavg()[0], 2)}
            r2s, secs, stages = [], [], []
            for key in range(args.keys):
                r, dt = run_ours(f, n, args.budget, deg, key=key)
                r2s.append(round(float(r2_score(yt, r.predict(xt))), 5))
                secs.append(dt)
                stages.append({k: round(v, 3) for k, v in r.meta["seconds"].items()})
            row["spexjax"] = {"r2": min(r2s), "r2_keys": r2s, "s": round(float(np.mean(secs)), 3),
                              "stages": stages, "kept": r.meta["kept_terms"]}
            refs = []
            if not args.no_reference:
                refs.append(("shapiq", _shapiq))
                if args.spectralexplain:
                    refs.append(("spectralexplain", _spectralexplain))
            for rname, fn in refs:
                try:
                    rr, dt = fn(f, n, args.budget, deg)
                    row[rname] = {"r2": round(float(r2_score(yt, rr.predict(xt))), 5), "s": round(dt, 3)}
                except Exception as e:  # noqa: BLE001 - a failing reference is a result too
                    row[rname] = {"error": f"{type(e).__name__}: {str(e)[:120]}"}
            ref_s = [row[k]["s"] for k, _ in refs if "s" in row.get(k, {})]
            if ref_s:
                row["ratio_vs_faster_reference"] = round(min(ref_s) / row["spexjax"]["s"], 2)
            row["load_after"] = round(os.getloadavg()[0], 2)
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as fh:
        fh.write(markdown(out))
    print("wrote", args.out)


def _git_rev() -> str | None:
    import subprocess

    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        return rev.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def markdown(data) -> str:
    L = ["# ProxySPEX time vs the references", "",
         f"{data['date']}, git {data.get('git')}, OMP_WAIT_POLICY={data.get('omp_wait_policy')!r}, "
         f"Python {data['python']}, JAX {data['jax']}, LightGBM {data['lightgbm']}, shapiq "
         f"{data.get('shapiq')}; {data['platform']}, {data['cpus']} CPUs (shared, loaded: compare the ratios, "
         f"which are taken within one run). Budget {data['budget']}; R^2 on 4000 fresh uniform masks.", "",
         "| function | n | terms | max_degree | spexjax R^2 | s | shapiq R^2 | s | spectralexplain R^2 | s "
         "| ratio (faster ref / spexjax) | load |", "|" + " --- |" * 12]
    for r in data["rows"]:
        def c(k, f, r=r):
            v = r.get(k, {}).get(f)
            return "-" if v is None else (f"{v:.4f}" if f == "r2" else f"{v:.2f}")
        L.append(f"| {r['function']} | {r['n']} | {r['terms']} | {r.get('max_degree', r['degree'])} "
                 f"| {c('spexjax', 'r2')} | {c('spexjax', 's')} "
                 f"| {c('shapiq', 'r2')} | {c('shapiq', 's')} | {c('spectralexplain', 'r2')} "
                 f"| {c('spectralexplain', 's')} | {r.get('ratio_vs_faster_reference', '-')} | {r['load']} |")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
