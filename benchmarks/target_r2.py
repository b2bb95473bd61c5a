"""spex(..., target_r2=): how many queries and seconds a grown design needs to reach a held-out R^2.

Default case (issue 12's acceptance): 1,000 Fourier terms of degree <= 5 at n = 10^6, target R^2 0.999,
budget cap 400,000 queries. Each case runs in a fresh process state: the first call is cold (XLA compiles
every round's peel program unless the persistent cache has them), so the script reports the cold call and,
with ``--warm``, a second identical call. R^2 is also measured on fresh uniform masks the run never saw.

  python3 benchmarks/target_r2.py [--n 1000000] [--terms 1000] [--target 0.999] [--budget 400000] [--warm]

Writes benchmarks/results/target_r2.json (appends one record per run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from _common import cpu_info, loadavg, now_iso, peak_rss_mb, versions  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--terms", type=int, default=1000)
    ap.add_argument("--degree", type=int, default=5)
    ap.add_argument("--target", type=float, default=0.999)
    ap.add_argument("--budget", type=int, default=400_000)
    ap.add_argument("--key", type=int, default=0)
    ap.add_argument("--fresh", type=int, default=200, help="fresh uniform masks for the reported R^2")
    ap.add_argument("--warm", action="store_true", help="also time a second identical call")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "target_r2.json"))
    args = ap.parse_args()

    import spexjax
    from spexjax.testing import random_sparse_fourier

    f = random_sparse_fourier(args.n, args.terms, args.degree, key=args.key + 1)
    calls = []
    for label in ["cold", "warm"] if args.warm else ["cold"]:
        load_before = loadavg()
        t0 = time.perf_counter()
        res = spexjax.spex(f, args.n, max_degree=args.degree, target_r2=args.target, budget=args.budget, key=args.key)
        secs = time.perf_counter() - t0
        calls.append({
            "call": label, "seconds": round(secs, 2), "queries": int(res.queries), "stopped": res.meta["stopped"],
            "r2_heldout": res.meta["r2_heldout"], "terms_found": len(res.fourier()[0]),
            "rounds": [{k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()}
                       for r in res.meta["rounds"]],
            "load_before": load_before, "load_after": loadavg(),
        })
        print(json.dumps(calls[-1]), flush=True)
    X = np.random.default_rng(12345).random((args.fresh, args.n)) < 0.5
    r2_fresh = float(spexjax.faithfulness(res, f, X))
    record = {
        "benchmark": "target_r2", "date": now_iso(), "cpu": cpu_info(), "versions": versions("jax", "numpy"),
        "args": vars(args), "calls": calls, "r2_fresh_masks": r2_fresh, "peak_rss_mb": round(peak_rss_mb(), 1),
        "command": "python3 benchmarks/target_r2.py " + " ".join(sys.argv[1:]),
    }
    print(json.dumps({"r2_fresh_masks": r2_fresh, "peak_rss_mb": record["peak_rss_mb"]}))
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    old = []
    if os.path.exists(args.out):
        with open(args.out) as fh:
            old = json.load(fh)
    with open(args.out, "w") as fh:
        json.dump(old + [record], fh, indent=1)


if __name__ == "__main__":
    main()
