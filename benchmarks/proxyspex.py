"""ProxySPEX benchmark: R^2 vs queries (SPEX, ProxySPEX with both proxies, shapiq's ProxySPEX) on hierarchical
functions, and the 10-term degree-3 Fourier comparison against shapiq and spectralexplain at budget 10,000.

Run on the interpreter that has the references (``--threads N`` pins every BLAS/OpenMP pool, ours and the
references', to N threads; by default each library uses its own defaults):

    PYTHONPATH=. /opt/py312/bin/python benchmarks/proxyspex.py [--quick] [--no-reference] [--only fourier]
"""

from __future__ import annotations

import os
import sys

if "--threads" in sys.argv:  # pin every BLAS/OpenMP pool (ours and the references') before any import
    _t = sys.argv[sys.argv.index("--threads") + 1]
    for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_v] = _t

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

import spexjax  # noqa: E402
import spexjax.testing as sjt  # noqa: E402
from spexjax.errors import BudgetError  # noqa: E402
from spexjax.indices import mobius_to_fourier  # noqa: E402
from spexjax.interactions import Interactions  # noqa: E402
from spexjax.metrics import r2_score  # noqa: E402
from spexjax.proxyspex import proxyspex, uniform_masks  # noqa: E402


def r2_of(result: Interactions, f, xt: np.ndarray, yt: np.ndarray) -> float:
    return r2_score(yt, result.predict(xt))


def run_spex(f, n, budget, degree):
    t = time.perf_counter()
    r = spexjax.spex(f, n, budget=budget, max_degree=degree, key=0)
    return r, time.perf_counter() - t


def run_proxy(f, n, budget, degree, proxy):
    t = time.perf_counter()
    r = proxyspex(f, n, budget=budget, max_degree=degree, key=0, proxy=proxy)
    return r, time.perf_counter() - t


def run_shapiq(f, n, budget, degree):
    from shapiq.approximator import ProxySPEX

    class _Capture(ProxySPEX):  # keep the Möbius transform it computes before converting to an index
        def _process_moebius(self, moebius_transform):
            self.captured = dict(moebius_transform)
            return super()._process_moebius(moebius_transform)

    approx = _Capture(n=n, max_order=degree, index="FBII", random_state=0)
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        approx.approximate(budget, lambda c: f(np.asarray(c, bool)))
    dt = time.perf_counter() - t
    sup = [tuple(int(i) for i in k) for k in approx.captured]
    fs, fc = mobius_to_fourier(sup, np.array(list(approx.captured.values()), dtype=np.float64))
    return Interactions(n, fs, fc, queries=budget), dt


def run_spectralexplain(f, n, budget, degree):
    import spectralexplain as spx

    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.random.seed(0)  # noqa: NPY002 - the reference draws its masks from the global generator
        ex = spx.Explainer(lambda q: f(np.asarray(q, bool)), n, sample_budget=budget, max_order=degree,
                           algorithm="proxyspex")
    dt = time.perf_counter() - t
    sup = [tuple(int(i) for i in np.nonzero(k)[0]) for k in ex.fourier_transform]
    return Interactions(n, sup, list(ex.fourier_transform.values()), queries=budget), dt


def hierarchical(args, out):
    rows = []
    budgets = [500, 1000, 2000, 5000, 10000] if args.quick else [500, 1000, 2000, 5000, 10000, 20000, 50000]
    ref_budgets = {1000, 5000} if not args.quick else {2000}
    for n in (128, 1024):
        f = sjt.random_hierarchical_mobius(n, 8, 5, key=11)
        xt = uniform_masks(12345, 4000, n)
        yt = f(xt)
        for B in budgets:
            row = {"n": n, "budget": B}
            for name, fn, extra in (("spex", run_spex, ()),
                                    ("proxyspex_lgbm", run_proxy, ("lightgbm",)),
                                    ("proxyspex_neural", run_proxy, ("neural",)),
                                    ("shapiq_proxyspex", run_shapiq, ())):
                if name.startswith("shapiq") and (args.no_reference or B not in ref_budgets):
                    continue
                if name == "proxyspex_neural" and B > 10000:
                    continue
                try:
                    r, dt = fn(f, n, B, 5, *extra)
                    row[name] = {"r2": round(r2_of(r, f, xt, yt), 4), "s": round(dt, 2), "queries": r.queries}
                except BudgetError as e:
                    row[name] = {"error": str(e).split(":")[0]}
            rows.append(row)
            print(json.dumps(row), flush=True)
    out["hierarchical"] = rows


def fourier_table(args, out):
    rows = []
    for n in ((32, 128) if args.quick else (32, 128, 512)):
        f = sjt.random_sparse_fourier(n, 10, 3, key=7)
        xt = uniform_masks(777, 4000, n)
        yt = f(xt)
        row = {"n": n, "budget": 10000}
        runs = [("spexjax_lgbm", run_proxy, ("lightgbm",)), ("spexjax_neural", run_proxy, ("neural",)),
                ("spexjax_spex", run_spex, ())]
        if not args.no_reference:
            runs.append(("shapiq_proxyspex", run_shapiq, ()))
            if n == 32 and args.spectralexplain:
                runs.append(("spectralexplain_proxyspex", run_spectralexplain, ()))
        for name, fn, extra in runs:
            try:
                r, dt = fn(f, n, 10000, 3, *extra)
                row[name] = {"r2": round(r2_of(r, f, xt, yt), 4), "s": round(dt, 2)}
                if name == "spexjax_lgbm":
                    row[name]["proxy_valid_r2"] = round(float(r.meta["proxy"].get("valid_r2", float("nan"))), 4)
            except Exception as e:  # noqa: BLE001 - a failing reference is a result too
                row[name] = {"error": f"{type(e).__name__}: {str(e)[:120]}"}
        rows.append(row)
        print(json.dumps(row), flush=True)
    out["fourier_10_terms_degree_3"] = rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", default=None, help="pin BLAS/OpenMP pools to this many threads")
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--spectralexplain", action="store_true", help="also run spectralexplain at n=32 (slow)")
    ap.add_argument("--only", choices=("hierarchical", "fourier"), default=None)
    ap.add_argument("--out", default="benchmarks/results/proxyspex.json")
    args = ap.parse_args()
    import jax

    out = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "python": sys.version.split()[0],
           "jax": jax.__version__, "platform": platform.platform(), "cpus": os.cpu_count(),
           "threads": os.environ.get("OMP_NUM_THREADS")}
    try:
        import lightgbm
        import shapiq

        out["shapiq"], out["lightgbm"] = shapiq.__version__, lightgbm.__version__
    except ImportError:
        pass
    # warm-up (imports, jit) outside the timings, for every method alike
    fw = sjt.random_sparse_fourier(32, 3, 2, key=0)
    run_proxy(fw, 32, 500, 2, "lightgbm")
    if args.only in (None, "fourier"):
        fourier_table(args, out)
    if args.only in (None, "hierarchical"):
        hierarchical(args, out)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as fh:
        json.dump(out, fh, indent=1)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
