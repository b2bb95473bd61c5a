"""ProxySPEX on the bundled real value functions: faithfulness vs samples, with and without the hierarchy step.

    PYTHONPATH=. python3 benchmarks/proxyspex_real.py [--budgets 150 300 600 1000 2000] [--degree 4]

Three applications, all offline: words of a movie review under MiniLM-L6 (zero-shot sentiment log-odds,
n = 36), data attribution (margin of a digits test image after training on subsets of 64 digits), and
MiniLM's 72 attention heads (mean log-prob of the right label on the built-in topic task). The committed
results/proxyspex_real.* are from these tasks (rerun 2026-12-02; the first version, commit 3e984ce, used cosine
to the full text, breast-cancer points and an embedding cosine for heads).
For each, 2000 uniform masks are evaluated once; the
first B of them feed both variants (``samples=``, ``budget=0``: identical data), and R^2 is measured on the
1000 masks after them. Writes ``benchmarks/results/proxyspex_real.{json,md}``.

Issue 22's ``energy=`` side-by-side: ``--energies auto holdout --keys 3`` adds, for each non-default energy, the
hierarchy variant with that energy (``hierarchy@holdout``), every variant over keys 0..K-1 on the same samples
(the key moves the proxy's seed and its held-out split: the run-to-run spread); cells then hold the mean R^2 and
every key's value (``r2_keys``). ``--variants`` picks the variants run, ``--tasks`` the value functions (by the
start of their names), ``--values-cache DIR`` keeps each task's evaluated masks (``.npz``) for a rerun.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import loadavg  # noqa: E402

from spexjax.metrics import r2_score  # noqa: E402
from spexjax.proxyspex import proxyspex, uniform_masks  # noqa: E402

REVIEW = ("The film starts slowly and the first hour drags, but the acting is superb, the score is haunting, "
          "and by the end I was completely moved; not a perfect movie, yet one I will not forget.")


def tasks():
    from spexjax.data import RetrainTask, load_digits_split
    from spexjax.heads import HeadTask, MiniLMHeads, topic_examples
    from spexjax.llm import PromptTask, default_backend

    def data():
        X, y, Xt, yt = load_digits_split(64)
        return RetrainTask(X, y, Xt[0], int(yt[0]))

    return {"review words (MiniLM zero-shot sentiment)": lambda: PromptTask(default_backend(), REVIEW),
            "data attribution (64 digits)": data,
            "attention heads (MiniLM topic task)": lambda: HeadTask(MiniLMHeads(), topic_examples())}


def _values(f, x: np.ndarray, name: str, folder: str | None) -> np.ndarray:
    """``f(x)``, read from ``folder`` when an earlier run stored the same masks there (the values of the real
    tasks take minutes on a loaded 2-core machine; the masks are checked, so a changed draw is re-evaluated)."""
    path = Path(folder) / (name.split(" (")[0].replace(" ", "_") + f"_n{f.n}.npz") if folder else None
    if path is not None and path.exists():
        old = np.load(path)
        if old["x"].shape == x.shape and np.array_equal(old["x"], x):
            return np.asarray(old["y"], dtype=np.float64)
    y = np.asarray(f(x), dtype=np.float64)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, x=x, y=y)
    return y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--budgets", type=int, nargs="+", default=[150, 300, 600, 1000, 2000])
    ap.add_argument("--degree", type=int, default=4)
    ap.add_argument("--energies", nargs="+", default=["auto"], choices=("auto", "holdout"),
                    help="energy= values; each non-default one adds a variant hierarchy@<energy>")
    ap.add_argument("--variants", nargs="+", default=None,
                    help="variants to run (default: no_hierarchy, hierarchy and the --energies ones)")
    ap.add_argument("--keys", type=int, default=1, help="keys 0..K-1 per cell (same samples)")
    ap.add_argument("--tasks", nargs="+", default=None, help="only the tasks whose names start with these words")
    ap.add_argument("--values-cache", default=None, help="folder for each task's evaluated masks (.npz)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "proxyspex_real.json"))
    args = ap.parse_args()
    warnings.simplefilter("ignore", RuntimeWarning)
    pool, test = max(args.budgets), 1000
    variants = {"no_hierarchy": (False, "auto"), "hierarchy": (True, "auto")}
    variants.update({f"hierarchy@{e}": (True, e) for e in args.energies if e != "auto"})
    if args.variants:
        variants = {k: v for k, v in variants.items() if k in args.variants}
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_before": loadavg(), "degree": args.degree,
           "test_masks": test, "keys": args.keys, "energies": args.energies, "argv": sys.argv[1:], "rows": []}
    for name, make in tasks().items():
        if args.tasks and not any(name.startswith(t) for t in args.tasks):
            continue
        f = make()
        x = uniform_masks(5, pool + test, f.n)
        t0 = time.perf_counter()
        y = _values(f, x, name, args.values_cache)
        print(f"{name}: n={f.n}, {pool + test} values in {time.perf_counter() - t0:.0f} s", flush=True)
        xt, yt = x[pool:], y[pool:]
        for b in args.budgets:
            row = {"task": name, "n": f.n, "samples": b}
            for label, (h, energy) in variants.items():
                r2s, secs, terms = [], [], []
                for key in range(args.keys):
                    t0 = time.perf_counter()
                    r = proxyspex(f, f.n, budget=0, samples=(x[:b], y[:b]), max_degree=args.degree, key=key,
                                  hierarchy=h, energy=energy)
                    secs.append(time.perf_counter() - t0)
                    r2s.append(round(float(r2_score(yt, r.predict(xt))), 4))
                    terms.append(r.meta["kept_terms"])
                    if key == 0:
                        step = r.meta["hierarchy"]
                row[label] = {"r2": round(float(np.mean(r2s)), 4), "terms": terms[0],
                              "s": round(float(np.mean(secs)), 2), "step": step}
                if args.keys > 1:
                    row[label] |= {"r2_keys": r2s, "terms_keys": terms}
            out["rows"].append(row)
            print(json.dumps(row), flush=True)
    out["load_after"] = loadavg()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    L = ["# ProxySPEX on real value functions: the hierarchy step", "",
         f"Date {out['date']}, load before/after {out['load_before']} / {out['load_after']}. "
         f"`max_degree={args.degree}`, LightGBM proxy, key 0. R^2 on {test} fresh uniform masks; both variants "
         "get the same samples. Terms = kept Fourier terms (constant included).", "",
         "| value function | n | samples | R^2 without | terms | R^2 with hierarchy step | terms | added / dropped |",
         "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in out["rows"]:
        if "no_hierarchy" not in r or "hierarchy" not in r:
            continue  # a variant run (--variants): benchmarks/energy_holdout.py tabulates it
        a, b = r["no_hierarchy"], r["hierarchy"]
        step = b["step"] or {}
        L.append(f"| {r['task']} | {r['n']} | {r['samples']} | {a['r2']:.4f} | {a['terms']} | {b['r2']:.4f} "
                 f"| {b['terms']} | {step.get('grown', 0)} / {step.get('pruned', 0)} |")
    Path(os.path.splitext(args.out)[0] + ".md").write_text("\n".join(L) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()
