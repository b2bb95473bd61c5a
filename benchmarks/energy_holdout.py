"""ProxySPEX ``energy="holdout"`` against the default ``"auto"``, cell by cell (issue 22, point 4).

Reads the side-by-side runs of the four benchmarks (each run with its ``--energies auto holdout`` option, several
keys per cell, same keys and samples for both energies) from ``benchmarks/results/energy_holdout/`` and writes
``benchmarks/results/energy_holdout.{json,md}``: per cell the default's mean R^2 over keys, holdout's, their
difference, the default's own run-to-run spread (max - min of its R^2 over the keys, at least ``SPREAD_FLOOR``)
and a verdict:

- ``holdout loses``: holdout's mean is below the default's by more than the spread;
- ``holdout wins``:  above it by more than the spread (the default kept terms that do not generalise);
- ``tie``:           within the spread.

The rule of the issue: ``"holdout"`` becomes the default only if it loses nowhere and wins somewhere.

    PYTHONPATH=. python3 benchmarks/energy_holdout.py [--raw benchmarks/results/energy_holdout]

``--overfit`` also runs (and stores as ``noisy_additive.json``) a case where the default is known to overfit: a
dense, weak, additive function with noise (half of n = 200 features with Gaussian weights, noise sd 3 that is a
fixed function of the mask, like the margins of retrained models; ``tests/test_proxyspex.py`` has the same kind),
R^2 against the noise-free function on 2000 fresh masks. Its rows are shown apart and are not among the cells the
rule counts (the rule is about the four benchmarks); they show whether holdout is "better where the default
overfits".

The raw runs (commands in the Markdown; each file records its own argv, date and load):

    nice -n 5 python3 benchmarks/proxyspex.py --quick --no-reference --methods proxyspex_lgbm spexjax_lgbm \\
        --energies auto holdout --keys 3 --fourier-keys 3 --out benchmarks/results/energy_holdout/proxyspex.json
    nice -n 5 python3 benchmarks/proxyspex_real.py --energies auto holdout --variants hierarchy hierarchy@holdout \\
        --keys 3 --out benchmarks/results/energy_holdout/proxyspex_real.json
    nice -n 5 python3 benchmarks/proxy_compare.py --proxies lightgbm --energies auto holdout --keys 3 \\
        --out benchmarks/results/energy_holdout/proxy_compare.json
    nice -n 5 python3 benchmarks/faithfulness.py --quick --energies auto,holdout --proxy-keys 0,1,2 \\
        --out /tmp/faith --details benchmarks/results/energy_holdout/faithfulness_quick.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

SPREAD_FLOOR = 0.001  # R^2 differences below this are rounding (cells are stored to 4 decimals)
HERE = Path(__file__).resolve().parent


def _pair(bench: str, cell: str, auto: dict | list, hold: dict | list, terms=(None, None), extra=None) -> dict:
    """One table row from the default's and holdout's per-key R^2 lists (or cells holding ``r2_keys``)."""
    a = auto.get("r2_keys", [auto.get("r2")]) if isinstance(auto, dict) else list(auto)
    h = hold.get("r2_keys", [hold.get("r2")]) if isinstance(hold, dict) else list(hold)
    a, h = [float(v) for v in a], [float(v) for v in h]
    spread = max(float(np.max(a) - np.min(a)), SPREAD_FLOOR)
    diff = float(np.mean(h) - np.mean(a))
    verdict = "holdout loses" if diff < -spread else "holdout wins" if diff > spread else "tie"
    return {"benchmark": bench, "cell": cell, "default_r2": round(float(np.mean(a)), 4),
            "holdout_r2": round(float(np.mean(h)), 4), "diff": round(diff, 4), "spread": round(spread, 4),
            "default_keys": a, "holdout_keys": h, "keys": len(a), "verdict": verdict,
            "default_terms": terms[0], "holdout_terms": terms[1], **(extra or {})}


def _paired(rows: list[dict], tol: float = 0.01) -> dict:
    """Key by key (same key = same masks and proxy seed for both energies): how often holdout is above / below
    the default by more than ``tol``, the largest such gaps and the mean difference over all (cell, key) pairs."""
    d = [h - a for r in rows for a, h in zip(r["default_keys"], r["holdout_keys"], strict=False)]
    return {"pairs": len(d), "pairs_holdout_higher": sum(x > tol for x in d),
            "pairs_holdout_lower": sum(x < -tol for x in d), "pair_tol": tol,
            "largest_gain": round(max(d, default=0.0), 4), "largest_loss": round(min(d, default=0.0), 4),
            "mean_pair_diff": round(float(np.mean(d)) if d else 0.0, 4)}


def _terms(c: dict) -> str | None:
    t = c.get("terms_keys")
    return None if t is None else "/".join(str(int(v)) for v in t)


def from_proxyspex(data: dict) -> list[dict]:
    rows = []
    for r in data.get("fourier_10_terms_degree_3", []):
        a, h = r.get("spexjax_lgbm", {}), r.get("spexjax_lgbm@holdout", {})
        if "r2" in a and "r2" in h:
            rows.append(_pair("proxyspex.py", f"parity 10 terms deg 3, n={r['n']}, {r['budget']} q", a, h,
                              (a.get("terms"), h.get("terms"))))
    for r in data.get("hierarchical", []):
        a, h = r.get("proxyspex_lgbm", {}), r.get("proxyspex_lgbm@holdout", {})
        if "r2" in a and "r2" in h:
            rows.append(_pair("proxyspex.py", f"hierarchical key {r['fkey']}, n={r['n']}, {r['budget']} q", a, h,
                              (_terms(a), _terms(h))))
    return rows


def from_proxy_compare(data: dict) -> list[dict]:
    rows = []
    for p in data.get("proxies", ["lightgbm"]):
        for r in data.get("hierarchical", []):
            a, h = r.get(p), r.get(f"{p}@holdout")
            if a and h:
                rows.append(_pair("proxy_compare.py", f"{p}: hierarchical key {r['fkey']}, n={r['n']}, "
                                  f"{r['budget']} q", a, h, (_terms(a), _terms(h))))
        for r in data.get("fourier_10_terms_degree_3", []):
            a, h = r.get(p), r.get(f"{p}@holdout")
            if a and h:
                rows.append(_pair("proxy_compare.py", f"{p}: parity 10 terms deg 3, n={r['n']}, {r['budget']} q",
                                  a, h, (_terms(a), _terms(h))))
        for r in data.get("real", []):
            a, h = r.get(p), r.get(f"{p}@holdout")
            if a and h:
                rows.append(_pair("proxy_compare.py", f"{p}: {r['task']}, n={r['n']}, {r['samples']} samples",
                                  a, h, (_terms(a), _terms(h))))
    return rows


def from_proxyspex_real(data: dict) -> list[dict]:
    rows = []
    for r in data.get("rows", []):
        a, h = r.get("hierarchy"), r.get("hierarchy@holdout")
        if a and h:
            rows.append(_pair("proxyspex_real.py", f"{r['task']}, n={r['n']}, {r['samples']} samples", a, h,
                              (_terms(a), _terms(h))))
    return rows


def from_faithfulness(doc: dict) -> list[dict]:
    rows = []
    for ex in doc.get("explicands", []):
        cells = ex.get("energy_cells") or []
        for b, m in sorted({(c["b"], c["budget"]) for c in cells}):
            here = sorted((c for c in cells if c["b"] == b and c["budget"] == m), key=lambda c: c["key"])
            a, h = [c for c in here if c["energy"] == "auto"], [c for c in here if c["energy"] == "holdout"]
            if a and h:
                rows.append(_pair("faithfulness.py --quick", f"{ex['task']} {ex['explicand']}, n={ex['n']}, "
                                  f"{m} q (b={b} sweep)", [c["r2"] for c in a], [c["r2"] for c in h],
                                  ("/".join(str(c["terms"]) for c in a), "/".join(str(c["terms"]) for c in h))))
    return rows


def noisy_additive(n: int = 200, seed: int = 0):
    """The test suite's overfitting case (spexjax.testing.noisy_additive)."""
    from spexjax.testing import noisy_additive as make

    return make(n, seed)


def run_overfit(path: Path, budgets=(500, 1000, 2000), keys: int = 3, n: int = 200) -> None:
    """The noisy additive function at a few budgets, both energies, keys 0..K-1 (same masks per key)."""
    import time
    import warnings

    from _common import loadavg

    from spexjax.metrics import r2_score
    from spexjax.proxyspex import proxyspex, uniform_masks

    f = noisy_additive(n)
    xt = uniform_masks(99, 2000, n)
    yt = f(xt, noise=False)
    out = {"date": time.strftime("%Y-%m-%dT%H:%M:%S"), "load_before": loadavg(), "n": n, "max_degree": 3,
           "argv": ["--overfit"], "rows": []}
    for b in budgets:
        row = {"budget": b}
        for e in ("auto", "holdout"):
            r2s, terms = [], []
            for key in range(keys):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    r = proxyspex(f, n, budget=b, max_degree=3, key=key, energy=e)
                r2s.append(round(float(r2_score(yt, r.predict(xt))), 4))
                terms.append(len(r))
            row[e] = {"r2_keys": r2s, "terms_keys": terms}
        out["rows"].append(row)
        print(json.dumps(row), flush=True)
    out["load_after"] = loadavg()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n")


def from_noisy_additive(data: dict) -> list[dict]:
    return [_pair("overfit check (not in the rule)", f"noisy additive n={data['n']}, {r['budget']} q, "
                  f"max_degree {data['max_degree']}", r["auto"], r["holdout"],
                  (_terms(r["auto"]), _terms(r["holdout"]))) for r in data.get("rows", [])]


SOURCES = (("proxyspex.json", from_proxyspex), ("proxyspex_real.json", from_proxyspex_real),
           ("proxy_compare.json", from_proxy_compare), ("faithfulness_quick.json", from_faithfulness),
           ("noisy_additive.json", from_noisy_additive))
RULE_EXCLUDES = "overfit check (not in the rule)"


def markdown(doc: dict) -> str:
    s = doc["summary"]
    L = ["# ProxySPEX `energy=\"holdout\"` vs the default `\"auto\"` (issue 22, point 4)", "",
         "Each cell: the same value function, samples and keys for both energies; R^2 on the benchmark's own "
         "fresh masks, mean over the keys; spread = the default's own max - min over those keys (at least "
         f"{SPREAD_FLOOR}); verdict: *holdout loses* / *wins* when the mean difference is beyond the spread, "
         "else *tie*. Terms: kept Fourier terms per key (constant included).", "",
         f"**Summary (the four benchmarks):** {s['cells']} cells: holdout wins {s['wins']}, ties {s['ties']}, "
         f"loses {s['losses']}. Key by key ({s['pairs']} pairs, same masks): holdout higher by > {s['pair_tol']} "
         f"in {s['pairs_holdout_higher']}, lower by > {s['pair_tol']} in {s['pairs_holdout_lower']} (largest "
         f"gain {s['largest_gain']:+.4f}, largest loss {s['largest_loss']:+.4f}, mean {s['mean_pair_diff']:+.4f}). "
         f"The rule alone says: {doc['rule_says']}. **Decision: {doc['decision']}.**", ""]
    for run, t in doc.get("summary_by_run", {}).items():
        L.append(f"- {run}: {t['cells']} cells, wins {t['wins']}, ties {t['ties']}, loses {t['losses']}; key by key "
                 f"higher {t['pairs_holdout_higher']} / lower {t['pairs_holdout_lower']} of {t['pairs']} "
                 f"(largest loss {t['largest_loss']:+.4f}, mean {t['mean_pair_diff']:+.4f})")
    oc = doc.get("overfit_check", {})
    if oc.get("cells"):
        L.append(f"- overfit check (noisy additive, not in the rule): {oc['cells']} cells, wins {oc['wins']}, "
                 f"loses {oc['losses']}")
    L.append("")
    L += [doc.get("reason", ""), ""] if doc.get("reason") else []
    L += ["## Runs", ""]
    for r in doc["runs"]:
        L.append(f"- `{r['file']}`: `{r['command']}`; {r['when']}, load {r['load']}")
    L += ["", "Machine: " + doc.get("machine", "") + ". All runs niced (`nice -n 5`) next to two niced background "
          "model jobs on the same 2 cores: *under load* (R^2 does not depend on load; seconds are not compared).",
          ""]
    for bench in dict.fromkeys(r["benchmark"] for r in doc["rows"]):
        L += [f"## {bench}", "", "| cell | default R^2 | holdout R^2 | diff | spread | default terms | holdout terms "
              "| verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for r in (r for r in doc["rows"] if r["benchmark"] == bench):
            v = f"**{r['verdict']}**" if r["verdict"] != "tie" else "tie"
            L.append(f"| {r['cell']} | {r['default_r2']:.4f} | {r['holdout_r2']:.4f} | {r['diff']:+.4f} "
                     f"| {r['spread']:.4f} | {r['default_terms'] or '-'} | {r['holdout_terms'] or '-'} | {v} |")
        L.append("")
    losses = [r for r in doc["rows"] if r["verdict"] == "holdout loses"]
    if losses:
        L += ["## Cells where holdout loses", ""]
        L += [f"- {r['benchmark']}: {r['cell']}: {r['default_r2']:.4f} -> {r['holdout_r2']:.4f} "
              f"({r['diff']:+.4f}, spread {r['spread']:.4f})" for r in losses]
        L.append("")
    L += doc.get("notes_md", [])
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--raw", default=str(HERE / "results" / "energy_holdout"))
    ap.add_argument("--out", default=str(HERE / "results" / "energy_holdout.json"))
    ap.add_argument("--notes", default=None, help="JSON with 'decision', 'reason', 'machine', 'notes_md' (list)")
    ap.add_argument("--label", default="current", help="name of the --raw folder's runs in the summary")
    ap.add_argument("--extra", nargs="*", default=[],
                    help="more raw folders as DIR=LABEL (e.g. an earlier proxy's runs); their rows are labelled")
    ap.add_argument("--overfit", action="store_true", help="first run the noisy additive check (a few minutes)")
    args = ap.parse_args()
    if args.overfit:
        import sys

        sys.path.insert(0, str(HERE))
        sys.path.insert(0, str(HERE.parent))
        run_overfit(Path(args.raw) / "noisy_additive.json")
    rows, runs = [], []
    dirs = [(Path(args.raw), "")] + [(Path(e.split("=", 1)[0]), e.split("=", 1)[1]) for e in args.extra]
    for (folder, label), (name, fn) in ((d, s) for d in dirs for s in SOURCES):
        path = folder / name
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        got = fn(data)
        for r in got:
            r["benchmark"] += f" [{label}]" if label else ""
            r["run"] = label or args.label
        rows += got
        argv = data.get("argv") or (data.get("command", "").split()[2:] if data.get("command") else [])
        script = {"faithfulness_quick.json": "faithfulness.py", "noisy_additive.json": "energy_holdout.py"}.get(
            name, name.replace(".json", ".py"))
        runs.append({"file": str(path.relative_to(HERE / "results")) if path.is_relative_to(HERE / "results")
                     else str(path), "cells": len(got),
                     "command": "nice -n 5 python3 benchmarks/" + script + " " + " ".join(argv),
                     "when": data.get("date") or data.get("real_run", {}).get("date"),
                     "load": f"{data.get('load_before') or data.get('load_start')} -> "
                             f"{data.get('load_after') or data.get('load_end')}"})
    ruled = [r for r in rows if not r["benchmark"].startswith(RULE_EXCLUDES)]
    wins = sum(r["verdict"] == "holdout wins" for r in ruled)
    losses = sum(r["verdict"] == "holdout loses" for r in ruled)
    doc = {"rows": rows, "runs": runs, "spread_floor": SPREAD_FLOOR,
           "summary": {"cells": len(ruled), "wins": wins, "losses": losses, "ties": len(ruled) - wins - losses,
                       **_paired(ruled)},
           "overfit_check": {"cells": len(rows) - len(ruled),
                             "wins": sum(r["verdict"] == "holdout wins" for r in rows if r not in ruled),
                             "losses": sum(r["verdict"] == "holdout loses" for r in rows if r not in ruled)}}
    doc["summary_by_run"] = {}
    for run in dict.fromkeys(r["run"] for r in ruled):
        sub = [r for r in ruled if r["run"] == run]
        w, lo = sum(r["verdict"] == "holdout wins" for r in sub), sum(r["verdict"] == "holdout loses" for r in sub)
        doc["summary_by_run"][run] = {"cells": len(sub), "wins": w, "losses": lo, "ties": len(sub) - w - lo,
                                      **_paired(sub)}
    better = wins + doc["overfit_check"]["wins"] > 0  # "better where the default overfits": here or in the check
    doc["rule_says"] = "make holdout the default" if losses == 0 and better else "keep holdout opt-in"
    doc["decision"] = doc["rule_says"]
    if args.notes:
        doc |= json.loads(Path(args.notes).read_text())
    Path(args.out).write_text(json.dumps(doc, indent=1) + "\n")
    Path(args.out).with_suffix(".md").write_text(markdown(doc))
    print(f"{len(rows)} cells: wins {wins}, losses {losses}; rule: {doc['rule_says']}; wrote {args.out}")


if __name__ == "__main__":
    main()
