"""How datamodels are judged: the linear datamodeling score (LDS) and the LASSO datamodel it is usually
reported for.

LDS (Park et al., TRAK): over held-out random training subsets, the Spearman rank correlation between a
datamodel's predicted outputs and the outputs of models actually trained on those subsets, averaged over test
points. Rank correlation, so a datamodel is judged on ordering the subsets, not on its scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spexjax.errors import SpexError, require
from spexjax.interactions import Interactions
from spexjax.value_functions import check_masks

__all__ = ["lds", "spearman", "lasso_datamodel"]


def spearman(a: Any, b: Any) -> float:
    """Spearman rank correlation of two vectors (average ranks for ties); 0 when either is constant."""
    stats = require("scipy.stats", "data", what="spearman")
    a, b = np.asarray(a, dtype=np.float64).reshape(-1), np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape or a.size < 2:
        raise SpexError(f"spearman needs two vectors of the same length >= 2; got {a.shape} and {b.shape}")
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(stats.spearmanr(a, b).statistic)


def lds(predicted: Any, actual: Any) -> float:
    """Mean over test points (columns) of the Spearman correlation between predicted and actual outputs
    on held-out subsets (rows). 1-D inputs are one test point."""
    p, a = np.asarray(predicted, dtype=np.float64), np.asarray(actual, dtype=np.float64)
    if p.shape != a.shape:
        raise SpexError(f"predicted and actual must have the same shape; got {p.shape} and {a.shape}")
    if p.ndim == 1:
        return spearman(p, a)
    return float(np.mean([spearman(p[:, t], a[:, t]) for t in range(p.shape[1])]))


def lasso_datamodel(masks: Any, values: Any, *, alphas: Any = None, cv: int = 5, key: int = 0) -> Interactions:
    """The datamodels paper's linear datamodel: ``f(x) ~ b + sum_i w_i x_i`` fitted by LASSO with the
    penalty chosen by ``cv``-fold cross-validation, returned as Möbius singletons so that ``predict``,
    ``top`` and :func:`lds` treat it like any other result."""
    lm = require("sklearn.linear_model", "data", what="lasso_datamodel")
    x = check_masks(masks)
    y = np.asarray(values, dtype=np.float64).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise SpexError(f"values must have one value per mask; got {y.shape[0]} for {x.shape[0]} masks")
    model = lm.LassoCV(alphas=100 if alphas is None else alphas, cv=int(cv), random_state=int(key), max_iter=5000)
    model.fit(x.astype(np.float64), y)
    n = x.shape[1]
    nz = np.nonzero(model.coef_)[0]
    supports = [()] + [(int(i),) for i in nz]
    coeffs = np.concatenate([[float(model.intercept_)], model.coef_[nz]])
    return Interactions.from_mobius(n, supports, coeffs, meta={"algorithm": "lasso_datamodel",
                                                              "alpha": float(model.alpha_), "samples": int(len(y))})
