"""SPEX and ProxySPEX on real value functions: spexjax against the reference implementations, same function.

For each real value function of the faithfulness study (MiniLM sentiment over the words of a review at 8-16,
32-64 and 128-256 words, MiniLM relevance over the sentences of a document, digits retraining at 128 and 512
training points, MiniLM attention heads), several explicands each, and SPEX's designs at ``b`` = 4, 6 (8 on
request): held-out R^2 on 1,000 uniform masks (``numpy.random.default_rng(99)``, shared by every method) and
seconds of

* spexjax ``spex`` (budget = SPEX's design size at this b, 3 groups, ``max_degree=5``), also with ``dense=False``
  (the engine before the dense-function path, same design and rows), and ``proxyspex`` at the same budget;
* shapiq 1.8 ``SPEX(n, max_order=5, index="FBII")`` and ``ProxySPEX(n, max_order=5, index="FBII")``: the Möbius
  transform they compute is captured before the index conversion (order-5 FBII of a degree-5 spectrum is that
  transform), ``random_state=0``;
* spectralexplain ``Explainer(..., max_order=5, algorithm="spex" | "proxyspex")`` (global NumPy seed 0).

shapiq needs Python >= 3.12 and the project runs on 3.11, so the references run in a Python 3.12 child process
(this same file with ``--ref-worker``, which imports neither JAX nor spexjax). The child asks the parent for
values: every mask a reference queries is sent over a pipe and evaluated by the parent through spexjax's query
runner with the explicand's SQLite cache, i.e. the very same value function (and the same cached rows) that
spexjax's methods see. The child's seconds exclude the time it waited for values; spexjax's seconds are wall
time of a call whose rows are all cached (the design is queried once, before timing), so both columns are the
algorithm's own time.

Resumable: every (task, explicand, b) row is appended to the JSON as soon as it is done and skipped on a rerun;
value-function rows live in per-explicand SQLite files under ``--cache-dir``. ``--only`` picks cells.

Run (from the repository root, Python 3.11 with spexjax; references in the 3.12 interpreter named by
``--python312``, default ``$(pyenv root)/versions/3.12*/bin/python3.12``):

    nohup nice python3 benchmarks/spex_real_vs_reference.py --b 4 --only sentiment-8-16 > log 2>&1 &
    python3 benchmarks/spex_real_vs_reference.py --markdown-only      # rewrite the Markdown from the JSON

Writes ``benchmarks/results/spex_real_vs_reference.{json,md}``.
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import os
import select
import shlex
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
MAX_ORDER = 5
HELDOUT = 1000
HELDOUT_SEED = 99
REF_METHODS = ("shapiq_spex", "shapiq_proxyspex", "spectralexplain_spex", "spectralexplain_proxyspex")
OURS = ("spexjax_spex", "spexjax_spex_nodense", "spexjax_proxyspex")
# (cell name, task builder in faithfulness.py, n range, explicands)
CELLS = {
    "sentiment-8-16": ("sentiment", (8, 16), 5),
    "sentiment-32-64": ("sentiment", (32, 64), 5),
    "sentiment-128-256": ("sentiment", (128, 256), 5),
    "relevance-8-16": ("relevance", (8, 16), 5),
    "retrain-128": ("retrain", (128, 256), 5),
    "retrain-512": ("retrain", (512, 1024), 5),
    "heads-72": ("heads", (0, 0), 5),  # the whole topic task, then one task per topic (faithfulness._heads)
}


# ------------------------------------------------------------------------------------------------------------
# framing over pipes: 1 type byte, 8-byte length, payload (JSON or .npy bytes)
# ------------------------------------------------------------------------------------------------------------
def _send(fh, kind: bytes, payload: bytes) -> None:
    fh.write(kind + struct.pack("<Q", len(payload)) + payload)
    fh.flush()


def _read_exact(fh, k: int) -> bytes:
    out = b""
    while len(out) < k:
        chunk = fh.read(k - len(out))
        if not chunk:
            raise EOFError("pipe closed")
        out += chunk
    return out


def _recv(fh) -> tuple[bytes, bytes]:
    head = _read_exact(fh, 9)
    return head[:1], _read_exact(fh, struct.unpack("<Q", head[1:])[0])


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _from_npy(b: bytes) -> np.ndarray:
    return np.load(io.BytesIO(b), allow_pickle=False)


# ------------------------------------------------------------------------------------------------------------
# reference side (Python 3.12, no JAX)
# ------------------------------------------------------------------------------------------------------------
def _fourier_predict(sup: list[tuple[int, ...]], coef: np.ndarray, X: np.ndarray) -> np.ndarray:
    out = np.zeros(X.shape[0])
    for s, c in zip(sup, coef, strict=True):
        out += c * (1.0 - 2.0 * (np.sum(X[:, list(s)], axis=1) % 2)) if s else c
    return out


def ref_worker() -> None:
    """Runs the reference methods; masks go to the parent, values come back (see the module docstring)."""
    import warnings

    sys.path.insert(0, str(HERE))
    import _common

    proto_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything the libraries print goes to stderr, never into the protocol
    proto_in = sys.stdin.buffer
    job = json.loads(_recv(proto_in)[1])
    X_test = _from_npy(_recv(proto_in)[1]).astype(bool)
    n, budget = int(job["n"]), int(job["budget"])
    waited = [0.0]
    rows = [0]

    def game(masks):
        m = np.asarray(masks, dtype=bool)
        t = time.perf_counter()
        try:
            _send(proto_out, b"M", _npy(m))
            kind, payload = _recv(proto_in)
        except (EOFError, BrokenPipeError):
            os._exit(1)  # the parent is gone: nothing left to answer for
        waited[0] += time.perf_counter() - t
        rows[0] += len(m)
        return _from_npy(payload).astype(np.float64)

    for method in job["methods"]:
        waited[0], rows[0] = 0.0, 0
        t0 = time.perf_counter()
        rec: dict[str, Any] = {"method": method}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if method.startswith("shapiq"):
                    import shapiq
                    from shapiq.approximator import SPEX, ProxySPEX

                    base = SPEX if method == "shapiq_spex" else ProxySPEX

                    class _Capture(base):  # the Möbius transform, before the index conversion
                        def _process_moebius(self, moebius_transform):
                            self.captured = dict(moebius_transform)
                            return super()._process_moebius(moebius_transform)

                    approx = _Capture(n=n, max_order=MAX_ORDER, index="FBII", random_state=0)
                    approx.approximate(budget, game)
                    values = {tuple(int(i) for i in k): float(v) for k, v in approx.captured.items()}
                    pred = _common.mobius_predict(values, X_test)
                    rec["terms"] = int(sum(v != 0.0 for v in values.values()))
                    rec["version"] = shapiq.__version__
                else:
                    import spectralexplain as spx

                    np.random.seed(0)  # noqa: NPY002 - the reference draws from the global generator
                    ex = spx.Explainer(game, n, sample_budget=budget, max_order=MAX_ORDER,
                                       algorithm=method.split("_", 1)[1])
                    ft = ex.fourier_transform
                    sup = [tuple(int(i) for i in np.nonzero(np.asarray(k))[0]) for k in ft]
                    coef = np.array([float(np.real(v)) for v in ft.values()])
                    pred = _fourier_predict(sup, coef, X_test)
                    rec["terms"] = int(np.sum(coef != 0.0))
        except Exception as exc:  # noqa: BLE001 - one failed reference must not lose the others
            rec["error"] = f"{type(exc).__name__}: {exc}"[:300]
            pred = None
        rec["seconds"] = time.perf_counter() - t0 - waited[0]
        rec["wait_seconds"] = waited[0]
        rec["queries"] = rows[0]
        _send(proto_out, b"R", json.dumps(rec).encode())
        if pred is not None:
            _send(proto_out, b"P", _npy(np.asarray(pred, np.float64)))
    _send(proto_out, b"E", b"{}")


def run_references(python312: str, n: int, budget: int, X_test: np.ndarray, runner, methods, timeout: float):
    """Start the 3.12 child, answer its value requests with ``runner``, collect its results."""
    proc = subprocess.Popen([python312, __file__, "--ref-worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=sys.stderr, cwd=str(ROOT))
    _send(proc.stdin, b"J", json.dumps({"n": n, "budget": budget, "methods": list(methods)}).encode())
    _send(proc.stdin, b"X", _npy(X_test))
    out: dict[str, dict] = {}
    last = None
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([proc.stdout], [], [], left)[0]:
                for m in methods:
                    out.setdefault(m, {"method": m, "error": f"not finished within {timeout:.0f} s"})
                break
            kind, payload = _recv(proc.stdout)
            if kind == b"M":
                masks = _from_npy(payload).astype(bool)
                _send(proc.stdin, b"V", _npy(np.asarray(runner.evaluate(masks), np.float64)))
            elif kind == b"R":
                last = json.loads(payload)
                out[last["method"]] = last
            elif kind == b"P":
                out[last["method"]]["pred"] = _from_npy(payload)
            elif kind == b"E":
                break
    except EOFError:
        for m in methods:
            out.setdefault(m, {"method": m, "error": "reference process ended early"})
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    return out


# ------------------------------------------------------------------------------------------------------------
# parent side (Python 3.11, spexjax)
# ------------------------------------------------------------------------------------------------------------
def r2(y: np.ndarray, p: np.ndarray) -> float:
    y, p = np.asarray(y, np.float64), np.asarray(p, np.float64)
    return float(1.0 - np.sum((y - p) ** 2) / max(np.sum((y - y.mean()) ** 2), 1e-300))


def explicands(cell: str, count: int) -> list[tuple[str, Any]]:
    sys.path.insert(0, str(HERE))
    import faithfulness as F

    task, (lo, hi), default = CELLS[cell]
    return F.TASKS[task](lo, hi, count)


_ENGINE: str | None = None


# the modules whose code decides spexjax's results here (the query runner and caches do not change a value)
ENGINE_PATHS = ("spexjax/spex.py", "spexjax/proxyspex.py", "spexjax/proxies", "spexjax/refit.py",
                "spexjax/kernels", "spexjax/plans.py", "spexjax/indices.py", "spexjax/term_selection.py")


def engine_version() -> str:
    """The spexjax engine this process imported: the last commit touching :data:`ENGINE_PATHS` when it
    started (``+dirty`` if they had uncommitted edits then). Each spexjax result records it, so a table
    that mixes rows from several runs says which engine produced each column."""
    global _ENGINE
    if _ENGINE is None:
        def git(*a):
            return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()

        _ENGINE = (git("log", "-1", "--format=%h", "--", *ENGINE_PATHS)
                   + ("+dirty" if git("status", "--porcelain", "--", *ENGINE_PATHS) else ""))
    return _ENGINE


def _row_setup(cell: str, name: str, vf: Any, b: int, cache_dir: Path):
    from spexjax.plans import make_plan

    n = int(vf.n)
    plan = make_plan(n, None, MAX_ORDER, b=b)
    fp = f"spex_real|{cell}|{name}|{vf.fingerprint() or name}"
    db = str(cache_dir / f"{cell}-{name}-{n}.sqlite")
    opts = {"cache": db, "fingerprint": fp, "progress": False}
    X_test = np.random.default_rng(HELDOUT_SEED).random((HELDOUT, n)) < 0.5
    return n, plan, opts, X_test


def run_ours(cell: str, name: str, vf: Any, n: int, budget: int, b: int, method: str, opts: dict,
             X_test: np.ndarray, y_test: np.ndarray) -> dict:
    """One spexjax method on one row (every value-function row is paid, or found cached, before timing)."""
    import spexjax

    kw = {"dense": False} if method == "spexjax_spex_nodense" else {}
    fn = spexjax.proxyspex if method == "spexjax_proxyspex" else spexjax.spex
    fn(vf, n, budget=budget, key=0, **kw, **opts)  # pays (or finds cached) every row; timed below
    t0 = time.perf_counter()
    res = fn(vf, n, budget=budget, key=0, **kw, **opts)
    sec = time.perf_counter() - t0
    rec = {"r2": r2(y_test, res.predict(X_test)), "seconds": round(sec, 3), "terms": len(res),
           "queries": int(res.queries), "engine": engine_version()}
    if method.startswith("spexjax_spex"):
        rec["dense"] = res.meta.get("dense")
        rec["residual_energy_fraction"] = res.meta.get("residual_energy_fraction")
    else:
        rec["proxy"] = {k: res.meta.get("proxy", {}).get(k) for k in ("valid_r2", "trees", "params")}
    print(f"  {cell}/{name} n={n} b={b} {method:26s} R2={rec['r2']:.3f} terms={rec['terms']} {sec:.1f}s",
          flush=True)
    return rec


def run_row(cell: str, name: str, vf: Any, b: int, args, cache_dir: Path) -> dict:
    from spexjax.runs import QueryRunner

    n, plan, opts, X_test = _row_setup(cell, name, vf, b, cache_dir)
    budget = plan.structured_queries
    row: dict[str, Any] = {"cell": cell, "explicand": name, "n": n, "b": b, "budget": budget,
                           "plan": {"b": plan.b, "t": plan.t, "groups": plan.groups, "P": plan.P}, "methods": {}}
    t0 = time.perf_counter()
    with QueryRunner(vf, n, **opts) as runner:
        y_test = np.asarray(runner.evaluate(X_test), np.float64)
    row["heldout_seconds"] = round(time.perf_counter() - t0, 1)
    for method in OURS:
        row["methods"][method] = run_ours(cell, name, vf, n, budget, b, method, opts, X_test, y_test)
    if not args.no_reference:
        with QueryRunner(vf, n, **opts) as runner:
            refs = run_references(args.python312, n, budget, X_test, runner, REF_METHODS, args.ref_timeout)
        for m in REF_METHODS:
            rec = refs.get(m, {"error": "missing"})
            pred = rec.pop("pred", None)
            if pred is not None:
                rec["r2"] = r2(y_test, pred)
            rec.pop("method", None)
            for k in ("seconds", "wait_seconds"):
                if k in rec:
                    rec[k] = round(rec[k], 3)
            row["methods"][m] = rec
            print(f"  {cell}/{name} n={n} b={b} {m:26s} "
                  + (f"R2={rec['r2']:.3f} terms={rec.get('terms')} {rec['seconds']:.1f}s" if "r2" in rec
                     else rec.get("error", "?")), flush=True)
    return row


def summarise(rows: list[dict]) -> list[dict]:
    groups: dict[tuple[str, int], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["cell"], r["b"]), []).append(r)
    out = []
    for (cell, b), rs in sorted(groups.items(), key=lambda kv: (list(CELLS).index(kv[0][0]), kv[0][1])):
        s: dict[str, Any] = {"cell": cell, "b": b, "explicands": len(rs), "n": sorted({r["n"] for r in rs}),
                             "budget": sorted({r["budget"] for r in rs})}
        for m in OURS + REF_METHODS:
            vals = [r["methods"].get(m, {}).get("r2") for r in rs]
            secs = [r["methods"].get(m, {}).get("seconds") for r in rs if "r2" in r["methods"].get(m, {})]
            ok = [v for v in vals if v is not None]
            s[m] = {"r2": float(np.mean(ok)) if len(ok) == len(rs) else None, "done": len(ok),
                    "seconds": float(np.mean(secs)) if secs else None}
            if m in OURS:  # rows from before the per-method stamp carry the repository's describe only
                s[m]["engine"] = sorted({r["methods"].get(m, {}).get("engine") or f"repo {r.get('git', '?')}"
                                         for r in rs})
        for ours, refs in (("spexjax_spex", ("shapiq_spex", "spectralexplain_spex")),
                           ("spexjax_proxyspex", ("shapiq_proxyspex", "spectralexplain_proxyspex"))):
            best = [s[m]["r2"] for m in refs if s[m]["r2"] is not None]
            if s[ours]["r2"] is None or not best:
                s[f"{ours}_ok"] = None
            else:
                s[f"{ours}_ok"] = bool(s[ours]["r2"] >= max(best) - 0.01)
        out.append(s)
    return out


def _machines(doc: dict) -> list[tuple[str, int]]:
    """``[(CPU model, rows)]`` in order of first use (rows written before the per-row stamp: the file's first)."""
    counts: dict[str, int] = {}
    for r in doc["rows"]:
        m = r.get("machine", doc["machine"]["model"])
        counts[m] = counts.get(m, 0) + 1
    return list(counts.items())


def markdown(doc: dict) -> str:
    def f(x, d=3):
        return "-" if x is None else f"{x:.{d}f}"

    L = ["# SPEX and ProxySPEX on real value functions: spexjax vs shapiq and spectralexplain", "",
         "Commands (in order): " + "; ".join(f"`{c}`" for c in doc.get("commands", [doc["command"]]))
         + f" — started {doc['date']}, last row {doc.get('updated', '?')}; {doc['machine']}; rows per CPU model: "
         + ", ".join(f"{m}: {k}" for m, k in _machines(doc)) + "; "
         f"load average (1/5/15 min) at start {doc.get('load_start')}, at the last row {doc.get('load_end')} "
         "(the 2 cores are shared with other engineers' jobs: seconds are under load).", "",
         "Held-out R² on 1,000 uniform masks (`default_rng(99)`, the same for every method), mean over explicands; "
         "budget = SPEX's design at this b (3 groups, t = 5), the same for all six methods. "
         "`spexjax spex (dense off)` is the engine before the dense-function path (`spex(..., dense=False)`: "
         "same design, same rows). Seconds: spexjax on cached rows (algorithm time), references minus the time "
         "they waited for values. ok = spexjax ≥ the better reference − 0.01.", "",
         "Engine: the commit of spexjax's engine modules each spexjax column ran with (`+dirty`: with "
         "uncommitted edits in them; `repo X`: rows from before the per-method stamp, `git describe` of the "
         "repository when the row was written).", "",
         "| cell | b | budget | n | explicands | spexjax spex | (dense off) | shapiq SPEX | spectralexplain SPEX | ok "
         "| spexjax ProxySPEX | shapiq ProxySPEX | spectralexplain ProxySPEX | ok | s: spexjax spex / shapiq SPEX "
         "/ spexjax proxy / shapiq proxy | engine: spex / ProxySPEX |",
         "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    def ok(s, k):
        return {True: "yes", False: "**no**", None: "-"}[s[k]]

    for s in doc["summary"]:
        ns = "/".join(map(str, s["n"])) if len(s["n"]) <= 3 else f"{min(s['n'])}-{max(s['n'])}"
        sec = " / ".join(f(s[m]["seconds"], 1) for m in ("spexjax_spex", "shapiq_spex", "spexjax_proxyspex",
                                                          "shapiq_proxyspex"))
        L.append(f"| {s['cell']} | {s['b']} | {'/'.join(map(str, s['budget']))} | "
                 f"{ns} | "
                 f"{s['explicands']} | {f(s['spexjax_spex']['r2'])} | {f(s['spexjax_spex_nodense']['r2'])} | "
                 f"{f(s['shapiq_spex']['r2'])} | {f(s['spectralexplain_spex']['r2'])} | {ok(s, 'spexjax_spex_ok')} | "
                 f"{f(s['spexjax_proxyspex']['r2'])} | {f(s['shapiq_proxyspex']['r2'])} | "
                 f"{f(s['spectralexplain_proxyspex']['r2'])} | {ok(s, 'spexjax_proxyspex_ok')} | {sec} | "
                 f"{', '.join(s['spexjax_spex'].get('engine', []))} / "
                 f"{', '.join(s['spexjax_proxyspex'].get('engine', []))} |")
    L += ["", "## Per explicand", "",
          "| cell | explicand | n | b | " + " | ".join(OURS + REF_METHODS) + " |",
          "| --- | --- | --- | --- | " + " | ".join("---" for _ in OURS + REF_METHODS) + " |"]
    for r in doc["rows"]:
        cells = []
        for m in OURS + REF_METHODS:
            rec = r["methods"].get(m, {})
            cells.append(f"{rec['r2']:.3f} ({rec.get('terms', '?')} terms)" if "r2" in rec
                         else rec.get("error", "-")[:60])
        L.append(f"| {r['cell']} | {r['explicand']} | {r['n']} | {r['b']} | " + " | ".join(cells) + " |")
    if doc.get("not_run"):
        L += ["", "## Not run", ""] + [f"- {x}" for x in doc["not_run"]]
    return "\n".join(L) + "\n"


def _key(row: dict) -> tuple[str, str, int]:
    return (row["cell"], row["explicand"], int(row["b"]))


def update_doc(out: Path, change) -> dict:
    """Read the JSON, apply ``change(doc)``, write JSON + Markdown, all under an exclusive lock.

    Rows are merged by (cell, explicand, b) on the document as it is on disk *now*, so a ``--rerun`` of
    spexjax's methods and a long run adding rows can share the file without one overwriting the other.
    """
    import fcntl

    out.parent.mkdir(parents=True, exist_ok=True)
    with open(str(out) + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        doc = json.loads(out.read_text()) if out.exists() else None
        doc = change(doc)
        doc["summary"] = summarise(doc["rows"])
        tmp = out.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1) + "\n")
        os.replace(tmp, out)
        out.with_suffix(".md").write_text(markdown(doc))
    return doc


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ref-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--only", nargs="+", default=list(CELLS), choices=list(CELLS), help="cells to run")
    ap.add_argument("--b", type=int, nargs="+", default=[4, 6])
    ap.add_argument("--explicands", type=int, default=5)
    ap.add_argument("--no-reference", action="store_true")
    ap.add_argument("--ref-timeout", type=float, default=1800.0, help="seconds per (explicand, b) for the references")
    ap.add_argument("--python312", default=None)
    ap.add_argument("--cache-dir", default=os.path.expanduser("~/.cache/spexjax/spex_real_vs_reference"))
    ap.add_argument("--out", default=str(RESULTS / "spex_real_vs_reference.json"))
    ap.add_argument("--not-run", nargs="*", default=None, help="lines for the Markdown's 'Not run' section")
    ap.add_argument("--rerun", nargs="+", default=None, choices=list(OURS),
                    help="recompute these spexjax methods on the rows already done (of --only / --b) with the "
                         "engine checked out now, from the cached values (no new value-function rows), and "
                         "add no new rows")
    ap.add_argument("--markdown-only", action="store_true")
    args = ap.parse_args(argv)
    if args.ref_worker:
        ref_worker()
        return 0
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import _common

    out = Path(args.out)
    command = "python3 benchmarks/spex_real_vs_reference.py " + shlex.join(sys.argv[1:] if argv is None else argv)

    def start(doc):
        doc = doc or {"command": command, "date": _common.now_iso(), "machine": _common.cpu_info(),
                      "load_start": _common.loadavg(), "rows": [],
                      "versions": _common.versions("jax", "numpy", "spexjax")}
        if args.not_run is not None:
            doc["not_run"] = args.not_run
        if not args.markdown_only:
            doc.setdefault("commands", []).append(command)
        return doc

    doc = update_doc(out, start)
    if args.markdown_only:
        print("wrote", out, "and", out.with_suffix(".md"))
        return 0
    engine_version()  # the engine as imported now, before anyone edits the tree under this run
    cache_dir = Path(args.cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    if args.rerun:
        from spexjax.runs import QueryRunner

        for cell in args.only:
            rows = {_key(r): r for r in doc["rows"] if r["cell"] == cell and int(r["b"]) in args.b}
            if not rows:
                continue
            for name, vf in explicands(cell, args.explicands):
                for b in args.b:
                    if (cell, name, b) not in rows:
                        continue
                    n, plan, opts, X_test = _row_setup(cell, name, vf, b, cache_dir)
                    with QueryRunner(vf, n, **opts) as runner:
                        y_test = np.asarray(runner.evaluate(X_test), np.float64)
                    recs = {m: run_ours(cell, name, vf, n, plan.structured_queries, b, m, opts, X_test, y_test)
                            for m in args.rerun}

                    def put(d, key=(cell, name, b), recs=recs):
                        for r in d["rows"]:
                            if _key(r) == key:
                                r["methods"].update(recs)
                        d["updated"] = _common.now_iso()
                        return d

                    update_doc(out, put)
        print("wrote", out, "and", out.with_suffix(".md"))
        return 0
    if args.python312 is None:
        found = sorted(glob.glob(os.path.join(
            subprocess.run(["pyenv", "root"], capture_output=True, text=True).stdout.strip() or "/",
            "versions", "3.12*", "bin", "python3.12")))
        if not found and not args.no_reference:
            raise SystemExit("no Python 3.12 found for the references; pass --python312 or --no-reference")
        args.python312 = found[0] if found else None
    for b in args.b:
        for cell in args.only:
            for name, vf in explicands(cell, args.explicands):
                if (cell, name, b) in {_key(r) for r in json.loads(out.read_text())["rows"]}:
                    continue
                row = run_row(cell, name, vf, b, args, cache_dir)
                row["load"] = _common.loadavg()
                # the machine and time of each row: a resumed run may be on another VM (seconds differ by CPU)
                row["machine"], row["at"] = _common.cpu_info()["model"], _common.now_iso()
                row["git"] = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT,
                                            capture_output=True, text=True).stdout.strip()

                def add(d, row=row):
                    d["rows"] = [r for r in d["rows"] if _key(r) != _key(row)] + [row]
                    d["updated"], d["load_end"] = _common.now_iso(), _common.loadavg()
                    return d

                update_doc(out, add)
    print("wrote", out, "and", out.with_suffix(".md"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
