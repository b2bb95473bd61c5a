"""Quality of a recovered expansion."""

from __future__ import annotations

from typing import Any

import numpy as np

from spexjax.value_functions import as_value_function, check_masks


def r2_score(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Coefficient of determination; 1.0 for a perfect fit, and exactness of a constant target."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    ss_res = float(np.sum((y_true - y_pred) ** 2))
    ss_tot = float(np.sum((y_true - y_true.mean()) ** 2))
    if ss_tot == 0.0:
        return 1.0 if ss_res <= 1e-24 * max(1, y_true.size) else 0.0
    return 1.0 - ss_res / ss_tot


def faithfulness(result: Any, value_fn: Any, masks: Any) -> float:
    """R^2 of ``result.predict(masks)`` against ``value_fn(masks)`` (the papers' faithfulness)."""
    x = check_masks(masks, result.n)
    f = as_value_function(value_fn, result.n)
    y = np.asarray(f(x), dtype=np.float64).reshape(-1)
    if y.shape[0] != x.shape[0]:
        raise ValueError(f"value_fn returned {y.shape[0]} values for {x.shape[0]} masks")
    return r2_score(y, result.predict(x))
