"""One place that turns a user ``key`` (int seed or JAX PRNG key) into deterministic NumPy generators.

Every random draw of the library comes from a *named stream* listed here (:data:`STREAMS`). Stream ``id``
with its index words (at most one: SPEX's hash width or held-out block, a subset size) for a 64-bit seed
``s = s_lo + 2**32 s_hi`` is ``SeedSequence([s_lo, id, *index, s_hi])``: a fixed number of words per
stream, at most 4, with the id always in the second word.

Why this layout. NumPy zero-pads the entropy up to its pool size (4 words), so ``default_rng([s, 3, 0])``
and ``default_rng([s, 3])`` are the *same* generator: before 2026-12-07, SPEX's first held-out block
(``target_r2``, ``[s, 3, 0]``) was ProxySPEX's first 64 training masks (``[s, 3]``) for the same key, and a
key of ``2**32`` or more spilled into the stream word (``[s + 2**32, 32]`` was ``[s, 1, 32]``). Here every
stream has its own id in the same position and a fixed length, so two streams (or two keys / indices of one
stream) differ in at least one of the four padded words, and NumPy mixes up to four words with invertible
steps (O'Neill's ``seed_seq_fe``), so different padded words give different pools: no two names can
coincide. For keys below ``2**32`` the words are the ones the old ``[s, stream, *index]`` lists gave (the
trailing ``s_hi = 0`` is padding), so every stream that did not collide draws exactly what it drew before;
only SPEX's held-out blocks (new id) and the heads example split (was the bare seed) moved.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: SPEX hash codes ``M_c`` (index: 0 for the fixed design's b-bit codes, 32 for the growing design's
#: 32-bit codes of ``target_r2``).
SPEX_HASH = 1
#: SPEX, fixed design: the extra uniform masks the refit uses beyond the structured rows.
SPEX_EXTRA = 2
#: ProxySPEX's uniform training masks (:func:`spexjax.proxyspex.uniform_masks`; the Banzhaf baseline draws
#: the same masks on purpose, so the two compare on identical rows).
PROXYSPEX_SAMPLES = 3
#: SPEX, ``target_r2``: held-out uniform block ``k`` (index: the block number). Was id 3 with the block
#: number appended, which made block 0 ProxySPEX's samples.
SPEX_HELDOUT = 0x3B
#: LightGBM proxy: the training / held-out split of the samples.
LGBM_SPLIT = 0x1B
#: JAX MLP proxy: the training / held-out split.
NEURAL_SPLIT = 0x2E
#: Fourier-network proxy: the training / held-out split.
FOURIER_NET_SPLIT = 0x3F
#: Cross-validation folds of the LASSO refit.
REFIT_FOLDS = 0x1A55
#: KernelSHAP / FaithSHAP baselines: coalition sizes from the Shapley kernel.
KERNEL_SHAP = 32
#: LIME baseline: its masks.
LIME = 33
#: :func:`spexjax.testing.random_sparse_fourier`.
TESTING_FOURIER = 0x5F
#: :func:`spexjax.testing.random_hierarchical_mobius`.
TESTING_MOBIUS = 0x41
#: Head pruning: random subsets of one size (index: the size).
PRUNE_SUBSETS = 0x4EAD
#: Head pruning: masks with a fixed keep fraction per share.
PRUNE_MATCHED = 0x3A7C
#: Head task: the fit / held-out split of the labelled examples.
HEADS_EXAMPLE_SPLIT = 0x4E5A
#: The digits data set's train / test permutation (:func:`spexjax.data.load_digits_split`); id 0 keeps the
#: permutation ``default_rng(seed)`` gave for every seed below ``2**32``.
DIGITS_SPLIT = 0
#: Held-out faithfulness masks of ``explain`` and the command line (the CLI's seed constant since 2026-12-02).
FAITHFULNESS = 20250219

#: name -> (id, number of index words). The one registry every draw goes through.
STREAMS: dict[str, tuple[int, int]] = {
    "SPEX_HASH": (SPEX_HASH, 1),
    "SPEX_EXTRA": (SPEX_EXTRA, 0),
    "PROXYSPEX_SAMPLES": (PROXYSPEX_SAMPLES, 0),
    "SPEX_HELDOUT": (SPEX_HELDOUT, 1),
    "LGBM_SPLIT": (LGBM_SPLIT, 0),
    "NEURAL_SPLIT": (NEURAL_SPLIT, 0),
    "FOURIER_NET_SPLIT": (FOURIER_NET_SPLIT, 0),
    "REFIT_FOLDS": (REFIT_FOLDS, 0),
    "KERNEL_SHAP": (KERNEL_SHAP, 0),
    "LIME": (LIME, 0),
    "TESTING_FOURIER": (TESTING_FOURIER, 0),
    "TESTING_MOBIUS": (TESTING_MOBIUS, 0),
    "PRUNE_SUBSETS": (PRUNE_SUBSETS, 1),
    "PRUNE_MATCHED": (PRUNE_MATCHED, 0),
    "HEADS_EXAMPLE_SPLIT": (HEADS_EXAMPLE_SPLIT, 0),
    "DIGITS_SPLIT": (DIGITS_SPLIT, 0),
    "FAITHFULNESS": (FAITHFULNESS, 0),
}
_ARITY = {sid: arity for sid, arity in STREAMS.values()}
if len(_ARITY) != len(STREAMS) or not all(0 <= sid < 1 << 32 and a <= 1 for sid, a in STREAMS.values()):
    raise RuntimeError("stream ids must be distinct 32-bit words with at most one index word")  # pragma: no cover


def key_to_seed(key: Any) -> int:
    """A 64-bit seed derived deterministically from an int or a JAX PRNG key."""
    if isinstance(key, bool):
        raise TypeError("key must be an int seed or a JAX PRNG key; got bool")
    if isinstance(key, (int, np.integer)):
        return int(key) & 0xFFFFFFFFFFFFFFFF
    try:
        import jax

        if hasattr(key, "dtype") and jax.dtypes.issubdtype(key.dtype, jax.dtypes.prng_key):
            key = jax.random.key_data(key)
    except Exception:  # noqa: BLE001 - fall through to the generic array path
        pass
    arr = np.asarray(key)
    if arr.dtype.kind not in "iu" or arr.size == 0:
        raise TypeError(f"key must be an int seed or a JAX PRNG key; got {type(key).__name__}")
    seed = 0
    for v in arr.reshape(-1).astype(np.uint64):
        seed = (seed * 0x9E3779B97F4A7C15 + int(v)) & 0xFFFFFFFFFFFFFFFF
    return seed


def seed_sequence(key: Any, stream: int, *index: int) -> np.random.SeedSequence:
    """The ``SeedSequence`` of named ``stream`` (an id of :data:`STREAMS`) with its index words for ``key``."""
    if isinstance(stream, bool) or not isinstance(stream, (int, np.integer)) or int(stream) not in _ARITY:
        raise ValueError(f"stream must be one of the ids in spexjax._rng.STREAMS; got {stream!r}")
    arity = _ARITY[int(stream)]
    if len(index) != arity:
        raise ValueError(f"stream {int(stream)} takes {arity} index word(s); got {len(index)}")
    for v in index:
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not 0 <= int(v) < 1 << 32:
            raise ValueError(f"stream index words must be ints in [0, 2**32); got {v!r}")
    seed = key_to_seed(key)
    words = [seed & 0xFFFFFFFF, int(stream), *(int(v) for v in index), seed >> 32]
    return np.random.SeedSequence(words)


def numpy_rng(key: Any, stream: int, *index: int) -> np.random.Generator:
    """A NumPy generator for ``key`` on named ``stream`` (see the module docstring: streams never coincide)."""
    return np.random.default_rng(seed_sequence(key, stream, *index))


def uniform_masks(key: Any, m: int, n: int, stream: int, *index: int, draw: str = "bytes") -> np.ndarray:
    """``bool[m, n]`` with i.i.d. fair bits from named ``stream`` (with its ``index`` words) for ``key``.

    The one helper behind every uniform mask the library draws (ProxySPEX's samples and the Banzhaf
    baselines', SPEX's held-out blocks and extra refit rows, ``explain``'s faithfulness masks), so a new draw
    is a new stream name, never a new sampler. Two encodings, each kept where it was used so that every
    existing draw stays bit for bit:

    - ``draw="bytes"`` (default): random bytes unpacked to bits; no float matrix and no per-bit call, so any
      ``n`` works (ProxySPEX at n = 10^6);
    - ``draw="float"``: ``uniform(0, 1) < 0.5`` per bit (SPEX's extra rows, the faithfulness masks: their
      first draws predate the byte sampler, and saved results and caches depend on them).
    """
    rng = numpy_rng(key, stream, *index)
    m, n = int(m), int(n)
    if draw == "bytes":
        packed = rng.integers(0, 256, size=(m, (n + 7) // 8), dtype=np.uint8)
        return np.unpackbits(packed, axis=1, count=n).astype(bool)
    if draw == "float":
        return rng.random((m, n)) < 0.5
    raise ValueError(f"draw must be 'bytes' or 'float'; got {draw!r}")
