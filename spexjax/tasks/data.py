"""Data attribution: which training points (and which groups of them) a prediction depends on.

A mask row keeps (True) or drops (False) each of ``n`` training points of scikit-learn's breast-cancer
data. For every row a small logistic regression is trained from zero on the kept points with a fixed
number of full-batch gradient steps (so the value is a deterministic function of the mask), all rows at
once with ``jax.vmap``; the value is the log-probability of the true label of one held-out test point.
Groups of redundant points show up as interactions: dropping one of them changes little, dropping all does.
"""

from __future__ import annotations

import functools
import hashlib
import json

import jax
import jax.numpy as jnp
import numpy as np

from spexjax.value_functions import ValueFunction, check_masks


def load_breast_cancer_split(n_train: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Standardised ``(X_train, y_train, X_test, y_test)``: ``n_train`` points drawn with ``seed``, the rest
    held out. Standardisation uses the statistics of the ``n_train`` points (fixed, not per mask)."""
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError as err:
        from spexjax.llm.minilm import MissingExtraError

        raise MissingExtraError("DataAttributionTask needs scikit-learn: pip install scikit-learn") from err
    X, y = load_breast_cancer(return_X_y=True)
    if isinstance(n_train, bool) or not isinstance(n_train, int) or not 2 <= n_train < len(y):
        raise ValueError(f"n_train must be an int in [2, {len(y) - 1}]; got {n_train!r}")
    perm = np.random.default_rng(seed).permutation(len(y))
    tr, te = perm[:n_train], perm[n_train:]
    mu, sd = X[tr].mean(0), X[tr].std(0) + 1e-8
    Xs = ((X - mu) / sd).astype(np.float32)
    return Xs[tr], y[tr].astype(np.float32), Xs[te], y[te].astype(np.float32)


@functools.partial(jax.jit, static_argnames=("steps",))
def _train_and_score(
    keep: jax.Array,
    X: jax.Array,
    y: jax.Array,
    x_test: jax.Array,
    y_test: jax.Array,
    lr: float,
    l2: float,
    *,
    steps: int,
) -> jax.Array:
    """``log p(y_test | x_test)`` after ``steps`` gradient steps on the kept points, one per mask row."""

    def one(k: jax.Array) -> jax.Array:
        wts = k / jnp.maximum(k.sum(), 1.0)
        s = 2.0 * y - 1.0

        def loss(theta: jax.Array) -> jax.Array:
            z = X @ theta[:-1] + theta[-1]
            return jnp.sum(wts * jax.nn.softplus(-s * z)) + 0.5 * l2 * jnp.sum(theta[:-1] ** 2)

        grad = jax.grad(loss)
        theta = jax.lax.fori_loop(0, steps, lambda _, th: th - lr * grad(th), jnp.zeros(X.shape[1] + 1, X.dtype))
        z = x_test @ theta[:-1] + theta[-1]
        return -jax.nn.softplus(-(2.0 * y_test - 1.0) * z)

    return jax.vmap(one)(keep.astype(X.dtype))


class DataAttributionTask(ValueFunction):
    """Value function over ``n_train`` training points: log-prob of a test point's true label.

    Args:
      n_train: number of training points (= ``n``), drawn from breast-cancer with ``seed``.
      test_index: which held-out point to explain (default 15: a borderline one, p(true) ~ 0.52).
      steps, lr, l2: full-batch gradient descent from zero (fixed, so values are deterministic).
      seed: which points are drawn.
      batch_size: masks trained per compiled call (padded to a power of two).
    """

    def __init__(
        self,
        n_train: int = 64,
        test_index: int = 15,
        *,
        steps: int = 100,
        lr: float = 0.5,
        l2: float = 1e-2,
        seed: int = 0,
        batch_size: int = 1024,
    ):
        Xtr, ytr, Xte, yte = load_breast_cancer_split(n_train, seed=seed)
        if isinstance(test_index, bool) or not isinstance(test_index, int) or not 0 <= test_index < len(yte):
            raise ValueError(f"test_index must be an int in [0, {len(yte) - 1}]; got {test_index!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ValueError(f"steps must be an int >= 1; got {steps!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1; got {batch_size!r}")
        self.n = int(n_train)
        self.test_index, self.steps, self.lr, self.l2, self.seed = test_index, steps, float(lr), float(l2), seed
        self.batch_size = batch_size
        self.X, self.y = Xtr, ytr
        self.x_test, self.y_test = Xte[test_index], yte[test_index]
        self._fingerprint: str | None = None

    @property
    def feature_names(self) -> list[str]:
        return [f"train[{i}] y={int(v)}" for i, v in enumerate(self.y)]

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        masks = check_masks(masks, self.n)
        m = masks.shape[0]
        out = np.empty(m, dtype=np.float64)
        cap = 1 << max(0, int(self.batch_size - 1).bit_length())
        args = (self.X, self.y, self.x_test, self.y_test, self.lr, self.l2)
        for lo in range(0, m, cap):
            chunk = masks[lo : lo + cap]
            rows = chunk.shape[0]
            padded = np.zeros((1 << max(0, (rows - 1).bit_length()), self.n), dtype=bool)
            padded[:rows] = chunk
            out[lo : lo + rows] = np.asarray(_train_and_score(padded, *args, steps=self.steps))[:rows]
        return out

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            h = hashlib.sha256()
            h.update(
                json.dumps(
                    {
                        "task": "spexjax.tasks.data/v1",
                        "dataset": "sklearn.load_breast_cancer",
                        "n_train": self.n,
                        "test_index": self.test_index,
                        "steps": self.steps,
                        "lr": self.lr,
                        "l2": self.l2,
                        "seed": self.seed,
                    },
                    sort_keys=True,
                ).encode()
            )
            h.update(self.X.tobytes())
            h.update(self.y.tobytes())
            self._fingerprint = h.hexdigest()
        return self._fingerprint

    def __repr__(self) -> str:
        return f"DataAttributionTask(n={self.n}, test_index={self.test_index}, steps={self.steps})"
