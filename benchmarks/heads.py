"""Attention-head pruning: ProxySPEX vs LASSO (marginal) vs Best-of-N, and where the heads' spectrum sits.

The papers' experiment (Llama-3.1-8B on MMLU) scaled to what runs offline on a CPU: the embedded
all-MiniLM-L6-v2 (6 layers x 12 heads = 72 features) as a zero-shot topic classifier on the built-in
64-sentence task (:func:`spexjax.heads.topic_examples`), split 32 fit / 32 held out. Heads outside the kept set are
zeroed before the output projection and each layer's kept heads are rescaled by |H_l| / |S ∩ H_l|.

- value on the fit split: mean log-prob of the right topic (``--metric``; accuracy is also reported);
- ``--budget`` random head masks, shared by ProxySPEX (surrogate maximised exactly under the size constraint by
  ``Interactions.best_subset``) and LASSO (keep the heads with the largest coefficients); ``--sampling matched``
  (default) draws a third of them at each kept fraction (each head kept with that probability), ``uniform`` the
  papers' Bernoulli(1/2) masks (with those, the surrogate's maximisers predicted log-probs above 0, i.e. it
  extrapolated far outside the masks it saw: see ``heads_pruning_uniform.md``);
- Best-of-N: ``--best-of`` random subsets of exactly each size (default budget / 3 each, so its total matches);
- every chosen subset scored on the fit and held-out splits; the unpruned model as a line.

Writes ``benchmarks/results/heads_pruning{suffix}.{json,md,png}`` and ``heads_energy{suffix}.json``.

    python3 benchmarks/heads.py --budget 600                                   # matched sampling
    python3 benchmarks/heads.py --budget 600 --sampling uniform --suffix _uniform
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import cpu_info, loadavg, now_iso, versions  # noqa: E402

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=1200, help="uniform random head masks for ProxySPEX and LASSO")
    ap.add_argument("--best-of", type=int, default=None, help="random subsets per fraction (default budget/3)")
    ap.add_argument("--fractions", type=float, nargs="+", default=[0.5, 0.66, 0.83])
    ap.add_argument("--metric", choices=["logprob", "accuracy"], default="logprob")
    ap.add_argument("--max-degree", type=int, default=3)
    ap.add_argument("--time-limit", type=float, default=120.0, help="seconds per exact maximisation (fallback)")
    ap.add_argument("--sampling", choices=["uniform", "matched"], default="matched")
    ap.add_argument("--suffix", default="", help="appended to the result file names (e.g. _uniform)")
    ap.add_argument("--key", type=int, default=0)
    ap.add_argument("--cache", default=os.path.join("/tmp", "spexjax_heads_bench.sqlite"))
    ap.add_argument("--out", default=RESULTS)
    ap.add_argument("--summarize", nargs="+", metavar="JSON", help="only tabulate finished runs (one per seed)")
    args = ap.parse_args(argv)
    if args.summarize:
        os.makedirs(args.out, exist_ok=True)
        return summarize(args.summarize, os.path.join(args.out, "heads_pruning_seeds.md"))

    import numpy as np

    from spexjax.heads import HeadTask, MiniLMHeads, compare_strategies, energy_by_depth, topic_examples

    t0 = time.perf_counter()
    task = HeadTask(MiniLMHeads(), topic_examples(), metric=args.metric, heldout=0.5, key=args.key)
    rows, result, info = compare_strategies(
        task,
        budget=args.budget,
        fractions=tuple(args.fractions),
        best_of=args.best_of,
        max_degree=args.max_degree,
        time_limit=args.time_limit,
        sampling=args.sampling,
        key=args.key,
        cache=args.cache,
        batch_size=64,
    )
    energy = energy_by_depth(result, task.layers, task.heads)
    wall = time.perf_counter() - t0
    command = "python3 benchmarks/heads.py " + " ".join(argv if argv is not None else sys.argv[1:])
    header = {
        "benchmark": "heads_pruning",
        "date": now_iso(),
        "command": command.strip(),
        "device": cpu_info(),
        "loadavg_end": loadavg(),
        "versions": versions("jax", "numpy", "scipy", "scikit-learn", "lightgbm"),
        "model": "all-MiniLM-L6-v2 (embedded, JAX), 6 layers x 12 heads",
        "task": "built-in 4-topic zero-shot classification (spexjax.heads.topic_examples), 32 fit / 32 held out",
        "score": {"logprob": "mean log-prob of the right choice", "accuracy": "share right"}[args.metric],
        "wall_seconds": wall,
        **info,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, f"heads_pruning{args.suffix}.json"), "w") as fh:
        json.dump({"header": header, "rows": rows}, fh, indent=1)
    with open(os.path.join(args.out, f"heads_energy{args.suffix}.json"), "w") as fh:
        short = {k: header[k] for k in ("date", "command", "model", "task")}
        json.dump({"header": short, "rows": energy}, fh, indent=1)

    # --- verdict: ProxySPEX >= both baselines on the held-out score, per fraction
    by = {(r["kept_fraction"], r["strategy"]): r for r in rows}
    wins = []
    for f in args.fractions:
        p = by[(f, "proxyspex")]["test_score"]
        wins.append(p >= by[(f, "lasso")]["test_score"] and p >= by[(f, "best_of_n")]["test_score"])

    # --- Markdown
    un = info["unpruned"]
    md = [
        "# Attention-head pruning (ProxySPEX vs LASSO vs Best-of-N)",
        "",
        f"- date: {header['date']}; device: {header['device']['model']} ({header['device']['cores']} cores)",
        f"- command: `{header['command']}`; wall {wall:.0f} s",
        f"- {header['model']}; {header['task']}",
        f"- score (`*_score`): {header['score']}; ProxySPEX/LASSO masks: {args.budget} random ({args.sampling}); "
        f"Best-of-N: {info['best_of']} random subsets per fraction",
        f"- unpruned: fit {un['fit'][args.metric]:.4f} / held-out {un['test'][args.metric]:.4f} "
        f"(accuracy {un['fit']['accuracy']:.3f} / {un['test']['accuracy']:.3f})",
        f"- ProxySPEX: {info['proxyspex_terms']} Fourier terms; exact maximiser: "
        + ", ".join(f"{k}: {'exact' if v['exact'] else 'time limit'}" for k, v in info["optimum"].items()),
        "",
        "| kept | heads | strategy | fit score | held-out score | fit acc | held-out acc |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        md.append(
            f"| {r['kept_fraction']:.2f} | {r['kept']} | {r['strategy']} | {r['fit_score']:.4f} | "
            f"{r['test_score']:.4f} | {r['fit_accuracy']:.3f} | {r['test_accuracy']:.3f} |"
        )
    md += [
        "",
        f"ProxySPEX >= both baselines (held-out) at {sum(wins)} of {len(wins)} fractions.",
        "Held-out difference ProxySPEX - baseline (paired over the held-out examples, +- 1 standard error): "
        + "; ".join(f"{k}: {v['diff']:+.4f} +- {v['se']:.4f}" for k, v in info["paired_se"].items()),
        "",
        "## Spectral energy by depth (Fourier, non-constant)",
        "",
        "| group | layers | terms | linear | within-layer | across-layer |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for e in energy:
        if e["group"] == "spanning":
            md.append(f"\nTerms spanning early and late layers: {100 * e['share_of_total']:.1f} % of all energy.")
            continue
        md.append(
            f"| {e['group']} | {e['layers'][0]}-{e['layers'][1]} | {e['terms']} | {100 * e['linear']:.1f} % | "
            f"{100 * e['within_layer']:.1f} % | {100 * e['across_layer']:.1f} % |"
        )
    with open(os.path.join(args.out, f"heads_pruning{args.suffix}.md"), "w") as fh:
        fh.write("\n".join(md) + "\n")

    # --- figure
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    fr = np.array(args.fractions)
    for strat, mk in (("proxyspex", "o-"), ("lasso", "s--"), ("best_of_n", "^:")):
        ax.plot(100 * fr, [by[(f, strat)]["test_score"] for f in args.fractions], mk, label=strat)
    ax.axhline(un["test"][args.metric], color="k", lw=1, label="unpruned")
    ax.set_xlabel("heads kept (%)")
    ax.set_ylabel(f"held-out {args.metric}")
    ax.set_title("MiniLM head pruning (topic task, held-out)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, f"heads_pruning{args.suffix}.png"), dpi=120)
    print("\n".join(md))
    return 0


def summarize(paths: list[str], out: str) -> int:
    """One table over finished runs (e.g. one per ``--key``): held-out score per strategy, and the verdict."""
    lines = [
        "# Attention-head pruning over seeds (split and masks change with the key)",
        "",
        "Files: " + ", ".join(f"`{os.path.basename(p)}`" for p in paths),
        "",
        "| run | kept | proxyspex | lasso | best_of_n | unpruned | ProxySPEX - LASSO (+- SE) | >= both |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    total = wins = 0
    for path in paths:
        with open(path) as fh:
            doc = json.load(fh)
        h, rows = doc["header"], doc["rows"]
        by = {(r["kept_fraction"], r["strategy"]): r["test_score"] for r in rows}
        un = h["unpruned"]["test"][h["metric"]]
        for f in sorted({r["kept_fraction"] for r in rows}):
            p, la, bo = by[(f, "proxyspex")], by[(f, "lasso")], by[(f, "best_of_n")]
            se = h.get("paired_se", {}).get(f"{f}/lasso", {})
            ok = p >= la and p >= bo
            total, wins = total + 1, wins + ok
            lines.append(
                f"| {os.path.basename(path)} | {f:.2f} | {p:.4f} | {la:.4f} | {bo:.4f} | {un:.4f} | "
                f"{se.get('diff', float('nan')):+.4f} +- {se.get('se', float('nan')):.4f} | {'yes' if ok else 'no'} |"
            )
    lines += ["", f"ProxySPEX >= both baselines (held-out) in {wins} of {total} (run, fraction) cells."]
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
