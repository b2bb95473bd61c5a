"""Data attribution: which training points, alone and together, a prediction depends on.

- :class:`RetrainTask`: a value function over training points (train on the kept points, many masks at once
  with ``vmap``; value = margin of a test point); several test points share one set of trainings.
- :class:`DatamodelsStore`: precomputed trainings in the datamodels format (masks ``[M, n]``, outputs
  ``[M, T]``), explained with ProxySPEX without loading them (marginal-effect screening at large ``n``).
- :func:`lds`, :func:`lasso_datamodel`: the linear datamodeling score and the LASSO datamodel baseline.
- :func:`split_sets`, :func:`plot_sets`: synergistic / redundant sets by target and non-target class.
"""

from spexjax.data.datasets import load_digits_split
from spexjax.data.evaluate import lasso_datamodel, lds, spearman
from spexjax.data.models import MODELS, Model, cnn, logistic, make_model, mlp
from spexjax.data.report import GROUPS, plot_sets, split_sets
from spexjax.data.retrain import RetrainTask, margin, train_reference
from spexjax.data.store import DatamodelsStore, write_store

__all__ = [
    "GROUPS",
    "MODELS",
    "DatamodelsStore",
    "Model",
    "RetrainTask",
    "cnn",
    "lasso_datamodel",
    "lds",
    "load_digits_split",
    "logistic",
    "make_model",
    "margin",
    "mlp",
    "plot_sets",
    "spearman",
    "split_sets",
    "train_reference",
    "write_store",
]
