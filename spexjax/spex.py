"""SPEX: sparse Walsh-Hadamard recovery of a value function from structured ablations.

Data flow (each arrow one function, shapes in its docstring):
  plan (b, t, C, P) -> hash codes ``uint32[C, n]`` + BCH delays -> :class:`AffineQueries`
  -> value function (through the query runner: batching, cache, errors) -> ``float[C, P+1, 2^b]``
  -> FWHT over the bins -> noise level -> :func:`spexjax.kernels.peeling.peel` (BCH decode + verify + peel)
  -> optional least-squares refit in the bin domain -> :class:`Interactions`.
"""

from __future__ import annotations

import functools
import hashlib
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from spexjax._checks import (
    check_bool,
    check_budget,
    check_choice,
    check_feature_names,
    check_int,
    check_key,
    check_max_degree,
    check_number,
)
from spexjax._jit_cache import enable_persistent_compilation_cache
from spexjax._rng import SPEX_EXTRA, SPEX_HASH, SPEX_HELDOUT, numpy_rng, uniform_masks
from spexjax.errors import ArgumentError, BudgetError
from spexjax.interactions import Interactions, padded_to_supports
from spexjax.kernels.bch import BCHDecoder, code_tables, make_code
from spexjax.kernels.characters import characters_matrix, eval_fourier, xor_reduce_codes
from spexjax.kernels.fwht import fwht
from spexjax.kernels.peeling import pack_bits, peel
from spexjax.metrics import r2_score
from spexjax.plans import DEFAULT_GROUPS, SpexPlan, make_plan
from spexjax.refit import _ridge_gram_solve, gram_ridge_cv
from spexjax.runs import check_run_options, make_runner, run_info
from spexjax.sharding import bin_mesh, resolve_devices, sharded_fwht, sharded_peel
from spexjax.value_functions import AffineQueries, as_value_function, check_n

DECODERS = ("soft", "hard")
_MAX_EXTRA_BITS = 1 << 28  # cap on (extra random masks) x n, so leftover budget never costs gigabytes


@functools.lru_cache(maxsize=8)
def _code(n: int, t: int):
    code = make_code(n, t)
    # build the device tables (and the jnp limit scalar) outside any trace: they are cached on the code, and
    # one created inside a trace would break later calls
    code_tables(code)
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


def _check_args(
    *,
    decoder: Any,
    peeling: Any,
    root_finder: Any,
    refine: Any,
    dense: Any,
    noise_sd: Any,
    chase_depth: Any,
    max_degree: Any,
    feature_names: Any,
    devices: Any,
    target_r2: Any,
    n: int,
) -> float | None:
    """Every argument check that needs no query, so bad input never costs a paid query (:mod:`spexjax._checks`)."""
    check_choice("decoder", decoder, DECODERS)
    check_choice("peeling", peeling, ("relaxed", "strict"), expected="'relaxed' or 'strict'")
    check_choice("root_finder", root_finder, ("algebraic", "chien", "auto"),
                 expected="'algebraic', 'chien' or 'auto'")
    check_bool("refine", refine)
    check_bool("dense", dense)
    check_number("noise_sd", noise_sd, low=0.0, expected="a finite number >= 0 or None", allow_none=True)
    check_max_degree(max_degree)
    check_int("chase_depth", chase_depth, minimum=0, maximum=12, allow_none=True)
    check_feature_names(feature_names, n)
    resolve_devices(devices)  # raises for a bad value; the mesh itself needs the number of bins
    return check_number("target_r2", target_r2, low=0.0, high=1.0, low_open=True,
                        expected="a number in (0, 1] or None", allow_none=True)


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
    target_r2: float | None = None,
    dense: bool = True,
    **options: Any,
) -> Interactions:
    """Recover the sparse, low-degree Fourier expansion of ``value_fn`` with SPEX.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`spexjax.ValueFunction`.
      n: number of features.
      budget: most value-function rows to evaluate (``None``: ``b=8`` with 3 groups). The largest ``b``
        that affords 3 groups is chosen, as many whole groups as fit are used, and the rest is spent on
        random masks for the refit. With ``target_r2`` it is a cap (``None``: no cap below ``b = 24``).
      max_degree: ``t``, the largest interaction order the BCH delays can identify.
      decoder: ``"soft"`` (Chase decoding on the delay magnitudes; robust to noise) or ``"hard"``.
      key: int seed or JAX PRNG key; the same key gives the same result.
      refine: least-squares refit of the recovered coefficients on all queried values.
      b, groups: force the design instead of deriving it from ``budget`` (with ``target_r2``: the first
        round's ``b``, default 4, and the number of groups, default 3).
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
      target_r2: grow the design until the recovered function reaches this R^2 on held-out uniform random
        masks (paid from the budget), or the budget is spent. Each round adds one hash bit per group and
        pays only for the new half of the bins (the old queries are the half whose new bit is 0); the
        held-out masks are evaluated once and reused. ``meta["rounds"]`` records ``(b, queries, r2)``.
        With the same ``cache=`` and ``key``, a second call with a larger budget pays only for new rows.
      dense: when the peel's terms leave more than 2 % of the energy unexplained (real, dense functions: a
        few large coefficients and a long tail), also try more candidates than the peel accepted (every
        singleton the rows pay for, what each bin of the residual decodes to) and keep them only if a
        cross-validated ridge refit over all rows predicts better (see :func:`_dense_refit`). ``False``: the
        peel's terms only. Exactly and noisily sparse functions keep the peel's result either way.
      **options: run options (:data:`spexjax.runs.RUN_OPTIONS`): ``batch_size`` (most rows per
        value-function call), ``cache`` (SQLite path; finished queries are never evaluated again),
        ``executor`` (``"inline"``, ``"thread"``, ``"process"``, ``"ray"``), ``on_nonfinite``
        (``"raise"``, ``"drop"``, ``"zero"``), ``progress``, ``fingerprint``, ``max_retries``, ``retry_backoff``.
    Returns:
      :class:`Interactions` with the recovered Fourier terms; ``meta`` records the plan and diagnostics.
    """
    t0 = time.perf_counter()
    n = check_n(n)
    target = _check_args(
        decoder=decoder, peeling=peeling, root_finder=root_finder, refine=refine, dense=dense, noise_sd=noise_sd,
        chase_depth=chase_depth, max_degree=max_degree, feature_names=feature_names, devices=devices,
        target_r2=target_r2, n=n,
    )
    vf = as_value_function(value_fn, n)
    opts = check_run_options(options, method="spex")
    check_key(key)  # a bad key fails here, before any query
    settings = dict(
        decoder=decoder, refine=bool(refine), noise_sd=noise_sd, chase_depth=chase_depth,
        root_finder=root_finder, peeling=peeling, devices=devices, dense=bool(dense),
    )
    if target is not None:
        return _spex_adaptive(vf, n, budget=budget, t=int(max_degree), key=key, b=b, groups=groups, target=target,
                              settings=settings, opts=opts, feature_names=feature_names, t0=t0)
    plan: SpexPlan = make_plan(n, budget, int(max_degree), b=b, groups=groups)
    code = _code(n, plan.t)
    if int(code.P) != plan.P:  # pragma: no cover - plans and kernels must agree
        raise RuntimeError(f"plan P={plan.P} but BCH code P={code.P}")
    enable_persistent_compilation_cache()
    runner = make_runner(vf, n, desc="spex queries", options=opts, method="spex")

    rng = numpy_rng(key, SPEX_HASH, 0)
    C, B = plan.groups, 1 << plan.b
    hash_codes = rng.integers(0, B, size=(C, n), dtype=np.uint32)
    delays = BCHDelays(code, n)
    t_plan = time.perf_counter()
    try:
        values = _query_design(runner, hash_codes, delays, plan.b)
        extra = None
        n_extra = min(plan.extra, _MAX_EXTRA_BITS // n)
        if n_extra > 0:
            xr = uniform_masks(key, n_extra, n, SPEX_EXTRA, draw="float")
            yr = np.asarray(runner.evaluate(xr), dtype=np.float64)
            ok = np.isfinite(yr)
            extra = (xr[ok], yr[ok])
    finally:
        runner.close()
    t_query = time.perf_counter()
    sup, coef, diag = _recover(values, hash_codes, delays, code, plan.t, extra, **settings)
    t_end = time.perf_counter()
    peel_s, refine_s = diag.pop("peel_seconds"), diag.pop("refine_seconds")
    seconds = {"plan": t_plan - t0, "query": t_query - t_plan, "peel": peel_s, "refine": refine_s, "total": t_end - t0}
    run = run_info("spex", runner.stats(), budget=budget, key=key, seconds=seconds)
    meta = {
        "algorithm": "spex",
        "decoder": decoder,
        "peeling": peeling,
        "plan": plan.as_dict(),
        **diag,
        **_run_meta(run),
    }
    return Interactions(
        n, padded_to_supports(sup), coef, queries=run.queries, feature_names=feature_names, meta=meta, run=run
    )


def _run_meta(run) -> dict[str, Any]:
    """The ``meta`` keys SPEX wrote before :class:`~spexjax.runs.RunInfo` existed, read off ``run``."""
    return {"evaluated": run.evaluated, "cache_hits": run.cache_hits, "seconds": dict(run.seconds)}


def _query_design(runner, hash_codes: np.ndarray, delays, b: int) -> np.ndarray:
    """All ``C * (P+1) * 2^b`` structured rows -> ``float64[C, P+1, 2^b]`` (a dropped row counts as 0)."""
    C = hash_codes.shape[0]
    P1 = delays.num_delays
    groups_arr = np.stack(np.meshgrid(np.arange(C), np.arange(P1), indexing="ij"), -1).reshape(-1, 2)
    queries = AffineQueries(hash_codes=hash_codes, delays=delays, groups=groups_arr.astype(np.int32), b=b)
    values = np.asarray(runner.evaluate_affine(queries), dtype=np.float64).reshape(C, P1, 1 << b)
    valid_rows = runner.last_valid
    if valid_rows is not None and not np.all(valid_rows):
        # a structured design needs every row: a dropped value counts as unknown, i.e. 0 in its bin
        values = np.nan_to_num(values, nan=0.0)
    return values


def _recover(
    values: np.ndarray,
    hash_codes: np.ndarray,
    delays: BCHDelays,
    code,
    t: int,
    extra: tuple[np.ndarray, np.ndarray] | None,
    *,
    decoder: str,
    refine: bool,
    noise_sd: float | None,
    chase_depth: int | None,
    root_finder: str,
    peeling: str,
    devices: Any,
    dense: bool = True,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Structured values ``float[C, P+1, 2^b]`` -> padded supports, coefficients and diagnostics."""
    t_start = time.perf_counter()
    C, P1, B = values.shape
    P = P1 - 1
    b = B.bit_length() - 1
    with jax.enable_x64(True):
        mesh = bin_mesh(devices, B)  # None: one device, the plain kernels
        U_dev = fwht(jnp.asarray(values), axis=-1, normalize=True) if mesh is None else sharded_fwht(values, mesh)
        U = np.asarray(U_dev)
        # a floor relative to the largest bin: exact values still leave round-off in the residuals
        floor = max(1e-26 * float(np.max(np.mean(U * U, axis=1), initial=0.0)), 1e-300)
        noise_var = max((noise_sd**2 / B) if noise_sd is not None else estimate_noise_var(U), floor)
        depth = min(t, 5) if chase_depth is None else int(chase_depth)
        # The decoder is a hashable static configuration; the GF(2^m) tables travel as a traced pytree
        # (decode_args), never as constants: at m = 24 those were 269 MB of HLO and 95 s of compile.
        dec = BCHDecoder.for_code(code, soft=decoder == "soft", depth=depth, root_finder=root_finder)
        peel_fn = peel if mesh is None else functools.partial(sharded_peel, mesh=mesh)
        run_peel = functools.partial(
            peel_fn,
            U_dev,
            jnp.asarray(hash_codes) if mesh is None else hash_codes,
            jnp.asarray(delays.packed) if mesh is None else delays.packed,
            decode_args=code_tables(code),
            decode=dec,
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
        t_pad = max(t, 1)
        if sup.shape[0] == 0:
            sup = np.full((1, t_pad), -1, dtype=np.int32)
            coef = np.zeros(1)
            added_constant = True
        elif not np.any(np.all(sup < 0, axis=1)):
            sup = np.concatenate([np.full((1, sup.shape[1]), -1, dtype=sup.dtype), sup])
            coef = np.concatenate([[0.0], coef])
            added_constant = True
    if refine and len(sup):
        codes = xor_reduce_codes(hash_codes, sup)  # (C, K)
        dbits = np.bitwise_xor.reduce(
            np.where((sup >= 0)[..., None], delays.bits(np.where(sup >= 0, sup, 0)), False), axis=1
        )
        signs = 1.0 - 2.0 * dbits.astype(np.float64)  # (K, P+1)
        xtra = None
        if extra is not None and len(extra[1]):
            xtra = (characters_matrix(extra[0], sup), extra[1])
        coef = _refit_bins(U, codes, signs, b, xtra)
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
    dense_diag: dict[str, Any] = {"ran": False}
    # strict peeling is the papers' peel and nothing else (kept for reproducing their numbers)
    if refine and len(sup) and dense and peeling == "relaxed":
        with jax.enable_x64(True):
            sup, coef, dense_diag = _dense_refit(
                U, sup, coef, hash_codes, delays, t, extra, noise_var=noise_var, decode=dec,
                tables=code_tables(code), gamma=1.0 + 4.0 * float(np.sqrt(2.0 / (P + 1))),
            )
    t_end = time.perf_counter()
    total = float(np.sum(U * U))
    diag = {
        "rounds": int(res.rounds),
        "overflow": bool(res.overflow),
        "noise_var_per_bin": float(noise_var),
        "noise_passes": noise_passes,
        "residual_energy_fraction": float(np.sum(residual * residual) / total) if total > 0 else 0.0,
        "dense": dense_diag,
        "peel_seconds": t_peel - t_start,
        "refine_seconds": t_end - t_peel,
    }
    return sup, coef, diag


# ----------------------------------------------------------------------------------------------
# Dense functions: candidates beyond the peel, refitted by cross-validated ridge
# ----------------------------------------------------------------------------------------------
_DENSE_DECODE_ROUNDS = 2  # decode-the-residual rounds after the singletons (each one a nested candidate set)
_DENSE_MAX_SINGLETONS = 4096  # all n singletons join the candidates only up to this n ...
_DENSE_ROWS_PER_TERM = 3  # ... and only while the rows pay at least this many per candidate
_DENSE_MIN_RESIDUAL = 0.02  # share of the (non-constant) energy the refit may leave before the path runs
_DENSE_MIN_SHARE = 0.1  # a decoded support must explain this share of its residual bin (the reference's 0.9 cut-off)
_DENSE_MAX_CANDIDATES = 1024  # cap on the candidate set (one K x K eigendecomposition per fold and model)


def _canonical(sup: np.ndarray) -> list[tuple[int, ...]]:
    return [tuple(sorted(int(v) for v in row if v >= 0)) for row in np.asarray(sup)]


def _padded(supports: list[tuple[int, ...]], width: int) -> np.ndarray:
    out = np.full((len(supports), width), -1, np.int32)
    for k, s in enumerate(supports):
        out[k, : len(s)] = s
    return out


def _bin_terms(hash_codes: np.ndarray, delays: BCHDelays, sup: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each term's bin per group ``uint32[C, K]`` and its delay signs ``float[K, P+1]``."""
    codes = xor_reduce_codes(hash_codes, sup)
    dbits = np.bitwise_xor.reduce(
        np.where((sup >= 0)[..., None], delays.bits(np.where(sup >= 0, sup, 0)), False), axis=1
    )
    return codes, 1.0 - 2.0 * dbits.astype(np.float64)


def _bin_prediction(codes: np.ndarray, signs: np.ndarray, w: np.ndarray, B: int) -> np.ndarray:
    """``Uhat[c, p, j] = sum_{k: h_c(k) = j} w_k s_p(k)``: ``float[C, P+1, B]``."""
    C = codes.shape[0]
    out = np.zeros((C, signs.shape[1], B))
    ws = w[:, None] * signs  # (K, P+1)
    for c in range(C):
        np.add.at(out[c].T, codes[c].astype(np.int64), ws)
    return out


def _fold_stats(U, codes, signs, fold_cb, F, extra_x, extra_y, extra_fold):
    """Per-fold ``X'X``, ``X'y``, ``y'y`` over the bin-domain observations and the random rows."""
    C, P1, B = U.shape
    K = codes.shape[1]
    G = np.zeros((F, K, K))
    r = np.zeros((F, K))
    yy = np.zeros(F)
    SS = signs @ signs.T
    for c in range(C):
        cc = codes[c].astype(np.int64)
        same = cc[:, None] == cc[None, :]
        fk = fold_cb[c, cc]  # (K,) the fold of each term's bin in this group
        proj = np.einsum("kp,pk->k", signs, U[c][:, cc])
        ebin = np.sum(U[c] * U[c], axis=0)  # (B,)
        for f in range(F):
            inf = fk == f
            G[f] += np.where(same & inf[:, None], SS, 0.0)
            r[f] += np.where(inf, proj, 0.0)
            yy[f] += float(np.sum(ebin[fold_cb[c] == f]))
    G *= float(B)
    r *= float(B)
    yy *= float(B)
    if extra_x is not None:
        for f in range(F):
            sel = extra_fold == f
            X, y = extra_x[sel], extra_y[sel]
            G[f] += X.T @ X
            r[f] += X.T @ y
            yy[f] += float(y @ y)
    return G, r, yy


def _decode_residual(R, hash_codes, delays, decode, tables) -> list[tuple[int, ...]]:
    """Decode every bin of the residual ``R`` (multi-detection): the supports that hash to their own bin and
    explain at least :data:`_DENSE_MIN_SHARE` of that bin's energy (its delay signs must match the bin's, a
    bin of pure noise decodes to a support that explains ~1/(P+1) of it). No singleton test: the
    cross-validated refit decides what stays."""
    C, P1, B = R.shape
    found: list[tuple[int, ...]] = []
    for c in range(C):
        u = R[c]
        sgn0 = np.where(u[0] < 0, -1.0, 1.0)
        rel = (u[1:] * sgn0[None, :]).T  # (B, P)
        x = rel if decode.soft else (rel < 0).astype(np.uint8)
        support, ok = decode(jnp.asarray(x), tables)
        support, ok = np.asarray(support), np.asarray(ok)
        good = ok & np.any(support >= 0, axis=1)
        if not np.any(good):
            continue
        idx = np.nonzero(good)[0]
        codes, signs = _bin_terms(hash_codes, delays, support[idx])
        coef = np.mean(u[:, idx] * signs.T, axis=0)
        energy = np.mean(u[:, idx] ** 2, axis=0)
        keep = (codes[c] == idx) & (coef * coef >= _DENSE_MIN_SHARE * energy) & (energy > 0)
        found += _canonical(support[idx[keep]])
    return found


def _dense_refit(U, sup, coef, hash_codes, delays, t, extra, *, noise_var, decode, tables, gamma):
    """SPEX on a dense function: more candidates than the peel accepted, kept only if cross-validation says so.

    Real value functions have a few large coefficients and a long tail: most bins hold several terms, the
    peel (which accepts a term only when its bin is a clean or dominated singleton) stops early, and the
    refit over its few terms leaves most of the energy unexplained (MiniLM sentiment, n = 58, b = 4: 3 terms,
    52 % of the energy left, held-out R^2 0.16). When the residual after the refit is well above the noise
    level, candidates are collected as the papers' reference code does (keep what a bin decodes to, without
    asking the bin to be a singleton), in nested sets:
      M0 the peeled terms (today's result), M1 = M0 + every singleton (when the rows pay for them),
      M2.. = + the supports decoded from every bin of the residual of the previous set's fit;
    then one ridge fit per set and penalty over all structured rows (in the bin domain) and the random rows,
    and the set and penalty with the least cross-validated error (folds: hash groups, which alias
    differently) win. M0 is kept unless a larger set lowers that error by more than 2 %, so exactly sparse
    and noisy sparse functions keep the peel's result; and the path costs nothing when the peel explained
    the values down to the noise level (checked first).
    """
    C, P1, B = U.shape
    n = hash_codes.shape[1]
    width = max(t, 1)
    codes0, signs0 = _bin_terms(hash_codes, delays, sup)
    R = U - _bin_prediction(codes0, signs0, coef, B)
    if extra is not None and len(extra[1]):
        ex_res = extra[1] - characters_matrix(extra[0], sup) @ coef
        resid_var = (float(np.sum(R * R)) * B + float(ex_res @ ex_res)) / (R.size * B + len(ex_res))
    else:
        resid_var = float(np.mean(R * R)) * B
    total = float(np.sum(U * U)) - float(np.sum(U[:, :, 0] ** 2))  # energy beyond bin 0 (which holds the constant)
    info: dict[str, Any] = {"ran": False, "residual_per_row": resid_var, "noise_per_row": noise_var * B}
    # Exact or noisy sparse: the refit explains the rows down to the noise level, or all but a small share
    # of the energy. (On a dense function the quiet-bin noise estimate *is* the tail, so the share is the
    # test that fires there: 52 % left on the MiniLM review above.)
    frac = resid_var * R.size / max(total * B, 1e-300)
    info["residual_fraction"] = frac
    if frac <= _DENSE_MIN_RESIDUAL:
        return sup, coef, info
    t0 = time.perf_counter()
    sup0, coef0 = sup, coef
    supports = list(dict.fromkeys([(), *_canonical(sup)]))  # the constant first: column 0, unpenalised
    seen = set(supports)
    sizes = [len(supports)]
    rows = C * P1 * B + (0 if extra is None else len(extra[1]))
    F = C if C >= 3 else 3
    fold_cb = np.broadcast_to((np.arange(C)[:, None] + (0 if C >= 3 else np.arange(B)[None, :])) % F, (C, B))
    ex_y = ex_fold = None
    if extra is not None and len(extra[1]):
        ex_y = extra[1]
        ex_fold = np.arange(len(ex_y)) % F

    def add(new: list[tuple[int, ...]]) -> None:
        cap = min(_DENSE_MAX_CANDIDATES, rows // 2)
        new = [s for s in dict.fromkeys(new) if s not in seen][: max(cap - len(supports), 0)]
        supports.extend(new)
        seen.update(new)
        if new:
            sizes.append(len(supports))

    # multi-detection on the peel's own residual: what each bin decodes to, singleton or not
    found = _decode_residual(R, hash_codes, delays, decode, tables)
    if n <= _DENSE_MAX_SINGLETONS and (len(seen) + n) * _DENSE_ROWS_PER_TERM <= rows:
        add([(i,) for i in range(n)])  # the first-order part of a dense function, when the rows pay for it
    add(found)
    # decode the residual of the largest set's fit, add what is new; each round is one more nested set
    for _ in range(_DENSE_DECODE_ROUNDS):
        pad = _padded(supports, width)
        codes, signs = _bin_terms(hash_codes, delays, pad)
        ex_x = None if ex_y is None else characters_matrix(extra[0], pad)
        G, r, yy = _fold_stats(U, codes, signs, fold_cb, F, ex_x, ex_y, ex_fold)
        w = _ridge_gram_solve(G.sum(0), r.sum(0), 0, np.array([1e-3]))[0]
        before = len(supports)
        add(_decode_residual(U - _bin_prediction(codes, signs, w, B), hash_codes, delays, decode, tables))
        if len(supports) == before:
            break
    pad = _padded(supports, width)
    codes, signs = _bin_terms(hash_codes, delays, pad)
    ex_x = None if ex_y is None else characters_matrix(extra[0], pad)
    G, r, yy = _fold_stats(U, codes, signs, fold_cb, F, ex_x, ex_y, ex_fold)
    models = [np.arange(k) for k in sizes]
    cv = gram_ridge_cv(G, r, yy, models, const=0)
    var_rows = max(float(cv["total"]) - float(np.sum(r.sum(0)[0]) ** 2 / max(G.sum(0)[0, 0], 1e-300)), 1e-300)
    info.update({
        "ran": True, "sizes": sizes, "chosen": int(cv["model"]), "alpha": cv["alpha"],
        "cv_r2": [float(1.0 - e / var_rows) for e in cv["errors"].min(axis=1)],
        "seconds": time.perf_counter() - t0,
    })
    if cv["model"] == 0:
        return sup0, coef0, info
    k = sizes[cv["model"]]
    w = cv["coef"]
    nz = w != 0.0
    nz[0] = True
    return pad[:k][nz], w[nz], info


# ----------------------------------------------------------------------------------------------
# target_r2: a design that grows until the held-out R^2 is reached
# ----------------------------------------------------------------------------------------------
_FIRST_B = 4  # the first round's bins per group (cheap; rounds add one bit each)
_MAX_B = 24
_TEST_BLOCK = 64  # held-out masks are drawn in blocks of this many (block k from its own stream)


class _ShiftedDelays:
    """Delays ``d_p XOR r`` for a fixed row ``r`` (bool[n]): the new half of a grown hash matrix.

    Appending row ``r`` to ``M_c`` makes the rows with the new bit 1 equal to ``M_c^T l XOR r XOR d_p``: a
    ``b``-bit block whose delays are shifted by ``r``. Its ``fingerprint`` names the shift, so cached blocks
    of the grown design are found again by a later call with the same key.
    """

    def __init__(self, delays: BCHDelays, row: np.ndarray):
        self.delays = delays
        self.row = np.asarray(row, dtype=bool)
        self.num_delays = delays.num_delays
        digest = hashlib.sha256(np.packbits(self.row).tobytes()).hexdigest()[:32]
        self.fingerprint = f"{delays.fingerprint}^shift:{digest}"

    def bits(self, idx: np.ndarray) -> np.ndarray:
        idx = np.asarray(idx)
        return self.delays.bits(idx) ^ self.row[idx][..., None]


def _grow_half(runner, hash_codes: np.ndarray, delays: BCHDelays, b: int) -> np.ndarray:
    """The rows whose hash bit ``b`` is 1, for every group: ``float64[C, P+1, 2^b]``."""
    C = hash_codes.shape[0]
    P1 = delays.num_delays
    low = hash_codes & np.uint32((1 << b) - 1)
    out = np.empty((C, P1, 1 << b))
    for c in range(C):
        row = ((hash_codes[c] >> np.uint32(b)) & np.uint32(1)).astype(bool)
        groups_arr = np.stack([np.full(P1, c), np.arange(P1)], -1).astype(np.int32)
        q = AffineQueries(hash_codes=low, delays=_ShiftedDelays(delays, row), groups=groups_arr, b=b)
        out[c] = np.asarray(runner.evaluate_affine(q), dtype=np.float64).reshape(P1, 1 << b)
        if not np.all(runner.last_valid):
            out[c] = np.nan_to_num(out[c], nan=0.0)
    return out


def _test_block(key: Any, k: int, n: int) -> np.ndarray:
    """Held-out block ``k``: ``bool[64, n]`` uniform masks from their own stream (random bytes, unpacked)."""
    return uniform_masks(key, _TEST_BLOCK, n, SPEX_HELDOUT, k)


def _spex_adaptive(vf, n, *, budget, t, key, b, groups, target, settings, opts, feature_names, t0) -> Interactions:
    """SPEX with a design grown one hash bit at a time until the held-out R^2 reaches ``target``."""
    check_budget(budget, allow_none=True)
    b0 = _FIRST_B if b is None else int(b)
    C = DEFAULT_GROUPS if groups is None else int(groups)
    if C < 1:
        raise ArgumentError(f"groups must be >= 1; got {C}")
    first = make_plan(n, None, t, b=b0, groups=C)  # (m, P) of the code; the budget is checked below
    P1 = first.P + 1
    need_test = int(min(512, max(_TEST_BLOCK, np.ceil(2.0 / max(1.0 - target, 1e-9)))))
    need_test = -(-need_test // _TEST_BLOCK) * _TEST_BLOCK
    minimum = C * P1 * (1 << b0) + _TEST_BLOCK
    if budget is not None and int(budget) < minimum:
        raise BudgetError(
            f"budget={int(budget)} is too small for target_r2 at max_degree={t}, n={n}: the first round needs "
            f"{minimum} queries ({C} groups x {P1} delays x {1 << b0} bins + {_TEST_BLOCK} held-out masks)"
        )
    cap = None if budget is None else int(budget)
    code = _code(n, t)
    enable_persistent_compilation_cache()
    # full 32-bit codes: the design at b bits reads the low b bits, so growing reveals the next bit
    hash_codes = numpy_rng(key, SPEX_HASH, 32).integers(0, 1 << 32, size=(C, n), dtype=np.uint64).astype(np.uint32)
    delays = BCHDelays(code, n)
    runner = make_runner(vf, n, desc="spex queries", options=opts, method="spex")
    rounds: list[dict[str, Any]] = []
    test_x: list[np.ndarray] = []
    test_y: list[np.ndarray] = []
    stop = "budget"
    try:
        bcur = b0
        values = _query_design(runner, hash_codes & np.uint32((1 << b0) - 1), delays, b0)
        while True:
            t_round = time.perf_counter()
            codes_b = hash_codes & np.uint32((1 << bcur) - 1)
            sup, coef, diag = _recover(values, codes_b, delays, code, t, None, **settings)
            r2 = -np.inf
            while True:
                if not test_x:
                    test_x.append(_test_block(key, 0, n))
                    test_y.append(np.asarray(runner.evaluate(test_x[0]), dtype=np.float64))
                y = np.concatenate(test_y)
                pred = np.concatenate([eval_fourier(x, sup, coef) for x in test_x])
                ok = np.isfinite(y)
                r2 = r2_score(y[ok], pred[ok]) if ok.any() else -np.inf
                have = sum(len(v) for v in test_y)
                if r2 < target or have >= need_test:
                    break
                # close to (or past) the target on few masks: confirm on more before stopping (paid once)
                more = need_test - have
                if cap is not None and runner.queries + more > cap:
                    break
                for k in range(have // _TEST_BLOCK, need_test // _TEST_BLOCK):
                    xk = _test_block(key, k, n)
                    test_x.append(xk)
                    test_y.append(np.asarray(runner.evaluate(xk), dtype=np.float64))
            rounds.append({
                "b": bcur, "queries": int(runner.queries), "r2": float(r2), "terms": int(len(coef)),
                "test_masks": int(sum(len(v) for v in test_y)), "seconds": time.perf_counter() - t_round,
            })
            if r2 >= target:
                stop = "target"
                break
            # Far from the target (less than half the variance explained) the next bit alone rarely gets
            # there: add two bits before decoding again. Same queries as two one-bit rounds, one decode
            # (and one XLA compile) fewer.
            steps = 2 if r2 < 0.5 else 1
            for _ in range(steps):
                grow = C * P1 * (1 << bcur)
                if bcur >= _MAX_B or (cap is not None and runner.queries + grow > cap):
                    break
                values = np.concatenate([values, _grow_half(runner, hash_codes, delays, bcur)], axis=-1)
                bcur += 1
            if values.shape[-1] == 1 << rounds[-1]["b"]:
                break  # no bit could be added
    finally:
        runner.close()
    t_end = time.perf_counter()
    plan = make_plan(n, None, t, b=bcur, groups=C).as_dict()
    plan["budget"] = cap
    run = run_info("spex", runner.stats(), budget=cap, key=key, seconds={"total": t_end - t0}, rounds=len(rounds))
    meta = {
        "algorithm": "spex",
        "decoder": settings["decoder"],
        "peeling": settings["peeling"],
        "plan": plan,
        "target_r2": target,
        "stopped": stop,
        "r2_heldout": rounds[-1]["r2"],
        **{k: v for k, v in diag.items() if not k.endswith("_seconds")},
        "peel_rounds": diag["rounds"],
        "rounds": rounds,
        **_run_meta(run),
    }
    return Interactions(
        n, padded_to_supports(sup), coef, queries=run.queries, feature_names=feature_names, meta=meta, run=run
    )
