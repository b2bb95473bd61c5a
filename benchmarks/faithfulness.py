"""Faithfulness study: SPEX and ProxySPEX against the marginal and Faith baselines on real value functions.

The papers' protocol (Kang et al. 2025, SPEX; Butler et al. 2025, ProxySPEX): faithfulness = R^2 of each
method's surrogate on 1,000 uniformly random held-out masks; every method gets the same number of queries
(SPEX's design size at b = 4, 6, 8; ProxySPEX and the baselines spend the same count on their own masks);
n buckets 8-16, 32-64, 128-256, 512-1024 where the model allows; mean and spread over explicands.

Value functions (all offline):
- ``sentiment``: the embedded MiniLM zero-shot sentiment (log-odds of "positive") over the words of a review
  (``spexjax.llm.PromptTask(MiniLMZeroShot, unit="word")``). Reviews are written below (REVIEW_SENTENCES); long
  reviews are concatenations of distinct sentences. MiniLM reads at most 512 tokens, so no 512-1024 bucket.
- ``relevance``: MiniLM cosine similarity between a query and a document made of sentences, units = sentences.
- ``retrain``: data attribution on sklearn's digits (``spexjax.data.RetrainTask``, softmax regression retrained
  on the kept training points, value = margin of one test image); n = training points (128 ... 1024).
- ``heads``: MiniLM attention heads (``spexjax.heads.HeadTask`` on its topic examples), n = 72.
- ``synthetic``: a random hierarchical sparse Möbius function (exact ground truth; for the test and --quick).

Also measured: the removal curve (remove the r = 1..10 units each method ranks most important -- interaction
methods by ``Interactions.best_subset`` of the surrogate, marginal ones by their first-order scores -- and
record the drop ``f(all) - f(kept)``), the queries each method needs to reach R^2 0.8 / 0.9 on the budget grid,
and the smallest ProxySPEX budget (fractions 1/16 .. 1 of SPEX's) whose R^2 matches SPEX's.

Every method's queries go through the engine's query runner with one SQLite cache per explicand, so a mask two
methods share (ProxySPEX, Banzhaf and Faith-Banzhaf draw the same uniform masks for a key; a smaller ProxySPEX
budget is a prefix of a larger one) is evaluated once; each method's ``queries`` still counts all its rows.

Run:  nice python3 benchmarks/faithfulness.py            (the full study, see FULL below)
      python3 benchmarks/faithfulness.py --quick         (a few minutes)

Issue 22's ``energy=`` side-by-side: ``--energies auto,holdout --proxy-keys 0,1,2`` also runs ProxySPEX at every
budget of its sweep once per energy and key (same cache, so the same masks cost nothing twice) and stores the
R^2s in each explicand's ``energy_cells`` (``--details`` file; ``benchmarks/energy_holdout.py`` tabulates them).
The study's own cells are unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402

METHODS = ("spex", "proxyspex", "lime", "kernel_shap", "banzhaf", "faith_banzhaf", "faith_shap")
INTERACTION_METHODS = ("spex", "proxyspex", "faith_banzhaf", "faith_shap")
MARGINAL_METHODS = ("lime", "kernel_shap", "banzhaf")
BUCKETS = ((8, 16), (32, 64), (128, 256), (512, 1024))
FAITH_ORDER = 2
FAITH_MAX_TERMS = 2500  # order-2 Faith fits only where sum_{j<=2} C(n, j) <= this ("where tractable")
FAITH_ROWS_PER_TERM = 2  # ... and where the budget pays at least 2 rows per coefficient: with about one row per
# coefficient the least-squares fit interpolates its samples (n = 58, 1,712 coefficients on 1,728 rows: R² -9.6)
PROXY_FRACTIONS = (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1)
REMOVALS = 10
Y_FLOOR = -0.5  # the figure's lowest R²; values below are drawn at the floor with their value written beside
STANDING_NOTES = (
    "Deviation from the papers' protocol: the default run uses SPEX's design at b = 4 only (`--b 4,6,8` runs the "
    "rest). On this 2-core CPU a MiniLM row costs 5-100 ms and a retraining row 5-40 ms, so b = 6 (4x the queries) "
    "for every method and explicand does not fit the hour the study is sized for. At b = 4 SPEX has 16 bins per "
    "group, too few for the dense spectra of the real functions at n >= 32: that is where SPEX falls behind the "
    "marginal baselines, and ProxySPEX (same uniform masks as Banzhaf) carries the comparison.",
    "KernelSHAP's surrogate is the additive model of its Shapley estimates. With ~2,000 samples drawn mostly at "
    "extreme coalition sizes (the Shapley kernel) and n >= 128, the estimates are noisy and their sum over the "
    "~n/2 features kept by a uniform mask lands far from f: hence R² far below 0 on the retraining task. It is an "
    "estimator of SV, not a faithful surrogate on uniform masks.",
    "'Queries to reach R² 0.8 / 0.9' tries only each cell's one design size. The ProxySPEX-match column tries "
    "1/16 .. 1 of SPEX's budget: 8.0x means 1/8 of SPEX's queries already matched and 1/16 did not; 16x is the "
    "most the grid can show.",
    "No language-model backend (Hugging Face, endpoint) explicands: no such model is available offline here and "
    "no GPU machine was lent to this task.",
)

# -- texts (written for this study; each sentence distinct) ------------------------------------------------
SHORT_REVIEWS = [
    "The acting was wonderful but the story felt painfully slow and predictable.",
    "Not bad at all, honestly one of the better sequels I have seen.",
    "I wanted to love this film, yet the ending ruined everything for me.",
    "Great soundtrack, terrible dialogue, and a lead actor who never seems awake.",
    "A charming little movie that never pretends to be more than it is.",
    "The plot is thin but the jokes land and the cast clearly had fun.",
]
REVIEW_SENTENCES = [
    "I went in expecting very little from this film.",
    "The opening scene is genuinely beautiful and sets a calm mood.",
    "Sadly the script loses its way somewhere in the second act.",
    "The lead actress gives a warm and believable performance.",
    "Her co-star, on the other hand, seems bored in almost every scene.",
    "The music swells at all the wrong moments.",
    "There is one twist that I honestly did not see coming.",
    "It is not a great movie, but it is far from a bad one.",
    "The dialogue is often clumsy and sometimes unintentionally funny.",
    "Still, the final twenty minutes are tense and well edited.",
    "My friends left the theater arguing about the ending, which is a good sign.",
    "The special effects look cheap next to recent blockbusters.",
    "I would not pay full price, but it is worth a rental.",
    "The director clearly loves these characters.",
    "Some jokes fall flat while others made the whole room laugh.",
    "The pacing drags whenever the villain is off screen.",
    "Overall I left the cinema happier than I arrived.",
    "The cinematography alone makes it worth watching on a big screen.",
    "Nothing about the story is original, yet it never feels stale.",
    "The child actors are surprisingly good.",
]
RELEVANCE_QUERY = "How do I keep my tomato plants healthy in hot weather?"
DOCUMENT_SENTENCES = [
    "Tomatoes need deep watering at the base early in the morning.",
    "A layer of straw mulch keeps the soil cool and moist.",
    "The city council voted on a new parking plan last week.",
    "Shade cloth can protect plants during the hottest afternoons.",
    "Blossom drop is common when nights stay above twenty five degrees.",
    "My neighbour recently adopted a very loud puppy.",
    "Avoid fertilising heavily during a heat wave.",
    "Basil grows well next to tomatoes and likes the same conditions.",
    "The football season starts in late August this year.",
    "Check the leaves for spider mites, which thrive in dry heat.",
    "Containers dry out quickly and may need water twice a day.",
    "Pruning a few lower leaves improves air flow around the stems.",
    "The bakery on the corner sells excellent sourdough.",
    "Harvest fruit when it starts to colour to reduce cracking.",
    "Drip irrigation delivers water evenly without wetting the foliage.",
    "Our train was delayed by an hour on the way home.",
]


def _sentiment(n_lo: int, n_hi: int, count: int) -> list[tuple[str, Any]]:
    from spexjax.llm import MiniLMZeroShot, PromptTask

    backend = MiniLMZeroShot(("negative", "positive"))
    out = []
    if n_hi <= 16:
        texts = [t for t in SHORT_REVIEWS if n_lo <= len(t.split()) <= n_hi]
    else:
        texts, rng = [], np.random.default_rng(n_lo)
        while len(texts) < count:
            order = rng.permutation(len(REVIEW_SENTENCES))
            words: list[str] = []
            for i in order:
                nxt = REVIEW_SENTENCES[i].split()
                if len(words) + len(nxt) > n_hi:
                    break
                words += nxt
            if len(words) >= n_lo:
                texts.append(" ".join(words))
    for i, text in enumerate(texts[:count]):
        out.append((f"review{i}", PromptTask(backend, text, unit="word")))
    return out


def _relevance(n_lo: int, n_hi: int, count: int) -> list[tuple[str, Any]]:
    from spexjax.llm import MiniLMSimilarity, PromptTask

    backend = MiniLMSimilarity(RELEVANCE_QUERY)
    out, rng = [], np.random.default_rng(7)
    for i in range(count):
        k = int(rng.integers(n_lo, min(n_hi, len(DOCUMENT_SENTENCES)) + 1))
        docs = [DOCUMENT_SENTENCES[j] for j in rng.permutation(len(DOCUMENT_SENTENCES))[:k]]
        out.append((f"doc{i}", PromptTask(backend, docs)))
    return out


def _retrain(n_lo: int, n_hi: int, count: int) -> list[tuple[str, Any]]:
    from spexjax.data.datasets import load_digits_split
    from spexjax.data.retrain import RetrainTask

    X, y, Xt, yt = load_digits_split(n_lo)
    return [(f"test{j}", RetrainTask(X, y, Xt[j], yt[j], model="logistic")) for j in range(count)]


def _heads(n_lo: int, n_hi: int, count: int) -> list[tuple[str, Any]]:
    """MiniLM's 72 heads: the whole 64-sentence, 4-topic task ("topics"), then one task per topic (its 16
    sentences: which heads that topic leans on), so a study can ask for up to 5 value functions over the heads."""
    from spexjax.heads.backends import MiniLMHeads
    from spexjax.heads.examples import TOPICS, topic_examples
    from spexjax.heads.task import HeadTask

    backend = MiniLMHeads()
    examples = topic_examples()
    tasks = [("topics", HeadTask(backend, examples))]
    tasks += [(f"topic{i}", HeadTask(backend, [e for e in examples if e.answer == i])) for i in range(len(TOPICS))]
    return tasks[:count] if n_lo <= tasks[0][1].n <= n_hi or n_lo == 0 else []


def _synthetic(n_lo: int, n_hi: int, count: int) -> list[tuple[str, Any]]:
    from spexjax.testing import random_hierarchical_mobius

    n = n_hi
    out = []
    for i in range(count):
        f = random_hierarchical_mobius(n, 6, 3, key=100 + i)
        f.fingerprint = (lambda s=f"synthetic-hier(n={n},key={100 + i})": s)  # type: ignore[method-assign]
        out.append((f"key{100 + i}", f))
    return out


TASKS = {"sentiment": _sentiment, "relevance": _relevance, "retrain": _retrain, "heads": _heads,
         "synthetic": _synthetic}

# The full study: (task, bucket, explicands, SPEX b values). Sized for this shared 2-core VM (see the Markdown).
# relevance and heads are implemented (--tasks relevance,heads) but left out of the default run: at ~25-100 ms per
# MiniLM row on this shared VM their 1,000 held-out masks plus 4 designs do not fit the hour.
FULL = [
    ("sentiment", (8, 16), 2, (4,)),
    ("sentiment", (32, 64), 2, (4,)),
    ("retrain", (128, 256), 2, (4,)),
    ("retrain", (512, 1024), 2, (4,)),
    ("synthetic", (512, 1024), 2, (4,)),
]
QUICK = [
    ("synthetic", (8, 16), 2, (4,)),
    ("synthetic", (32, 64), 2, (4,)),
    ("sentiment", (8, 16), 1, (4,)),
]


def _bkey(name: str) -> int:
    return int(name.replace("n=", "").split("-")[0])


def bucket_name(bucket: tuple[int, int], n: int) -> str:
    for lo, hi in BUCKETS:
        if lo <= n <= hi:
            return f"{lo}-{hi}"
    return f"n={n}"


# -- one explicand ---------------------------------------------------------------------------------------
def r2(y: np.ndarray, p: np.ndarray) -> float:
    return _common.r2_score(y, p)


def run_method(method: str, vf: Any, n: int, budget: int, b: int, key: int, opts: dict) -> Any:
    import spexjax
    from spexjax import baselines

    if method == "spex":
        return spexjax.spex(vf, n, b=b, key=key, **opts)
    if method == "proxyspex":
        return spexjax.proxyspex(vf, n, budget=budget, key=key, **opts)
    fn = getattr(baselines, method)
    if method.startswith("faith"):
        return fn(vf, n, budget=budget, order=FAITH_ORDER, key=key, **opts)
    return fn(vf, n, budget=budget, key=key, **opts)


def faith_ok(n: int, budget: int) -> bool:
    from spexjax.baselines._regression import num_terms

    p = num_terms(n, min(FAITH_ORDER, n))
    return p <= FAITH_MAX_TERMS and FAITH_ROWS_PER_TERM * p <= budget


def removal_sets(method: str, res: Any, n: int) -> tuple[list[tuple[int, ...]], str]:
    """Units to remove for r = 1..R, and how they were ranked."""
    R = min(REMOVALS, n - 1)
    sets: list[tuple[int, ...]] = []
    if method in INTERACTION_METHODS and hasattr(res, "best_subset"):
        for r in range(1, R + 1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    kept = res.best_subset(n - r, maximize=False, time_limit=2.0)
            except Exception:  # noqa: BLE001 - fall back to first-order ranking for this method
                sets = []
                break
            sets.append(tuple(sorted(set(range(n)) - set(kept))))
        if sets:
            return sets, "best_subset (minimise the surrogate with n - r kept)"
    first = res.index("SV") if method == "kernel_shap" else res.index("Moebius", 1)
    scores = np.array([first.get((i,), 0.0) for i in range(n)])
    order = np.lexsort((np.arange(n), -scores))
    return [tuple(sorted(order[:r].tolist())) for r in range(1, R + 1)], "largest first-order score"


def explicand(task: str, name: str, vf: Any, bs: tuple[int, ...], args: argparse.Namespace,
              cache_dir: str) -> dict:
    from spexjax.plans import make_plan
    from spexjax.runs import QueryRunner

    n = int(vf.n)
    fp = f"faithfulness|{task}|{name}|{vf.fingerprint() or name}"
    db = os.path.join(cache_dir, f"{task}-{name}-{n}.sqlite")
    opts = {"cache": db, "fingerprint": fp, "progress": False}
    rng = np.random.default_rng(12345)
    X_test = rng.random((args.heldout, n)) < 0.5
    with QueryRunner(vf, n, **opts) as runner:
        y_test = runner.evaluate(X_test)
        y_full = float(runner.evaluate(np.ones((1, n), bool))[0])
    out: dict[str, Any] = {"task": task, "explicand": name, "n": n, "cells": [], "removal": {}, "proxy_sweep": []}
    largest: dict[str, Any] = {}
    for b in bs:
        plan = make_plan(n, None, 5, b=b)
        budget = plan.groups * (plan.P + 1) * (1 << plan.b)
        for method in METHODS:
            if method.startswith("faith") and not faith_ok(n, budget):
                continue
            t0 = time.perf_counter()
            res = run_method(method, vf, n, budget, b, args.key, opts)
            sec = time.perf_counter() - t0
            cell = {"b": b, "budget": budget, "method": method, "queries": int(res.queries),
                    "r2": r2(y_test, res.predict(X_test)), "seconds": round(sec, 2), "terms": len(res)}
            out["cells"].append(cell)
            largest[method] = res
            print(f"  {task}/{name} n={n} b={b} {method:14s} q={res.queries:6d} R2={cell['r2']:.3f} "
                  f"({sec:.1f}s)", flush=True)
        # ProxySPEX at fractions of SPEX's budget (prefixes of the same uniform draw: cache hits)
        spex_r2 = next(c["r2"] for c in out["cells"] if c["b"] == b and c["method"] == "spex")
        for frac in args.fractions[:-1]:
            m = max(16, int(budget * frac))
            res = run_method("proxyspex", vf, n, m, b, args.key, opts)
            out["proxy_sweep"].append({"b": b, "spex_budget": budget, "spex_r2": spex_r2, "budget": m,
                                       "r2": r2(y_test, res.predict(X_test))})
        full = next(c for c in out["cells"] if c["b"] == b and c["method"] == "proxyspex")
        out["proxy_sweep"].append({"b": b, "spex_budget": budget, "spex_r2": spex_r2, "budget": budget,
                                   "r2": full["r2"]})
    # energy= side by side (--energies / --proxy-keys): every sweep budget, every energy and key
    if len(args.energies) > 1 or args.proxy_keys != [args.key]:
        out["energy_cells"] = []
        for b in bs:
            plan = make_plan(n, None, 5, b=b)
            budget = plan.groups * (plan.P + 1) * (1 << plan.b)
            for frac in args.fractions:
                m = budget if frac == 1 else max(16, int(budget * frac))
                for energy in args.energies:
                    for key in args.proxy_keys:
                        res = run_method("proxyspex", vf, n, m, b, key, {**opts, "energy": energy})
                        out["energy_cells"].append({"b": b, "budget": m, "fraction": frac, "energy": energy,
                                                    "key": key, "r2": r2(y_test, res.predict(X_test)),
                                                    "terms": len(res)})
                print(f"  {task}/{name} n={n} energy side by side at {m} queries: " + ", ".join(
                    f"{c['energy']}/{c['key']} {c['r2']:.3f}" for c in out["energy_cells"] if c["budget"] == m
                    and c["b"] == b), flush=True)
    # removal curve at the largest budget
    masks, owners = [], []
    for method, res in largest.items():
        sets, how = removal_sets(method, res, n)
        out["removal"][method] = {"ranking": how, "removed": [list(s) for s in sets]}
        for s in sets:
            row = np.ones(n, bool)
            row[list(s)] = False
            masks.append(row)
            owners.append(method)
    if masks:
        with QueryRunner(vf, n, **opts) as runner:
            vals = runner.evaluate(np.array(masks))
        for method in largest:
            v = [float(y_full - x) for x, o in zip(vals, owners, strict=True) if o == method]
            out["removal"][method]["drop"] = v
    return out


# -- aggregation and outputs -----------------------------------------------------------------------------
def aggregate(results: list[dict]) -> list[dict]:
    groups: dict[tuple, list] = {}
    for ex in results:
        nb = bucket_name((0, 0), ex["n"])
        for c in ex["cells"]:
            groups.setdefault((ex["task"], nb, c["method"], c["b"]), []).append((c, ex["n"]))
    rows = []
    for (task, nb, method, b), items in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][3],
                                                                                 METHODS.index(kv[0][2]))):
        r = np.array([c["r2"] for c, _ in items])
        rows.append({
            "task": task, "n_bucket": nb, "method": method, "budget": int(round(np.mean([c["budget"] for c, _ in
                                                                                         items]))),
            "b": b, "r2_mean": float(r.mean()), "r2_std": float(r.std(ddof=1)) if len(r) > 1 else 0.0,
            "explicands": len(r), "n_values": sorted({n for _, n in items}),
            "queries_mean": float(np.mean([c["queries"] for c, _ in items])),
            "seconds_mean": float(np.mean([c["seconds"] for c, _ in items])),
        })
    return rows


def thresholds(rows: list[dict]) -> list[dict]:
    out = []
    keys = sorted({(r["task"], r["n_bucket"], r["method"]) for r in rows})
    for task, nb, method in keys:
        cells = sorted((r for r in rows if (r["task"], r["n_bucket"], r["method"]) == (task, nb, method)),
                       key=lambda r: r["budget"])
        entry = {"task": task, "n_bucket": nb, "method": method}
        for t in (0.8, 0.9):
            hit = next((r["budget"] for r in cells if r["r2_mean"] >= t), None)
            entry[f"queries_to_r2_{t}"] = hit
        entry["budgets_tried"] = [r["budget"] for r in cells]
        out.append(entry)
    return out


def proxy_match(results: list[dict]) -> list[dict]:
    groups: dict[tuple, list] = {}
    for ex in results:
        for s in ex["proxy_sweep"]:
            groups.setdefault((ex["task"], bucket_name((0, 0), ex["n"]), s["b"]), []).append(s)
    out = []
    for (task, nb, b), items in sorted(groups.items()):
        spex_r2 = float(np.mean([s["spex_r2"] for s in items if s["budget"] == s["spex_budget"]]))
        spex_budget = int(round(np.mean([s["spex_budget"] for s in items])))
        by_frac: dict[float, list] = {}
        for s in items:
            by_frac.setdefault(round(s["budget"] / s["spex_budget"], 4), []).append(s["r2"])
        curve = sorted((f, float(np.mean(v))) for f, v in by_frac.items())
        hit = next((f for f, v in curve if v >= spex_r2), None)
        out.append({"task": task, "n_bucket": nb, "b": b, "spex_budget": spex_budget, "spex_r2": spex_r2,
                    "proxyspex_curve": [{"fraction": f, "budget": int(round(f * spex_budget)), "r2": v}
                                        for f, v in curve],
                    "proxyspex_budget_to_match": None if hit is None else int(round(hit * spex_budget)),
                    "ratio": None if hit is None else round(1 / hit, 2)})
    return out


def acceptance(rows: list[dict]) -> list[str]:
    """Acceptance 3: per (task, bucket, budget), best of SPEX/ProxySPEX vs the best marginal baseline."""
    lines = []
    cells = sorted({(r["task"], r["n_bucket"], r["budget"]) for r in rows}, key=lambda c: (c[0], _bkey(c[1]), c[2]))
    for task, nb, budget in cells:
        here = {r["method"]: r["r2_mean"] for r in rows if (r["task"], r["n_bucket"], r["budget"]) == (task, nb,
                                                                                                       budget)}
        ours = max(here.get("spex", -np.inf), here.get("proxyspex", -np.inf))
        marg = {m: here[m] for m in MARGINAL_METHODS if m in here}
        best_m = max(marg, key=marg.get)
        ok = ours >= marg[best_m]
        lines.append(f"| {task} | {nb} | {budget} | {ours:.3f} | {best_m} {marg[best_m]:.3f} | "
                     f"{'yes' if ok else '**no**'} |")
    return lines


def figure(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = sorted({r["task"] for r in rows})
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.6), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        sub = [r for r in rows if r["task"] == task]
        bmin = {}
        for r in sub:  # the smallest budget (b) of each bucket: every bucket has it
            bmin[r["n_bucket"]] = min(bmin.get(r["n_bucket"], 99), r["b"])
        buckets = sorted(bmin, key=_bkey)
        for method in METHODS:
            pts = [(buckets.index(r["n_bucket"]), r["r2_mean"], r["r2_std"]) for r in sub
                   if r["method"] == method and r["b"] == bmin[r["n_bucket"]]]
            if not pts:
                continue
            pts.sort()
            x, y, e = map(np.array, zip(*pts, strict=True))
            # R² far below 0 (KernelSHAP's extrapolation) would squash every other line: clip and label it
            low = y < Y_FLOOR
            line = ax.errorbar(x, np.maximum(y, Y_FLOOR), yerr=np.where(low, 0, e), marker="o", capsize=3,
                               label=method, linestyle="-" if method in INTERACTION_METHODS else "--")
            for xi, yi in zip(x[low], y[low], strict=True):
                ax.annotate(f"{yi:.3g}", (xi, Y_FLOOR), textcoords="offset points", xytext=(4, 4), fontsize=7,
                            color=line[0].get_color())
        ax.set_xticks(range(len(buckets)), buckets)
        ax.set_xlabel("n (units)")
        ax.set_title(f"{task} (budget = SPEX b={min(bmin.values())} design)")
        ax.set_ylim(Y_FLOOR - 0.05, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("faithfulness R² (1,000 held-out masks)")
    axes[0][-1].legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(doc: dict) -> str:
    rows = doc["rows"]
    L = ["# Faithfulness: SPEX / ProxySPEX vs marginal and Faith baselines", "",
         f"- date: {doc['date']}", f"- device: {doc['device']}", f"- load average at start/end: "
         f"{doc['load_start']} / {doc['load_end']}", f"- command: `{doc['command']}`",
         f"- wall time: {doc['wall_seconds']:.0f} s", f"- tasks run: {', '.join(doc['tasks_run'])}",
         f"- tasks missing (not importable here): {', '.join(doc['tasks_missing']) or 'none'}", "",
         f"Faithfulness = R² of the method's surrogate on {doc['heldout']:,} uniform held-out masks "
         "(the same masks for every method); every method spends the same number of queries: SPEX's design "
         "size at the given b. Faith "
         f"indices at order {FAITH_ORDER} only where they have at most {FAITH_MAX_TERMS} coefficients and the "
         f"budget pays at least {FAITH_ROWS_PER_TERM} rows per coefficient. "
         "Mean ± sample std over explicands.", "",
         "| task | n bucket | n | b | budget | " + " | ".join(METHODS) + " | explicands |",
         "|---|---|---|---|---|" + "---|" * len(METHODS) + "---|"]
    cells = sorted({(r["task"], r["n_bucket"], r["b"]) for r in rows}, key=lambda c: (c[0], _bkey(c[1]), c[2]))
    for task, nb, b in cells:
        here = {r["method"]: r for r in rows if (r["task"], r["n_bucket"], r["b"]) == (task, nb, b)}
        any_r = next(iter(here.values()))
        vals = [f"{here[m]['r2_mean']:.3f} ± {here[m]['r2_std']:.3f}" if m in here else "–" for m in METHODS]
        L.append(f"| {task} | {nb} | {','.join(map(str, any_r['n_values']))} | {b} | {any_r['budget']} | "
                 + " | ".join(vals) + f" | {any_r['explicands']} |")
    L += ["", "## Acceptance 3: SPEX or ProxySPEX vs the best marginal baseline at equal budget", "",
          "| task | n bucket | budget | best of SPEX/ProxySPEX | best marginal | at least as faithful |",
          "|---|---|---|---|---|---|", *acceptance(rows), ""]
    L += ["## Queries ProxySPEX needs to match SPEX's R² (ProxySPEX at 1/16 .. 1 of SPEX's budget)", "",
          "| task | n bucket | b | SPEX budget | SPEX R² | ProxySPEX R² at 1/16, 1/8, 1/4, 1/2, 1 "
          "| ProxySPEX budget to match | ratio |", "|---|---|---|---|---|---|---|---|"]
    for p in doc["proxy_match"]:
        curve = ", ".join(f"{c['r2']:.3f}" for c in p["proxyspex_curve"])
        L.append(f"| {p['task']} | {p['n_bucket']} | {p['b']} | {p['spex_budget']} | {p['spex_r2']:.3f} | {curve} | "
                 f"{p['proxyspex_budget_to_match'] or 'not within 1x'} | "
                 f"{str(p['ratio']) + 'x' if p['ratio'] else '–'} |")
    L += ["", "## Queries to reach R² 0.8 / 0.9 (smallest budget of the grid with mean R² above; – = not reached)",
          "", "| task | n bucket | method | budgets tried | to 0.8 | to 0.9 |", "|---|---|---|---|---|---|"]
    for t in doc["thresholds"]:
        L.append(f"| {t['task']} | {t['n_bucket']} | {t['method']} | {t['budgets_tried']} | "
                 f"{t['queries_to_r2_0.8'] or '–'} | {t['queries_to_r2_0.9'] or '–'} |")
    L += ["", "## Removal curve (mean drop f(all) - f(r most important removed), largest budget)", "",
          "Interaction methods rank by `Interactions.best_subset(n - r, maximize=False)` of their surrogate; "
          "marginal ones by their first-order scores (SV for kernel_shap, slopes for lime/banzhaf).", "",
          "| task | n bucket | method | ranking | r=1 | r=3 | r=5 | r=10 |", "|---|---|---|---|---|---|---|---|"]
    for rc in doc["removal"]:
        d = rc["drop_mean"]
        pick = [f"{d[r - 1]:.3f}" if len(d) >= r else "–" for r in (1, 3, 5, 10)]
        L.append(f"| {rc['task']} | {rc['n_bucket']} | {rc['method']} | {rc['ranking']} | " + " | ".join(pick) + " |")
    L += ["", "## Notes", "", *(f"- {x}" for x in doc["notes"]), ""]
    return "\n".join(L)


def removal_summary(results: list[dict]) -> list[dict]:
    groups: dict[tuple, list] = {}
    how: dict[tuple, str] = {}
    for ex in results:
        for method, rc in ex["removal"].items():
            k = (ex["task"], bucket_name((0, 0), ex["n"]), method)
            groups.setdefault(k, []).append(rc.get("drop", []))
            how[k] = rc["ranking"]
    out = []
    for k, curves in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1], METHODS.index(kv[0][2]))):
        R = min(len(c) for c in curves)
        out.append({"task": k[0], "n_bucket": k[1], "method": k[2], "ranking": how[k],
                    "drop_mean": [float(np.mean([c[r] for c in curves])) for r in range(R)], "explicands": len(curves)})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small settings, a few minutes on a 2-core CPU")
    ap.add_argument("--tasks", default=None, help="comma-separated subset of " + ",".join(TASKS))
    ap.add_argument("--buckets", default=None, help="comma-separated subset of the buckets, e.g. 8-16,32-64")
    ap.add_argument("--explicands", type=int, default=None, help="override explicands per (task, bucket)")
    ap.add_argument("--b", default=None, help="override SPEX b values, e.g. 4,6")
    ap.add_argument("--proxy-fractions", default=None,
                    help="fractions of SPEX's budget for the ProxySPEX sweep (default 1/16,1/8,1/4,1/2,1)")
    ap.add_argument("--heldout", type=int, default=1000, help="held-out uniform masks (the papers: 1000)")
    ap.add_argument("--key", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--name", default="faithfulness", help="output file stem")
    ap.add_argument("--details", default=None, help="also write every explicand's cells to this JSON file")
    ap.add_argument("--energies", default="auto",
                    help="ProxySPEX energy= values run side by side over the sweep, e.g. auto,holdout")
    ap.add_argument("--proxy-keys", default=None, help="keys of that side-by-side (default: --key), e.g. 0,1,2")
    args = ap.parse_args(argv)
    args.energies = args.energies.split(",")
    if bad := set(args.energies) - {"auto", "holdout"}:
        ap.error(f"unknown energies {sorted(bad)}")
    args.proxy_keys = [int(k) for k in args.proxy_keys.split(",")] if args.proxy_keys else [args.key]
    args.fractions = sorted({*(float(x) for x in args.proxy_fractions.split(",")), 1.0}) if args.proxy_fractions \
        else PROXY_FRACTIONS

    t_start = time.perf_counter()
    load_start = _common.loadavg()
    config = QUICK if args.quick else FULL
    if args.tasks:
        want = args.tasks.split(",")
        bad = set(want) - set(TASKS)
        if bad:
            ap.error(f"unknown tasks {sorted(bad)}")
        config = [c for c in config if c[0] in want]
    if args.buckets:
        keep = set(args.buckets.split(","))
        config = [c for c in config if f"{c[1][0]}-{c[1][1]}" in keep]
    results: list[dict] = []
    run, missing, notes = [], [], []
    with tempfile.TemporaryDirectory(prefix="spexjax-faith-") as cache_dir:
        for task, bucket, count, bs in config:
            count = args.explicands or count
            bs = tuple(int(x) for x in args.b.split(",")) if args.b else bs
            try:
                exps = TASKS[task](bucket[0], bucket[1], count)
            except ImportError as err:
                missing.append(f"{task} ({err})")
                print(f"[skip] {task}: {err}", flush=True)
                continue
            if task not in run:
                run.append(task)
            print(f"{task} bucket {bucket}: {len(exps)} explicands, b={bs}", flush=True)
            for name, vf in exps:
                results.append(explicand(task, name, vf, bs, args, cache_dir))
    rows = aggregate(results)
    notes.append("Texts: short reviews, long reviews (concatenations of distinct sentences) and the relevance "
                 "document are written in this script; digits come with scikit-learn.")
    notes.append("MiniLM reads at most 512 tokens, so the text tasks stop at the 32-64 bucket; larger buckets come "
                 "from the retraining task (n = training points) and the synthetic function.")
    notes.extend(STANDING_NOTES)
    doc = {
        "date": _common.now_iso(), "device": _common.cpu_info(), "command": " ".join(
            ["python3", *map(shlex.quote, [os.path.relpath(__file__), *(argv if argv is not None else sys.argv[1:])])]),
        "load_start": load_start, "load_end": _common.loadavg(), "wall_seconds": time.perf_counter() - t_start,
        "tasks_run": run, "tasks_missing": missing, "heldout": args.heldout, "key": args.key,
        "rows": rows, "thresholds": thresholds(rows), "proxy_match": proxy_match(results),
        "removal": removal_summary(results), "notes": notes, "explicands": results,
        "versions": _common.versions("jax", "numpy", "lightgbm"),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.name}.json").write_text(json.dumps(rows, indent=1) + "\n")
    if args.details:
        Path(args.details).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    (out / f"{args.name}.md").write_text(markdown(doc))
    if rows:
        figure(rows, out / f"{args.name}.png")
    print(f"wrote {out / args.name}.{{json,md,png}} in {doc['wall_seconds']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
