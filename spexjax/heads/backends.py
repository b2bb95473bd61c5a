"""Backends that score multiple-choice examples with some attention heads ablated.

A head backend answers one question: for each row of per-head multipliers (:func:`~spexjax.heads.head_scales`)
and each example, the log-probabilities of the example's choices (normalised over the choices). Two kinds:

- :class:`MiniLMHeads`: the embedded all-MiniLM-L6-v2 (JAX, 6 x 12 heads) as a zero-shot classifier; the
  multipliers go into the encoder's ``head_mask``, which multiplies each head's attention probabilities and so
  its context vector, i.e. exactly the slice of the output projection's input that belongs to that head.
- :class:`HuggingFaceHeads`: a ``transformers`` causal LM (PyTorch). ``head_mask`` is gone in transformers v5,
  so a forward pre-hook on every attention output projection (``o_proj`` / ``c_proj`` / ``out_proj`` /
  ``dense``) multiplies each head's slice of its input. Questions are asked in the MMLU prompt format and
  scored by the next-token log-prob of each answer letter.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from spexjax.errors import SpexError, require
from spexjax.heads.examples import LETTERS, Example
from spexjax.llm.minilm import load_minilm

__all__ = ["HeadBackend", "HuggingFaceHeads", "MiniLMHeads", "mmlu_prompt", "attention_output_projections"]


@runtime_checkable
class HeadBackend(Protocol):
    """What :class:`~spexjax.heads.HeadTask` needs from a model."""

    layers: int
    heads: int

    def identity(self) -> str: ...

    def choice_logprobs(self, examples: Sequence[Example], scales: np.ndarray) -> np.ndarray:
        """``float64[m, len(examples), choices]`` for ``scales: float32[m, layers, heads]`` (log-softmax over
        each example's choices; examples must share their number of choices)."""
        ...


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _check_scales(scales: Any, layers: int, heads: int) -> np.ndarray:
    s = np.asarray(scales, dtype=np.float32)
    if s.ndim != 3 or s.shape[1:] != (layers, heads):
        raise SpexError(f"scales must have shape (m, {layers}, {heads}); got {s.shape}")
    return s


class MiniLMHeads:
    """The embedded MiniLM as a zero-shot classifier with ablatable heads.

    Each text and each choice is embedded by the *same* ablated encoder; the choice logits are the cosine
    similarities divided by ``temperature`` (0.05: the unablated model's mean log-prob of the right topic on
    :func:`~spexjax.heads.topic_examples` is about -0.16 at 95 % accuracy).
    """

    def __init__(self, model: Any = None, *, temperature: float = 0.05, batch_size: int = 128):
        if model is None:
            model = load_minilm()
        if not temperature > 0:
            raise SpexError(f"temperature must be > 0; got {temperature}")
        self.model = model
        self.temperature = float(temperature)
        self.batch_size = int(batch_size)
        self.layers, self.heads = int(model.num_layers), int(model.num_heads)

    def identity(self) -> str:
        ident = self.model.identity() if hasattr(self.model, "identity") else repr(self.model)
        return f"MiniLMHeads({ident}, temperature={self.temperature!r})"

    def choice_logprobs(self, examples: Sequence[Example], scales: np.ndarray) -> np.ndarray:
        s = _check_scales(scales, self.layers, self.heads)
        m = s.shape[0]
        texts = [e.prompt for e in examples]
        choice_texts = sorted({c for e in examples for c in e.choices})
        pos = {c: j for j, c in enumerate(choice_texts)}
        ids = self.model.tokenize(texts + choice_texts)
        R = len(ids)
        rows = [r for _ in range(m) for r in ids]  # mask-major
        hm = np.repeat(s, R, axis=0)
        emb = self.model.embed_token_ids(rows, hm, batch_size=self.batch_size).astype(np.float64)
        emb = emb.reshape(m, R, -1)
        t_emb, c_emb = emb[:, : len(texts)], emb[:, len(texts) :]
        idx = np.array([[pos[c] for c in e.choices] for e in examples])  # (E, C)
        cos = np.einsum("med,mecd->mec", t_emb, c_emb[:, idx])
        return _log_softmax(cos / self.temperature)

    def __repr__(self) -> str:
        return f"MiniLMHeads(layers={self.layers}, heads={self.heads}, temperature={self.temperature})"


# ----------------------------------------------------------------------------------------------
# Hugging Face causal LMs
# ----------------------------------------------------------------------------------------------

# attention output projections by architecture: (attention module name, projection name)
_PROJECTION_PATTERNS = (
    r"\.(\d+)\.self_attn\.o_proj$",  # Llama, Mistral, Qwen, Gemma, Phi-3
    r"\.(\d+)\.attn\.c_proj$",  # GPT-2 (not mlp.c_proj)
    r"\.(\d+)\.self_attn\.out_proj$",  # OPT, BART-like decoders
    r"\.(\d+)\.attn\.attention\.out_proj$",  # GPT-Neo
    r"\.(\d+)\.attention\.dense$",  # GPT-NeoX / Pythia
    r"\.(\d+)\.self_attention\.dense$",  # Falcon, Bloom
    r"\.(\d+)\.attn\.out_proj$",  # GPT-J, CodeGen
    r"\.(\d+)\.self_attn\.dense$",  # Phi
)


def attention_output_projections(model: Any) -> list[Any]:
    """The attention output projection of every layer of a transformers model, in layer order."""
    found: dict[int, Any] = {}
    for name, module in model.named_modules():
        for pat in _PROJECTION_PATTERNS:
            hit = re.search(pat, name)
            if hit:
                found.setdefault(int(hit.group(1)), module)
                break
    if not found:
        raise SpexError(
            f"no attention output projection found in {type(model).__name__}; pass projections= (one module per "
            "layer whose input is the concatenation of the heads' outputs)"
        )
    return [found[k] for k in sorted(found)]


def mmlu_prompt(example: Example) -> str:
    """The MMLU few-shot-free prompt: question, lettered choices, ``"Answer:"``."""
    lines = [example.prompt.strip()]
    lines += [f"{LETTERS[j]}. {c}" for j, c in enumerate(example.choices)]
    lines.append("Answer:")
    return "\n".join(lines)


def _config_heads(config: Any) -> int:
    for key in ("num_attention_heads", "n_head", "num_heads"):
        v = getattr(config, key, None)
        if isinstance(v, int):
            return v
    raise SpexError("cannot read the number of attention heads from the model config; pass heads=")


class HuggingFaceHeads:
    """A transformers causal LM with ablatable heads (a forward pre-hook per attention output projection).

    Args:
      model: a loaded ``transformers`` causal LM, or an object with ``.model`` and ``.tokenizer`` (e.g.
        :class:`spexjax.llm.HuggingFaceLM`), in which case ``tokenizer`` may be omitted.
      tokenizer: its tokenizer.
      projections: one module per layer whose input is the heads' concatenation (default: found by name).
      heads: heads per layer (default: from the config).
      batch_size: most prompts per forward.
      prompt: ``Example -> str`` (default :func:`mmlu_prompt`); the choice letters ``" A"``, ``" B"``... are
        scored as the next token.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        projections: Sequence[Any] | None = None,
        heads: int | None = None,
        batch_size: int = 16,
        prompt: Any = mmlu_prompt,
        name: str | None = None,
    ):
        self.torch = require("torch", "llm", what="HuggingFaceHeads")
        if tokenizer is None and hasattr(model, "tokenizer") and hasattr(model, "model"):
            model, tokenizer = model.model, model.tokenizer
        if tokenizer is None:
            raise SpexError("tokenizer is required with a bare transformers model")
        self.model, self.tokenizer = model, tokenizer
        self.model.eval()
        self.projections = list(projections) if projections is not None else attention_output_projections(model)
        self.layers = len(self.projections)
        self.heads = int(heads) if heads is not None else _config_heads(model.config)
        self.batch_size = int(batch_size)
        self.prompt = prompt
        self.name = name or getattr(model.config, "_name_or_path", "") or type(model).__name__
        self._scale: Any = None  # torch float[B, layers, heads] during a forward, else None
        self._hooks = [p.register_forward_pre_hook(self._hook(i)) for i, p in enumerate(self.projections)]
        self._letter_ids: dict[int, list[int]] = {}

    def _hook(self, layer: int):
        def pre_hook(module: Any, args: tuple) -> tuple | None:
            if self._scale is None:
                return None
            x = args[0]
            B, T, width = x.shape
            D = width // self.heads
            s = self._scale[:, layer, :].to(x.dtype)  # (B, heads)
            x = (x.view(B, T, self.heads, D) * s[:, None, :, None]).view(B, T, width)
            return (x, *args[1:])

        return pre_hook

    def remove_hooks(self) -> None:
        """Detach the pre-hooks (the model is then exactly the unhooked model again)."""
        for h in self._hooks:
            h.remove()
        self._hooks = []

    def identity(self) -> str:
        n_params = sum(int(p.numel()) for p in self.model.parameters())
        first = next(iter(self.model.parameters()))
        probe = float(first.detach().double().flatten()[:1000].sum())
        return f"HuggingFaceHeads({self.name}, params={n_params}, probe={probe!r})"

    def _letters(self, k: int) -> list[int]:
        if k not in self._letter_ids:
            ids = []
            for j in range(k):
                toks = self.tokenizer.encode(" " + LETTERS[j], add_special_tokens=False)
                ids.append(int(toks[-1]))
            self._letter_ids[k] = ids
        return self._letter_ids[k]

    def logits_last(self, prompts: Sequence[str], scales: Any | None) -> np.ndarray:
        """Next-token logits after each prompt, ``float64[len(prompts), vocab]``; ``scales: [len, layers, heads]``
        or ``None`` (no ablation: the hooks do nothing, the model runs unchanged)."""
        torch = self.torch
        enc = [self.tokenizer.encode(p) for p in prompts]
        out = []
        pad = self.tokenizer.pad_token_id
        pad = 0 if pad is None else int(pad)
        order = np.argsort([len(e) for e in enc], kind="stable")
        res: list[Any] = [None] * len(enc)
        with torch.no_grad():
            for lo in range(0, len(enc), self.batch_size):
                rows = order[lo : lo + self.batch_size]
                L = max(len(enc[r]) for r in rows)
                ids = torch.full((len(rows), L), pad, dtype=torch.long)
                att = torch.zeros((len(rows), L), dtype=torch.long)
                for j, r in enumerate(rows):  # right padding: real tokens keep their positions
                    ids[j, : len(enc[r])] = torch.tensor(enc[r])
                    att[j, : len(enc[r])] = 1
                self._scale = None if scales is None else torch.as_tensor(np.asarray(scales)[rows])
                try:
                    logits = self.model(input_ids=ids, attention_mask=att).logits
                finally:
                    self._scale = None
                for j, r in enumerate(rows):
                    res[r] = logits[j, len(enc[r]) - 1].double().numpy()
        out = np.stack(res)
        return out

    def choice_logprobs(self, examples: Sequence[Example], scales: np.ndarray) -> np.ndarray:
        s = _check_scales(scales, self.layers, self.heads)
        m, E = s.shape[0], len(examples)
        k = len(examples[0].choices)
        prompts = [self.prompt(e) for e in examples]
        rows = [p for _ in range(m) for p in prompts]
        logits = self.logits_last(rows, np.repeat(s, E, axis=0))
        z = logits[:, self._letters(k)].reshape(m, E, k)
        return _log_softmax(z)

    def __repr__(self) -> str:
        return f"HuggingFaceHeads({self.name!r}, layers={self.layers}, heads={self.heads})"
