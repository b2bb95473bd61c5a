"""spexjax SPEX vs the reference SPEX (``shapiq.SPEX``) on the same synthetic functions, in one run.

What it measures, per cell (method, n, function, decoder):
  * queries  -- value-function rows the call actually evaluated (counted by the value function itself);
  * R^2      -- of the recovered surrogate on 2000 fresh uniform random masks, against the noise-free function;
  * cold s   -- wall time of the first call in a fresh process: JIT compilation / code construction included,
                module imports excluded (they are reported separately as "import s");
  * warm s   -- the identical call repeated in the same process;
  * peak RSS -- ``getrusage(RUSAGE_SELF).ru_maxrss`` of that process after both calls (imports included).

How: every cell runs in its own subprocess (``--child``), so "cold" is really cold and peak RSS is per cell. The
function is ``spexjax.testing.random_sparse_fourier(n, terms, degree, key=seed)``; the parent draws it once and
hands its supports/coefficients to the child, so both methods see exactly the same function and the reference's
process never imports JAX. Both methods get it as the same plain NumPy callable ``f(bool[m, n]) -> float[m]``
(shapiq's game signature). spexjax is additionally timed on the structured path (the ``SparseFourier``
``ValueFunction`` itself, which evaluates query blocks without building masks) as a separate, labelled row.

Reference: ``shapiq.SPEX(n, index="FBII", max_order=None, decoder_type=..., degree_parameter=t,
random_state=seed).approximate(budget, f)``. With ``max_order=None`` (= n) the Faithful Banzhaf index of full
order is the Möbius transform (checked exactly on a small function), so its predictions are
``f(x) = sum_{T subset kept(x)} v(T)`` over the returned interactions (the empty set included).
spexjax: ``spexjax.spex(f, n, budget=..., max_degree=t, decoder=..., key=seed)`` and ``result.predict``.

Noise section (``--noise-db``): Gaussian noise of variance ``sigma^2`` is added to every value, with
``SNR = 10 log10(Var_signal / sigma^2)`` and ``Var_signal`` the sum of the non-constant ``F(S)^2``;
soft and hard decoding are compared, R^2 against the noise-free function.

Usage (shapiq >= 1.8 needs Python >= 3.12):
  PYTHONPATH=. python3.12 benchmarks/spex_vs_reference.py                 # default grid, both methods
  PYTHONPATH=. python3.12 benchmarks/spex_vs_reference.py --quick         # one small cell
  PYTHONPATH=. python3.12 benchmarks/spex_vs_reference.py --noise-db 20  # plus the noise section
Writes ``benchmarks/results/spex_vs_reference{,_quick}.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
EVAL_MASKS = 2000
METHODS = ("spexjax", "spexjax-structured", "shapiq")

# shapiq SPEX numbers measured on this machine by the project lead (10-term deg-3 and 100-term deg-5 functions,
# budget 10,000, t = 5): (n, terms, degree) -> (cold s, warm s, peak RSS MB). Used only when no reference row
# was measured in this run (--skip-reference), and marked as such.
LEAD_REFERENCE = {
    (512, 10, 3): (26.0, 1.3, 600.0),
    (2048, 10, 3): (35.0, 4.0, 800.0),
    (8192, 10, 3): (54.0, 16.4, 1700.0),
    (512, 100, 5): (27.0, 4.6, None),
    (2048, 100, 5): (80.0, 42.0, None),
}


@dataclass(frozen=True)
class Cell:
    method: str
    n: int
    terms: int
    degree: int
    decoder: str
    budget: int
    t: int
    seed: int
    noise_db: float | None = None
    section: str = "main"

    @property
    def group(self) -> tuple:
        """Cells that ought to be compared with each other (same function, design and decoder)."""
        return (self.section, self.n, self.terms, self.degree, self.decoder, self.budget, self.t, self.noise_db)


# ------------------------------------------------------------------------------------------------------------
# child: one cell in a fresh process
# ------------------------------------------------------------------------------------------------------------


class Noisy:
    """Adds i.i.d. Gaussian noise ``N(0, sigma^2)`` to every value of a plain callable (fresh noise per row)."""

    def __init__(self, fn, sigma: float, seed: int):
        self.fn, self.sigma = fn, float(sigma)
        self.rng = np.random.default_rng(seed)

    def __call__(self, masks):
        y = self.fn(masks)
        return y + self.sigma * self.rng.standard_normal(y.shape[0])


def noise_sigma(coeffs: np.ndarray, supports: list, snr_db: float) -> float:
    var = float(sum(c * c for s, c in zip(supports, coeffs, strict=True) if len(s)))
    return float(np.sqrt(var / 10 ** (snr_db / 10.0)))


def run_child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    cell = Cell(**spec["cell"])
    supports = [tuple(s) for s in spec["supports"]]
    coeffs = np.asarray(spec["coeffs"], dtype=np.float64)
    out: dict = {"cell": asdict(cell), "load_start": common.loadavg(), "rss_start_mb": common.current_rss_mb()}

    clean = common.NumpyFourier(cell.n, supports, coeffs)
    fn = clean
    if cell.noise_db is not None:
        out["noise_sigma"] = noise_sigma(coeffs, supports, cell.noise_db)
        fn = Noisy(clean, out["noise_sigma"], seed=cell.seed + 101)

    compile_s: dict[str, float] | None = None  # JAX compile-event durations (spexjax children only)
    t0 = time.perf_counter()
    if cell.method.startswith("spexjax"):
        import jax

        import spexjax
        from spexjax.testing import random_sparse_fourier

        structured = random_sparse_fourier(cell.n, cell.terms, cell.degree, key=cell.seed)
        if [tuple(s) for s in structured.supports] != supports or not np.array_equal(structured.coeffs, coeffs):
            raise RuntimeError("random_sparse_fourier in the child differs from the parent's function")
        out["jax_backend"] = jax.default_backend()
        compile_s = {}

        def _on_duration(event: str, seconds: float, **_kw) -> None:
            if event.startswith("/jax/core/compile/"):
                key = event.rsplit("/", 1)[-1].removesuffix("_duration")
                compile_s[key] = compile_s.get(key, 0.0) + seconds

        jax.monitoring.register_event_duration_secs_listener(_on_duration)
        if cell.method == "spexjax-structured":
            if cell.noise_db is not None:
                raise ValueError("the structured path is benchmarked without noise only")
            fn = structured

        def call():
            return spexjax.spex(fn, cell.n, budget=cell.budget, max_degree=cell.t, decoder=cell.decoder, key=cell.seed)

    elif cell.method == "shapiq":
        import shapiq

        def call():
            approx = shapiq.SPEX(
                n=cell.n,
                index="FBII",
                max_order=None,
                decoder_type=cell.decoder,
                degree_parameter=cell.t,
                random_state=cell.seed,
            )
            return approx.approximate(cell.budget, fn)

    else:
        raise ValueError(f"unknown method {cell.method!r}")
    out["import_s"] = time.perf_counter() - t0
    out["rss_after_import_mb"] = common.current_rss_mb()

    runs = []
    for _ in range(2):
        if compile_s is not None:
            compile_s.clear()
        rows0 = clean.rows
        t1, c1 = time.perf_counter(), time.process_time()
        res = call()
        t2, c2 = time.perf_counter(), time.process_time()
        runs.append({"seconds": t2 - t1, "cpu_seconds": c2 - c1, "rows": clean.rows - rows0, "result": res})
        if compile_s is not None:  # JAX tracing + lowering + XLA compilation inside this call
            runs[-1]["jax_compile_s"] = dict(compile_s)
        runs[-1]["peak_rss_mb"] = common.peak_rss_mb()
    out["cold_s"], out["warm_s"] = runs[0]["seconds"], runs[1]["seconds"]
    out["cold_cpu_s"], out["warm_cpu_s"] = runs[0]["cpu_seconds"], runs[1]["cpu_seconds"]
    if compile_s is not None:
        out["jax_compile_cold"], out["jax_compile_warm"] = runs[0]["jax_compile_s"], runs[1]["jax_compile_s"]
    out["peak_rss_mb"] = runs[1]["peak_rss_mb"]
    out["peak_rss_after_cold_mb"] = runs[0]["peak_rss_mb"]
    res = runs[1]["result"]

    masks = np.random.default_rng(cell.seed + 7919).random((EVAL_MASKS, cell.n)) < 0.5
    y = clean(masks)
    if cell.method.startswith("spexjax"):
        pred = res.predict(masks)
        out["queries"] = int(res.queries)
        out["rows_seen_by_callable"] = runs[1]["rows"]
        out["terms_found"] = len(res)
        found = set(res.fourier()[0])
        out["true_supports_found"] = sum(s in found for s in supports)
        out["meta_cold"] = runs[0]["result"].meta
        out["meta_warm"] = res.meta
    else:
        values = res.dict_values
        pred = common.mobius_predict(values, masks)
        out["queries"] = runs[1]["rows"]
        out["estimation_budget"] = int(res.estimation_budget)
        out["terms_found"] = int(sum(v != 0.0 for v in values.values()))
        out["same_result_twice"] = bool(runs[0]["result"].dict_values == values)
    out["r2"] = common.r2_score(y, pred)
    out["jax_imported"] = "jax" in sys.modules
    out["load_end"] = common.loadavg()
    print("RESULT_JSON " + json.dumps(out, default=_jsonable), flush=True)


def _jsonable(o):
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


# ------------------------------------------------------------------------------------------------------------
# parent: grid, subprocesses, table
# ------------------------------------------------------------------------------------------------------------


def function_spec(n: int, terms: int, degree: int, seed: int) -> dict:
    from spexjax.testing import random_sparse_fourier

    f = random_sparse_fourier(n, terms, degree, key=seed)
    return {"supports": [list(s) for s in f.supports], "coeffs": f.coeffs.tolist()}


def run_cell(cell: Cell, timeout: float) -> dict:
    """Run one cell in a fresh subprocess; spexjax cells twice (see below)."""
    spec = {"cell": asdict(cell), **function_spec(cell.n, cell.terms, cell.degree, cell.seed)}
    with tempfile.TemporaryDirectory(prefix="spex_vs_reference-") as tmp:
        path = os.path.join(tmp, "spec.json")
        Path(path).write_text(json.dumps(spec))
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        if not cell.method.startswith("spexjax"):
            return _spawn(cell, path, env, timeout)
        # spexjax keeps compiled XLA programs on disk (spexjax/_jit_cache.py). "Cold" must be cold, so the
        # first process gets an empty cache folder of its own; a second fresh process then reuses that
        # folder, which is what a user's next script run sees ("cold, disk cache warm").
        env["SPEXJAX_CACHE_DIR"] = os.path.join(tmp, "xla")
        env.pop("SPEXJAX_COMPILATION_CACHE", None)
        rec = _spawn(cell, path, env, timeout)
        if "error" not in rec:
            again = _spawn(cell, path, env, timeout)
            if "error" in again:
                rec["disk_cache_error"] = again["error"]
            else:
                rec["disk_cache_cold_s"], rec["disk_cache_cold_cpu_s"] = again["cold_s"], again["cold_cpu_s"]
                rec["disk_cache_warm_s"] = again["warm_s"]
                rec["disk_cache_jax_compile"] = again.get("jax_compile_cold")
        return rec


def _spawn(cell: Cell, spec_path: str, env: dict, timeout: float) -> dict:
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", spec_path], capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return {"cell": asdict(cell), "error": f"timeout after {timeout:.0f} s", "wall_s": time.perf_counter() - t0}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT_JSON "):
            rec = json.loads(line[len("RESULT_JSON ") :])
            rec["wall_s"] = time.perf_counter() - t0
            return rec
    text = proc.stderr or proc.stdout
    return {
        "cell": asdict(cell),
        "error": f"exit {proc.returncode}: {_exception_line(text)}",
        "traceback": text[-6000:],
        "wall_s": time.perf_counter() - t0,
    }


def _exception_line(text: str) -> str:
    """The ``SomeError: message`` line of a traceback (JAX appends notes after it)."""
    for line in text.splitlines():
        head = line.split(":", 1)[0]
        if not line.startswith(" ") and head.rsplit(".", 1)[-1].endswith(("Error", "Exception", "Interrupt")):
            return line.strip()[:300]
    return text.strip().splitlines()[-1][:300] if text.strip() else "no output"


def build_grid(args) -> list[Cell]:
    methods = [m for m in METHODS if not (args.skip_reference and m == "shapiq")]
    if args.methods:
        methods = [m for m in methods if m in args.methods.split(",")]
    decoders = args.decoders.split(",")
    if args.quick:
        functions = [(args.ns[0] if args.ns else 256, 10, 3)]
        budget = args.budget or 4000
    else:
        ns = args.ns or [512, 2048, 8192]
        functions = [(n, 10, 3) for n in ns] + [(n, 100, 5) for n in ns if n <= 2048]
        budget = args.budget or 10_000
    cells = [
        Cell(m, n, terms, deg, dec, budget, args.t, args.seed)
        for (n, terms, deg) in functions
        for dec in decoders
        for m in methods
    ]
    for db in args.noise_db or []:
        for dec in ("soft", "hard"):
            for m in methods:
                if m == "spexjax-structured":
                    continue
                cells.append(
                    Cell(
                        m,
                        args.noise_n,
                        args.noise_terms,
                        args.noise_degree,
                        dec,
                        args.noise_budget,
                        args.t,
                        args.seed,
                        noise_db=db,
                        section="noise",
                    )
                )
    return cells


def _fmt(v, spec=".2f", none="—"):
    return none if v is None else format(v, spec)


def _ratio(v, mark: str = "") -> str:
    return "—" if v is None else f"{v:.1f}x{mark}"


def _disk(r: dict) -> str:
    if "disk_cache_cold_s" not in r:
        return "—"
    return f"{r['disk_cache_cold_s']:.2f} ({r['disk_cache_cold_cpu_s']:.2f})"


def _cpu(v) -> str:
    return "" if v is None else f" ({v:.1f}x)"


def attach_ratios(records: list[dict]) -> None:
    """For every spexjax row: reference time / spexjax time (speed-up), cold and warm, and RSS ratio."""
    ref = {Cell(**r["cell"]).group: r for r in records if r["cell"]["method"] == "shapiq" and "error" not in r}
    for r in records:
        c = Cell(**r["cell"])
        if c.method == "shapiq" or "error" in r:
            continue
        base, source = None, None
        if c.group in ref:
            g = ref[c.group]
            base, source = (g["cold_s"], g["warm_s"], g["peak_rss_mb"]), "measured"
        elif c.section == "main" and c.budget == 10_000 and c.t == 5 and c.decoder == "soft":
            lead = LEAD_REFERENCE.get((c.n, c.terms, c.degree))
            if lead is not None:
                base, source = lead, "lead"
        if base is None:
            continue
        r["ratio_source"] = source
        r["speedup_cold"] = base[0] / r["cold_s"]
        r["speedup_warm"] = base[1] / r["warm_s"] if base[1] is not None else None
        r["rss_vs_reference"] = r["peak_rss_mb"] / base[2] if base[2] is not None else None
        if source == "measured":  # CPU seconds are far less sensitive to other processes on a shared machine
            r["speedup_cold_cpu"] = ref[c.group]["cold_cpu_s"] / max(r["cold_cpu_s"], 1e-9)
            r["speedup_warm_cpu"] = ref[c.group]["warm_cpu_s"] / max(r["warm_cpu_s"], 1e-9)


def table(records: list[dict]) -> str:
    head = (
        "| section | method | n | function | decoder | queries | R² | terms found | import s | cold s (CPU s) "
        "| warm s (CPU s) | 2nd process, disk cache: cold s | peak RSS MB | speed-up cold (CPU) | speed-up warm (CPU) |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        c = Cell(**r["cell"])
        fn = f"{c.terms} terms / deg {c.degree}, t={c.t}, B={c.budget}"
        if c.noise_db is not None:
            fn += f", SNR {c.noise_db:g} dB"
        label = "spexjax (structured ValueFunction)" if c.method == "spexjax-structured" else c.method
        if "error" in r:
            err = r["error"][:120].replace("|", "/")
            lines.append(f"| {c.section} | {label} | {c.n} | {fn} | {c.decoder} | FAILED: {err} |" + " |" * 9)
            continue
        mark = "¹" if r.get("ratio_source") == "lead" else ""
        lines.append(
            f"| {c.section} | {label} | {c.n} | {fn} | {c.decoder} | {r['queries']} | {r['r2']:.4f} "
            f"| {r.get('terms_found', '—')} | {r['import_s']:.1f} | {r['cold_s']:.2f} ({r['cold_cpu_s']:.2f}) "
            f"| {r['warm_s']:.3f} ({r['warm_cpu_s']:.3f}) | {_disk(r)} | {r['peak_rss_mb']:.0f} "
            f"| {_ratio(r.get('speedup_cold'), mark)}{_cpu(r.get('speedup_cold_cpu'))} "
            f"| {_ratio(r.get('speedup_warm'), mark)}{_cpu(r.get('speedup_warm_cpu'))} |"
        )
    lines.append("")
    lines.append(
        "Speed-up = reference (shapiq) seconds / spexjax seconds for the same function, design and decoder: wall "
        "clock, and in parentheses process CPU seconds (all threads), which other load on a shared machine "
        "distorts much less. spexjax's cold call starts from an empty XLA compilation cache; its persistent "
        "disk cache makes the first call of a second fresh process cheaper (column '2nd process'). "
        "R² on 2000 fresh random masks against the noise-free function."
    )
    if any(r.get("ratio_source") == "lead" for r in records):
        lines.append("¹ against the project lead's shapiq numbers for this machine (no reference row in this run).")
    return "\n".join(lines)


_COMPILE_STAGES = ("jaxpr_trace", "jaxpr_to_mlir_module", "backend_compile")


def breakdown(records: list[dict]) -> str:
    """Where spexjax's time goes (the engine's own ``meta['seconds']``), cold vs warm."""
    stages = ("plan", "query", "peel", "refine")
    head = "| method | n | function | decoder | " + " | ".join(f"{s} cold -> warm" for s in stages)
    head += " | JAX compile s (trace + lower + XLA), cold | CPU s cold -> warm |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in records:
        c = Cell(**r["cell"])
        if "meta_cold" not in r:
            continue
        a, b = r["meta_cold"]["seconds"], r["meta_warm"]["seconds"]
        cells = " | ".join(f"{a[s]:.2f} -> {b[s]:.3f}" for s in stages)
        fn = f"{c.terms}t/deg{c.degree}" + (f", {c.noise_db:g} dB" if c.noise_db is not None else "")
        comp = r.get("jax_compile_cold", {})
        comp_s = (
            f"{sum(comp.values()):.1f} ({' + '.join(f'{comp.get(k, 0.0):.1f}' for k in _COMPILE_STAGES)})"
            if comp
            else "—"
        )
        lines.append(
            f"| {c.method} | {c.n} | {fn} | {c.decoder} | {cells} | {comp_s} "
            f"| {r['cold_cpu_s']:.1f} -> {r['warm_cpu_s']:.2f} |"
        )
    return "\n".join(lines)


def target_check(records: list[dict]) -> list[str]:
    """Targets: warm >= 50x at n >= 2048, cold >= 10x everywhere, peak RSS below the reference's."""
    out = []
    for r in records:
        c = Cell(**r["cell"])
        if c.method == "shapiq" or "error" in r or "speedup_cold" not in r or c.section != "main":
            continue
        checks = [f"cold {r['speedup_cold']:.1f}x {'ok' if r['speedup_cold'] >= 10 else 'MISS (< 10x)'}"]
        if c.n >= 2048 and r.get("speedup_warm") is not None:
            ok = r["speedup_warm"] >= 50
            checks.append(f"warm {r['speedup_warm']:.1f}x {'ok' if ok else 'MISS (< 50x)'}")
        if r.get("rss_vs_reference") is not None:
            ok = r["rss_vs_reference"] < 1
            checks.append(f"RSS {r['rss_vs_reference']:.2f} of reference {'ok' if ok else 'MISS'}")
        lead = LEAD_REFERENCE.get((c.n, c.terms, c.degree))
        if lead is not None and r.get("ratio_source") == "measured" and c.budget == 10_000 and c.t == 5:
            warm = f", warm {lead[1] / r['warm_s']:.1f}x" if lead[1] is not None else ""
            checks.append(f"vs the lead's shapiq wall times: cold {lead[0] / r['cold_s']:.1f}x{warm}")
        if r.get("ratio_source") == "lead":
            checks.insert(0, "no reference row in this run, ratios vs the lead's shapiq numbers")
        checks.append(f"R² {r['r2']:.3f}")
        out.append(f"- {c.method} n={c.n} {c.terms}t/deg{c.degree} {c.decoder}: " + "; ".join(checks))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="one small cell (n=256, 10 terms deg 3, budget 4000)")
    ap.add_argument("--skip-reference", action="store_true", help="spexjax only (ratios vs the lead's numbers)")
    ap.add_argument("--ns", type=int, nargs="+", help="feature counts (default 512 2048 8192)")
    ap.add_argument("--budget", type=int, help="query budget (default 10000; --quick 4000)")
    ap.add_argument("--t", type=int, default=5, help="BCH degree parameter for both methods (default 5)")
    ap.add_argument("--decoders", default="soft", help="comma list for the main grid (default soft)")
    ap.add_argument("--methods", help=f"comma subset of {','.join(METHODS)}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise-db", type=float, nargs="+", help="add the noise section at these SNRs (dB)")
    ap.add_argument("--noise-only", action="store_true", help="run only the noise section")
    ap.add_argument("--noise-n", type=int, default=512)
    ap.add_argument("--noise-terms", type=int, default=100)
    ap.add_argument("--noise-degree", type=int, default=4)
    ap.add_argument("--noise-budget", type=int, default=20_000)
    ap.add_argument("--timeout", type=float, default=1800.0, help="seconds per cell")
    ap.add_argument("--out", help="output stem (default benchmarks/results/spex_vs_reference[_quick|_noise])")
    ap.add_argument("--render", metavar="JSON", help="only re-render the Markdown report of an earlier run")
    args = ap.parse_args(argv)
    if args.child:
        run_child(args.child)
        return 0
    if args.render:
        path = Path(args.render)
        doc = json.loads(path.read_text())
        attach_ratios(doc["records"])
        path.with_suffix(".md").write_text(render(doc))
        print(render(doc))
        return 0

    cells = build_grid(args)
    if args.noise_only:
        cells = [c for c in cells if c.section == "noise"]
    suffix = "_quick" if args.quick else "_noise" if args.noise_only else ""
    stem = Path(args.out) if args.out else RESULTS / f"spex_vs_reference{suffix}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    header = {
        "benchmark": "spex_vs_reference",
        "date": common.now_iso(),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "versions": common.versions("jax", "jaxlib", "numpy", "shapiq", "sparse-transform", "galois", "spexjax"),
        "cpu": common.cpu_info(),
        "load_at_start": common.loadavg(),
        "eval_masks": EVAL_MASKS,
        "lead_reference": {f"n={k[0]},terms={k[1]},deg={k[2]}": v for k, v in LEAD_REFERENCE.items()},
    }
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        header["git_head"] = head.stdout.strip()
    except OSError:
        pass

    records: list[dict] = []
    doc = {**header, "load_at_end": common.loadavg(), "complete": not cells, "records": records}
    for i, cell in enumerate(cells):
        print(
            f"[{i + 1}/{len(cells)}] {cell.method} n={cell.n} {cell.terms}t/deg{cell.degree} {cell.decoder} "
            f"B={cell.budget}" + (f" SNR={cell.noise_db:g}dB" if cell.noise_db is not None else ""),
            end=" ... ",
            file=sys.stderr,
            flush=True,
        )
        rec = run_cell(cell, args.timeout)
        records.append(rec)
        if "error" in rec:
            print("FAILED: " + rec["error"], file=sys.stderr, flush=True)
        else:
            print(
                f"R2={rec['r2']:.4f} cold={rec['cold_s']:.2f}s warm={rec['warm_s']:.3f}s "
                f"rss={rec['peak_rss_mb']:.0f}MB q={rec['queries']}",
                file=sys.stderr,
                flush=True,
            )
        attach_ratios(records)
        doc = {**header, "load_at_end": common.loadavg(), "complete": i + 1 == len(cells), "records": records}
        stem.with_suffix(".json").write_text(json.dumps(doc, indent=1, default=_jsonable) + "\n")
        stem.with_suffix(".md").write_text(render(doc))

    print(render(doc))
    return 0


def render(doc: dict) -> str:
    """The Markdown report for a results document (also written next to the JSON)."""
    records = doc["records"]
    text = (
        f"# spexjax SPEX vs shapiq SPEX\n\n`{doc['command']}` — {doc['date']}, git {doc.get('git_head', '?')}, "
        f"{doc['cpu']['model']}, {doc['cpu']['cores']} cores, load average {doc['load_at_start']} -> "
        f"{doc['load_at_end']} (the machine is shared: wall times are noisy, CPU seconds less so); "
        f"versions {json.dumps(doc['versions'])}\n\n{table(records)}\n"
    )
    if any("meta_cold" in r for r in records):
        text += "\nspexjax time by stage (engine's `meta['seconds']`), first call -> repeated call:\n\n"
        text += breakdown(records) + "\n"
    checks = target_check(records)
    if checks:
        text += "\nTargets (warm >= 50x at n >= 2048, cold >= 10x, peak RSS below the reference), wall clock:\n"
        text += "\n".join(checks) + "\n"
    return text


if __name__ == "__main__":
    raise SystemExit(main())
