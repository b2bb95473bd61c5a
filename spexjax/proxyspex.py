"""ProxySPEX: find the interactions of a value function through a cheap proxy fitted on random masks.

Real models are *hierarchical*: an important high-order interaction comes with important subsets, so a
greedy learner (boosted trees) finds it from a few thousand uniformly random ablations, where SPEX's
structured design needs many more. Pipeline (one function each):

  uniform masks (each bit Bernoulli(1/2), any n) -> value function via the query runner
  -> proxy fit (LightGBM trees, or a JAX MLP trained with optax) -> the proxy's spectrum
     (exact tree -> Fourier extraction, or SPEX run against the MLP: proxy queries are free)
  -> keep the largest coefficients: how many by the ridge refit's leave-one-out error over a geometric grid
     of counts (or a fixed ``energy`` share), plus terms of the proxy's pool that the samples' residual
     shows plainly although the proxy barely fitted them (residual screening, see :func:`_choose_terms`)
  -> hierarchy step on the samples: drop kept terms below 2 standard errors, add terms whose lower-order
     subsets are kept and which the residual shows, order by order (:func:`_complete_hierarchy`)
  -> regularised refit of those coefficients on the real samples (:mod:`spexjax.refit`).

A proxy can only report what it learned: terms with no lower-order footprint (pure parities, XOR-like
effects) give a greedy tree no split to start from, so their energy is missing from the proxy and from the
result. Screening rescues a term only if some tree path grazed it (it must be in the proxy's spectrum at
all); a parity no tree ever isolated stays invisible. On ``random_sparse_fourier(512, 10, 3)`` two of the
three triples are never seen and R^2 stops near 0.81 (SPEX: 1.0). ``meta["proxy"]["valid_r2"]`` (held-out
fit of the proxy) tells when that happens; use :func:`spexjax.spex` for such functions.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from spexjax._rng import PROXYSPEX_SAMPLES, numpy_rng
from spexjax.errors import BudgetError, SpexError
from spexjax.interactions import Interactions, padded_to_supports
from spexjax.metrics import r2_score
from spexjax.runs import check_run_options, make_runner
from spexjax.value_functions import as_value_function, check_masks, check_n

__all__ = ["proxyspex", "select_by_energy", "uniform_masks", "MIN_SAMPLES"]

MIN_SAMPLES = 16  # a proxy needs a training split and a held-out split
AUTO_SEARCH_SAMPLES = 2000  # search="auto": try the proxy's small settings grid up to this many samples


def uniform_masks(key: Any, m: int, n: int, stream: int = PROXYSPEX_SAMPLES) -> np.ndarray:
    """``bool[m, n]`` with i.i.d. Bernoulli(1/2) bits, drawn as packed bytes (no float matrix, no
    ``comb(n, k)`` size weights, so any ``n`` works)."""
    rng = numpy_rng(key, stream)
    packed = rng.integers(0, 256, size=(int(m), (int(n) + 7) // 8), dtype=np.uint8)
    return np.unpackbits(packed, axis=1, count=int(n)).astype(bool)


def select_by_energy(padded: np.ndarray, coeffs: np.ndarray, energy: float, max_terms: int | None) -> np.ndarray:
    """Indices of the fewest coefficients holding ``energy`` of the non-constant energy (largest first),
    at most ``max_terms`` of them, plus the constant term if present.

    Zero energy keeps only the constant; a threshold that needs every coefficient keeps them all (the
    reference indexes one past the end there).
    """
    const = np.all(np.asarray(padded) < 0, axis=1)
    c2 = np.where(const, 0.0, np.asarray(coeffs, dtype=np.float64) ** 2)
    order = np.argsort(-c2, kind="stable")
    order = order[c2[order] > 0.0]
    total = float(c2.sum())
    if total > 0.0 and len(order):
        cum = np.cumsum(c2[order]) / total
        k = int(np.searchsorted(cum, min(float(energy), 1.0) * (1.0 - 1e-12), side="left")) + 1
        k = min(k, len(order))
        if max_terms is not None:
            k = min(k, int(max_terms))
        chosen = order[:k]
    else:
        chosen = order[:0]
    return np.concatenate([np.nonzero(const)[0][:1], np.sort(chosen)])


_COUNTED = ("auto", "holdout")  # energy values that choose the number of terms (the others keep a share)


def _term_grid(cap: int) -> list[int]:
    """Candidate numbers of kept terms: a geometric grid with ratio sqrt(2) from 1 up to ``cap`` (inclusive)."""
    ks, k = [], 1.0
    while int(round(k)) < cap:
        if not ks or int(round(k)) > ks[-1]:
            ks.append(int(round(k)))
        k *= 2**0.5
    return ks + [int(cap)] if cap > 0 else []


def _ranked_terms(padded: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """Indices of the proxy's non-constant, non-zero terms, largest ``|coefficient|`` first (stable)."""
    nonconst = np.nonzero(~np.all(padded < 0, axis=1) & (coeffs != 0.0))[0]
    return nonconst[np.argsort(-np.abs(coeffs[nonconst]), kind="stable")]


def _choose_terms(X: np.ndarray, y: np.ndarray, padded: np.ndarray, coeffs: np.ndarray, cap: int,
                  patience: int = 3, pool: int = 8192, rounds: int = 4) -> dict[str, Any]:
    """Which of the proxy's terms to keep: the set whose ridge refit has the least exact leave-one-out
    error. Returns ``{"idx", "w", "alpha", "loo", "means", "tried", "screened"}``: kept indices into
    ``padded``, their ridge coefficients on centred characters (alpha chosen by LOO; the intercept is
    ``mean(y) - means @ w``), that LOO error, the kept characters' means, the counts evaluated and the terms
    added by screening.

    1. Counts of the largest proxy coefficients on a geometric grid (ratio sqrt(2), so sparse spectra are
       resolved term by term at the low end), in increasing order; the search stops once ``patience`` larger
       sets in a row fail to improve the error by 1%: the error is U-shaped in the number of terms (missing
       terms, then noise terms), the large sets are the expensive ones, and gains below 1% are noise terms.
       (An energy grid, e.g. the papers' 0.95, is far coarser where it matters: one step can jump from ten
       terms to the cap.)
    2. Residual screening: a proxy that only stumbled on an interaction (a tree path that happens to split
       on its features) gives it a tiny coefficient, far down the magnitude order, although the samples
       show it plainly. On uniform masks the characters are orthogonal, so ``mean(chi_S * residual)`` is an
       unbiased estimate of what term ``S`` still explains, with standard error ``rms(residual)/sqrt(m)``.
       Terms among the ``pool`` largest proxy coefficients whose estimate exceeds the largest a pure-noise
       pool would give (a Gaussian max bound) are added, and kept only if the LOO error improves by 1%.
    """
    from spexjax.refit import design_matrix, ridge_loo

    m = X.shape[0]
    ranked = _ranked_terms(padded, coeffs)
    order = ranked[: max(0, int(cap))]
    yc = y - y.mean()
    best_err = float(np.mean(yc * yc))
    best = {"idx": order[:0], "w": np.zeros(0), "alpha": None, "loo": best_err, "means": np.zeros(0)}
    grid = _term_grid(len(order))
    # The sets are nested prefixes of ``order``: the centred design and its Gram matrix grow block by block
    # (pages of the preallocated design are only touched as columns arrive), so each count pays only its
    # eigendecomposition and hat-matrix products, not a new ``m k^2`` Gram product.
    D = np.empty((m, grid[-1] if grid else 0), order="F")  # column blocks stay contiguous
    G = np.empty((D.shape[1], D.shape[1]))
    means, tried, have, misses = np.zeros(0), [], 0, 0
    for k in grid:
        if k > have:
            new = design_matrix(X, padded[order[have:k]])
            means = np.concatenate([means, new.mean(axis=0)])
            D[:, have:k] = new - means[have:k]
            del new
            G[:k, have:k] = D[:, :k].T @ D[:, have:k]
            G[have:k, :have] = G[:have, have:k].T
            have = k
        w, alpha, err = ridge_loo(D[:, :k], yc, return_error=True, gram=G[:k, :k])
        tried.append(k)
        if err < best_err * 0.99:
            best = {"idx": order[:k], "w": w, "alpha": alpha, "loo": err, "means": means[:k]}
            best_err, misses = err, 0
        else:
            misses += 1
            if misses >= patience:
                break
    k0 = len(best["idx"])
    Dk = np.array(D[:, :k0])
    del D, G
    cand = ranked[: max(0, int(pool))]
    screened = 0
    for _ in range(rounds if m >= 32 else 0):
        cand = np.setdiff1d(cand, best["idx"], assume_unique=True)
        room = int(cap) - len(best["idx"])
        if len(cand) == 0 or room <= 0:
            break
        resid = yc - Dk @ best["w"]
        score = _char_corr(X, padded[cand], resid)
        bound = np.sqrt(np.mean(resid * resid) / m) * (np.sqrt(2.0 * np.log(2.0 * len(cand))) + 1.0)
        hit = np.nonzero(np.abs(score) > bound)[0]
        if len(hit) == 0:
            break
        add = cand[hit[np.argsort(-np.abs(score[hit]), kind="stable")][:room]]
        new = design_matrix(X, padded[add])
        new_means = new.mean(axis=0)
        D2 = np.concatenate([Dk, new - new_means], axis=1)
        w, alpha, err = ridge_loo(D2, yc, return_error=True)
        if not err < best_err * 0.99:
            break
        idx = np.concatenate([best["idx"], add])
        best = {"idx": idx, "w": w, "alpha": alpha, "loo": err, "means": np.concatenate([best["means"], new_means])}
        best_err, Dk, screened = err, D2, screened + len(add)
    return best | {"tried": tried, "screened": screened, "pad": padded[best["idx"]]}


def _holdout_count(X: np.ndarray, y: np.ndarray, padded: np.ndarray, coeffs: np.ndarray, cap: int,
                   valid: np.ndarray) -> int:
    """How many of the proxy's largest terms predict the rows the proxy never saw best (``energy="holdout"``).

    For each count on :func:`_term_grid` the ridge refit (alpha by LOO) is fitted on the proxy's training rows
    only and scored on ``valid``; a larger count wins only if it lowers that error by 1% (0 when none beats
    the training mean). The whole grid is scored: the held-out rows are few (15%), so their error curve is
    too noisy for the early stop of :func:`_choose_terms` (a noisy additive function stopped at 1 term of
    ~100).
    """
    from spexjax.refit import design_matrix, ridge_loo

    train = np.setdiff1d(np.arange(X.shape[0]), valid)
    order = _ranked_terms(padded, coeffs)[: max(0, int(cap))]
    if len(order) == 0:
        return 0
    D = design_matrix(X, padded[order])
    Dt, Dv = D[train], D[valid]
    del D
    means, ym = Dt.mean(axis=0), float(y[train].mean())
    Dt -= means
    Dv -= means
    yt, yv = y[train] - ym, y[valid] - ym
    best_err, best_k = float(np.mean(yv * yv)), 0
    for k in _term_grid(len(order)):
        w, _ = ridge_loo(Dt[:, :k], yt)
        r = yv - Dv[:, :k] @ w
        err = float(np.mean(r * r))
        if err < best_err * 0.99:  # as in _choose_terms: smaller gains are what noise terms give
            best_err, best_k = err, k
    return best_k


def _hier_candidates(kept: list[tuple[int, ...]], n: int, max_degree: int,
                     limit: int) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Terms one order above the kept ones whose lower-order parents are (almost) all kept.

    Strong heredity with one parent allowed missing: a set ``T`` of size ``k + 1`` is a candidate when at most
    one of its ``k``-subsets is not kept (the empty set counts as kept, so every singleton is a candidate).
    For ``k + 1 >= 3`` such a ``T`` has two kept parents sharing ``k - 1`` elements, so candidates are found
    by grouping the kept sets on each of their ``(k-1)``-subsets (Apriori's join) instead of trying every
    feature against every set. A pair with one kept singleton takes its other feature from the kept terms'
    features. Above ``limit`` candidates only fully supported ones (no parent missing) are kept.
    """
    keep = set(kept)
    cands: set[tuple[int, ...]] = {(j,) for j in range(n) if (j,) not in keep} if max_degree >= 1 else set()
    singles = sorted(s[0] for s in kept if len(s) == 1)
    active = sorted({i for s in kept for i in s})
    loose: set[tuple[int, ...]] = set()
    if max_degree >= 2:
        for i in singles:
            for j in active:
                if j != i:
                    t = (i, j) if i < j else (j, i)
                    if t not in keep:
                        (cands if (t[0],) in keep and (t[1],) in keep else loose).add(t)
    by_size: dict[int, list[tuple[int, ...]]] = {}
    for s in kept:
        by_size.setdefault(len(s), []).append(s)
    for k, sets in sorted(by_size.items()):
        if k < 2 or k + 1 > max_degree:
            continue
        groups: dict[tuple[int, ...], list[int]] = {}
        for s in sets:
            for e in range(k):
                groups.setdefault(s[:e] + s[e + 1 :], []).append(s[e])
        for base, extra in groups.items():
            if len(extra) < 2:
                continue
            extra = sorted(set(extra))
            for a in range(len(extra)):
                for b in range(a + 1, len(extra)):
                    t = tuple(sorted(base + (extra[a], extra[b])))
                    if t in keep or t in cands or t in loose:
                        continue
                    missing = sum((t[:e] + t[e + 1 :]) not in keep for e in range(k + 1))
                    if missing == 0:
                        cands.add(t)
                    elif missing == 1:
                        loose.add(t)
    single = sorted(t for t in cands if len(t) == 1)
    full = sorted((t for t in cands if len(t) > 1), key=lambda t: (len(t), t))
    loose_l = sorted(loose, key=lambda t: (len(t), t)) if len(cands) + len(loose) <= limit else []
    return single + full + loose_l, np.repeat([0, 1, 2], [len(single), len(full), len(loose_l)])


def _complete_hierarchy(X: np.ndarray, y: np.ndarray, chosen: dict[str, Any], max_degree: int, cap: int,
                        rounds: int = 32, limit: int = 1 << 19) -> dict[str, Any]:
    """Refine the chosen terms with the hierarchy the proxy was picked for (ProxySPEX's premise).

    The proxy's ranking carries false terms (at n = 128 with 850 samples, 169 of 268 kept terms were not in
    the function) and misses high-order terms whose coefficients are small: the characters of a unanimity
    game of order ``d`` spread its weight ``2^-d`` over all its subsets, so the top orders sit near the noise
    of a proxy trained on a few hundred samples, although they are plain in the samples once the lower
    orders are fitted. So:

    1. prune: drop terms whose ridge coefficient is below 2 standard errors (``sqrt(LOO error / m)``; the
       characters are near-orthonormal on uniform masks), if the LOO error does not get worse;
    2. grow: score the candidates of :func:`_hier_candidates` against the residual (``mean(chi_T * r)``,
       unbiased on uniform masks) and add those above a Gaussian max bound for the number of candidates of
       their tier (singletons, fully supported, one parent missing), while the LOO error improves by 1%; the
       new terms make new candidates (next order up), so repeat;
    3. prune again.

    Every step is accepted only on the exact LOO error of the ridge refit, so a function without hierarchy
    (pure parities) keeps the proxy's terms: nothing then clears the bound or improves the error.
    """
    from spexjax.indices import pad_supports
    from spexjax.refit import design_matrix, ridge_loo

    m, n = X.shape
    yc = y - y.mean()
    sets = [tuple(int(i) for i in row[row >= 0]) for row in chosen["pad"]]
    info = {"grown": 0, "pruned": 0, "rounds": 0}
    if m < 32:
        return chosen | info

    state = {"w": chosen["w"], "alpha": chosen["alpha"], "loo": chosen["loo"], "means": chosen["means"]}
    D = design_matrix(X, pad_supports(sets)) - chosen["means"] if sets else np.zeros((m, 0))

    def prune():
        nonlocal sets, D, state
        if not sets:
            return
        se = np.sqrt(state["loo"] / m)
        keep = np.nonzero(np.abs(state["w"]) > 2.0 * se)[0]
        if len(keep) == len(sets):
            return
        w, alpha, err = ridge_loo(D[:, keep], yc, return_error=True)
        if err <= state["loo"]:
            info["pruned"] += len(sets) - len(keep)
            sets = [sets[i] for i in keep]
            D = D[:, keep]
            state = {"w": w, "alpha": alpha, "loo": err, "means": state["means"][keep]}

    prune()
    for _ in range(rounds):
        room = int(cap) - len(sets)
        if room <= 0:
            break
        cands, tier = _hier_candidates(sets, n, max_degree, limit)
        if not cands:
            break
        info["rounds"] += 1
        resid = yc - D @ state["w"]
        score = _char_corr(X, pad_supports(cands), resid)
        # one max bound per tier (singletons, fully supported, one parent missing): the few fully supported
        # candidates are not held to the bar of the n singletons
        count = np.bincount(tier, minlength=3)[tier]
        bound = np.sqrt(np.mean(resid * resid) / m) * (np.sqrt(2.0 * np.log(2.0 * count)) + 1.0)
        hit = np.nonzero(np.abs(score) > bound)[0]
        if len(hit) == 0:
            break
        add = [cands[i] for i in hit[np.argsort(-np.abs(score[hit]), kind="stable")][:room]]
        new = design_matrix(X, pad_supports(add))
        new_means = new.mean(axis=0)
        D2 = np.concatenate([D, new - new_means], axis=1)
        w, alpha, err = ridge_loo(D2, yc, return_error=True)
        if not err < state["loo"] * 0.99:
            break
        sets, D = sets + add, D2
        state = {"w": w, "alpha": alpha, "loo": err, "means": np.concatenate([state["means"], new_means])}
        info["grown"] += len(add)
    prune()
    return chosen | state | {"pad": pad_supports(sets)} | info


def _char_corr(X: np.ndarray, padded: np.ndarray, r: np.ndarray, chunk: int | None = None) -> np.ndarray:
    """``mean(chi_S(x) * r)`` over the samples ``X`` (``bool[m, n]``) for every row ``S`` of ``padded``.

    No design matrix and no float copy of ``X``: the samples are packed 8 to a byte per feature, a term's
    parity over 8 samples is the XOR of its features' bytes, and ``sum(r)`` over the set bits of one byte
    is read from a 256-entry table per byte position. That is ``m / 8`` table reads per term instead of
    ``m * |S|`` float multiplies (8192 candidates at m = 10,000: ~0.1 s instead of ~1 s). ``chi_S = 1 - 2
    parity``, so the answer is ``(sum(r) - 2 * sum(r over odd parity)) / m``.
    """
    m = X.shape[0]
    padded = np.asarray(padded, dtype=np.int64).reshape(len(padded), -1)
    K = padded.shape[0]
    r64 = np.asarray(r, dtype=np.float64).reshape(-1)
    if K == 0 or m == 0:
        return np.zeros(K)
    feats = np.unique(padded[padded >= 0])
    nb = (m + 7) // 8
    # packed[f] = the bits of feature feats[f] over the samples (numpy's big-endian bit order); the last
    # row is all zeros and stands for the padding (-1) slots
    packed = np.zeros((len(feats) + 1, nb), np.uint8)
    if len(feats):
        packed[:-1] = np.packbits(np.asarray(X)[:, feats], axis=0).T
    idx = np.where(padded >= 0, np.searchsorted(feats, np.maximum(padded, 0)), len(feats))
    rp = np.zeros(nb * 8)
    rp[:m] = r64
    bits = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).astype(np.float64)  # (256, 8)
    table = (rp.reshape(nb, 8) @ bits.T).ravel()  # table[p * 256 + v]: sum of r over byte p's bits set in v
    offset = (np.arange(nb, dtype=np.intp) * 256)[None, :]
    step = int(chunk) if chunk else max(1, (1 << 21) // nb)
    out = np.empty(K)
    for lo in range(0, K, step):
        part = idx[lo : lo + step]
        acc = packed[part[:, 0]]
        for j in range(1, part.shape[1]):
            acc ^= packed[part[:, j]]
        out[lo : lo + step] = np.take(table, acc + offset).sum(axis=1)
    return (float(r64.sum()) - 2.0 * out) / m


def _check_samples(samples: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    if samples is None:
        return np.zeros((0, n), bool), np.zeros(0)
    try:
        masks, values = samples
    except (TypeError, ValueError) as err:
        raise TypeError("samples must be a pair (masks: bool[m, n], values: float[m])") from err
    x = check_masks(masks, n, name="samples[0] (masks)")
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise SpexError(f"samples[1] (values) must have one value per mask; got {y.shape[0]} for {x.shape[0]} masks")
    ok = np.isfinite(y)
    return x[ok], y[ok]


def _make_proxy(proxy: Any, search: bool, proxy_params: dict[str, Any] | None):
    if isinstance(proxy, str):
        name = proxy.lower()
        if name in ("lightgbm", "lgbm", "trees"):
            from spexjax.proxies.lgbm import LightGBMProxy

            return LightGBMProxy(params=dict(proxy_params or {}), search=search)
        if name in ("neural", "mlp", "jax"):
            from spexjax.proxies.neural import NeuralProxy

            return NeuralProxy(**dict(proxy_params or {}))
        if name in ("fourier", "fourier_net", "product"):
            from spexjax.proxies.fourier_net import FourierNetProxy

            return FourierNetProxy(**dict(proxy_params or {}))
        raise SpexError(f"proxy must be 'lightgbm', 'neural' or an object with fit() and fourier(); got {proxy!r}")
    if callable(getattr(proxy, "fit", None)) and callable(getattr(proxy, "fourier", None)):
        return proxy
    raise TypeError(f"proxy must be 'lightgbm', 'neural' or an object with fit() and fourier(); got {type(proxy)}")


def proxyspex(
    value_fn: Any,
    n: int,
    *,
    budget: int,
    max_degree: int = 5,
    key: Any = 0,
    proxy: Any = "lightgbm",
    samples: tuple[Any, Any] | None = None,
    energy: float | str = "auto",
    max_terms: int | None = None,
    refine: str | None = "ridge",
    hierarchy: bool = True,
    search: bool | str = "auto",
    proxy_params: dict[str, Any] | None = None,
    feature_names: Any = None,
    **options: Any,
) -> Interactions:
    """Sparse Fourier interactions of ``value_fn`` read from a proxy fitted on uniformly random masks.

    Args:
      value_fn: ``f(masks: bool[m, n]) -> float[m]`` or a :class:`spexjax.ValueFunction`.
      n: number of features.
      budget: most value-function rows to evaluate (new uniform masks). May be 0 when ``samples`` are given.
      max_degree: largest interaction order reported (also the proxy trees' depth).
      key: int seed or JAX PRNG key; the same key gives the same result.
      proxy: ``"lightgbm"`` (default: boosted trees, exact spectrum), ``"neural"`` (a JAX MLP trained with
        optax whose spectrum is read by SPEX with free proxy queries), or an object with
        ``fit(X, y, *, max_degree, key)`` and ``fourier(n, max_degree) -> (padded supports, coeffs)``.
      samples: ``(masks, values)`` already paid for (e.g. the random masks of an earlier run, or any
        masks at all): used *in addition to* the ``budget`` new queries, for the proxy and the refit.
        Non-finite values are dropped. ``budget=0`` reuses them only.
      energy: share of the proxy's non-constant spectral energy to keep before the refit, or ``"auto"``
        (default): keep the number of largest coefficients whose ridge refit has the least leave-one-out
        error on the samples (a geometric grid of counts; the fixed 0.95 of the papers cuts real terms when
        the proxy is noisy, and keeps hundreds of noise terms when it sees only a few real ones).
        ``"holdout"``: first cap that number by the count whose ridge refit, fitted on the proxy's training
        rows, best predicts the rows the proxy held out, then choose as ``"auto"`` below the cap. The
        leave-one-out error is measured on the rows the trees picked the terms from, so when the signal is
        weak and spread out it can keep noise terms: retraining an MLP on digits (1,297 points, 2,000
        trainings, 5 test points) kept 1,000 terms and scored mean LDS 0.68 with ``"auto"``, 24-96 terms and
        0.78 with ``"holdout"`` (LASSO datamodel 0.80); a noisy additive function (``tests``) kept 501 terms,
        R^2 0.59, against 64 terms, R^2 0.88. Where ``"auto"`` does not overfit the two agree (digits with
        logistic retraining: LDS 0.938 vs 0.940). Needs a proxy that records its held-out rows
        (``valid_rows``, as the LightGBM proxy does); otherwise ``"auto"`` is used and a warning says so.
      max_terms: most terms kept (default: half the number of samples, at most 2048, so the refit is
        well-posed and its design matrix stays small).
      refine: ``"ridge"`` (default), ``"lasso"``, ``"ols"`` or ``None`` (report the proxy's coefficients).
      hierarchy: with ``energy="auto"`` or ``"holdout"``, refine the proxy's chosen terms on the samples using
        the hierarchy ProxySPEX assumes (drop terms below 2 standard errors, add terms whose lower-order subsets
        are kept and that the residual shows; each step only if the leave-one-out error improves; see
        :func:`_complete_hierarchy`). ``False`` keeps the proxy's choice as it is.
      search: try a few proxy settings on the held-out split instead of one (4 fits instead of 1); ``"auto"``
        (default) searches when there are at most :data:`AUTO_SEARCH_SAMPLES` samples, where the fits take a
        fraction of a second and the proxy's quality decides the result (``random_hierarchical_mobius(128, 8,
        5)`` at 300 samples, three keys: R^2 0.46-0.62 with one fit, 0.58-0.73 with the search).
      proxy_params: settings of the proxy (LightGBM parameters, or :class:`NeuralProxy` fields).
      feature_names: optional names for the result.
      **options: run options (:data:`spexjax.runs.RUN_OPTIONS`): ``batch_size``, ``cache``, ``executor``,
        ``on_nonfinite``, ``progress``, ``fingerprint``, ``max_retries``, ``retry_backoff``.
    Returns:
      :class:`Interactions` (Fourier terms; ``queries`` counts new rows only) whose ``meta`` records the
      proxy's held-out R^2, the kept energy and timings.
    """
    t0 = time.perf_counter()
    n = check_n(n)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)):
        raise TypeError(f"budget must be an int (number of value-function rows); got {type(budget).__name__}")
    budget = int(budget)
    if budget < 0:
        raise BudgetError(f"budget must be >= 0; got {budget}")
    if isinstance(max_degree, bool) or not isinstance(max_degree, (int, np.integer)) or int(max_degree) < 1:
        raise SpexError(f"max_degree must be an int >= 1; got {max_degree!r}")
    max_degree = int(min(int(max_degree), n))
    if energy not in _COUNTED and not (
            isinstance(energy, (int, float)) and not isinstance(energy, bool) and 0.0 < float(energy) <= 1.0):
        raise SpexError(f"energy must be 'auto', 'holdout' or a number in (0, 1]; got {energy!r}")
    if refine not in (None, "ridge", "lasso", "ols"):
        raise SpexError(f"refine must be 'ridge', 'lasso', 'ols' or None; got {refine!r}")
    options = check_run_options(options, method="proxyspex")
    vf = as_value_function(value_fn, n)
    x_old, y_old = _check_samples(samples, n)
    if budget + x_old.shape[0] < MIN_SAMPLES:
        raise BudgetError(
            f"budget={budget} is too small: ProxySPEX needs at least {MIN_SAMPLES} samples "
            f"(budget + reused samples); got {budget + x_old.shape[0]}"
        )
    if search == "auto":
        search = budget + x_old.shape[0] <= AUTO_SEARCH_SAMPLES
    elif not isinstance(search, (bool, np.bool_)):
        raise SpexError(f"search must be True, False or 'auto'; got {search!r}")
    proxy_search = bool(search)
    model = _make_proxy(proxy, proxy_search, proxy_params)

    queries = 0
    x_new, y_new = np.zeros((0, n), bool), np.zeros(0)
    if budget:
        runner = make_runner(vf, n, desc="proxyspex queries", options=options, method="proxyspex")
        x_new = uniform_masks(key, budget, n)
        y_new = np.asarray(runner.evaluate(x_new), dtype=np.float64).reshape(-1)
        valid = np.asarray(getattr(runner, "last_valid", np.ones(len(y_new), bool)), bool)
        if valid.shape != y_new.shape:
            valid = np.ones(len(y_new), bool)
        valid &= np.isfinite(y_new)
        x_new, y_new = x_new[valid], y_new[valid]
        queries = int(getattr(runner, "queries", budget))
        evaluated = int(getattr(runner, "evaluated", budget))
        if hasattr(runner, "close"):
            runner.close()
    else:
        evaluated = 0
    X = np.concatenate([x_old, x_new]) if x_old.shape[0] else x_new
    y = np.concatenate([y_old, y_new]) if x_old.shape[0] else y_new
    if X.shape[0] < MIN_SAMPLES:
        raise BudgetError(f"only {X.shape[0]} finite samples; ProxySPEX needs at least {MIN_SAMPLES}")
    t_query = time.perf_counter()

    model.fit(X, y, max_degree=max_degree, key=key)
    t_fit = time.perf_counter()
    padded, coeffs = model.fourier(n, max_degree)
    padded = np.asarray(padded, dtype=np.int64)
    coeffs = np.asarray(coeffs, dtype=np.float64)
    t_read = time.perf_counter()

    with _one_blas_thread():  # see _one_blas_thread: faster and thread-count independent
        cap = min(X.shape[0] // 2, 2048) if max_terms is None else int(max_terms)
        nonconst = ~np.all(padded < 0, axis=1)
        const_rows = np.nonzero(~nonconst)[0][:1]
        chosen = None  # the term choice of energy="auto": kept padded supports, ridge solution, search record
        holdout_cap = None  # energy="holdout": the count the held-out rows chose
        valid_r2 = (getattr(model, "info", {}) or {}).get("valid_r2")
        # A proxy that predicts its own held-out split no better than the mean has learned nothing that
        # generalises; its top terms would only look good on the samples they were picked from (at n=1024 with
        # 200 queries that gave R^2 -0.29 on fresh masks). Report the constant alone and say so.
        uninformative = (energy in _COUNTED and valid_r2 is not None and np.isfinite(valid_r2)
                         and valid_r2 <= 0.0)
        if uninformative:
            warnings.warn(
                f"proxyspex: the proxy's held-out R^2 is {valid_r2:.3f} <= 0 with {X.shape[0]} samples, so it found "
                "no interaction that generalises; returning the constant term only (increase the budget)",
                RuntimeWarning,
                stacklevel=2,
            )
            chosen = {"idx": np.zeros(0, np.int64), "w": np.zeros(0), "alpha": None, "loo": float(np.var(y)),
                      "means": np.zeros(0), "tried": [], "screened": 0,
                      "pad": padded[:0]}
            idx = const_rows
        elif energy in _COUNTED:
            if energy == "holdout":
                rows = getattr(model, "valid_rows", None)
                if rows is None or len(rows) < 10 or len(rows) >= X.shape[0] - 10:
                    warnings.warn("proxyspex: energy='holdout' needs a proxy that records at least 10 held-out "
                                  "rows (valid_rows); this one does not, so energy='auto' is used", RuntimeWarning,
                                  stacklevel=2)
                else:
                    holdout_cap = _holdout_count(X, y, padded, coeffs, cap, np.asarray(rows, np.int64))
                    # one grid step of slack: the held-out rows are few, and below the cap LOO still decides
                    cap = min(cap, next((k for k in _term_grid(cap) if k > holdout_cap), cap))
            chosen = _choose_terms(X, y, padded, coeffs, cap)
            idx = np.concatenate([const_rows, chosen["idx"]])
            if hierarchy and refine is not None:
                chosen = _complete_hierarchy(X, y, chosen, max_degree, cap)
        else:
            idx = select_by_energy(padded, coeffs, energy, cap)
        total_e = float(np.sum(coeffs[nonconst] ** 2))
        kept_e = float(np.sum(coeffs[idx][nonconst[idx]] ** 2))
        chosen_energy = energy if energy not in _COUNTED else (kept_e / total_e if total_e > 0 else 1.0)
        if chosen is not None and refine is not None:
            # the kept terms (which the hierarchy step may have changed) plus the constant
            pad = chosen["pad"]
            width = max(1, pad.shape[1] if pad.ndim == 2 else 1)
            sel = np.concatenate([np.full((1, width), -1, np.int64), pad.reshape(-1, width)])
            sel_coef = np.zeros(len(sel))
        else:
            sel = padded[idx]
            sel_coef = coeffs[idx]
            if not np.any(np.all(sel < 0, axis=1)):  # always fit a constant
                sel = np.concatenate([np.full((1, max(1, sel.shape[1])), -1, np.int64), sel], axis=0)
                sel_coef = np.concatenate([[float(np.mean(y))], sel_coef])
        refit_info: dict[str, Any] = {}
        if refine == "ridge" and chosen is not None:
            # the term choice already solved this exact problem (centred characters of the kept terms, LOO alpha)
            w = chosen["w"]
            sel_coef = np.concatenate([[float(np.mean(y)) - float(chosen["means"] @ w)], w])
            refit_info = {"method": "ridge", "alpha": chosen["alpha"], "kept": int(sel.shape[0])}
        elif refine is not None:
            from spexjax.refit import refit

            sel_coef, refit_info = refit(X, y, sel, method=refine, key=key, return_info=True)
        t_end = time.perf_counter()
        train_r2 = float(r2_score(y, _predict(X, sel, sel_coef))) if len(sel) else 0.0

    info = dict(getattr(model, "info", {}) or {})
    meta = {
        "algorithm": "proxyspex",
        "proxy": info,
        "proxy_search": proxy_search,
        "max_degree": max_degree,
        "samples": int(X.shape[0]),
        "reused_samples": int(x_old.shape[0]),
        "evaluated": evaluated,
        "proxy_terms": int(len(coeffs)),
        "kept_terms": int(sel.shape[0]),
        "energy_target": energy,
        "energy_used": float(chosen_energy),
        "holdout_terms": holdout_cap,
        "proxy_uninformative": bool(uninformative),
        "terms_tried": chosen["tried"] if chosen is not None else None,
        "terms_screened": chosen["screened"] if chosen is not None else None,
        "hierarchy": ({k: int(chosen[k]) for k in ("grown", "pruned", "rounds")}
                      if chosen is not None and "grown" in chosen else None),
        "kept_energy_fraction": kept_e / total_e if total_e > 0 else 1.0,
        "refine": refine,
        "refit": {k: v for k, v in refit_info.items() if isinstance(v, (int, float, str, type(None)))},
        "train_r2": train_r2,
        "seconds": {
            "query": t_query - t0,
            "proxy_fit": t_fit - t_query,
            "readout": t_read - t_fit,
            "refine": t_end - t_read,
            "total": t_end - t0,
        },
    }
    return Interactions(n, padded_to_supports(sel), sel_coef, queries=queries, feature_names=feature_names, meta=meta)


def _predict(X: np.ndarray, padded: np.ndarray, coeffs: np.ndarray) -> np.ndarray:
    """The kept terms' values on the samples, in NumPy row blocks (no JIT compile for a one-off product)."""
    from spexjax.refit import design_matrix

    coeffs = np.asarray(coeffs, dtype=np.float64)
    out = np.empty(X.shape[0])
    step = max(1, (1 << 22) // max(1, len(coeffs)))
    for lo in range(0, X.shape[0], step):
        out[lo : lo + step] = design_matrix(X[lo : lo + step], padded) @ coeffs
    return out


def _one_blas_thread():
    """BLAS limited to one thread for the refine stage (threadpoolctl, installed with scikit-learn).

    Its products are small to medium (``m x K`` with ``K <= 2048``), where a second thread buys little even
    on an idle machine, while on a busy one OpenBLAS's spinning threads made them 5-8x *slower* (measured:
    ``_ridge_path`` at m = 10,000, K = 181: 0.78 s with the default threads, 0.10 s with one, load ~8 on
    2 cores). One thread also makes the refine's floating-point results independent of the core count.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn (and with it threadpoolctl) is in the proxy extra
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
