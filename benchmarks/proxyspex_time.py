"""ProxySPEX wall time against the reference implementations (shapiq, spectralexplain).

Two modes:

``--cold`` (the issue-22 acceptance figure; writes ``results/proxyspex_time.{json,md}``): each library in its
own fresh process, as a user's first explanation runs: interpreter start, imports, JIT compilation (spexjax's
persistent XLA cache off), fit. spexjax runs under this interpreter, shapiq under Python 3.12
(``--reference-python``), back to back per repeat so ratios are taken under the same load. Cases: the
hierarchical Möbius function (~40 terms, n = 32, degree 4, 10,000 queries) and an 800-query explanation of a
noisy dense quadratic at n = 40 (max_degree 2, shapiq's default). R^2 against the exact (noiseless) function on
4000 uniform masks; spexjax's per-stage seconds (``meta["seconds"]``) in the table.

    python3 benchmarks/proxyspex_time.py --cold [--repeats 3] [--cases hierarchical dense_n40] [--threads 2]

Default (in-process, warm; ``results/proxyspex_time_warm.{json,md}``): hierarchical Möbius functions of
10-100 terms (``random_hierarchical_mobius``) at n = 32, 128, 512, budget 10,000 uniformly random masks (each
method draws its own), ``max_degree`` = the function's degree. Every cell runs spexjax, then the references,
back to back in one process, so the *ratio* (faster reference's seconds / spexjax's seconds) is measured under
the same machine load; absolute times on a shared machine are noise. A warm-up call (imports, JIT) precedes
all timings for every library alike.

    nice /root/.pyenv/versions/3.12.1/bin/python3.12 benchmarks/proxyspex_time.py [--ns 32 128 512]
        [--functions small medium large] [--no-spectralexplain] [--out benchmarks/results/proxyspex_time_warm.json]
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


# --cold: each library in its own fresh process (imports, JIT compilation with an empty cache, fit), back to back
COLD_CASES = {
    # the large-sample case: ~40-term hierarchical Möbius function, n = 32, degree 4, 10,000 queries
    "hierarchical": {"n": 32, "budget": 10000, "max_degree": 4, "function": ("medium", 32)},
    # the common real use: an 800-query explanation of 40 features, dense quadratic with noise (shapiq's
    # default max_order = 2 for both libraries)
    "dense_n40": {"n": 40, "budget": 800, "max_degree": 2, "function": "dense_quadratic"},
}
CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_proxyspex_cold_child.py")


def _cold_spec(case: str) -> dict:
    c = COLD_CASES[case]
    n = c["n"]
    spec = {"n": n, "budget": c["budget"], "max_degree": c["max_degree"]}
    if c["function"] == "dense_quadratic":
        rng = np.random.default_rng(40)
        spec |= {"kind": "dense_quadratic", "a": rng.normal(size=n).tolist(),
                 "B": np.triu(rng.normal(size=(n, n)) / np.sqrt(n), 1).ravel().tolist(), "noise_sd": 0.5,
                 "noise_seed": 1}
    else:
        top, fdeg, fkey = FUNCTIONS[c["function"][0]]
        f = sjt.random_hierarchical_mobius(n, top, fdeg, key=fkey)
        sup, coef = f.supports, f.coeffs
        spec |= {"kind": "mobius", "supports": [list(map(int, s)) for s in sup], "coeffs": [float(v) for v in coef]}
    return spec


def _exact(spec: dict):
    """The noiseless function of a spec, for R^2 (numpy, from the child module)."""
    import importlib.util

    mod = importlib.util.spec_from_file_location("_cold_child", CHILD)
    child = importlib.util.module_from_spec(mod)
    mod.loader.exec_module(child)
    return child.value_function({**spec, "noise_sd": 0.0})


def _python312() -> str | None:
    import glob

    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    return found[-1] if found else None


def run_cold(library: str, spec: dict, python: str, threads: int | None = None, env: dict | None = None) -> dict:
    """One fresh process: wall time from spawn to exit (interpreter, imports, compilation with spexjax's
    persistent XLA cache off, fit), the child's own split, R^2 on 4000 uniform masks against the exact f."""
    import subprocess
    import tempfile

    from spexjax.interactions import Interactions

    with tempfile.TemporaryDirectory() as tmp:
        sp, op = os.path.join(tmp, "spec.json"), os.path.join(tmp, "out.json")
        with open(sp, "w") as fh:
            json.dump({**spec, "library": library, "threads": threads}, fh)
        e = dict(os.environ, SPEXJAX_COMPILATION_CACHE="0")
        e.pop("OMP_WAIT_POLICY", None)  # this module sets it for its in-process mode; a child gets the default
        e.update(env or {})
        load = os.getloadavg()[0]
        t = time.perf_counter()
        proc = subprocess.run([python, CHILD, sp, op], env=e, capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            return {"error": proc.stderr.strip().splitlines()[-1][:200] if proc.stderr.strip() else "failed"}
        out = json.load(open(op))
    n = spec["n"]
    sup = [tuple(s) for s in out.pop("supports")]
    coef = np.asarray(out.pop("coeffs"), dtype=np.float64)
    if out["basis"] == "mobius":
        from spexjax.indices import mobius_to_fourier

        sup, coef = mobius_to_fourier(sup, coef)
    res = Interactions(n, sup, coef, queries=spec["budget"])
    xt = uniform_masks(777, 4000, n)
    out.update({"wall_s": round(wall, 3), "r2": round(float(r2_score(_exact(spec)(xt), res.predict(xt))), 5),
                "load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)})
    return out


def main_cold(args) -> None:
    py312 = args.reference_python or _python312()
    out = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "mode": "cold", "git": _git_rev(),
           "platform": platform.platform(), "cpus": os.cpu_count(), "python": sys.version.split()[0],
           "reference_python": py312, "reference_wait_policy": args.reference_wait_policy, "rows": []}
    for case in args.cases:
        spec = _cold_spec(case)
        for rep in range(args.repeats):
            variants = [("spexjax", sys.executable, None, None)]
            for th in args.threads:
                variants.append((f"spexjax threads={th}", sys.executable, th, None))
            if args.active_variant:
                variants.append(("spexjax ACTIVE threads=2", sys.executable, 2, {"OMP_WAIT_POLICY": "ACTIVE"}))
            if py312 and not args.no_reference:
                policy = {"OMP_WAIT_POLICY": args.reference_wait_policy} if args.reference_wait_policy else None
                variants.append(("shapiq", py312, None, policy))
            for name, py, th, env in variants:
                r = run_cold("shapiq" if name == "shapiq" else "spexjax", spec, py, th, env)
                row = {"case": case, "repeat": rep, "variant": name, **r}
                out["rows"].append(row)
                print(json.dumps({k: v for k, v in row.items() if k != "stages"} | (
                    {"stages": {k: round(v, 2) for k, v in r.get("stages", {}).items()}} if "stages" in r else {})),
                    flush=True)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
    with open(os.path.splitext(args.out)[0] + ".md", "w") as fh:
        fh.write(markdown_cold(out))
    print("wrote", args.out)


def markdown_cold(data) -> str:
    L = ["# ProxySPEX cold time vs shapiq (fresh processes)", "",
         f"{data['date']}, git {data.get('git')}, {data['platform']}, {data['cpus']} CPUs, spexjax on Python "
         f"{data['python']}, shapiq on {data.get('reference_python')}. Every row is one fresh process: "
         "interpreter start, imports, JIT compilation (spexjax's persistent XLA cache off), fit; variants of one "
         "repeat run back to back, so compare within a repeat; `load` is the 1-minute load average before / after. "
         f"shapiq's process runs with OMP_WAIT_POLICY={data.get('reference_wait_policy')!r}.",
         "", "| case | repeat | variant | wall s | import s | run s | proxy_fit | readout | refine | R^2 | "
         "spexjax / shapiq wall (same repeat) | load |", "|" + " --- |" * 12]
    ref = {(r["case"], r["repeat"]): r["wall_s"] for r in data["rows"] if r["variant"] == "shapiq" and "wall_s" in r}
    for r in data["rows"]:
        if "error" in r:
            L.append(f"| {r['case']} | {r['repeat']} | {r['variant']} | error: {r['error']} |" + " |" * 8)
            continue
        st = r.get("stages", {})
        g = (lambda k, st=st: f"{st[k]:.2f}" if k in st else "-")
        ratio = ref.get((r["case"], r["repeat"]))
        ratio = f"{r['wall_s'] / ratio:.2f}" if ratio and r["variant"] != "shapiq" else "-"
        L.append(f"| {r['case']} | {r['repeat']} | {r['variant']} | {r['wall_s']:.2f} | {r['import_s']:.2f} "
                 f"| {r['run_s']:.2f} | {g('proxy_fit')} | {g('readout')} | {g('refine')} | {r['r2']:.4f} "
                 f"| {ratio} | {r['load_before']} / {r['load_after']} |")
    L.append("")
    for case in dict.fromkeys(r["case"] for r in data["rows"]):
        for var in dict.fromkeys(r["variant"] for r in data["rows"] if r["case"] == case and r["variant"] != "shapiq"):
            rs = [r["wall_s"] / ref[(case, r["repeat"])] for r in data["rows"] if r["case"] == case
                  and r["variant"] == var and "wall_s" in r and (case, r["repeat"]) in ref]
            if rs:
                L.append(f"- {case}, {var}: spexjax / shapiq wall time {min(rs):.2f}-{max(rs):.2f} (median "
                         f"{float(np.median(rs)):.2f}) over {len(rs)} repeats.")
    return "\n".join(L) + "\n"


def main() -> None:
    if "--cold" in sys.argv:
        ap = argparse.ArgumentParser()
        ap.add_argument("--cold", action="store_true")
        ap.add_argument("--cases", nargs="+", default=list(COLD_CASES), choices=list(COLD_CASES))
        ap.add_argument("--repeats", type=int, default=3)
        ap.add_argument("--threads", type=int, nargs="*", default=[], help="extra spexjax variants with "
                        "LightGBMProxy(num_threads=T)")
        ap.add_argument("--active-variant", action="store_true", help="also spexjax with OMP_WAIT_POLICY=ACTIVE, "
                        "2 threads")
        ap.add_argument("--no-reference", action="store_true")
        ap.add_argument("--reference-python", default=None, help="interpreter with shapiq (default: pyenv 3.12)")
        ap.add_argument("--reference-wait-policy", default="PASSIVE", help="OMP_WAIT_POLICY for shapiq's process "
                        "(its LightGBM uses every core; with the default ACTIVE waits a loaded machine made one "
                        "800-query run take > 8 min); '' = the default environment")
        ap.add_argument("--out", default="benchmarks/results/proxyspex_time.json")
        return main_cold(ap.parse_args())
    ap = argparse.ArgumentParser()
    ap.add_argument("--ns", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--functions", nargs="+", default=list(FUNCTIONS), choices=list(FUNCTIONS))
    ap.add_argument("--budget", type=int, default=10000)
    ap.add_argument("--spectralexplain", action="store_true", help="also time spectralexplain (very slow)")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--max-degree", type=int, default=None, help="max_degree of every method (default: the "
                    "function's degree)")
    ap.add_argument("--keys", type=int, default=1, help="spexjax keys per cell (times: mean; R^2: worst)")
    ap.add_argument("--out", default="benchmarks/results/proxyspex_time_warm.json")
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
