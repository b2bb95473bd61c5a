"""Marginal and Faith-index baselines, through the same query runner as ``spex``.

Each is ``(value_fn, n, *, budget, key=0, **options) -> Interactions`` (``order=`` for the Faith indices):
a least-squares fit of a low-order Möbius polynomial, returned as an exact surrogate, so ``predict``,
``index`` and ``faithfulness`` work on them as on SPEX's results. With ``budget >= 2^n`` the Banzhaf,
KernelSHAP and Faith fits enumerate every coalition and equal the exact BV, SV, FBII and FSII.
"""

from spexjax.baselines.banzhaf import banzhaf, faith_banzhaf
from spexjax.baselines.lime import lime
from spexjax.baselines.shapley import faith_shap, kernel_shap

__all__ = ["banzhaf", "faith_banzhaf", "faith_shap", "kernel_shap", "lime"]
