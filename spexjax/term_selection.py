"""ProxySPEX's term selection: which of the proxy's Fourier terms the result keeps, and with what refit.

The proxy (boosted trees, an MLP) hands over its whole spectrum, hundreds to thousands of terms, most of them
noise it fitted; this module picks the few the samples support (:func:`select_terms`, the stage
:func:`spexjax.proxyspex.proxyspex` calls between the proxy's readout and the refit):

- ``energy="auto"``: the count of largest coefficients whose ridge refit has the least leave-one-out error
  (:func:`_choose_terms`), plus terms the residual shows plainly (screening), then the hierarchy step
  (:func:`_complete_hierarchy`: prune below 2 standard errors, grow from kept subsets);
- ``energy="holdout"``: the same below a cap chosen on the proxy's held-out rows (:func:`_holdout_count`);
- a number: the fewest coefficients holding that share of the energy (:func:`select_by_energy`).

The choice is a :class:`TermChoice` (frozen): the kept supports, their ridge solution and the search's
record, which ``proxyspex`` turns into the result and its ``meta``. It was a dict of 8-11 keys passed between
the stages; a type says what each stage may read.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field

import numpy as np

from spexjax.indices import pad_supports
from spexjax.refit import design_matrix, ridge_loo

__all__ = ["COUNTED", "TermChoice", "TermSelection", "select_by_energy", "select_terms"]


@dataclass(frozen=True)
class TermChoice:
    """The terms a count search (and the hierarchy step) kept, with their ridge refit on centred characters.

    Attributes:
      idx: indices into the proxy's padded supports of the terms the count search and screening kept.
      pad: the kept supports, padded (``-1``); differs from the proxy's rows at ``idx`` after the hierarchy step.
      w: ridge coefficients of the kept terms' centred characters (the intercept is ``mean(y) - means @ w``).
      alpha: the ridge penalty leave-one-out chose (``None``: nothing kept).
      loo: that leave-one-out error.
      means: the kept characters' means over the samples.
      tried: the counts the search evaluated, in order.
      screened: terms added by residual screening.
      grown, pruned, hierarchy_rounds: what the hierarchy step did (``None`` when it did not run).
    """

    idx: np.ndarray
    pad: np.ndarray
    w: np.ndarray
    alpha: float | None
    loo: float
    means: np.ndarray
    tried: list[int] = field(default_factory=list)
    screened: int = 0
    grown: int | None = None
    pruned: int | None = None
    hierarchy_rounds: int | None = None

    @property
    def hierarchy(self) -> dict[str, int] | None:
        """``{"grown", "pruned", "rounds"}`` of the hierarchy step (``meta["hierarchy"]``), or ``None``."""
        if self.grown is None:
            return None
        return {"grown": int(self.grown), "pruned": int(self.pruned or 0), "rounds": int(self.hierarchy_rounds or 0)}


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


COUNTED = ("auto", "holdout")  # energy values that choose the number of terms (the others keep a share)


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
                  patience: int = 3, pool: int = 8192, rounds: int = 4) -> TermChoice:
    """Which of the proxy's terms to keep: the set whose ridge refit has the least exact leave-one-out
    error. Returns a :class:`TermChoice`: kept indices into ``padded``, their ridge coefficients on centred
    characters (alpha chosen by LOO; the intercept is ``mean(y) - means @ w``), that LOO error, the kept
    characters' means, the counts evaluated and the terms added by screening.

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
    return TermChoice(idx=best["idx"], pad=padded[best["idx"]], w=best["w"], alpha=best["alpha"], loo=best["loo"],
                      means=best["means"], tried=tried, screened=screened)


def _holdout_count(X: np.ndarray, y: np.ndarray, padded: np.ndarray, coeffs: np.ndarray, cap: int,
                   valid: np.ndarray) -> int:
    """How many of the proxy's largest terms predict the rows the proxy never saw best (``energy="holdout"``).

    For each count on :func:`_term_grid` the ridge refit (alpha by LOO) is fitted on the proxy's training rows
    only and scored on ``valid``; a larger count wins only if it lowers that error by 1% (0 when none beats
    the training mean). The whole grid is scored: the held-out rows are few (15%), so their error curve is
    too noisy for the early stop of :func:`_choose_terms` (a noisy additive function stopped at 1 term of
    ~100).
    """
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


def _complete_hierarchy(X: np.ndarray, y: np.ndarray, chosen: TermChoice, max_degree: int, cap: int,
                        rounds: int = 32, limit: int = 1 << 19) -> TermChoice:
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
    m, n = X.shape
    yc = y - y.mean()
    sets = [tuple(int(i) for i in row[row >= 0]) for row in chosen.pad]
    info = {"grown": 0, "pruned": 0, "rounds": 0}
    if m < 32:
        return dataclasses.replace(chosen, grown=0, pruned=0, hierarchy_rounds=0)

    state = {"w": chosen.w, "alpha": chosen.alpha, "loo": chosen.loo, "means": chosen.means}
    D = design_matrix(X, pad_supports(sets)) - chosen.means if sets else np.zeros((m, 0))

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
    return dataclasses.replace(chosen, **state, pad=pad_supports(sets), grown=info["grown"], pruned=info["pruned"],
                               hierarchy_rounds=info["rounds"])


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




@dataclass(frozen=True)
class TermSelection:
    """What :func:`select_terms` hands back to ``proxyspex``.

    Attributes:
      idx: rows of the proxy's spectrum kept (the constant first when the proxy has one); with a
        :class:`TermChoice` and a refit, the refit uses ``choice.pad`` instead (the hierarchy step may change it).
      choice: the count search's choice (``energy="auto"``/``"holdout"``, or the uninformative-proxy fallback);
        ``None`` for a fixed energy share.
      holdout_terms: ``energy="holdout"``: the count the held-out rows chose (``None`` otherwise).
      uninformative: the proxy's held-out R^2 was <= 0, so only the constant is kept.
      energy_used: the share asked for (a number), or the share the chosen terms hold (counted modes).
      kept_energy_fraction: the non-constant spectral energy of the rows ``idx`` over the proxy's total.
    """

    idx: np.ndarray
    choice: TermChoice | None
    holdout_terms: int | None
    uninformative: bool
    energy_used: float
    kept_energy_fraction: float


def select_terms(X: np.ndarray, y: np.ndarray, padded: np.ndarray, coeffs: np.ndarray, *, energy: float | str,
                 max_terms: int | None, hierarchy: bool, refine: str | None, max_degree: int,
                 valid_r2: float | None, valid_rows: np.ndarray | None) -> TermSelection:
    """ProxySPEX's term selection on the samples ``X, y`` from the proxy's spectrum ``padded, coeffs``.

    ``energy``, ``max_terms``, ``hierarchy`` and ``refine`` are :func:`spexjax.proxyspex.proxyspex`'s
    arguments; ``valid_r2`` and ``valid_rows`` the proxy's held-out R^2 and rows (``None`` when it has none).
    Warnings are attributed to the caller of ``proxyspex``.
    """
    cap = min(X.shape[0] // 2, 2048) if max_terms is None else int(max_terms)
    nonconst = ~np.all(padded < 0, axis=1)
    const_rows = np.nonzero(~nonconst)[0][:1]
    chosen = None  # the term choice of energy="auto": kept padded supports, ridge solution, search record
    holdout_cap = None  # energy="holdout": the count the held-out rows chose
    # A proxy that predicts its own held-out split no better than the mean has learned nothing that
    # generalises; its top terms would only look good on the samples they were picked from (at n=1024 with
    # 200 queries that gave R^2 -0.29 on fresh masks). Report the constant alone and say so.
    uninformative = bool(energy in COUNTED and valid_r2 is not None and np.isfinite(valid_r2) and valid_r2 <= 0.0)
    if uninformative:
        warnings.warn(
            f"proxyspex: the proxy's held-out R^2 is {valid_r2:.3f} <= 0 with {X.shape[0]} samples, so it found "
            "no interaction that generalises; returning the constant term only (increase the budget)",
            RuntimeWarning,
            stacklevel=3,
        )
        chosen = TermChoice(idx=np.zeros(0, np.int64), pad=padded[:0], w=np.zeros(0), alpha=None,
                            loo=float(np.var(y)), means=np.zeros(0))
        idx = const_rows
    elif energy in COUNTED:
        if energy == "holdout":
            rows = valid_rows
            if rows is None or len(rows) < 10 or len(rows) >= X.shape[0] - 10:
                warnings.warn("proxyspex: energy='holdout' needs a proxy that records at least 10 held-out "
                              "rows (valid_rows); this one does not, so energy='auto' is used", RuntimeWarning,
                              stacklevel=3)
            else:
                holdout_cap = _holdout_count(X, y, padded, coeffs, cap, np.asarray(rows, np.int64))
                # one grid step of slack: the held-out rows are few, and below the cap LOO still decides
                cap = min(cap, next((k for k in _term_grid(cap) if k > holdout_cap), cap))
        chosen = _choose_terms(X, y, padded, coeffs, cap)
        idx = np.concatenate([const_rows, chosen.idx])
        if hierarchy and refine is not None:
            chosen = _complete_hierarchy(X, y, chosen, max_degree, cap)
    else:
        idx = select_by_energy(padded, coeffs, energy, cap)
    total_e = float(np.sum(coeffs[nonconst] ** 2))
    kept_e = float(np.sum(coeffs[idx][nonconst[idx]] ** 2))
    fraction = kept_e / total_e if total_e > 0 else 1.0
    return TermSelection(
        idx=idx, choice=chosen, holdout_terms=holdout_cap, uninformative=uninformative,
        energy_used=float(energy if energy not in COUNTED else fraction), kept_energy_fraction=fraction,
    )
