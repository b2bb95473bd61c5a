"""Hugging Face backends: a causal LM that scores responses, and a sequence classifier that scores texts.

:class:`HuggingFaceLM` wraps any ``transformers`` causal LM (PyTorch) and its tokenizer as a
:class:`~spexjax.llm.protocols.LanguageModel`; :class:`HuggingFaceClassifier` wraps an
``AutoModelForSequenceClassification`` as a :class:`~spexjax.llm.protocols.TextScorer`. Both also satisfy
:class:`~spexjax.llm.protocols.Tokenizing`.

What "batching never changes a value" takes, and how it is done here:

- The prompt and the response are tokenised **separately** and their ids concatenated. Tokenising
  ``prompt + response`` as one string would let a tokenizer merge across the boundary, so the response tokens
  (and their number) would depend on which units of the prompt were ablated; scored arrays of different
  lengths cannot be compared. With separate tokenisation every mask scores the very same response ids.
- Rows of a batch are padded (left or right). Every forward gets an attention mask **and** explicit position
  ids (``cumsum(mask) - 1``): with left padding and default positions, a model with absolute or rotary
  positions sees its real tokens at shifted positions and returns different logits.
- Sequences are sorted by length and cut into buckets under a token budget (:mod:`spexjax.llm.hf_batching`),
  so little compute goes to padding. Only the logits at the positions that are read are kept
  (``logits_to_keep`` where the model takes it), and log-softmax is taken there only.
- Float32 by default. bf16/fp16 are allowed (``dtype=``) but add batch-dependent noise: the padded length and
  the batch size change the kernels' reduction order, so a value can differ from the one-at-a-time value by
  far more than 1e-4 (measured on the tiny test models, per token: bf16 batched vs alone up to 0.03, fp16 up to
  0.002; float32 below 2e-6). Use them for speed, not for exact reproducibility. ``device=``/``dtype=`` move the
  model in place (``nn.Module.to``); it is also switched to ``eval()`` (dropout off).

Chat templates: with ``chat_template=None`` (auto) the tokenizer's template is used when it has one; the prompt
becomes the user message (``system=`` adds a system message) and the generation prompt is appended. The
rendered text already carries the template's special tokens (BOS), so it is tokenised with
``add_special_tokens=False`` and a doubled leading BOS is dropped. Without a template the tokenizer's own special
tokens are added to the prompt (``add_special_tokens=True``), never to the response.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Sequence
from typing import Any, TypedDict, Unpack

import numpy as np

from spexjax.errors import require
from spexjax.fingerprint import fingerprint
from spexjax.llm.hf_batching import plan_batches
from spexjax.llm.scoring import TailScoring, check_texts

__all__ = ["HuggingFaceLM", "HuggingFaceClassifier", "weights_digest", "tokenizer_digest"]

_DTYPES = {
    "float32": "float32",
    "fp32": "float32",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
}


def _torch() -> Any:
    return require("torch", "llm", what="the Hugging Face backends")


def _transformers() -> Any:
    return require("transformers", "llm", what="the Hugging Face backends")


def _resolve_dtype(dtype: Any) -> Any:
    """``None`` -> float32 (the default); a name (``"bfloat16"``) or a ``torch.dtype``."""
    torch = _torch()
    if dtype is None:
        return torch.float32
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPES:
        return getattr(torch, _DTYPES[dtype.lower()])
    raise ValueError(f"dtype must be None, a torch.dtype or one of {sorted(_DTYPES)}, got {dtype!r}")


def _dtype_kw(tf: Any, dtype: Any) -> dict[str, Any]:
    """``from_pretrained``'s dtype keyword: ``dtype`` in transformers 5, ``torch_dtype`` before."""
    major = int(str(tf.__version__).split(".")[0])
    return {("dtype" if major >= 5 else "torch_dtype"): _resolve_dtype(dtype)}


def _resolve_device(device: Any) -> Any:
    torch = _torch()
    if device is None:
        return None
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be like 'cpu', 'cuda' or 'cuda:0', got {device!r}") from err


def weights_digest(model: Any) -> str:
    """sha256 over every tensor of ``model.state_dict()`` (name, dtype, shape, raw bytes), in name order.

    Cost: one pass over all weights (a copy to CPU for a model on GPU, then sha256 at roughly 0.5-1 GB/s), so
    seconds for a few-GB model; :meth:`HuggingFaceLM.identity` computes it once, lazily, and keeps it.
    """
    torch = _torch()
    h = hashlib.sha256()
    state = model.state_dict()
    for name in sorted(state):
        t = state[name].detach()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        flat = t.to("cpu").contiguous().reshape(-1)
        if flat.numel():
            h.update(flat.view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def tokenizer_digest(tokenizer: Any) -> str:
    """sha256 of the tokenizer's full definition (``tokenizer.json`` text for fast tokenizers, else its vocab)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        text = backend.to_str()
    else:
        text = repr(sorted(tokenizer.get_vocab().items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _looks_like_path(name: str) -> bool:
    """A local path rather than a hub name: absolute, ``./``/``../``/``~`` relative, or an existing file system
    entry's parent (hub names are ``name`` or ``org/name``)."""
    return (
        os.path.isabs(name)
        or name.startswith(("./", "../", "~", "." + os.sep))
        or name.count("/") > 1
        or os.sep != "/" and os.sep in name
    )


def _accepts(fn: Any, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params


def _model_name(model: Any) -> str:
    name = getattr(model, "name_or_path", None) or getattr(model.config, "_name_or_path", None) or ""
    return str(name) or type(model).__name__


def _token_units(tokenizer: Any, text: str) -> list[str]:
    """Pieces of ``text`` cut at the start offset of each token; their concatenation is ``text`` exactly.

    Whitespace between tokens stays with the piece before it (leading whitespace with the first piece).
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError("token_units needs a fast tokenizer (offsets); load it with use_fast=True")
    if not text:
        return []
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    starts = sorted({int(s) for s, e in enc["offset_mapping"] if e > s})
    if not starts:
        return [text]
    starts[0] = 0
    ends = starts[1:] + [len(text)]
    return [text[s:e] for s, e in zip(starts, ends, strict=True)]


class BackendOptions(TypedDict, total=False):
    """The options every Hugging Face backend takes (``HuggingFaceLM``, ``HuggingFaceClassifier``): one list,
    with its defaults in :class:`_TorchBackend`, so a new option is added once."""

    name: str | None
    device: Any
    dtype: Any
    max_tokens: int
    max_batch: int
    sort_by_length: bool


class _TorchBackend:
    """Shared parts: device/dtype placement, the batch plan, the lazy identity."""

    _kind = "hf"
    #: fixed cost of one forward in padded-token units, for cutting length buckets (see ``plan_batches``);
    #: raise it where forwards are expensive to launch (small models, GPUs), lower it to pad less.
    forward_cost: int = 128

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        name: str | None = None,
        device: Any = None,
        dtype: Any = None,
        max_tokens: int = 8192,
        max_batch: int = 64,
        sort_by_length: bool = True,
    ) -> None:
        torch = _torch()
        if not isinstance(model, torch.nn.Module):
            raise TypeError(f"model must be a torch.nn.Module (a transformers model), got {type(model).__name__}")
        if not callable(tokenizer):
            raise TypeError(f"tokenizer must be a transformers tokenizer, got {type(tokenizer).__name__}")
        if int(max_tokens) < 1:
            raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
        if int(max_batch) < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        dev = _resolve_device(device)
        if dev is not None:
            model = model.to(dev)
        if dtype is not None:
            model = model.to(_resolve_dtype(dtype))
        model.eval()  # dropout off: values must be deterministic
        self.model = model
        self.tokenizer = tokenizer
        self.name = name or _model_name(model)
        self.max_tokens = int(max_tokens)
        self.max_batch = int(max_batch)
        self.sort_by_length = bool(sort_by_length)
        self._weights: str | None = None
        self.forwards = 0  # number of model forwards run (for tests and benchmarks)

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def dtype(self) -> Any:
        return next(self.model.parameters()).dtype

    def weights_digest(self) -> str:
        """sha256 of the weights, computed on first use and kept (see :func:`weights_digest` for the cost)."""
        if self._weights is None:
            self._weights = weights_digest(self.model)
        return self._weights

    def _identity_parts(self) -> dict[str, Any]:
        return {}

    def identity(self) -> str:
        """``"<kind>:<name>#<digest>"``: the digest covers the weights, tokenizer and every value-changing option."""
        digest = fingerprint(
            f"spexjax.llm.{type(self).__name__}/v1",
            name=self.name,
            weights=self.weights_digest(),
            tokenizer=tokenizer_digest(self.tokenizer),
            dtype=str(self.dtype),
            **self._identity_parts(),
        )
        return f"{self._kind}:{self.name}#{digest}"

    def token_units(self, text: str) -> list[str]:
        """Token strings of ``text`` (no special tokens) whose concatenation is ``text`` exactly."""
        return _token_units(self.tokenizer, text)

    def _plan(self, lengths: Sequence[int]) -> list[np.ndarray]:
        return plan_batches(
            lengths,
            max_tokens=self.max_tokens,
            max_batch=self.max_batch,
            sort=self.sort_by_length,
            forward_cost=self.forward_cost,
        )


class HuggingFaceLM(TailScoring, _TorchBackend):
    """A ``transformers`` causal LM as a :class:`~spexjax.llm.protocols.LanguageModel`.

    Options:
        padding_side: ``"left"`` or ``"right"`` (``None``: left when the model takes ``position_ids``, which
            lets only the read positions' logits be computed; else right). Both give the one-at-a-time values.
        chat_template: ``True`` (required), ``False`` (plain text) or ``None`` (auto: when the tokenizer has one).
        system: system message for the chat template (needs a template).
        add_special_tokens: add the tokenizer's special tokens to a plain (template-free) prompt; default True.
        max_tokens: padded tokens per forward (rows x longest row), default 8192; max_batch: rows per forward
            (default 64); sort_by_length: bucket rows by length (default True; False = in the given order);
            the attribute ``forward_cost`` sets where buckets are cut.
        device, dtype: move/cast the model (``dtype`` default: leave as is; float32 is what is exact).
        name: the model name used in :meth:`identity` (default: the model's ``name_or_path``).
    """

    _kind = "hf-causal-lm"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        padding_side: str | None = None,
        chat_template: bool | None = None,
        system: str | None = None,
        add_special_tokens: bool = True,
        **options: Unpack[BackendOptions],
    ) -> None:
        super().__init__(model, tokenizer, **options)
        fwd = self.model.forward
        self._takes_positions = _accepts(fwd, "position_ids")
        self._takes_keep = _accepts(fwd, "logits_to_keep")
        if padding_side is None:
            padding_side = "left" if self._takes_positions else "right"
        if padding_side not in ("left", "right"):
            raise ValueError(f"padding_side must be 'left', 'right' or None, got {padding_side!r}")
        if padding_side == "left" and not self._takes_positions:
            raise ValueError(
                f"padding_side='left' needs a model whose forward takes position_ids ({type(model).__name__} does "
                "not): left padding with default positions gives wrong logits; use padding_side='right'"
            )
        self.padding_side = padding_side
        template = getattr(tokenizer, "chat_template", None)
        if chat_template is None:
            chat_template = bool(template)
        elif chat_template and not template:
            raise ValueError("chat_template=True but the tokenizer has no chat template (tokenizer.chat_template)")
        self.chat_template = bool(chat_template)
        if system is not None and not self.chat_template:
            raise ValueError("system= needs a chat template (chat_template=True and a tokenizer that has one)")
        if system is not None and not isinstance(system, str):
            raise TypeError(f"system must be a str or None, got {type(system).__name__}")
        self.system = system
        self.add_special_tokens = bool(add_special_tokens)
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self._pad_id = int(pad)  # any id: padded positions are masked and never read

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        device: Any = None,
        dtype: Any = None,
        *,
        local_files_only: bool | None = None,
        trust_remote_code: bool = False,
        gguf_file: str | None = None,
        **options: Any,
    ) -> HuggingFaceLM:
        """Load model and tokenizer with ``AutoModelForCausalLM`` / ``AutoTokenizer``.

        A local folder is loaded with ``local_files_only=True`` (nothing touches the network); a hub name is
        loaded offline too when ``HF_HUB_OFFLINE=1`` is set or ``local_files_only=True`` is passed. ``dtype``
        defaults to float32. ``gguf_file="model.gguf"`` loads a llama.cpp GGUF file in that folder (transformers
        dequantises it; needs the ``gguf`` package): the PyTorch reference of :class:`spexjax.llm.JaxCausalLM`
        on the same weights.
        """
        tf = _transformers()
        if not isinstance(name_or_path, str | os.PathLike):
            raise TypeError(f"name_or_path must be a str or path, got {type(name_or_path).__name__}")
        name_or_path = os.fspath(name_or_path)
        if _looks_like_path(name_or_path) and not os.path.isdir(name_or_path):
            raise FileNotFoundError(
                f"name_or_path: the folder {name_or_path!r} does not exist (hub names like 'org/model' need the "
                "network or a cached copy with HF_HUB_OFFLINE=1)"
            )
        if local_files_only is None:
            local_files_only = os.path.isdir(name_or_path) or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        kw: dict[str, Any] = {"local_files_only": bool(local_files_only), "trust_remote_code": trust_remote_code}
        name = name_or_path
        if gguf_file is not None:
            if not isinstance(gguf_file, str | os.PathLike):
                raise TypeError(f"gguf_file must be a str or path, got {type(gguf_file).__name__}")
            gguf_file = os.fspath(gguf_file)
            if os.path.isdir(name_or_path) and not os.path.isfile(os.path.join(name_or_path, gguf_file)):
                raise FileNotFoundError(f"gguf_file: no file {gguf_file!r} in the folder {name_or_path!r}")
            require("gguf", "smollm2", what="loading GGUF files in transformers")
            kw["gguf_file"] = gguf_file
            name = os.path.join(name_or_path, gguf_file)
        tokenizer = tf.AutoTokenizer.from_pretrained(name_or_path, **kw)
        model = tf.AutoModelForCausalLM.from_pretrained(name_or_path, **_dtype_kw(tf, dtype), **kw)
        return cls(model, tokenizer, device=device, name=name, **options)

    # -- tokenisation -----------------------------------------------------------------------------------
    def _identity_parts(self) -> dict[str, Any]:
        return {
            "chat_template": self.tokenizer.chat_template if self.chat_template else None,
            "system": self.system,
            "add_special_tokens": self.add_special_tokens,
        }

    def prompt_ids(self, prompt: str) -> list[int]:
        """The ids the model sees for ``prompt`` (chat template and special tokens applied), never empty."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        tok = self.tokenizer
        if self.chat_template:
            messages = [] if self.system is None else [{"role": "system", "content": self.system}]
            messages.append({"role": "user", "content": prompt})
            text = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            ids = list(tok(text, add_special_tokens=False)["input_ids"])
            bos = tok.bos_token_id
            if bos is not None and len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
                ids = ids[1:]
        else:
            ids = list(tok(prompt, add_special_tokens=self.add_special_tokens)["input_ids"])
        if not ids:
            # An empty prompt (every unit ablated, no special tokens): condition on BOS (else EOS, as GPT-2
            # does for unconditional text) so that the first response token has a distribution.
            start = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
            if start is None:
                raise ValueError(
                    "the prompt tokenises to no tokens and the tokenizer has no BOS/EOS token to "
                    "start from; pass a non-empty prompt or keep a prefix"
                )
            ids = [int(start)]
        return [int(i) for i in ids]

    def response_ids(self, response: str) -> list[int]:
        """The response's ids: tokenised alone, without special tokens (see the module docstring for why)."""
        if not isinstance(response, str):
            raise TypeError(f"response must be a str, got {type(response).__name__}")
        return [int(i) for i in self.tokenizer(response, add_special_tokens=False)["input_ids"]]

    # -- the forward --------------------------------------------------------------------------------------
    def _tail_logprobs(self, seqs: list[list[int]], tail: int, targets: np.ndarray) -> np.ndarray:
        """``float64[len(seqs), tail, k]``: log-softmax at each row's last ``tail`` positions, at ``targets``.

        ``targets`` is ``int[tail, k]`` (the same ids for every row). Identical rows are run once.
        """
        torch = _torch()
        uniq: dict[tuple[int, ...], int] = {}
        index = np.array([uniq.setdefault(tuple(s), len(uniq)) for s in seqs], dtype=np.int64)
        rows = list(uniq)
        lengths = [len(r) for r in rows]
        out = np.empty((len(rows), tail, targets.shape[1]), dtype=np.float64)
        dev = self.device
        tgt = torch.as_tensor(targets, dtype=torch.long, device=dev)
        with torch.inference_mode():
            for group in self._plan(lengths):
                width = max(lengths[g] for g in group)
                ids = torch.full((len(group), width), self._pad_id, dtype=torch.long)
                mask = torch.zeros((len(group), width), dtype=torch.long)
                starts = []  # first read position per row, in padded coordinates
                for r, g in enumerate(group):
                    seq, n = rows[g], lengths[g]
                    lo = width - n if self.padding_side == "left" else 0
                    ids[r, lo : lo + n] = torch.as_tensor(seq)
                    mask[r, lo : lo + n] = 1
                    starts.append(lo + n - tail)
                kw: dict[str, Any] = {"input_ids": ids.to(dev), "attention_mask": mask.to(dev), "use_cache": False}
                if self._takes_positions:
                    kw["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0).to(dev)
                first = min(starts)
                if self._takes_keep:
                    kw["logits_to_keep"] = width - first
                    offset = first
                else:
                    offset = 0
                logits = self.model(**kw).logits
                self.forwards += 1
                pos = torch.as_tensor(starts, device=dev)[:, None] + torch.arange(tail, device=dev) - offset
                sel = logits[torch.arange(len(group), device=dev)[:, None], pos].float()  # [B, tail, V]
                # log-softmax at the read positions only; logsumexp in float32 (error ~1e-6, far below the
                # forward's own round-off) and the difference in float64.
                lse = torch.logsumexp(sel, dim=-1, keepdim=True)
                picked = torch.gather(sel, 2, tgt[None].expand(len(group), -1, -1))
                out[np.asarray(group)] = picked.double().cpu().numpy() - lse.double().cpu().numpy()
        return out[index]

    # -- the protocol ---------------------------------------------------------------------------------------
    def candidate_ids(self, candidates: Sequence[str]) -> list[int]:
        """The first token id of each candidate, tokenised alone without special tokens.

        Note: for BPE tokenizers ``" yes"`` and ``"yes"`` are different tokens; pass what follows the prompt.
        """
        out = []
        for c in check_texts(candidates, "candidates"):
            ids = self.tokenizer(c, add_special_tokens=False)["input_ids"]
            if not ids:
                raise ValueError(f"candidates: {c!r} tokenises to no tokens")
            out.append(int(ids[0]))
        return out

    def generate_ids(self, prompt: str, *, max_new_tokens: int = 32) -> list[int]:
        """Greedy continuation ids of ``prompt`` (stopping before EOS), one sequence, no padding."""
        torch = _torch()
        if int(max_new_tokens) < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        ids = torch.as_tensor([self.prompt_ids(prompt)], device=self.device)
        eos = self.tokenizer.eos_token_id
        gen_kw: dict[str, Any] = {
            "max_new_tokens": int(max_new_tokens),
            "do_sample": False,
            "num_beams": 1,
            "pad_token_id": self._pad_id,
            "attention_mask": torch.ones_like(ids),
        }
        if eos is not None:
            gen_kw["eos_token_id"] = eos
        with torch.inference_mode():
            out = self.model.generate(ids, **gen_kw)
        new = [int(i) for i in out[0, ids.shape[1] :].tolist()]
        if eos is not None and eos in new:
            new = new[: new.index(eos)]
        return new

    def generate(self, prompt: str, *, max_new_tokens: int = 32) -> str:
        """The greedy response (decoded without special tokens).

        The text is what gets explained; when scored it is re-tokenised, which for most tokenizers gives the
        generated ids back (not guaranteed for every tokenizer: the explained value is that of the text).
        """
        ids = self.generate_ids(prompt, max_new_tokens=max_new_tokens)
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def __repr__(self) -> str:
        return (
            f"HuggingFaceLM({self.name!r}, padding_side={self.padding_side!r}, "
            f"chat_template={self.chat_template}, dtype={self.dtype}, device={self.device})"
        )


class HuggingFaceClassifier(_TorchBackend):
    """A ``transformers`` sequence classifier as a :class:`~spexjax.llm.protocols.TextScorer`.

    ``score(texts)`` is, for class ``label`` (an index or a name in ``config.label2id``; default 1 for a binary
    model): ``output="log_odds"`` -> ``log p(label) - log(1 - p(label))`` (for two classes: the logit
    difference), ``"logit"`` -> the raw class logit, ``"logprob"`` -> ``log p(label)``. Rows are right-padded
    with an attention mask (encoders attend both ways, so the mask is what keeps pads out). The other options
    (``max_tokens``, ``max_batch``, ``sort_by_length``, ``device``, ``dtype``, ``name``) are
    :class:`BackendOptions`, as for :class:`HuggingFaceLM`.
    """

    _kind = "hf-classifier"
    _OUTPUTS = ("log_odds", "logit", "logprob")

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        label: int | str | None = None,
        output: str = "log_odds",
        **options: Unpack[BackendOptions],
    ) -> None:
        super().__init__(model, tokenizer, **options)
        if output not in self._OUTPUTS:
            raise ValueError(f"output must be one of {self._OUTPUTS}, got {output!r}")
        self.output = output
        cfg = self.model.config
        num = int(getattr(cfg, "num_labels", 0) or 0)
        if label is None:
            if num != 2:
                raise ValueError(f"label= is required for a model with {num} classes (an index or a name)")
            label = 1
        if isinstance(label, str):
            names = dict(getattr(cfg, "label2id", {}) or {})
            if label not in names:
                raise ValueError(f"label {label!r} is not a class name of this model; names: {sorted(names)}")
            label = int(names[label])
        if isinstance(label, bool) or not isinstance(label, int | np.integer):
            raise TypeError(f"label must be an int or a str, got {type(label).__name__}")
        if not 0 <= int(label) < num:
            raise ValueError(f"label must be in [0, {num}), got {label}")
        self.label = int(label)
        pad = tokenizer.pad_token_id
        self._pad_id = int(pad if pad is not None else 0)

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str,
        device: Any = None,
        dtype: Any = None,
        *,
        local_files_only: bool | None = None,
        trust_remote_code: bool = False,
        **options: Any,
    ) -> HuggingFaceClassifier:
        """Load with ``AutoModelForSequenceClassification`` / ``AutoTokenizer`` (a local folder: offline)."""
        tf = _transformers()
        name_or_path = os.fspath(name_or_path)
        if local_files_only is None:
            local_files_only = os.path.isdir(name_or_path) or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0")
        kw = {"local_files_only": bool(local_files_only), "trust_remote_code": trust_remote_code}
        tokenizer = tf.AutoTokenizer.from_pretrained(name_or_path, **kw)
        model = tf.AutoModelForSequenceClassification.from_pretrained(name_or_path, **_dtype_kw(tf, dtype), **kw)
        return cls(model, tokenizer, device=device, name=name_or_path, **options)

    def _identity_parts(self) -> dict[str, Any]:
        return {"label": self.label, "output": self.output}

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """``float64[len(texts)]``; batched in length buckets, each text's value as if scored alone."""
        torch = _torch()
        texts = check_texts(texts, "texts")
        encs = [self.tokenizer(t) for t in texts]
        rows = [list(e["input_ids"]) for e in encs]
        types = [list(e["token_type_ids"]) if "token_type_ids" in e else None for e in encs]
        out = np.empty(len(texts), dtype=np.float64)
        dev = self.device
        with torch.inference_mode():
            for group in self._plan([len(r) for r in rows]):
                width = max(len(rows[g]) for g in group)
                ids = torch.full((len(group), width), self._pad_id, dtype=torch.long)
                mask = torch.zeros((len(group), width), dtype=torch.long)
                tt = torch.zeros((len(group), width), dtype=torch.long)
                for r, g in enumerate(group):
                    n = len(rows[g])
                    ids[r, :n] = torch.as_tensor(rows[g])
                    mask[r, :n] = 1
                    if types[g] is not None:
                        tt[r, :n] = torch.as_tensor(types[g])
                kw: dict[str, Any] = {"input_ids": ids.to(dev), "attention_mask": mask.to(dev)}
                if types[group[0]] is not None:
                    kw["token_type_ids"] = tt.to(dev)
                logits = self.model(**kw).logits.double()
                self.forwards += 1
                out[np.asarray(group)] = _class_value(torch, logits, self.label, self.output).cpu().numpy()
        return out

    def __repr__(self) -> str:
        return f"HuggingFaceClassifier({self.name!r}, label={self.label}, output={self.output!r})"


def _class_value(torch: Any, logits: Any, label: int, output: str) -> Any:
    """One float per row from ``float64[B, C]`` logits."""
    if output == "logit":
        return logits[:, label]
    logp = torch.log_softmax(logits, dim=-1)
    if output == "logprob":
        return logp[:, label]
    others = torch.cat([logits[:, :label], logits[:, label + 1 :]], dim=-1)
    return logits[:, label] - torch.logsumexp(others, dim=-1)  # log p / (1 - p)
