"""Data attribution on sklearn's digits: training throughput, LDS of ProxySPEX vs LASSO, synergy/redundancy figure.

1. Throughput: models trained per second by RetrainTask (all masks of a batch in one vmapped program) vs a
   plain per-mask loop of the same training (same optax optimizer, init, loss and steps; one model at a time;
   a Python loop over a jitted single-model step: ``spexjax.data.train_reference``), in the same run, compile
   excluded (both warmed up first). A stronger single-model baseline is reported too: the whole fixed-step
   training of one model jitted as one program (``lax.scan``), called once per mask.
2. LDS: M random halves of the training split are trained once (all test points at once); ProxySPEX and the
   LASSO datamodel are both fitted on the same M trainings per test point and scored by the Spearman
   correlation of predicted vs actual margins on H further held-out random halves.
3. Figure: the top synergistic / redundant sets (target class vs non-target) of three test points.

    python3 benchmarks/data_attribution.py [--n-train 1297] [--train 2000] [--held-out 500] [--tests 5]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time

import jax
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import spexjax  # noqa: E402
from spexjax.data import (  # noqa: E402
    RetrainTask,
    lasso_datamodel,
    lds,
    load_digits_split,
    plot_sets,
    split_sets,
    train_reference,
)
from spexjax.data.retrain import make_train_fn  # noqa: E402
from spexjax.proxyspex import uniform_masks  # noqa: E402

RESULTS = os.path.join(os.path.dirname(__file__), "results")


def throughput(X, y, xt, yt, *, steps: int, batch: int, loop_models: int, seed: int = 0) -> dict:
    task = RetrainTask(X, y, xt, yt, steps=steps, batch_size=batch)
    rng = np.random.default_rng(seed)
    warm = rng.random((batch, task.n)) < 0.5
    task.margins(warm)  # compile
    masks = rng.random((2 * batch, task.n)) < 0.5
    t0 = time.perf_counter()
    vm = task.margins(masks)
    t_vmap = time.perf_counter() - t0
    # per-mask loop of jitted single-model steps (the reference); warm it up on one mask first
    train_reference(task, warm[0])
    t0 = time.perf_counter()
    ref = np.stack([train_reference(task, masks[i]) for i in range(loop_models)])
    t_loop = time.perf_counter() - t0
    # stronger baseline: the whole single-model training as one jitted program, one call per mask
    sh = task._shared
    one = jax.jit(make_train_fn(sh["model"], sh["optimizer"], sh["X"], sh["y"], sh["x_test"], sh["y_test"],
                                steps=steps, l2=sh["l2"], seed=sh["seed"]))
    np.asarray(one(np.asarray(warm[0], np.float32)))
    t0 = time.perf_counter()
    whole = np.stack([np.asarray(one(np.asarray(masks[i], np.float32))) for i in range(loop_models)])
    t_whole = time.perf_counter() - t0
    return {
        "n": int(task.n), "steps": steps, "batch_size": batch,
        "vmapped": {"models": int(len(masks)), "seconds": t_vmap, "models_per_s": len(masks) / t_vmap},
        "per_mask_loop": {"models": loop_models, "seconds": t_loop, "models_per_s": loop_models / t_loop},
        "per_mask_whole_jit": {"models": loop_models, "seconds": t_whole, "models_per_s": loop_models / t_whole},
        "speedup_vs_loop": (len(masks) / t_vmap) / (loop_models / t_loop),
        "speedup_vs_whole_jit": (len(masks) / t_vmap) / (loop_models / t_whole),
        "max_abs_diff_vs_loop": float(np.abs(vm[:loop_models] - ref).max()),
        "max_abs_diff_vs_whole_jit": float(np.abs(vm[:loop_models] - whole).max()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=1297)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--throughput-n", type=int, nargs="+", default=[200, 1297],
                    help="training-set sizes at which throughput is measured")
    ap.add_argument("--loop-models", type=int, default=8)
    ap.add_argument("--train", type=int, default=2000, help="trainings (random halves) both datamodels fit on")
    ap.add_argument("--held-out", type=int, default=500)
    ap.add_argument("--tests", type=int, default=5)
    ap.add_argument("--max-degree", type=int, default=3)
    ap.add_argument("--figure-tests", type=int, nargs=3, default=[0, 1, 2])
    ap.add_argument("--out", default="data_attribution")
    args = ap.parse_args()

    t_start = time.perf_counter()
    X, y, Xt, yt = load_digits_split(args.n_train)
    print("throughput ...", flush=True)
    thr_all = []
    for n_thr in args.throughput_n:
        thr_all.append(throughput(X[:n_thr], y[:n_thr], Xt[: args.tests], yt[: args.tests], steps=args.steps,
                                  batch=args.batch, loop_models=args.loop_models))
        print(json.dumps(thr_all[-1], indent=1), flush=True)

    print("LDS: training ...", flush=True)
    task = RetrainTask(X, y, Xt[: args.tests], yt[: args.tests], steps=args.steps, batch_size=args.batch)
    masks = uniform_masks(1, args.train + args.held_out, task.n)
    t0 = time.perf_counter()
    margins = task.margins(masks)
    t_train = time.perf_counter() - t0
    tr, ho = slice(0, args.train), slice(args.train, None)
    rows, results = [], {}
    for t in range(args.tests):
        t0 = time.perf_counter()
        px = spexjax.proxyspex(task.for_test(t), task.n, budget=0, samples=(masks[tr], margins[tr, t]),
                               max_degree=args.max_degree, key=t, feature_names=task.feature_names)
        t_px = time.perf_counter() - t0
        t0 = time.perf_counter()
        la = lasso_datamodel(masks[tr], margins[tr, t], key=t)
        t_la = time.perf_counter() - t0
        actual = margins[ho, t]
        p_px, p_la = px.predict(masks[ho]), la.predict(masks[ho])
        row = {"test_point": t, "label": int(yt[t]), "full_margin": None,
               "lds_proxyspex": lds(p_px, actual), "lds_lasso": lds(p_la, actual),
               "r2_proxyspex": float(1 - np.var(actual - p_px) / np.var(actual)),
               "r2_lasso": float(1 - np.var(actual - p_la) / np.var(actual)),
               "terms_proxyspex": len(px), "order2plus_proxyspex": sum(len(s) >= 2 for s in px.mobius()[0]),
               "terms_lasso": len(la), "seconds_proxyspex": t_px, "seconds_lasso": t_la}
        rows.append(row)
        results[t] = px
        print(row, flush=True)
    full = task.margins(np.ones((1, task.n), bool))[0]
    for r in rows:
        r["full_margin"] = float(full[r["test_point"]])
    summary = {"lds_proxyspex_mean": float(np.mean([r["lds_proxyspex"] for r in rows])),
               "lds_lasso_mean": float(np.mean([r["lds_lasso"] for r in rows]))}

    print("figure ...", flush=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(21, 12), layout="constrained")
    subs = fig.subfigures(1, 3)
    figure_sets = {}
    for sub, t in zip(subs, args.figure_tests, strict=True):
        res = results[t] if t in results else spexjax.proxyspex(
            task.for_test(t), task.n, budget=0, samples=(masks[tr], margins[tr, t]), max_degree=args.max_degree, key=t)
        split = split_sets(res, y, int(yt[t]), k=2)
        figure_sets[t] = {kind: {g: [[list(s), a] for s, a in v] for g, v in d.items()} for kind, d in split.items()}
        plot_sets(X, y, Xt[t], int(yt[t]), split, fig=sub,
                  title=f"test {t} (y={int(yt[t])}, margin {full[t]:+.2f}): Möbius terms over {task.n} points")
    png = os.path.join(RESULTS, "data_sets.png")
    fig.savefig(png, dpi=90)

    doc = {
        "benchmark": "data_attribution",
        "command": "python3 " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device": f"{jax.devices()[0].platform} ({platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores); jax {jax.__version__}",
        "dataset": f"sklearn load_digits, {task.n} training images, test points 0..{args.tests - 1}",
        "model": f"logistic (softmax regression), adam lr 0.1, {args.steps} full-batch steps, l2 1e-3",
        "throughput": thr_all,
        "lds": {"train_trainings": args.train, "held_out_trainings": args.held_out, "max_degree": args.max_degree,
                "seconds_training": t_train, "rows": rows} | summary,
        "figure": {"path": "benchmarks/results/data_sets.png", "test_points": args.figure_tests, "sets": figure_sets},
        "seconds_total": time.perf_counter() - t_start,
    }
    with open(os.path.join(RESULTS, f"{args.out}.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
    md = [f"# Data attribution on digits ({doc['date']})", "", f"Command: `{doc['command']}`  ", f"Device: {doc['device']}",
          "", "## Models trained per second (same run, compile excluded)", "",
          "| trainer | models | seconds | models/s |", "|---|---|---|---|"]
    md[-2:] = ["| n | trainer | models | seconds | models/s |", "|---|---|---|---|---|"]
    for thr in thr_all:
        for k in ("vmapped", "per_mask_loop", "per_mask_whole_jit"):
            v = thr[k]
            md.append(f"| {thr['n']} | {k} | {v['models']} | {v['seconds']:.2f} | {v['models_per_s']:.2f} |")
    md.append("")
    for thr in thr_all:
        md.append(f"- n = {thr['n']}: vmapped vs per-mask loop (jitted single-model step) "
                  f"**{thr['speedup_vs_loop']:.1f}x**; vs whole single-model training jitted "
                  f"{thr['speedup_vs_whole_jit']:.1f}x ({thr['steps']} steps, batch {thr['batch_size']}, "
                  f"{args.tests} test points; max |margin difference| "
                  f"{thr['max_abs_diff_vs_loop']:.1e}).")
    md += ["",
           f"## LDS on {args.held_out} held-out random halves, both fitted on the same {args.train} trainings", "",
           "| test | label | LDS ProxySPEX | LDS LASSO | R² ProxySPEX | R² LASSO | ProxySPEX terms (order>=2) |",
           "|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['test_point']} | {r['label']} | {r['lds_proxyspex']:.3f} | {r['lds_lasso']:.3f} | "
                  f"{r['r2_proxyspex']:.3f} | {r['r2_lasso']:.3f} | {r['terms_proxyspex']} ({r['order2plus_proxyspex']}) |")
    md += [f"| mean | | {summary['lds_proxyspex_mean']:.3f} | {summary['lds_lasso_mean']:.3f} | | | |", "",
           "Figure: `benchmarks/results/data_sets.png`.", ""]
    with open(os.path.join(RESULTS, f"{args.out}.md"), "w") as fh:
        fh.write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
