"""A datamodels-format store at the paper's scale, explained without loading it.

Writes a synthetic store (masks ``bool[M, n]`` i.i.d. Bernoulli(1/2), the datamodels layout; outputs
``float32[M, 1]``) block by block under ``--dir`` (not in the repository), whose output is a sum of planted
*hierarchical* Möbius terms (every planted set's subsets carry terms too, as ProxySPEX assumes) plus Gaussian
noise; then ``DatamodelsStore.explain(0)``: one streaming pass of marginal effects over the fit rows, screening,
ProxySPEX on the screened columns, R^2 on the held-out rows (the last 10 %). Records wall time per stage, peak
RSS of this process (``ru_maxrss``: imports, generation and explanation included) and whether the planted
sets were found. The store is deleted at the end unless ``--keep``.

    nice python3 benchmarks/data_store_scale.py [--n 50000] [--M 100000] [--dir /tmp/spexjax_store]
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import platform
import resource
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from spexjax.data import DatamodelsStore, write_store  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def planted_terms(n: int, rng: np.random.Generator) -> list[tuple[tuple[int, ...], float]]:
    """Hierarchical Möbius terms: 4 triples, each with all its pairs and singletons, plus 8 lone singletons
    and 4 lone pairs with their singletons, on distinct random training points."""
    feats = iter(rng.choice(n, size=4 * 3 + 8 + 4 * 2, replace=False).tolist())
    terms: dict[tuple[int, ...], float] = {}
    for _ in range(4):
        s = tuple(sorted(next(feats) for _ in range(3)))
        for k in (1, 2, 3):
            for sub in itertools.combinations(s, k):
                terms[sub] = terms.get(sub, 0.0) + float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)) / k
    for _ in range(8):
        terms[(next(feats),)] = float(rng.choice([-1, 1]) * rng.uniform(0.3, 1.0))
    for _ in range(4):
        s = tuple(sorted(next(feats) for _ in range(2)))
        terms[s] = float(rng.choice([-1, 1]) * rng.uniform(0.5, 1.0))
        for i in s:
            terms[(i,)] = float(rng.choice([-1, 1]) * rng.uniform(0.3, 1.0))
    return sorted(terms.items())


def mobius_value(x: np.ndarray, terms) -> np.ndarray:
    out = np.zeros(x.shape[0])
    for s, a in terms:
        out += a * np.all(x[:, list(s)], axis=1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=50_000)
    ap.add_argument("--M", type=int, default=100_000)
    ap.add_argument("--noise", type=float, default=0.3, help="noise sd (the planted signal's sd is ~2)")
    ap.add_argument("--dir", default="/tmp/spexjax_store")
    ap.add_argument("--max-degree", type=int, default=3)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--out", default="data_store_scale")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    terms = planted_terms(args.n, rng)
    os.makedirs(args.dir, exist_ok=True)
    mpath, opath = os.path.join(args.dir, "masks.npy"), os.path.join(args.dir, "outputs.npy")
    free = shutil.disk_usage(args.dir).free
    if free < 1.2 * args.M * args.n:
        raise SystemExit(f"{args.dir}: {free / 1e9:.1f} GB free, the store needs {args.M * args.n / 1e9:.1f} GB")

    def fill(lo: int, hi: int):
        r = np.random.default_rng([1, lo])
        x = np.unpackbits(r.integers(0, 256, size=(hi - lo, (args.n + 7) // 8), dtype=np.uint8), axis=1,
                          count=args.n).astype(bool)
        y = mobius_value(x, terms) + args.noise * r.standard_normal(hi - lo)
        return x, y[:, None]

    t0 = time.perf_counter()
    write_store(mpath, opath, args.M, args.n, 1, fill, chunk_rows=2048)
    t_gen = time.perf_counter() - t0
    rss_gen = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    size = os.path.getsize(mpath) + os.path.getsize(opath)
    print(f"wrote {size / 1e9:.2f} GB in {t_gen:.1f} s (peak RSS so far {rss_gen:.2f} GB)", flush=True)

    store = DatamodelsStore(mpath, opath)
    t0 = time.perf_counter()
    res = store.explain(0, max_degree=args.max_degree, key=0)
    t_explain = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    info = res.meta["store"]
    found = dict(zip(*res.mobius(), strict=True))
    planted = dict(terms)
    big = [s for s, a in planted.items() if abs(a) >= 0.1]
    recovered = [s for s in big if s in found and abs(found[s] - planted[s]) < 0.25 * abs(planted[s]) + 0.05]
    signal_var = float(np.var(mobius_value(np.random.default_rng(9).random((20000, args.n)) < 0.5, terms))) \
        if args.n <= 5000 else None
    doc = {
        "benchmark": "data_store_scale",
        "command": "python3 " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, shared)",
        "store": {"M": args.M, "n": args.n, "T": 1, "bytes_on_disk": size, "noise_sd": args.noise,
                  "planted_terms": len(terms), "max_planted_order": max(len(s) for s, _ in terms)},
        "seconds": {"generate": t_gen, "explain": t_explain, **info["seconds"]},
        "peak_rss_gb": rss, "peak_rss_gb_after_generation": rss_gen,
        "holdout_r2": info["holdout_r2"], "fit_rows": info["fit_rows"], "holdout_rows": info["holdout_rows"],
        "screened": info["screened"],
        "planted_points_screened": int(len({i for s, _ in terms for i in s} & set(info["screened_points"] or []))),
        "planted_points": len({i for s, _ in terms for i in s}),
        "planted_terms_recovered": f"{len(recovered)}/{len(big)} (|a| >= 0.1, coefficient within 25 % + 0.05)",
        "result_terms": len(res), "signal_var_small_n": signal_var,
        "proxy": {k: res.meta["proxy"].get(k) for k in ("trees", "best_iteration", "valid_r2")},
        "targets": {"holdout_r2>=0.9": info["holdout_r2"] >= 0.9, "peak_rss<=8GB": rss <= 8.0},
    }
    print(json.dumps(doc, indent=1))
    if args.out:
        with open(os.path.join(RESULTS, f"{args.out}.json"), "w") as fh:
            json.dump(doc, fh, indent=1)
        md = [f"# Datamodels-format store at scale ({doc['date']})", "", f"Command: `{doc['command']}`  ",
              f"Device: {doc['device']}", "",
              f"Store: M = {args.M:,} trainings x n = {args.n:,} training points, {size / 1e9:.2f} GB on disk "
              f"(bool masks + float32 outputs), {len(terms)} planted hierarchical Möbius terms (order <= 3), "
              f"noise sd {args.noise}.", "",
              "| quantity | value |", "|---|---|",
              f"| held-out R^2 ({info['holdout_rows']:,} rows) | {info['holdout_r2']:.4f} |",
              f"| peak RSS (whole process) | {rss:.2f} GB |",
              f"| screened points | {info['screened']} (planted points among them: "
              f"{doc['planted_points_screened']}/{doc['planted_points']}) |",
              f"| planted terms recovered | {doc['planted_terms_recovered']} |",
              f"| generate | {t_gen:.1f} s |", f"| explain total | {t_explain:.1f} s |"]
        md += [f"| - {k} | {v:.1f} s |" for k, v in info["seconds"].items() if k != "total"]
        with open(os.path.join(RESULTS, f"{args.out}.md"), "w") as fh:
            fh.write("\n".join(md) + "\n")
    if not args.keep:
        os.remove(mpath)
        os.remove(opath)
        print(f"deleted {mpath} and {opath}")


if __name__ == "__main__":
    main()
