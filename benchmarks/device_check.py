"""One short accelerator check: one line per figure, on JAX's default device (run by ``device_check.sh``).

Figures (full form sized for <= 8 minutes on one GPU; ``--quick`` is a CPU smoke form that takes seconds):

1. ``recovery``: SPEX on a 100-term degree-4 sparse function of n = 10^7 features (structured queries, hard
   decoder, b = 8): cold and warm seconds, peak device memory (``memory_stats()``; host peak RSS where the
   backend reports none).
2. ``spex_vs_shapiq``: warm SPEX vs ``shapiq.SPEX`` on the same 10-term degree-3 function at n = 8,192, 10,000
   queries, masks through a plain callable for both (shapiq runs on the host CPU: it has no device path).
   Needs shapiq (Python >= 3.12); without it the spexjax time alone is printed.
3. ``lm_rows``: the embedded MiniLM (pure JAX, packed rows) vs transformers' BertModel with the same weights
   and token ids, rows/s, both on this device (torch on CUDA when JAX is on a GPU and torch sees one).
4. ``retrain``: batched logistic retraining models/s vs its GEMM floor (two GEMMs per step), as in
   ``benchmarks/data_attribution.py``, with the fraction.

Each figure runs in this process, guarded: a failure or a missing package prints ``<name>: skipped (...)``
and the next figure runs. Exit status 0 unless the script itself is broken.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))


def _device():
    import jax

    d = jax.devices()[0]
    return d, f"{d.platform}:{getattr(d, 'device_kind', '?')}"


def _peak_memory_mb() -> str:
    d, _ = _device()
    stats = d.memory_stats() if hasattr(d, "memory_stats") else None
    if stats and "peak_bytes_in_use" in stats:
        return f"peak device memory {stats['peak_bytes_in_use'] / 2**20:.0f} MiB"
    from _common import peak_rss_mb

    return f"peak host RSS {peak_rss_mb():.0f} MiB (no device memory stats on this backend)"


def recovery(quick: bool) -> str:
    import spexjax
    from spexjax.plans import bch_dimensions
    from spexjax.testing import random_sparse_fourier

    n, terms, degree, b = (200, 5, 2, 3) if quick else (10_000_000, 100, 4, 8)
    f = random_sparse_fourier(n, terms, degree, key=7)
    _, P = bch_dimensions(n, degree)
    budget = 3 * (P + 1) * (1 << b)
    times = []
    for _ in range(2):
        t = time.perf_counter()
        res = spexjax.spex(f, n, budget=budget, max_degree=degree, decoder="hard", key=7)
        times.append(time.perf_counter() - t)
    sup, _ = res.fourier()
    found = len(set(sup) & set(f.supports))
    return (f"recovery: n={n:,} {terms} terms deg<={degree}, {budget:,} queries: cold {times[0]:.2f} s, warm "
            f"{times[1]:.2f} s, {found}/{terms} terms, {_peak_memory_mb()}")


def spex_vs_shapiq(quick: bool) -> str:
    import warnings

    import numpy as np

    import spexjax
    from spexjax.testing import random_sparse_fourier

    n, budget = (32, 800) if quick else (8192, 10_000)
    f = random_sparse_fourier(n, 10, 3, key=0)

    def call(x):
        return f(np.asarray(x, dtype=bool))

    spexjax.spex(call, n, budget=budget, max_degree=5, key=0)  # compile
    t = time.perf_counter()
    spexjax.spex(call, n, budget=budget, max_degree=5, key=0)
    ours = time.perf_counter() - t
    try:
        import shapiq
    except ImportError:
        return f"spex_vs_shapiq: n={n:,}: spexjax warm {ours:.2f} s; shapiq not importable here (needs Python >= 3.12)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        shapiq.SPEX(n=n, index="FBII", max_order=None, degree_parameter=5, random_state=0).approximate(budget, call)
        ref = time.perf_counter() - t
    return (f"spex_vs_shapiq: n={n:,}, {budget:,} queries: spexjax warm {ours:.2f} s, shapiq {ref:.2f} s: "
            f"{ref / ours:.1f}x")


def lm_rows(quick: bool) -> str:
    import numpy as np
    from llm_backends import _hf_prompts

    from spexjax.llm.minilm import load_minilm

    rows, batch = (8, 8) if quick else (2048, 256)
    model = load_minilm()
    ids = model.tokenize(_hf_prompts(rows, seed=1))
    chunks = [ids[lo : lo + batch] for lo in range(0, rows, batch)]

    def jax_all():
        return np.concatenate([model.embed_token_ids(c, batch_size=len(c)) for c in chunks])

    jax_all()
    t = time.perf_counter()
    ours = jax_all()
    jax_rate = rows / (time.perf_counter() - t)
    try:
        import torch
        import transformers
        from safetensors.torch import load_file
    except ImportError as e:
        return f"lm_rows: MiniLM JAX {jax_rate:.0f} rows/s; PyTorch side skipped ({e.name} not installed)"
    d, _ = _device()
    dev = "cuda" if d.platform == "gpu" and torch.cuda.is_available() else "cpu"
    cfg = transformers.BertConfig.from_json_file(str(model.path / "config.json"))
    bert = transformers.BertModel(cfg, add_pooling_layer=False)
    state = {k.removeprefix("bert."): v for k, v in load_file(str(model.path / "model.safetensors")).items()}
    bert.load_state_dict(state, strict=False)
    bert.eval().to(dev)

    def torch_all():
        out = []
        for c in chunks:
            width = max(len(r) for r in c)
            ids_ = np.zeros((len(c), width), np.int64)
            att = np.zeros((len(c), width), np.int64)
            for j, r in enumerate(c):
                ids_[j, : len(r)], att[j, : len(r)] = r, 1
            with torch.no_grad():
                a = torch.from_numpy(att).to(dev)
                h = bert(input_ids=torch.from_numpy(ids_).to(dev), attention_mask=a).last_hidden_state
                m = a[..., None].to(h.dtype)
                pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(out)

    torch_all()
    t = time.perf_counter()
    ref = torch_all()
    torch_rate = rows / (time.perf_counter() - t)
    diff = float(np.abs(ours - ref).max())
    return (f"lm_rows: MiniLM {rows} rows, batch {batch}: JAX {jax_rate:.0f} rows/s, PyTorch ({dev}) "
            f"{torch_rate:.0f} rows/s: {jax_rate / torch_rate:.2f}x (max |diff| {diff:.1e})")


def retrain(quick: bool) -> str:
    from data_attribution import throughput

    from spexjax.data import load_digits_split

    X, y, Xt, yt = load_digits_split()
    n, steps, batch, loop, rounds = (64, 5, 8, 2, 1) if quick else (1297, 100, None, 16, 3)
    thr = throughput(X[:n], y[:n], Xt[:5], yt[:5], steps=steps, batch=batch, loop_models=loop, rounds=rounds)
    fr = thr["fraction_of_gemm_floor"]
    rate = {k: thr[k]["models_per_s_best"] for k in ("batched", "gemm_floor", "per_mask_loop")}
    return (f"retrain: n={n}, batch {thr['batch_size']}, {steps} steps: batched {rate['batched']:.1f} models/s, "
            f"GEMM floor {rate['gemm_floor']:.1f} models/s: fraction {fr['best']:.2f} (best rounds), "
            f"{fr['median']:.2f} (median); per-mask loop {rate['per_mask_loop']:.1f} models/s")


FIGURES = {"recovery": recovery, "spex_vs_shapiq": spex_vs_shapiq, "lm_rows": lm_rows, "retrain": retrain}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny sizes on the CPU (smoke form, seconds)")
    ap.add_argument("--only", nargs="+", choices=list(FIGURES), default=list(FIGURES))
    args = ap.parse_args()
    if args.quick:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
    t0 = time.perf_counter()
    _, name = _device()
    print(f"device: {name}; load {os.getloadavg()[0]:.1f}; {'quick' if args.quick else 'full'}", flush=True)
    for key in args.only:
        t = time.perf_counter()
        try:
            line = FIGURES[key](args.quick)
        except Exception as e:  # noqa: BLE001 - one figure failing must not hide the others
            line = f"{key}: skipped ({type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''})"
        print(f"{line} [{time.perf_counter() - t:.1f} s]", flush=True)
    print(f"total: {time.perf_counter() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
