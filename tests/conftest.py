"""Fixtures shared across the test tree.

``tiny_causal_lm`` builds the tiny transformers causal LMs (GPT-2 and Llama configs, seeded init, eval mode) that
the Hugging Face backend and head-ablation tests check against their slow references. It skips with a reason
where torch or transformers cannot be imported.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def _build_tiny_causal_lm(arch: str, vocab_size: int, *, seed: int = 0, max_positions: int = 128,
                          heads: int = 4, **config: Any) -> Any:
    """A 2-layer, 32-wide ``arch`` ("gpt2" or "llama") model in eval mode (a model built from a config starts
    in training mode, with dropout on)."""
    import torch
    import transformers

    torch.manual_seed(seed)
    if arch == "gpt2":
        cfg = transformers.GPT2Config(vocab_size=vocab_size, n_positions=max_positions, n_embd=32, n_layer=2,
                                      n_head=heads, **config)
        return transformers.GPT2LMHeadModel(cfg).eval()
    if arch == "llama":
        cfg = transformers.LlamaConfig(vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                                       num_hidden_layers=2, num_attention_heads=heads, num_key_value_heads=2,
                                       max_position_embeddings=max_positions, **config)
        return transformers.LlamaForCausalLM(cfg).eval()
    raise ValueError(f"arch must be 'gpt2' or 'llama'; got {arch!r}")


def _ridge_loo_errors(X: Any, y: Any, alphas: Any) -> list[float]:
    """The obvious definition of ridge leave-one-out error: for every alpha, refit without each sample in turn
    (columns held fixed, no intercept) and average the squared errors on the left-out samples."""
    import numpy as np

    m, K = X.shape
    errs = []
    for a in alphas:
        e = 0.0
        for i in range(m):
            keep = np.arange(m) != i
            w = np.linalg.solve(X[keep].T @ X[keep] + a * np.eye(K), X[keep].T @ y[keep])
            e += float(y[i] - X[i] @ w) ** 2
        errs.append(e / m)
    return errs


@pytest.fixture(scope="session")
def ridge_loo_reference() -> Callable[..., list[float]]:
    """``ridge_loo_reference(X, y, alphas) -> [LOO error per alpha]`` by refitting (slow, obvious)."""
    return _ridge_loo_errors


@pytest.fixture(scope="session")
def tiny_causal_lm() -> Callable[..., Any]:
    """``tiny_causal_lm(arch, vocab_size, *, seed=0, max_positions=128, heads=4, **config) -> model``."""
    pytest.importorskip("torch", reason="the Hugging Face tests need torch (pip install torch==2.13.0, CPU)")
    pytest.importorskip("transformers", reason="the Hugging Face tests need transformers (spexjax[llm])")
    return _build_tiny_causal_lm


def _load_benchmark(name: str) -> Any:
    """``benchmarks/<name>.py`` as a module (benchmarks/ is not a package: its scripts are run, not imported)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_bench", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def load_benchmark() -> Callable[[str], Any]:
    """Load a benchmark script by name, for the tests that run its ``--quick`` mode."""
    return _load_benchmark
