"""SPEX: sparse Walsh-Hadamard recovery of a value function from structured ablations.

Data flow (each arrow one function, shapes in its docstring):
  plan (b, t, C, P) -> hash codes ``uint32[C, n]`` + BCH delays -> :class:`AffineQueries`
  -> value function (through the query runner: batching, cache, errors) -> ``float[C, P+1, 2^b]``
  -> FWHT over the bins -> noise level -> :func:`spexjax.kernels.peeling.peel` (BCH decode + verify + peel)
  -> optional least-squares refit in the bin domain -> :class:`Interactions`.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spexjax._jit_cache import enable_persistent_compilation_cache
from spexjax._rng import numpy_rng
from spexjax.errors import SpexError
from spexjax.interactions import Interactions, padded_to_supports
from spexjax.kernels.peeling import pack_bits, peel
from spexjax.plans import SpexPlan, make_plan
from spexjax.runs import make_runner
from spexjax.value_functions import AffineQueries, as_value_function, check_n

DECODERS = ("soft", "hard")
_MAX_EXTRA_BITS = 1 << 28  # cap on (extra random masks) x n, so leftover budget never costs gigabytes


@functools.lru_cache(maxsize=8)
def _code(n: int, t: int):
    from spexjax.kernels.bch import make_code

    code = make_code(n, t)
    code._device  # noqa: B018 - build the device tables outside any trace (they are cached on the code)
    getattr(code, "_limit", None)  # likewise (a jnp scalar cached on first use; created in a trace it breaks re-calls)
    return code


class BCHDelays:
    """Delay rows ``d_0 = 0, d_1..d_P`` (parity rows of the shortened BCH code) by feature column.

    Keeps the packed columns ``uint32[n, W]`` (bit ``p`` = ``d_p[i]``), built chunk by chunk so that a
    10^7-feature design never holds an unpacked ``(n, P)`` matrix.
    """

    def __init__(self, code, n: int, chunk: int = 1 << 17):
        self.code = code
        self.n = n
        self.num_delays = int(code.P) + 1
        W = (self.num_delays + 31) // 32
        self.packed = np.zeros((n, W), np.uint32)
        as_bytes = self.packed.view(np.uint8).reshape(n, 4 * W)  # little-endian words: byte k = bits 8k..8k+7
        for lo in range(0, n, chunk):
            idx = np.arange(lo, min(n, lo + chunk))
            cols = np.asarray(code.delay_columns(idx), dtype=np.uint8)
            cols = np.concatenate([np.zeros((len(idx), 1), np.uint8), cols], axis=1)
            # np.packbits, not kernels.peeling.pack_bits: 20x faster (16 s -> 0.8 s of packing at n = 10^7)
            packed = np.packbits(cols, axis=-1, bitorder="little")
            if np.little_endian:
                as_bytes[lo : lo + len(idx), : packed.shape[1]] = packed
            else:  # pragma: no cover - big-endian hosts
                self.packed[lo : lo + len(idx)] = pack_bits(cols)
        self.fingerprint = f"bch(n={n},t={code.t},m={code.m},P={code.P})"

    _DENSE_LIMIT = 1 << 26  # keep an unpacked copy (n * (P+1) bytes) up to 64 MB: dense masks read it often

    def bits(self, idx: np.ndarray) -> np.ndarray:
        if self.n * self.num_delays <= self._DENSE_LIMIT:
            dense = getattr(self, "_dense", None)
            if dense is None:
                dense = self._dense = self._unpack(self.packed)
            return dense[np.asarray(idx)]
        return self._unpack(self.packed[np.asarray(idx)])

    def _unpack(self, words: np.ndarray) -> np.ndarray:
        bits = (words[..., :, None] >> np.arange(32, dtype=np.uint32)) & 1
        return bits.reshape(words.shape[:-1] + (-1,))[..., : self.num_delays].astype(bool)


def estimate_noise_var(U: np.ndarray, quantile: float = 0.2) -> float:
    """Per-bin noise variance from the quietest bins.

    Empty bins hold only noise, so their mean energy over the ``P+1`` delays is ``sigma_b^2`` times a
    chi-square/(P+1) variable, tightly concentrated; a low quantile over all bins stays on empty bins as
    long as most bins are empty. When few are (more terms than bins, where dominated multitons are peeled),
    single-term bins still show it: their ``|U|`` is constant over the delays up to the noise, so the spread
    of ``|U|`` over the delays is ``~sigma_b^2`` there (``(1 - 2/pi) sigma_b^2`` in an empty bin); its 5 %
    quantile bounds the noise from above. The smaller estimate is used.
    """
    P1 = U.shape[1]
    energy = np.mean(U * U, axis=1).reshape(-1)  # (C*B,)
    q = float(np.quantile(energy, quantile))
    # chi2_{P+1}/(P+1) quantile ~ 1 + z sqrt(2/(P+1)); z(0.2) = -0.8416
    corr = max(0.25, 1.0 - 0.8416 * np.sqrt(2.0 / P1))
    spread = np.var(np.abs(U), axis=1).reshape(-1)
    q2 = float(np.quantile(spread, 0.05))
    corr2 = (1.0 - 2.0 / np.pi) * max(0.25, 1.0 - 1.645 * np.sqrt(2.0 / max(P1 - 1, 1)))
    return min(q / corr, q2 / corr2)


def _refit_bins(
    U: np.ndarray,
    codes: np.ndarray,
    signs: np.ndarray,
    b: int,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
    ridge: float = 1e-12,
) -> np.ndarray:
    """Least squares of the recovered terms on every structured query, computed in the bin domain.

    With the normalised transform, ``sum_l (y - yhat)^2 = 2^b sum_j (U - Uhat)^2`` per (group, delay), and
    ``Uhat[c, p, j] = sum_{k: h_c(k) = j} F_k s_p(k)``; so the normal matrix needs only pairs of terms that
    share a bin. ``codes``: ``uint32[C, K]``, ``signs``: ``float[K, P+1]``. ``extra``: random-mask rows
    ``(X float[m, K] characters, y float[m])``.
    """
    C, P1, B = U.shape
    K = codes.shape[1]
    G = np.zeros((K, K))
    r = np.zeros(K)
    SS = signs @ signs.T  # (K, K)
    for c in range(C):
        same = codes[c][:, None] == codes[c][None, :]
        G += np.where(same, SS, 0.0)
        r += np.einsum("kp,pk->k", signs, U[c][:, codes[c]])
    G *= float(B)
    r *= float(B)
    if extra is not None:
        X, y = extra
        G += X.T @ X
        r += X.T @ y
    G[np.diag_indices(K)] += ridge * max(1.0, float(np.trace(G)) / max(K, 1))
    return np.linalg.solve(G, r)


def spex(
    value_fn: Any,
    n: int,
    *,
    budget: int | None = None,
    max_degree: int = 5,
    decoder: str = "soft",
    key: Any = 0,
    refine: bool = True,
    b: int | None = None,
    groups: int | None = None,
    noise_sd: float | None = None,
    chase_depth: int | None = None,
    root_finder: str = "algebraic",
    peeling: str = "relaxed",
    feature_names: Any = None,
    devices: Any = None,
    **options: Any,
) -> Interactions:
    """Recover the sparse, low-degree Fourier expansion of ``value_fn`` with SPEX.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`spexjax.ValueFunction`.
      n: number of features.
      budget: most value-function rows to evaluate (``None``: ``b=8`` with 3 groups). The largest ``b``
        that affords 3 groups is chosen, as many whole groups as fit are used, and the rest is spent on
        random masks for the refit.
      max_degree: ``t``, the largest interaction order the BCH delays can identify.
      decoder: ``"soft"`` (Chase decoding on the delay magnitudes; robust to noise) or ``"hard"``.
      key: int seed or JAX PRNG key; the same key gives the same result.
      refine: least-squares refit of the recovered coefficients on all queried values.
      b, groups: force the design instead of deriving it from ``budget``.
      noise_sd: standard deviation of the value noise if known (default: estimated from empty bins).
      chase_depth: least-reliable delay bits the soft decoder flips (default ``min(t, 5)``).
      root_finder: how the BCH decoder finds error-locator roots: ``"algebraic"`` (affine multiple; cost
        independent of ``n``: 20-70x faster than a Chien search already at n = 512..8192) or ``"chien"``.
      peeling: ``"relaxed"`` (default): once clean singletons run out, also take out terms that dominate a
        multiton (checked against their bins in the other groups), which recovers more terms than bins;
        ``"strict"``: singletons only, as in the papers' SPEX (for reproducing their numbers).
      feature_names: optional names for the result.
      devices: split the FWHT and the peel over accelerators (:mod:`spexjax.sharding`): ``None`` (one
        device), ``"all"``, an int (the first k devices) or a sequence of ``jax.Device``. The result does
        not depend on it (same supports, coefficients equal to round-off).
      **options: query-runner options (:class:`spexjax.runs.QueryRunner`): ``batch_size`` (most rows per
        value-function call), ``cache`` (SQLite path; finished queries are never evaluated again),
        ``executor`` (``"inline"``, ``"thread"``, ``"process"``, ``"ray"``), ``on_nonfinite``
        (``"raise"``, ``"drop"``, ``"zero"``), ``progress``, ``fingerprint``, ``max_retries``, ``retry_backoff``.
    Returns:
      :class:`Interactions` with the recovered Fourier terms; ``meta`` records the plan and diagnostics.
    """
    t0 = time.perf_counter()
    enable_persistent_compilation_cache()
    n = check_n(n)
    if decoder not in DECODERS:
        raise SpexError(f"decoder must be one of {DECODERS}; got {decoder!r}")
    if peeling not in ("relaxed", "strict"):
        raise SpexError(f"peeling must be 'relaxed' or 'strict'; got {peeling!r}")
    if root_finder not in ("algebraic", "chien", "auto"):
        raise SpexError(f"root_finder must be 'algebraic', 'chien' or 'auto'; got {root_finder!r}")
    vf = as_value_function(value_fn, n)
    plan: SpexPlan = make_plan(n, budget, max_degree, b=b, groups=groups)
    runner = make_runner(vf, n, desc="spex queries", options=options, method="spex")

    rng = numpy_rng(key, 1)
    C, B, P = plan.groups, 1 << plan.b, plan.P
    hash_codes = rng.integers(0, B, size=(C, n), dtype=np.uint32)
    code = _code(n, plan.t)
    if int(code.P) != P:  # pragma: no cover - plans and kernels must agree
        raise RuntimeError(f"plan P={P} but BCH code P={code.P}")
    delays = BCHDelays(code, n)
    groups_arr = np.stack(np.meshgrid(np.arange(C), np.arange(P + 1), indexing="ij"), -1).reshape(-1, 2)
    queries = AffineQueries(hash_codes=hash_codes, delays=delays, groups=groups_arr.astype(np.int32), b=plan.b)
    t_plan = time.perf_counter()

    try:
        values = np.asarray(runner.evaluate_affine(queries), dtype=np.float64).reshape(C, P + 1, B)
        valid_rows = getattr(runner, "last_valid", None)
        if valid_rows is not None and not np.all(valid_rows):
            # a structured design needs every row: a dropped value counts as unknown, i.e. 0 in its bin
            values = np.nan_to_num(values, nan=0.0)
        extra = None
        n_extra = min(plan.extra, _MAX_EXTRA_BITS // n)
        if n_extra > 0:
            xr = numpy_rng(key, 2).random((n_extra, n)) < 0.5
            yr = np.asarray(runner.evaluate(xr), dtype=np.float64)
            ok = np.isfinite(yr)
            extra = (xr[ok], yr[ok])
    finally:
        close = getattr(runner, "close", None)
        if close is not None:
            close()
    t_query = time.perf_counter()

    from spexjax.kernels.bch import decode_hard, decode_soft
    from spexjax.kernels.fwht import fwht

    with jax.enable_x64(True):
        from spexjax.sharding import bin_mesh, sharded_fwht, sharded_peel

        mesh = bin_mesh(devices, B)  # None: one device, the plain kernels
        U_dev = fwht(jnp.asarray(values), axis=-1, normalize=True) if mesh is None else sharded_fwht(values, mesh)
        U = np.asarray(U_dev)
        # a floor relative to the largest bin: exact values still leave round-off in the residuals
        floor = max(1e-26 * float(np.max(np.mean(U * U, axis=1), initial=0.0)), 1e-300)
        noise_var = max((noise_sd**2 / B) if noise_sd is not None else estimate_noise_var(U), floor)
        depth = min(plan.t, 5) if chase_depth is None else int(chase_depth)
        if decoder == "soft":
            dec = functools.partial(_soft, code=code, depth=depth, decode_soft=decode_soft, root_finder=root_finder)
        else:
            dec = functools.partial(_hard, code=code, decode_hard=decode_hard, root_finder=root_finder)
        # The GF(2^m) tables travel as traced arguments (decode_args), not as constants the decoder closes
        # over: at m = 24 those were 269 MB of HLO, and compiling/cache-keying them cost 95 s and 3.5 GB.
        dec = functools.partial(_with_tables, dec=dec)
        peel_fn = peel if mesh is None else functools.partial(sharded_peel, mesh=mesh)
        run_peel = functools.partial(
            peel_fn,
            U_dev,
            jnp.asarray(hash_codes) if mesh is None else hash_codes,
            jnp.asarray(delays.packed) if mesh is None else delays.packed,
            decode_args=(*code._device, code._limit),
            decode=_Hashable(dec, (code.n, code.t, code.m, code.P, decoder, depth, root_finder), code.t),
            soft=decoder == "soft",
            max_terms=2 * C * B,  # dominated-multiton rounds may detect a term more than once (merged below)
            max_rounds=64,
            dominant=peeling == "relaxed",
            # decode only bins holding energy, B/8 at a time (after round one most bins are empty)
            chunk_bins=max(4, B // 8),
            # residual energy per delay of a true singleton is noise_var * chi2_P / (P+1): allow ~4 sigma above 1
            gamma=1.0 + 4.0 * float(np.sqrt(2.0 / (P + 1))),
        )
        res = run_peel(noise_var=jnp.float64(noise_var))
        noise_passes = 1
        if noise_sd is None:
            # With more terms than bins the quiet-bin estimate sees signal, not noise, and its inflated level
            # hides the smaller terms. After peeling most bins are empty: estimate again from the residual
            # and peel once more (same compiled program) when the level drops by more than half.
            refined = max(estimate_noise_var(np.asarray(res.residual)), floor)
            if refined < 0.5 * noise_var:
                noise_var = refined
                res = run_peel(noise_var=jnp.float64(noise_var))
                noise_passes = 2
        count = int(res.count)
        sup = np.asarray(res.supports)[:count]
        coef = np.asarray(res.coeffs)[:count]
        residual = np.asarray(res.residual)
    t_peel = time.perf_counter()

    keep = coef != 0.0
    sup, coef = sup[keep], coef[keep]
    # merge repeated detections of one support (possible under noise)
    if len(sup):
        uniq, inv = np.unique(sup, axis=0, return_inverse=True)
        coef = np.bincount(inv.reshape(-1), weights=coef, minlength=len(uniq))
        sup = uniq
    added_constant = False
    if refine:
        # the constant term is always worth a coefficient: it costs nothing to fit and anchors the baseline
        # even when its bin (bin 0 of every group) never became a clean singleton
        t_pad = max(plan.t, 1)
        if sup.shape[0] == 0:
            sup = np.full((1, t_pad), -1, dtype=np.int32)
            coef = np.zeros(1)
            added_constant = True
        elif not np.any(np.all(sup < 0, axis=1)):
            sup = np.concatenate([np.full((1, sup.shape[1]), -1, dtype=sup.dtype), sup])
            coef = np.concatenate([[0.0], coef])
            added_constant = True
    if refine and len(sup):
        from spexjax.kernels.characters import characters_matrix, xor_reduce_codes

        codes = xor_reduce_codes(hash_codes, sup)  # (C, K)
        dbits = np.bitwise_xor.reduce(
            np.where((sup >= 0)[..., None], delays.bits(np.where(sup >= 0, sup, 0)), False), axis=1
        )
        signs = 1.0 - 2.0 * dbits.astype(np.float64)  # (K, P+1)
        xtra = None
        if extra is not None and len(extra[1]):
            xtra = (characters_matrix(extra[0], sup), extra[1])
        coef = _refit_bins(U, codes, signs, plan.b, xtra)
        if added_constant and abs(coef[0]) <= 1e-12 * max(1.0, float(np.max(np.abs(coef)))):
            sup, coef = sup[1:], coef[1:]  # the constant we added is a numerical zero: do not report it
        # A candidate peeled from a dominated multiton that was not a real term refits to (about) zero: drop
        # terms below three standard errors of the least-squares fit (value noise sigma^2 = B * noise_var over
        # every structured and random row) or below round-off.
        rows = C * (P + 1) * B + (len(extra[1]) if extra is not None else 0)
        se = float(np.sqrt(noise_var * B / max(rows, 1)))
        scale = float(np.max(np.abs(coef), initial=0.0))
        const = np.all(sup < 0, axis=1)
        keep = const | (np.abs(coef) > max(3.0 * se, 1e-10 * scale))
        sup, coef = sup[keep], coef[keep]
    t_end = time.perf_counter()

    supports = padded_to_supports(sup)
    total = float(np.sum(U * U))
    meta = {
        "algorithm": "spex",
        "decoder": decoder,
        "peeling": peeling,
        "plan": plan.as_dict(),
        "rounds": int(res.rounds),
        "overflow": bool(res.overflow),
        "noise_var_per_bin": float(noise_var),
        "noise_passes": noise_passes,
        "residual_energy_fraction": float(np.sum(residual * residual) / total) if total > 0 else 0.0,
        "evaluated": int(getattr(runner, "evaluated", 0)),
        "cache_hits": int(getattr(runner, "cache_hits", 0)),
        "seconds": {
            "plan": t_plan - t0,
            "query": t_query - t_plan,
            "peel": t_peel - t_query,
            "refine": t_end - t_peel,
            "total": t_end - t0,
        },
    }
    n_queries = int(getattr(runner, "queries", plan.structured_queries + n_extra))
    return Interactions(n, supports, coef, queries=n_queries, feature_names=feature_names, meta=meta)


class _Hashable:
    """Wrap a decoder closure so jit's static-argument cache keys on the code, not the closure object."""

    def __init__(self, fn, key, support_width: int | None = None):
        self.fn, self.key = fn, key
        if support_width is not None:
            self.support_width = int(support_width)  # the peel need not trace the decoder to learn it

    def __call__(self, *args):
        return self.fn(*args)

    def __hash__(self):
        return hash(self.key)

    def __eq__(self, other):
        return isinstance(other, _Hashable) and self.key == other.key


def _with_tables(x, tables, *, dec):
    """Run ``dec`` (a partial of :func:`_hard` / :func:`_soft`) on a copy of its code whose device tables are
    ``tables`` (the peel's traced arguments), so they are never baked into the compiled program."""
    import copy

    code = copy.copy(dec.keywords["code"])
    code.__dict__.update(_device=tuple(tables[:3]), _limit=tables[3])  # the cached_property slots
    return dec.func(x, **{**dec.keywords, "code": code})


def _hard(bits, *, code, decode_hard, root_finder):
    support, _flips, ok = decode_hard(code, bits, root_finder=root_finder)
    return support, ok


def _soft(llr, *, code, depth, decode_soft, root_finder):
    support, _flips, ok = decode_soft(code, llr, depth, root_finder=root_finder)
    return support, ok
