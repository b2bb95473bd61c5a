"""Data attribution on sklearn's digits: training throughput, LDS of ProxySPEX vs LASSO, synergy/redundancy figure.

1. Throughput: models trained per second by RetrainTask (all masks of a batch in one compiled program: stacked
   parameters, features-major GEMMs over models x points) vs the generic ``vmap`` of one training and a
   plain per-mask loop of the same training (same optax optimizer, init, loss and steps; one model at a time;
   a Python loop over a jitted single-model step: ``spexjax.data.train_reference``), in the same run, compile
   excluded (both warmed up first). A stronger single-model baseline is reported too: the whole fixed-step
   training of one model jitted as one program (``lax.scan``), called once per mask. Each trainer is timed
   once per round, rounds interleaved (the machine is shared: a single timing swings 2x with the load);
   best and median rounds are both reported, with the 1-minute load average.
2. LDS: M random halves of the training split are trained once (all test points at once); ProxySPEX and the
   LASSO datamodel are both fitted on the same M trainings per test point and scored by the Spearman
   correlation of predicted vs actual margins on H further held-out random halves.
3. Figure: the top synergistic / redundant sets (target class vs non-target) of three test points.

    python3 benchmarks/data_attribution.py [--n-train 1297] [--train 2000] [--held-out 500] [--tests 5]
    python3 benchmarks/data_attribution.py --throughput-only   # rerun section 1 only, keep 2-3
    python3 benchmarks/data_attribution.py --device   # section 1 alone on JAX's default device (GPU/TPU/CPU):
                                                      # results/data_attribution_<platform>.{json,md}

The throughput figure of merit is the batched trainer as a fraction of its GEMM floor (``gemm_floor``: only the
two GEMMs per step, the same models per round): how close it runs to the limit of the hardware for these
shapes, which does not depend on how slow the per-mask loop happens to be (target >= 0.75 on the CPU).
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
import jax.numpy as jnp
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


def throughput(X, y, xt, yt, *, steps: int, batch: int | None, loop_models: int, rounds: int, seed: int = 0) -> dict:
    """Models per second of each trainer, measured in ``rounds`` interleaved rounds (this 2-core machine is
    shared, so one timing swings 2x with the load): every round times each trainer once on fresh masks; the
    ratios are taken between the best rounds and between the median rounds of the same run."""
    task = RetrainTask(X, y, xt, yt, steps=steps, batch_size=batch)
    batch = task.batch_size  # None: the task's own default for this model
    sh = task._shared
    rng = np.random.default_rng(seed)
    warm = rng.random((batch, task.n)) < 0.5
    one = jax.jit(make_train_fn(sh["model"], sh["optimizer"], sh["X"], sh["y"], sh["x_test"], sh["y_test"],
                                steps=steps, l2=sh["l2"], seed=sh["seed"]))
    generic = jax.jit(jax.vmap(make_train_fn(sh["model"], sh["optimizer"], sh["X"], sh["y"], sh["x_test"],
                                             sh["y_test"], steps=steps, l2=sh["l2"], seed=sh["seed"])))
    w_warm = np.asarray(warm, np.float32)
    floor = _gemm_floor(sh["X"], batch, steps, int(sh["model"].apply(sh["model"].init(jax.random.PRNGKey(0)),
                                                                        sh["X"][:1]).shape[-1]))
    floor()
    # compile / warm up every trainer first
    task.margins(warm)
    train_reference(task, warm[0])
    np.asarray(one(w_warm[0]))
    np.asarray(generic(w_warm))
    times: dict[str, list[float]] = {k: [] for k in TRAINERS}
    counts = {"gemm_floor": 2 * batch, "batched": 2 * batch, "vmap_generic": 2 * batch, "per_mask_loop": loop_models,
              "per_mask_whole_jit": loop_models}
    diffs = {"loop": 0.0, "whole_jit": 0.0, "vmap_generic": 0.0}
    load = [os.getloadavg()[0]]
    for _ in range(rounds):
        masks = rng.random((2 * batch, task.n)) < 0.5
        t0 = time.perf_counter()
        vm = task.margins(masks)  # fresh masks: not in the cache
        times["batched"].append(time.perf_counter() - t0)
        w = np.asarray(masks, np.float32)
        t0 = time.perf_counter()
        gen = np.concatenate([np.asarray(generic(w[lo : lo + batch])) for lo in range(0, len(w), batch)])
        times["vmap_generic"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        ref = np.stack([train_reference(task, masks[i]) for i in range(loop_models)])
        times["per_mask_loop"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        whole = np.stack([np.asarray(one(w[i])) for i in range(loop_models)])
        times["per_mask_whole_jit"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        for _ in range(2):
            floor()
        times["gemm_floor"].append(time.perf_counter() - t0)
        diffs["loop"] = max(diffs["loop"], float(np.abs(vm[:loop_models] - ref).max()))
        diffs["whole_jit"] = max(diffs["whole_jit"], float(np.abs(vm[:loop_models] - whole).max()))
        diffs["vmap_generic"] = max(diffs["vmap_generic"], float(np.abs(vm - gen).max()))
        load.append(os.getloadavg()[0])
    out = {"n": int(task.n), "steps": steps, "batch_size": batch, "rounds": rounds,
           "load_average_1min": load, "max_abs_margin": float(np.abs(vm).max())}
    for k in TRAINERS:
        rates = [counts[k] / t for t in times[k]]
        out[k] = {"models_per_round": counts[k], "seconds": times[k], "models_per_s_best": max(rates),
                  "models_per_s_median": float(np.median(rates))}
    for k in ("per_mask_loop", "per_mask_whole_jit", "vmap_generic"):
        out[f"speedup_vs_{k}"] = {s: out["batched"][f"models_per_s_{s}"] / out[k][f"models_per_s_{s}"]
                                  for s in ("best", "median")}
    out["max_abs_diff"] = diffs
    out["loop_over_gemm_floor"] = {s: out["gemm_floor"][f"models_per_s_{s}"] / out["per_mask_loop"][f"models_per_s_{s}"]
                                   for s in ("best", "median")}
    out["fraction_of_gemm_floor"] = fraction_of_floor(out)
    return out


def fraction_of_floor(thr: dict) -> dict:
    """Batched trainer's models/s over the GEMM floor's (same models per round): best over best rounds,
    median over median rounds, and per round (both timed in the same round, so the load is shared)."""
    per_round = [f / b for f, b in zip(thr["gemm_floor"]["seconds"], thr["batched"]["seconds"], strict=True)]
    return {s: thr["batched"][f"models_per_s_{s}"] / thr["gemm_floor"][f"models_per_s_{s}"]
            for s in ("best", "median")} | {"per_round_median": float(np.median(per_round))}


def _gemm_floor(X, batch: int, steps: int, classes: int):
    """Only the two GEMMs a logistic step of ``batch`` models needs (forward ``(B*C, d) @ (d, n)``, backward
    ``(B*C, n) @ (n, d)``), ``steps`` times: a lower bound on the batched trainer's time, so
    ``gemm_floor / per_mask_loop`` bounds the reachable speed-up with every other op free."""
    n = X.shape[0]
    Xf = jnp.asarray(X.reshape(n, -1))
    XT = jnp.asarray(np.ascontiguousarray(np.asarray(Xf).T))
    scale = jnp.asarray(np.random.default_rng(1).random((batch * classes, n)), jnp.float32)

    @jax.jit
    def run():
        def step(W, _):
            return W - 1e-6 * (((W @ XT) * scale) @ Xf), None
        return jax.lax.scan(step, jnp.zeros((batch * classes, Xf.shape[1]), jnp.float32), None, length=steps)[0]

    return lambda: run().block_until_ready()


FLOOR_TARGET = 0.75  # batched trainer's models/s as a fraction of its GEMM floor's (issue 22; on the CPU)
TRAINERS = ("batched", "vmap_generic", "per_mask_loop", "per_mask_whole_jit", "gemm_floor")
TRAINER_TEXT = {
    "batched": "RetrainTask (all masks of a batch at once, stacked params, features-major GEMMs)",
    "vmap_generic": "jax.vmap of the single-model training (the previous trainer)",
    "per_mask_loop": "per-mask Python loop of a jitted single-model step (train_reference)",
    "per_mask_whole_jit": "per-mask call of the whole single-model training jitted (lax.scan)",
    "gemm_floor": "not a trainer: only the two GEMMs per step of the batched logistic trainer (forward and "
                  "backward over models x points), the floor of its time on this device",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-train", type=int, default=1297)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=None, help="models per compiled call (default: RetrainTask's)")
    ap.add_argument("--throughput-n", type=int, nargs="+", default=[200, 1297],
                    help="training-set sizes at which throughput is measured")
    ap.add_argument("--loop-models", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds per trainer")
    ap.add_argument("--train", type=int, default=2000, help="trainings (random halves) both datamodels fit on")
    ap.add_argument("--held-out", type=int, default=500)
    ap.add_argument("--tests", type=int, default=5)
    ap.add_argument("--max-degree", type=int, default=3)
    ap.add_argument("--figure-tests", type=int, nargs=3, default=[0, 1, 2])
    ap.add_argument("--out", default="data_attribution")
    ap.add_argument("--model", default="logistic", choices=["logistic", "mlp", "cnn"],
                    help="model retrained for the LDS and the figure (the throughput section is logistic)")
    ap.add_argument("--no-throughput", action="store_true",
                    help="skip section 1 (keeps the one already in --out's JSON, if any)")
    ap.add_argument("--throughput-only", action="store_true",
                    help="rerun only the throughput section; LDS and figure are kept from the existing JSON")
    ap.add_argument("--device", action="store_true",
                    help="throughput only, on JAX's default device (accelerator if present), batch size by "
                    "RetrainTask's default for that backend; writes data_attribution_<platform>.{json,md}")
    args = ap.parse_args()
    if args.device:
        return device_run(args)

    t_start = time.perf_counter()
    X, y, Xt, yt = load_digits_split(args.n_train)
    print("throughput ...", flush=True)
    thr_all = []
    for n_thr in [] if args.no_throughput else args.throughput_n:
        thr_all.append(throughput(X[:n_thr], y[:n_thr], Xt[: args.tests], yt[: args.tests], steps=args.steps,
                                  batch=args.batch, loop_models=args.loop_models, rounds=args.rounds))
        thr_all[-1]["tests"] = args.tests
        print(json.dumps(thr_all[-1], indent=1), flush=True)
    if args.throughput_only:
        with open(os.path.join(RESULTS, f"{args.out}.json")) as fh:
            doc = json.load(fh)
        doc["throughput"] = thr_all
        doc["throughput_command"] = "python3 " + " ".join(sys.argv)
        doc["throughput_date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        write(doc, args.out)
        return

    kept_throughput: dict = {}
    old_path = os.path.join(RESULTS, f"{args.out}.json")
    if args.no_throughput and os.path.exists(old_path):
        with open(old_path) as fh:
            old = json.load(fh)
        if old.get("throughput"):
            thr_all = old["throughput"]
            kept_throughput = {"throughput_command": old.get("throughput_command", old["command"]),
                               "throughput_date": old.get("throughput_date", old["date"])}
    print("LDS: training ...", flush=True)
    task = RetrainTask(X, y, Xt[: args.tests], yt[: args.tests], steps=args.steps, batch_size=args.batch,
                       model=args.model)
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
        # diagnostics: how much of the gap to LASSO is the interactions' doing, and is there any interaction
        # left once LASSO's additive model is taken out?
        p1 = spexjax.proxyspex(task.for_test(t), task.n, budget=0, samples=(masks[tr], margins[tr, t]),
                               max_degree=1, key=t).predict(masks[ho])
        ph = spexjax.proxyspex(task.for_test(t), task.n, budget=0, samples=(masks[tr], margins[tr, t]),
                               max_degree=args.max_degree, key=t, energy="holdout")
        resid = spexjax.proxyspex(task.for_test(t), task.n, budget=0, max_degree=args.max_degree, key=t,
                                  samples=(masks[tr], margins[tr, t] - la.predict(masks[tr])))
        row = {"test_point": t, "label": int(yt[t]), "full_margin": None,
               "lds_proxyspex": lds(p_px, actual), "lds_lasso": lds(p_la, actual),
               "r2_proxyspex": float(1 - np.var(actual - p_px) / np.var(actual)),
               "r2_lasso": float(1 - np.var(actual - p_la) / np.var(actual)),
               "terms_proxyspex": len(px), "order2plus_proxyspex": sum(len(s) >= 2 for s in px.mobius()[0]),
               "terms_lasso": len(la), "seconds_proxyspex": t_px, "seconds_lasso": t_la,
               "lds_proxyspex_degree1": lds(p1, actual),
               "lds_proxyspex_holdout": lds(ph.predict(masks[ho]), actual), "terms_proxyspex_holdout": len(ph),
               "residual_terms": sum(len(s) >= 1 for s in resid.mobius()[0]),
               "residual_order2plus": sum(len(s) >= 2 for s in resid.mobius()[0])}
        rows.append(row)
        results[t] = px
        print(row, flush=True)
    full = task.margins(np.ones((1, task.n), bool))[0]
    for r in rows:
        r["full_margin"] = float(full[r["test_point"]])
    summary = {"lds_proxyspex_mean": float(np.mean([r["lds_proxyspex"] for r in rows])),
               "lds_lasso_mean": float(np.mean([r["lds_lasso"] for r in rows])),
               "lds_proxyspex_degree1_mean": float(np.mean([r["lds_proxyspex_degree1"] for r in rows])),
               "lds_proxyspex_holdout_mean": float(np.mean([r["lds_proxyspex_holdout"] for r in rows]))}

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
    png = os.path.join(RESULTS, "data_sets.png" if args.out == "data_attribution" else f"{args.out}_sets.png")
    fig.savefig(png, dpi=90)

    doc = {
        "benchmark": "data_attribution",
        "command": "python3 " + " ".join(sys.argv),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "device": f"{jax.devices()[0].platform} ({platform.processor() or platform.machine()}, "
                  f"{os.cpu_count()} cores); jax {jax.__version__}",
        "dataset": f"sklearn load_digits, {task.n} training images, test points 0..{args.tests - 1}",
        "model": (f"logistic (softmax regression), adam lr 0.1, {args.steps} full-batch steps, l2 1e-3"
                  if args.model == "logistic" else
                  f"{args.model} (LDS and figure; throughput: logistic), adam lr 0.01, {args.steps} full-batch "
                  "steps, l2 1e-3"),
        "throughput": thr_all,
        **kept_throughput,
        "lds": {"train_trainings": args.train, "held_out_trainings": args.held_out, "max_degree": args.max_degree,
                "seconds_training": t_train, "rows": rows} | summary,
        "figure": {"path": os.path.relpath(png, os.path.join(RESULTS, "..", "..")), "test_points": args.figure_tests,
                   "sets": figure_sets},
        "seconds_total": time.perf_counter() - t_start,
    }
    write(doc, args.out)


def device_run(args) -> None:
    """Section 1 alone on the default device: nothing here is CPU-specific (the trainer, the floor and the
    loop all run through JAX), so the same code measures an accelerator; the output names the device."""
    X, y, Xt, yt = load_digits_split(args.n_train)
    dev = jax.devices()[0]
    thr_all = []
    for n_thr in args.throughput_n:
        thr_all.append(throughput(X[:n_thr], y[:n_thr], Xt[: args.tests], yt[: args.tests], steps=args.steps,
                                  batch=args.batch, loop_models=args.loop_models, rounds=args.rounds))
        thr_all[-1]["tests"] = args.tests
        fr = thr_all[-1]["fraction_of_gemm_floor"]
        print(f"n={n_thr}: batched {thr_all[-1]['batched']['models_per_s_best']:.1f} models/s, GEMM floor "
              f"{thr_all[-1]['gemm_floor']['models_per_s_best']:.1f} models/s, fraction {fr['best']:.2f} best / "
              f"{fr['median']:.2f} median", flush=True)
    out = args.out if args.out != "data_attribution" else f"data_attribution_{dev.platform}"
    doc = {"benchmark": "data_attribution --device", "command": "python3 " + " ".join(sys.argv),
           "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
           "device": f"{dev.platform} ({getattr(dev, 'device_kind', '?')}); host "
                     f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; jax {jax.__version__}",
           "model": f"logistic (softmax regression), adam lr 0.1, {args.steps} full-batch steps, l2 1e-3",
           "throughput": thr_all}
    write(doc, out)


def write(doc: dict, out: str) -> None:
    """The JSON and its Markdown rendering under benchmarks/results/."""
    with open(os.path.join(RESULTS, f"{out}.json"), "w") as fh:
        json.dump(doc, fh, indent=1)
    thr_all, lds_doc = doc["throughput"], doc.get("lds") or {}
    rows = lds_doc.get("rows", [])
    md = [f"# Data attribution on digits ({doc['date']})", "", f"Command: `{doc['command']}`  ",
          f"Device: {doc['device']}", ""]
    if "throughput_command" in doc:
        md += [f"Throughput section: `{doc['throughput_command']}` ({doc['throughput_date']}); LDS and figure from "
               "the command above.", ""]
    md += [f"Model: {doc.get('model', 'logistic')}", ""]
    if not thr_all:
        md += ["Throughput: not measured in this run (`--no-throughput`).", ""]
    if thr_all:
        md += ["## Models trained per second (same run, compile excluded)", "",
               "| n | trainer | models per round | rounds | models/s best | models/s median | load avg (1 min) |",
               "|---|---|---|---|---|---|---|"]
        for thr in thr_all:
            for k in TRAINERS:
                v = thr[k]
                md.append(f"| {thr['n']} | {k} | {v['models_per_round']} | {thr['rounds']} | "
                          f"{v['models_per_s_best']:.1f} | {v['models_per_s_median']:.1f} | "
                          f"{min(thr['load_average_1min']):.1f}-{max(thr['load_average_1min']):.1f} |")
        md.append("")
        md += [f"- `{k}`: {v}" for k, v in TRAINER_TEXT.items()]
        md.append("")
        for thr in thr_all:
            sp = thr["speedup_vs_per_mask_loop"]
            md.append(f"- n = {thr['n']}: batched vs per-mask loop (jitted single-model step) **{sp['best']:.1f}x** "
                      f"(best rounds; {sp['median']:.1f}x median rounds); vs whole single-model training jitted "
                      f"{thr['speedup_vs_per_mask_whole_jit']['best']:.1f}x; vs the generic vmap "
                      f"{thr['speedup_vs_vmap_generic']['best']:.1f}x ({thr['steps']} steps, "
                      f"batch {thr['batch_size']}, "
                      f"{thr.get('tests', '?')} test points; max |margin difference| vs loop "
                      f"{thr['max_abs_diff']['loop']:.1e}, vs generic vmap {thr['max_abs_diff']['vmap_generic']:.1e}, "
                      f"margins up to {thr['max_abs_margin']:.1f}). With every op but the two GEMMs free, the "
                      f"batched trainer could reach at most {thr['loop_over_gemm_floor']['best']:.1f}x the loop "
                      f"(gemm_floor / per_mask_loop, best rounds).")
        md += ["", "| n | batched / GEMM floor, best rounds | median rounds | median of per-round ratios | "
               f"target >= {FLOOR_TARGET:g} |", "|---|---|---|---|---|"]
        for t in thr_all:
            fr = t.get("fraction_of_gemm_floor") or fraction_of_floor(t)
            met = "met" if min(fr["best"], fr["median"]) >= FLOOR_TARGET else "not met"
            md.append(f"| {t['n']} | {fr['best']:.2f} | {fr['median']:.2f} | {fr['per_round_median']:.2f} | {met} |")
        md += ["", "The batched trainer as a fraction of the GEMM floor is the figure of merit (issue 22): the two "
               "GEMMs per step are the least any trainer of these models must compute, so 1.0 is the limit for "
               "these shapes on this device; the speed-up over the per-mask loop (above) depends on how slow "
               "the loop is and is kept for reference."]
    if not rows:
        with open(os.path.join(RESULTS, f"{out}.md"), "w") as fh:
            fh.write("\n".join(md) + "\n")
        print("\n".join(md))
        return
    md += ["",
           f"## LDS on {lds_doc['held_out_trainings']} held-out random halves, both fitted on the same "
           f"{lds_doc['train_trainings']} trainings", "",
           "| test | label | LDS ProxySPEX | LDS LASSO | R² ProxySPEX | R² LASSO | ProxySPEX terms (order>=2) "
           "| LDS ProxySPEX degree 1 | LDS ProxySPEX energy=holdout (terms) "
           "| ProxySPEX terms in LASSO's residual (order>=2) |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        md.append(f"| {r['test_point']} | {r['label']} | {r['lds_proxyspex']:.3f} | {r['lds_lasso']:.3f} | "
                  f"{r['r2_proxyspex']:.3f} | {r['r2_lasso']:.3f} | {r['terms_proxyspex']} "
                  f"({r['order2plus_proxyspex']}) | {r.get('lds_proxyspex_degree1', float('nan')):.3f} | "
                  f"{r.get('lds_proxyspex_holdout', float('nan')):.3f} ({r.get('terms_proxyspex_holdout', '-')}) | "
                  f"{r.get('residual_terms', '-')} ({r.get('residual_order2plus', '-')}) |")
    md += [f"| mean | | {lds_doc['lds_proxyspex_mean']:.3f} | {lds_doc['lds_lasso_mean']:.3f} | | | | "
           f"{lds_doc.get('lds_proxyspex_degree1_mean', float('nan')):.3f} | "
           f"{lds_doc.get('lds_proxyspex_holdout_mean', float('nan')):.3f} | |", "",
           f"ProxySPEX uses max_degree={lds_doc['max_degree']}; the last three columns: the same ProxySPEX limited "
           "to single points, the same with energy='holdout' (term count capped by the proxy's held-out rows), "
           "and the non-constant terms ProxySPEX finds in what LASSO leaves "
           "unexplained on the training rows (0 = no interaction stands out of the noise at this many trainings).",
           "", f"Figure: `{doc['figure']['path']}`.", ""]
    with open(os.path.join(RESULTS, f"{out}.md"), "w") as fh:
        fh.write("\n".join(md))
    print("\n".join(md))


if __name__ == "__main__":
    main()
