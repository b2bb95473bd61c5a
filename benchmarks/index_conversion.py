"""Conversion speed: recovered Fourier terms -> every interaction index, at the issue's scale.

What it measures: ``Interactions.index(name, order)`` on a fresh result (no cached conversions) for
``terms`` Fourier terms of degree <= ``degree`` at ``n`` features (default 5,000 terms, degree 5,
n = 10,000 -- the target is < 1 s per conversion), for every index and the orders 1, 2, 3 and 5; plus
``mobius_to_index`` from the Möbius closure (what shapiq's ``MoebiusConverter`` takes as input). With
shapiq installed and ``--reference``, shapiq's ``MoebiusConverter`` on the same Möbius coefficients is timed
too (one repetition; its values are checked against ours to 1e-8).

Function: ``spexjax.testing.random_sparse_fourier(n, terms, degree, key=seed)`` (degrees uniform 1..degree).
Timing: median of ``--reps`` wall-clock repetitions, ``time.perf_counter``, single process.

Usage:
  PYTHONPATH=. python3 benchmarks/index_conversion.py
  PYTHONPATH=. /opt/py312/bin/python benchmarks/index_conversion.py --reference   # + shapiq timings
Writes ``benchmarks/results/index_conversion.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ORDERS = (1, 2, 3, 5)
TARGET_S = 1.0


def _time(fn, reps: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--terms", type=int, default=5000)
    ap.add_argument("--degree", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--reference", action="store_true", help="also time shapiq's MoebiusConverter")
    ap.add_argument("--out", type=Path, default=RESULTS / "index_conversion.json")
    args = ap.parse_args(argv)

    from spexjax import Interactions
    from spexjax.indices import INDICES, mobius_to_index
    from spexjax.testing import random_sparse_fourier

    f = random_sparse_fourier(args.n, args.terms, args.degree, key=args.seed)
    base = Interactions(args.n, f.supports, f.coeffs)
    t_mob, (m_sup, m_coef) = _time(base.mobius, args.reps)
    rows = []
    for name in INDICES:
        for order in (1,) if name in ("SV", "BV") else ORDERS:

            def from_fourier(name=name, order=order):
                fresh = Interactions(args.n, f.supports, f.coeffs)  # no cached conversions
                fresh.padded_supports  # noqa: B018 - built by the engine's result too; not part of conversion
                t0 = time.perf_counter()
                out = fresh.index(name, order)
                return time.perf_counter() - t0, out

            times = [from_fourier()[0] for _ in range(args.reps)]
            _, out = from_fourier()
            t_m, _ = _time(lambda name=name, order=order: mobius_to_index(m_sup, m_coef, name, order), args.reps)
            row = {
                "index": name,
                "order": order,
                "outputs": len(out),
                "from_fourier_s": round(statistics.median(times), 5),
                "from_mobius_s": round(t_m, 5),
            }
            rows.append(row)
            print(f"{name:>7} order {order}: {row['outputs']:>7} values  from Fourier {row['from_fourier_s']:.4f} s"
                  f"  from Möbius {row['from_mobius_s']:.4f} s", flush=True)

    reference = None
    if args.reference:
        try:
            import shapiq
            from shapiq.game_theory.moebius_converter import MoebiusConverter
        except ImportError:
            print("shapiq not installed: no reference timings")
        else:
            mob = shapiq.InteractionValues(
                values=dict(zip(m_sup, m_coef.tolist(), strict=True)), index="Moebius", max_order=args.degree,
                min_order=0, n_players=args.n, baseline_value=float(dict(zip(m_sup, m_coef, strict=True))[()]),
            )
            reference = []
            for name, order in [("k-SII", 2), ("STII", 2), ("FSII", 2), ("FBII", 2), ("SV", 1), ("SII", 5)]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    iv = MoebiusConverter(mob)(name, order)
                    dt = time.perf_counter() - t0
                mine = base.index(name, order)
                skip = {()} if name in ("SII", "SV") else set()
                err = max(abs(mine.get(k, 0.0) - iv.interactions.get(k, 0.0))
                          for k in (set(mine) | set(iv.interactions)) - skip)
                reference.append({"index": name, "order": order, "shapiq_moebius_converter_s": round(dt, 4),
                                  "max_abs_diff": err})
                print(f"shapiq MoebiusConverter {name} order {order}: {dt:.3f} s (max |diff| {err:.1e})", flush=True)

    worst = max(max(r["from_fourier_s"], r["from_mobius_s"]) for r in rows)
    doc = {
        "benchmark": "index_conversion",
        "date": common.now_iso(),
        "what": "Interactions.index(name, order) (from Fourier) and mobius_to_index (from the Möbius closure)",
        "function": f"random_sparse_fourier(n={args.n}, num_terms={args.terms}, max_degree={args.degree}, "
                    f"key={args.seed})",
        "n": args.n, "terms": args.terms, "degree": args.degree, "mobius_terms": len(m_sup),
        "fourier_to_mobius_s": round(t_mob, 5),
        "reps": args.reps, "statistic": "median wall-clock seconds",
        "target_s": TARGET_S, "worst_s": round(worst, 5), "meets_target": worst < TARGET_S,
        "rows": rows, "shapiq_reference": reference,
        "env": {"cpu": common.cpu_info(), "loadavg": common.loadavg(),
                "versions": common.versions("numpy", "jax", "shapiq")},
        "command": "PYTHONPATH=. " + Path(sys.executable).name + " benchmarks/index_conversion.py "
                   + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"worst {worst:.4f} s (target < {TARGET_S} s); wrote {args.out}")
    return doc


if __name__ == "__main__":
    main()
