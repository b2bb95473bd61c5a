"""LightGBM proxy: fit boosted trees on (mask, value) samples and read their exact Fourier spectrum.

The model is read from LightGBM's text dump, whose per-tree arrays (``split_feature``, ``threshold``,
``left_child``...) map one-to-one onto :mod:`spexjax.kernels.trees`' flat forest, so no node is ever
visited from Python. Defaults replace the reference's 40-fit grid search by one fit with early stopping on
a held-out split; ``search=True`` tries a handful of settings on the same split and keeps the best.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from spexjax._rng import LGBM_SPLIT, key_to_seed, numpy_rng
from spexjax.kernels.trees import concat_trees, tree_fourier
from spexjax.proxies import _lgbm_capi as capi

__all__ = ["LightGBMProxy", "booster_to_forest", "default_threads", "openmp_waits_passively", "DEFAULT_PARAMS",
           "ONE_THREAD_CELLS", "SEARCH_GRID", "CHALLENGER_Z"]

# One fit, early-stopped: depth follows max_degree (a depth-d tree expresses interactions of order <= d).
DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "regression",
    "learning_rate": 0.3,  # the proxy only has to find supports: the refit sets the coefficients
    "num_boost_round": 1000,
    "min_data_in_leaf": 5,
    "min_data_in_bin": 1,
    "max_bin": 2,
    "lambda_l2": 1e-3,
    # long patience: boosting often plateaus before it finds an interaction with a weak lower-order footprint
    "early_stopping_rounds": 100,
}
# The small optional search (4 fits on one held-out split, not 8 configurations x 5 folds). Entries marked
# "challenger" are kept only if the held-out rows clearly prefer them over the best plain entry (see
# LightGBMProxy.fit and CHALLENGER_Z).
#
# Why the slow shallow challenger (issue 24): on MiniLM sentiment at n = 56-60 (5 reviews, 1,728 samples),
# digits retraining at n = 128 (2 test points, 1,968 samples) and the noisy degree-5 test function, depth - 2
# at rate 0.1 had a lower held-out error than the search's old choice in all 8 cases, and ProxySPEX's R^2 on
# fresh masks went 0.758 -> 0.774 on the review (the references: 0.773). But its many small trees put
# more chance interactions into the spectrum: on a noisy additive function (held-out error 7 % lower on one
# split, 6 % higher on another) energy="holdout" kept 25 interactions instead of 4; on sentiment at
# n = 12-13 it was 2-42 % worse. Hence a challenger, kept on clear evidence only. Depth - 3 wins the held-out
# error more often still but loses R^2 (0.94 -> 0.89 on the noisy test function). Rate 0.1 at full depth (the
# entry it replaces) had the least held-out error of 10 (rate, depth) settings in none of 19 cases.
SEARCH_GRID: tuple[dict[str, Any], ...] = (
    {"learning_rate": 0.3, "depth_offset": 0},
    {"learning_rate": 0.1, "depth_offset": -2, "challenger": True},
    {"learning_rate": 0.3, "depth_offset": -2},
    {"learning_rate": 0.3, "depth_offset": 1},
)
#: a challenger replaces the best plain setting when its per-row squared-error advantage on the held-out rows
#: is more than this many standard errors (paired over the same rows): a one-sided ~84 % confidence that it
#: is better, not a tie won by the noise of one split
CHALLENGER_Z = 1.0


_PASSIVE: bool | None = None


def openmp_waits_passively() -> bool:
    """Make LightGBM's OpenMP (libgomp) threads wait passively, if still possible; say whether they do.

    libgomp reads ``OMP_WAIT_POLICY`` once, when it is loaded. By default its idle threads spin, and on a
    busy machine a spinning thread takes the time slice its partner needs: measured on a shared 2-core
    machine at load ~8, two threads made a boosting round 7-20x *slower* than one (n = 128 and 512). With
    ``PASSIVE`` the same two threads were 1.3-1.4x *faster* than one (same trees). So, unless the user set
    ``OMP_WAIT_POLICY`` or libgomp is already loaded (then its setting is unknown and 1 thread is used), it
    is set to ``PASSIVE`` before LightGBM is imported. Other libgomp users in the process see it too; it
    only changes how idle threads wait, never a result.
    """
    global _PASSIVE
    if _PASSIVE is None:
        import os
        import sys

        policy = os.environ.get("OMP_WAIT_POLICY")
        if policy is None and "lightgbm" not in sys.modules and not _libgomp_loaded():
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
            policy = "PASSIVE"
        _PASSIVE = (policy or "").strip().upper() == "PASSIVE"
    return _PASSIVE


def _libgomp_loaded() -> bool:
    """Is a ``libgomp.so.1`` (the soname LightGBM links; torch ships one too) mapped already? (Wheels'
    renamed copies, e.g. scikit-learn's ``libgomp-<hash>.so``, are separate instances and do not count.)"""
    try:
        with open("/proc/self/maps") as fh:
            return any(line.rstrip().rsplit("/", 1)[-1].startswith("libgomp.so") for line in fh)
    except OSError:  # not Linux: assume the worst (the policy cannot be known)
        return True


#: training cells (rows x features) below which one LightGBM thread is used: per boosting round a row-wise
#: histogram over this many binary cells takes well under a millisecond, less than handing work to a second
#: OpenMP thread and waiting for it (see :func:`default_threads`).
ONE_THREAD_CELLS = 1 << 22


def default_threads(rows: int | None = None, features: int | None = None) -> int:
    """LightGBM threads when ``num_threads=None``.

    One thread when the training set has fewer than :data:`ONE_THREAD_CELLS` cells (rows x features), else
    the usable cores (at most 8) if OpenMP waits passively (:func:`openmp_waits_passively`), else 1.

    Why one thread for small sets: every boosting round opens several OpenMP parallel regions whose work on a
    few thousand rows is microseconds, so a second thread only adds the cost of waking it. Measured on the
    shared 2-core VM in fresh processes (issue 22, 2026-12-07, load 10-13, 3 fits each, LightGBM imported
    first): 800 x 40 with the 4-setting search: 1 thread 0.9-1.4 s (PASSIVE or ACTIVE), 2 threads PASSIVE
    2.2-10.7 s, 2 threads ACTIVE 16-36 s; 10,000 x 32: 1 thread 1.2-1.4 s, 2 PASSIVE 1.4-1.7 s, 2 ACTIVE
    15-30 s; 10,000 x 512 (5.1 M cells): 1 thread 3.4-4.6 s, 2 PASSIVE 3.7-3.8 s. On an idle machine the
    issue measured 800 x 40 at 19-20 s with 2 PASSIVE threads (each wake-up of a halted vCPU is paid per
    region) and 0.9-1.9 s ACTIVE; one thread waits for nobody, so neither a quiet nor a loaded machine pays
    for the wait policy. Above the threshold the work per region is large enough that passive threads pay off.
    """
    import os

    if rows is not None and features is not None and int(rows) * int(features) < ONE_THREAD_CELLS:
        return 1
    if not openmp_waits_passively():
        return 1
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, min(8, cores))


def _parse_array(text: str, dtype) -> np.ndarray:
    return np.array(text.split(), dtype=dtype) if text.strip() else np.zeros(0, dtype)


def booster_to_forest(model: Any) -> dict[str, np.ndarray]:
    """Flat forest arrays (see :func:`spexjax.kernels.trees.tree_fourier`) from a LightGBM booster, an
    ``LGBMRegressor`` or a model string.

    Binary inputs make every numerical split a pair of booleans: does ``x = 0`` / ``x = 1`` go left. Missing
    type "Zero" (bits 2-3 of ``decision_type`` equal 1) sends ``x = 0`` the ``default_left`` way.
    """
    if isinstance(model, str):
        text = model
    else:
        text = getattr(model, "booster_", model).model_to_string()
    trees = []
    for block in text.split("\nTree=")[1:]:
        block = block.split("\nend of trees")[0]
        kv = dict(line.split("=", 1) for line in block.splitlines()[1:] if "=" in line)
        leaf_value = _parse_array(kv["leaf_value"], np.float64)
        if int(kv.get("num_leaves", 1)) <= 1 or "split_feature" not in kv:
            trees.append({k: np.zeros(0, dt) for k, dt in (("feature", np.int64), ("zero_left", bool),
                          ("one_left", bool), ("left_child", np.int64), ("right_child", np.int64))}
                         | {"leaf_value": leaf_value[:1]})
            continue
        if int(kv.get("num_cat", 0)) != 0:
            raise ValueError("categorical splits are not supported: masks are binary numerical features")
        thr = _parse_array(kv["threshold"], np.float64)
        dec = _parse_array(kv["decision_type"], np.int64)
        default_left = (dec & 2) != 0
        zero_missing = ((dec >> 2) & 3) == 1
        trees.append({
            "feature": _parse_array(kv["split_feature"], np.int64),
            "zero_left": np.where(zero_missing, default_left, 0.0 <= thr),
            "one_left": 1.0 <= thr,
            "left_child": _parse_array(kv["left_child"], np.int64),
            "right_child": _parse_array(kv["right_child"], np.int64),
            "leaf_value": leaf_value,
        })
    return concat_trees(trees)


def _challenge(best: tuple, challengers: list[tuple], Xv: np.ndarray, yv: np.ndarray) -> tuple:
    """The fit to keep: ``best`` (score, booster, params) unless a challenger's held-out squared errors are
    lower row by row by more than :data:`CHALLENGER_Z` standard errors of the mean paired difference."""

    def errors(bst):
        it = bst.best_iteration or None
        return (np.asarray(bst.predict(Xv, num_iteration=it), np.float64) - yv) ** 2

    base_err = errors(best[1])
    top, top_z = best, CHALLENGER_Z
    for cand in challengers:
        d = base_err - errors(cand[1])
        sd = float(np.std(d, ddof=1))
        z = float(np.mean(d)) / (sd / np.sqrt(len(d))) if sd > 0 else 0.0
        if z > top_z:
            top, top_z = cand, z
    return top


@dataclass
class LightGBMProxy:
    """Gradient-boosted trees as ProxySPEX's proxy.

    Args:
      params: LightGBM parameters overriding :data:`DEFAULT_PARAMS` (``num_boost_round`` and
        ``early_stopping_rounds`` are read from here too).
      search: try :data:`SEARCH_GRID` on the held-out split and keep the best (4 fits instead of 1; a
        "challenger" entry only when the held-out rows clearly prefer it, see :data:`CHALLENGER_Z`).
      valid_fraction: share of the samples held out for early stopping / the search (the final spectrum
        is refit on all samples anyway, so nothing is wasted).
      num_threads: LightGBM threads; ``None`` (default): 1 for training sets under
        :data:`ONE_THREAD_CELLS` cells, else the usable cores (at most 8) when OpenMP threads wait passively,
        else 1 (see :func:`default_threads`). ``deterministic=True`` (always set)
        makes the trees independent of the thread count, so the same key gives the same result on any
        machine. Histograms are built row-wise (``force_row_wise``): with many binary features (two bins
        each) one pass over the rows fills every feature's histogram, 3.5x faster per round than column-wise
        at n = 512 and the same trees.
    """

    params: dict[str, Any] = field(default_factory=dict)
    search: bool = False
    valid_fraction: float = 0.15
    num_threads: int | None = None
    info: dict[str, Any] = field(default_factory=dict, init=False)
    booster: Any = field(default=None, init=False)
    valid_rows: Any = field(default=None, init=False)

    def fit(self, X: np.ndarray, y: np.ndarray, *, max_degree: int, key: Any = 0) -> LightGBMProxy:
        openmp_waits_passively()  # before LightGBM (and with it libgomp) is loaded

        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y, dtype=np.float64)
        m = X.shape[0]
        rng = numpy_rng(key, LGBM_SPLIT)
        perm = rng.permutation(m)
        n_val = int(round(self.valid_fraction * m)) if m >= 20 else 0
        val, tr = perm[:n_val], perm[n_val:]
        base = {**DEFAULT_PARAMS, **self.params}
        rounds = int(base.pop("num_boost_round"))
        stop = int(base.pop("early_stopping_rounds"))
        # two levels deeper than max_degree (up to 6): a split on an unrelated feature must not use up the
        # depth an interaction needs; the readout truncates the spectrum to max_degree anyway
        depth = int(base.pop("max_depth", max(1, min(int(max_degree) + 2, max(int(max_degree), 6)))))
        seed = key_to_seed(key) % (2**31 - 1)
        threads = self.num_threads if self.num_threads is not None else default_threads(len(tr), X.shape[1])
        common = {"verbosity": -1, "seed": seed, "deterministic": True, "num_threads": int(threads),
                  "force_row_wise": True, "min_data_in_leaf": min(int(base.pop("min_data_in_leaf")), max(1, m // 4))}
        # LightGBM's C API directly (_lgbm_capi: the same library and trees as ``lightgbm.train``, without
        # the ~1 s import of scikit-learn that ``import lightgbm`` costs a fresh process)
        data = capi.Data(X[tr], y[tr], X[val] if n_val else None, y[val] if n_val else None,
                         {**base, **common, "min_data_in_bin": 1})
        grid = SEARCH_GRID if self.search else ({"depth_offset": 0},)
        best, challengers = None, []
        for cfg in grid:
            cfg = dict(cfg)
            d = max(1, depth + int(cfg.pop("depth_offset", 0)))
            challenger = bool(cfg.pop("challenger", False))
            p = {**base, **common, **cfg, "max_depth": d, "num_leaves": max(2, min(2**d, 131072))}
            bst = capi.train(p, data, num_boost_round=rounds, early_stopping_rounds=stop)
            score = float(bst.best_score["valid_0"]["l2"]) if n_val and bst.best_score else 0.0
            if challenger:
                challengers.append((score, bst, p))
            elif best is None or score < best[0]:
                best = (score, bst, p)
        if best is None:  # only challengers given: plain minimum
            best, challengers = min(challengers, key=lambda c: c[0]), []
        if n_val >= 2 and challengers:
            best = _challenge(best, challengers, X[val], y[val])
        _, self.booster, p = best
        self.valid_rows = val  # rows the trees never saw: proxyspex(energy="holdout") scores term counts on them
        self.info = {"proxy": "lightgbm", "params": {k: v for k, v in p.items() if k != "verbosity"},
                     "trees": int(self.booster.num_trees()), "best_iteration": int(self.booster.best_iteration),
                     "valid_l2": best[0], "valid_var": float(np.var(y[val])) if n_val else None}
        if n_val and self.info["valid_var"]:
            self.info["valid_r2"] = 1.0 - best[0] / self.info["valid_var"]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        it = self.booster.best_iteration or None
        return np.asarray(self.booster.predict(np.asarray(X, dtype=np.float32), num_iteration=it))

    def fourier(self, n: int, max_degree: int) -> tuple[np.ndarray, np.ndarray]:
        """The proxy's exact spectrum up to ``max_degree`` as ``(padded supports, coeffs)``."""
        it = self.booster.best_iteration or None  # the early-stopped model, as ``predict`` uses it
        forest = booster_to_forest(self.booster.model_to_string(num_iteration=it))
        return tree_fourier(**forest, max_degree=max_degree)
