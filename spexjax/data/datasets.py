"""Real data bundled with scikit-learn, split the way the data-attribution examples use it."""

from __future__ import annotations

import numpy as np

from spexjax._rng import DIGITS_SPLIT, numpy_rng
from spexjax.errors import SpexError, require

__all__ = ["load_digits_split"]


def load_digits_split(n_train: int | None = None, *, seed: int = 0,
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """sklearn's handwritten digits (1797 real 8x8 images, 10 classes) as ``(X_train, y_train, X_test,
    y_test)``: images ``float32[N, 8, 8]`` scaled to [0, 1], labels ``int32``.

    A fixed permutation (``seed``) puts 1,297 images in the training split and 500 in the test split;
    ``n_train`` takes the first ``n_train`` of the training split (default: all of it).
    """
    datasets = require("sklearn.datasets", "data", what="load_digits_split")
    bunch = datasets.load_digits()
    images, labels = bunch.images, bunch.target
    perm = numpy_rng(seed, DIGITS_SPLIT).permutation(len(labels))
    tr, te = perm[:1297], perm[1297:]
    if n_train is not None:
        if isinstance(n_train, bool) or not isinstance(n_train, int | np.integer) or not 1 <= n_train <= len(tr):
            raise SpexError(f"n_train must be an int in [1, {len(tr)}]; got {n_train!r}")
        tr = tr[: int(n_train)]
    X = (images / 16.0).astype(np.float32)
    y = labels.astype(np.int32)
    return X[tr], y[tr], X[te], y[te]
