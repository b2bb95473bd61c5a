"""ProxySPEX proxies side by side: R^2 and seconds at equal samples, LightGBM vs the Fourier network (and the MLP).

Reuses ``benchmarks/proxyspex.py``'s functions, budgets and R^2 protocol (4000 fresh uniform masks against the
exact function): the hierarchical grid ``random_hierarchical_mobius(n, 8, 5, key=K)``, the 10-term degree-3
parity function at budget 10,000, and one real value function (words of a review under the embedded MiniLM,
as in ``benchmarks/proxyspex_real.py``: one pool of uniform masks, the first B feed every proxy, the next 1000
measure R^2).

    PYTHONPATH=. nice python3 benchmarks/proxy_compare.py [--proxies lightgbm fourier] [--only hierarchical]
        [--n 128 1024] [--budgets 200 300 500 1000 2000 5000] [--keys 2] [--function-keys 11 13]
    PYTHONPATH=. python3 benchmarks/proxy_compare.py --md-from benchmarks/results/proxy_compare.json

Each cell runs keys 0..K-1 (masks, proxy seeds) and reports the mean R^2 with every key's value in the JSON.
Seconds are whole ``proxyspex`` calls (queries of the cheap synthetic function, fit, readout, refine). The
Fourier network's jitted training loops are compiled once per shape (samples, features), so its first key at a
new sample count pays the compile: ``s`` is the mean over the later keys (warm), ``s_first`` the first key.
Sections already in the output JSON and not re-run are kept. ``--energies auto holdout`` runs every cell once per
``energy=`` value (same keys, same masks); the non-default ones are stored as ``<proxy>@<energy>`` (issue 22's
side-by-side, tabulated by ``benchmarks/energy_holdout.py``; only the LightGBM proxy records held-out rows, the
others fall back to ``"auto"``, so run it with ``--proxies lightgbm``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import proxyspex as bench  # noqa: E402  (benchmarks/proxyspex.py: functions, budgets, R^2 protocol)
from _common import loadavg  # noqa: E402

import spexjax.testing as sjt  # noqa: E402
from spexjax.metrics import r2_score  # noqa: E402
from spexjax.proxyspex import proxyspex, uniform_masks  # noqa: E402

LABELS = {"lightgbm": "LightGBM", "fourier": "Fourier network", "neural": "MLP (neural)"}


def cell(f, n, budget, degree, proxy, keys, xt, yt, samples=None, energy="auto"):
    r2s, secs, meta, terms = [], [], None, []
    for key in range(keys):
        t = time.perf_counter()
        if samples is None:
            r = proxyspex(f, n, budget=budget, max_degree=degree, key=key, proxy=proxy, energy=energy)
        else:
            r = proxyspex(f, n, budget=0, samples=samples, max_degree=degree, key=key, proxy=proxy, energy=energy)
        secs.append(time.perf_counter() - t)
        r2s.append(round(float(r2_score(yt, r.predict(xt))), 4))
        meta = r.meta
        terms.append(meta["kept_terms"])
    warm = secs[1:] or secs
    return {"r2": round(float(np.mean(r2s)), 4), "r2_keys": r2s, "s": round(float(np.mean(warm)), 2),
            "s_first": round(secs[0], 2), "proxy_valid_r2": _round(meta["proxy"].get("valid_r2")),
            "fit_s": round(meta["seconds"]["proxy_fit"], 2), "terms": meta["kept_terms"], "terms_keys": terms}


def _cells(args, f, n, budget, degree, xt, yt, samples=None):
    """``{label: cell}`` for every proxy and ``--energies`` value (the default energy under the proxy's name)."""
    out = {}
    for p in args.proxies:
        if p == "neural" and budget > bench.NEURAL_MAX_BUDGET:
            continue
        for e in args.energies:
            out[p if e == "auto" else f"{p}@{e}"] = cell(f, n, budget, degree, p, args.keys, xt, yt,
                                                         samples=samples, energy=e)
    return out


def _round(v):
    return None if v is None or not np.isfinite(v) else round(float(v), 4)


def hierarchical(args, out):
    rows = []
    for fkey in args.function_keys:
        for n in args.n:
            f = sjt.random_hierarchical_mobius(n, 8, 5, key=fkey)
            xt = uniform_masks(12345, 4000, n)
            yt = f(xt)
            for B in args.budgets:
                row = {"fkey": fkey, "n": n, "budget": B}
                row.update(_cells(args, f, n, B, 5, xt, yt))
                rows.append(row)
                print(json.dumps(row), flush=True)
    out["hierarchical"] = rows


def parity(args, out):
    rows = []
    for n in (32, 128, 512):
        f = sjt.random_sparse_fourier(n, 10, 3, key=7)
        xt = uniform_masks(777, 4000, n)
        yt = f(xt)
        row = {"n": n, "budget": 10000}
        row.update(_cells(args, f, n, 10000, 3, xt, yt))
        rows.append(row)
        print(json.dumps(row), flush=True)
    out["fourier_10_terms_degree_3"] = rows


def real(args, out):
    from proxyspex_real import REVIEW

    from spexjax.llm import PromptTask, default_backend

    f = PromptTask(default_backend(), REVIEW)
    budgets = sorted(args.real_budgets)
    x = uniform_masks(5, max(budgets) + 1000, f.n)
    t = time.perf_counter()
    y = np.asarray(f(x), dtype=np.float64)
    print(f"review words: n={f.n}, {len(y)} MiniLM values in {time.perf_counter() - t:.0f} s", flush=True)
    xt, yt = x[max(budgets):], y[max(budgets):]
    rows = []
    for B in budgets:
        row = {"task": "review words (MiniLM)", "n": f.n, "samples": B}
        row.update(_cells(args, f, f.n, 0, 4, xt, yt, samples=(x[:B], y[:B])))
        rows.append(row)
        print(json.dumps(row), flush=True)
    out["real"] = rows
    out["real_run"] = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "git": bench._git_rev(), "load": loadavg()}


def _fmt(c):
    if not c:
        return "-"
    return f"{c['r2']:.4f} ({c['s']:.1f} s)"


def markdown(data) -> str:
    ps = data.get("proxies", ["lightgbm", "fourier"])
    head = "| " + " | ".join(LABELS.get(p, p) + " R^2 (s)" for p in ps) + " | proxy held-out R^2 (" + \
        ", ".join(LABELS.get(p, p) for p in ps) + ") |"
    sep = " --- |" * (len(ps) + 1)

    def nkeys(rows):
        return max((len(r[p]["r2_keys"]) for r in rows for p in ps if p in r), default=1)

    def tail(r):
        return " | ".join(_fmt(r.get(p)) for p in ps) + " | " + ", ".join(
            "-" if r.get(p, {}).get("proxy_valid_r2") is None else f"{r[p]['proxy_valid_r2']:.3f}" for p in ps) + " |"

    L = ["# ProxySPEX proxies at equal samples: LightGBM vs the Fourier network", "",
         f"Last run {data.get('date')}, git {data.get('git')} (sections run alone say so); load average "
         f"before {data.get('load_before')}, after "
         f"{data.get('load_after')} (a shared 2-core machine: seconds are noisy; compare within a row). Cells: "
         "mean R^2 over keys 0..K-1 (K per section below; per key in the JSON), and mean seconds of a whole "
         "`proxyspex` call (the Fourier network's first key at a new sample count also pays its JIT compile; "
         "`s_first` in the JSON). R^2 on 4000 fresh uniform masks (1000 held-out masks for the real function). "
         "Proxy held-out R^2: the proxy's own fit on its 15% validation split (first key).", ""]
    hr = data.get("hierarchical")
    if hr:
        L += ["## Hierarchical functions", "", "`random_hierarchical_mobius(n, 8, 5, key=K)`, `max_degree=5` "
              f"(as in `benchmarks/proxyspex.py`); K = {nkeys(hr)} keys.", ""]
        for fkey, n in sorted({(r["fkey"], r["n"]) for r in hr}):
            L += [f"### key = {fkey}, n = {n}", "", "| samples " + head, "| --- |" + sep]
            L += [f"| {r['budget']} | " + tail(r) for r in hr if r["fkey"] == fkey and r["n"] == n]
            L.append("")
    pr = data.get("fourier_10_terms_degree_3")
    if pr:
        L += ["## 10-term degree-3 parity function, 10,000 samples", "",
              "`random_sparse_fourier(n, 10, 3, key=7)`, `max_degree=3`: pure parities, no hierarchy; "
              f"K = {nkeys(pr)}.", "",
              "| n " + head, "| --- |" + sep]
        L += [f"| {r['n']} | " + tail(r) for r in pr]
        L.append("")
    rr = data.get("real")
    if rr:
        L += ["## A real value function: words of a review under the embedded MiniLM (n = 36)", "",
              "Zero-shot sentiment log-odds of the ablated review under the embedded MiniLM "
              "(`PromptTask(default_backend(), REVIEW)`, the review of `benchmarks/proxyspex_real.py`), "
              f"`max_degree=4`; every proxy gets the same samples; K = {nkeys(rr)}."
              + (" Measured {date}, git {git}, load {load}.".format(**data["real_run"])
                 if data.get("real_run") else ""),
              "",
              "| samples " + head, "| --- |" + sep]
        L += [f"| {r['samples']} | " + tail(r) for r in rr]
        L.append("")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--proxies", nargs="+", default=["lightgbm", "fourier"], choices=sorted(LABELS))
    ap.add_argument("--only", nargs="+", choices=("hierarchical", "parity", "real"),
                    default=["hierarchical", "parity", "real"])
    ap.add_argument("--n", type=int, nargs="+", default=[128, 1024])
    ap.add_argument("--budgets", type=int, nargs="+", default=[200, 300, 500, 1000, 2000, 5000])
    ap.add_argument("--real-budgets", type=int, nargs="+", default=[150, 300, 600, 1000])
    ap.add_argument("--function-keys", type=int, nargs="+", default=[11, 13])
    ap.add_argument("--keys", type=int, default=2)
    ap.add_argument("--energies", nargs="+", default=["auto"], choices=("auto", "holdout"),
                    help="energy= values run side by side on the same keys (non-default ones as <proxy>@<energy>)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "proxy_compare.json"))
    ap.add_argument("--md-from", default=None)
    args = ap.parse_args()
    if args.md_from:
        data = json.loads(Path(args.md_from).read_text())
        Path(args.md_from).with_suffix(".md").write_text(markdown(data))
        return
    warnings.simplefilter("ignore", RuntimeWarning)
    out = json.loads(Path(args.out).read_text()) if Path(args.out).exists() else {}
    out.update({"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "git": bench._git_rev(), "keys": args.keys,
                "proxies": args.proxies, "energies": args.energies, "argv": sys.argv[1:], "load_before": loadavg()})
    fw = sjt.random_sparse_fourier(32, 3, 2, key=0)  # warm-up: imports, LightGBM, small JIT
    for p in args.proxies:
        proxyspex(fw, 32, budget=500, max_degree=2, key=0, proxy=p)
    for name in args.only:
        {"hierarchical": hierarchical, "parity": parity, "real": real}[name](args, out)
    out["load_after"] = loadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    Path(args.out).with_suffix(".md").write_text(markdown(out))
    print("wrote", args.out, "and", Path(args.out).with_suffix(".md"), flush=True)


if __name__ == "__main__":
    main()
