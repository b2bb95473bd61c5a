"""Data attribution by retraining: the value of a mask of training points is the margin of a test point
after training a model on the kept points only.

Every mask is one full training from the same initialisation with the same fixed number of full-batch
optax steps, so a value is a deterministic function of the mask. A mask enters the loss as per-example
weights (kept = 1, dropped = 0; the loss is the weighted mean), which makes one training a pure function of
a weight vector: ``jax.vmap`` over the weights trains a whole batch of masks in one compiled program, the
forward pass of all models becoming one GEMM. Several test points share the trainings: one training gives
the margins of every test point (:meth:`RetrainTask.margins`), and :meth:`RetrainTask.for_test` views share
one cache, so explaining ``T`` points costs one set of trainings.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from spexjax.data.models import Model, logistic_bias_row, make_model
from spexjax.errors import SpexError
from spexjax.fingerprint import fingerprint
from spexjax.value_functions import ValueFunction, check_masks

__all__ = ["RetrainTask", "default_batch_size", "margin", "make_batch_train_fn", "make_train_fn", "train_reference"]


def margin(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Logit of the label minus the largest other logit, per row (positive = classified correctly)."""
    own = jnp.take_along_axis(logits, labels[:, None], axis=1)[:, 0]
    others = jnp.where(jax.nn.one_hot(labels, logits.shape[1], dtype=bool), -jnp.inf, logits)
    return own - others.max(axis=1)


def _loss(apply: Callable, params: Any, weights: jax.Array, X: jax.Array, y: jax.Array, l2: float) -> jax.Array:
    """Weighted mean cross-entropy over the kept points plus an L2 penalty (so the empty set is well-posed)."""
    ce = optax.softmax_cross_entropy_with_integer_labels(apply(params, X), y)
    data = jnp.sum(weights * ce) / jnp.maximum(jnp.sum(weights), 1.0)
    return data + 0.5 * l2 * sum(jnp.sum(p * p) for p in jax.tree_util.tree_leaves(params))


def make_train_fn(model: Model, optimizer: optax.GradientTransformation, X: jax.Array, y: jax.Array,
                  x_test: jax.Array, y_test: jax.Array, *, steps: int, l2: float, seed: int) -> Callable:
    """``weights float[n] -> margins float[T]`` for ONE model (``steps`` optax steps from ``init(seed)``);
    the task ``vmap``s it over masks."""
    params0 = model.init(jax.random.PRNGKey(seed))

    def train_one(weights: jax.Array) -> jax.Array:
        grad = jax.grad(functools.partial(_loss, model.apply))

        def step(carry, _):
            params, state = carry
            updates, state = optimizer.update(grad(params, weights, X, y, l2), state, params)
            return (optax.apply_updates(params, updates), state), None

        (params, _), _ = jax.lax.scan(step, (params0, optimizer.init(params0)), None, length=steps)
        return margin(model.apply(params, x_test), y_test)

    return train_one


def make_batch_train_fn(model: Model, optimizer: optax.GradientTransformation, X: jax.Array, y: jax.Array,
                        x_test: jax.Array, y_test: jax.Array, *, steps: int, l2: float, seed: int) -> Callable:
    """``weights float[B, n] -> margins float[B, T]``: ``B`` trainings at once, each the same as
    :func:`make_train_fn`'s (same init, loss, optimizer and steps; equal up to float32 round-off).

    Without ``model.apply_many`` this is ``vmap`` of the single-model training. With it, the loss of all
    ``B`` models is written on the stacked parameters and the shared features-major inputs ``X^T``, so every
    step is two large GEMMs over (models x points) plus a softmax along the points axis; the optimizer is
    ``vmap``-ed over the model axis (each model keeps its own state, as in the single-model training).

    On 2 shared CPU cores (digits, logistic, B = 64) this ran 1.4-1.8x the ``vmap`` trainer; the two GEMMs
    alone then take ~70% of a step at ~70 GFLOP/s on one core (``benchmarks/data_attribution.py`` reports that
    floor), so more speed needs fewer FLOPs (e.g. skipping the ~half of the points a mask drops), not fusion.
    Values differ from the per-mask reference by float32 round-off that Adam amplifies over 100 steps (up to
    ~2e-2 on margins ~5 at lr 0.1); a float64 training sat closer to this trainer than to the float32 loop.
    """
    if model.apply_many is None:
        return jax.vmap(make_train_fn(model, optimizer, X, y, x_test, y_test, steps=steps, l2=l2, seed=seed))
    n = X.shape[0]
    XT = jnp.asarray(X.reshape(n, -1).T)
    xtT = jnp.asarray(x_test.reshape(x_test.shape[0], -1).T)
    params1 = model.init(jax.random.PRNGKey(seed))

    onehot = jax.nn.one_hot(y, int(jax.eval_shape(model.apply, params1, X[:1]).shape[-1]), dtype=X.dtype).T

    def loss(P: Any, weights: jax.Array) -> jax.Array:
        logits = model.apply_many(P, XT)  # (B, C, n)
        # cross-entropy as logsumexp minus the label's logit picked by a one-hot product: optax's
        # take_along_axis becomes a scatter over (B, C, n) in the backward pass, slow on CPU
        top = jax.lax.stop_gradient(logits.max(axis=1, keepdims=True))
        lse = jnp.log(jnp.sum(jnp.exp(logits - top), axis=1)) + top[:, 0]
        ce = lse - jnp.sum(onehot * logits, axis=1)  # (B, n)
        data = jnp.sum(weights * ce, axis=1) / jnp.maximum(jnp.sum(weights, axis=1), 1.0)
        pen = sum(jnp.sum((p * p).reshape(p.shape[0], -1), axis=1) for p in jax.tree_util.tree_leaves(P))
        return jnp.sum(data + 0.5 * l2 * pen)  # models are independent: the gradient of the sum is per model

    grad = jax.grad(loss)

    def train_many(weights: jax.Array) -> jax.Array:
        B = weights.shape[0]
        P0 = jax.tree_util.tree_map(lambda a: jnp.broadcast_to(a, (B, *a.shape)), params1)

        def step(carry, _):
            P, state = carry
            updates, state = jax.vmap(optimizer.update)(grad(P, weights), state, P)
            return (optax.apply_updates(P, updates), state), None

        (P, _), _ = jax.lax.scan(step, (P0, jax.vmap(optimizer.init)(P0)), None, length=steps)
        logits = jnp.swapaxes(model.apply_many(P, xtT), 1, 2)  # (B, T, C)
        return jax.vmap(margin, in_axes=(0, None))(logits, y_test)

    return train_many


def train_reference(task: RetrainTask, mask: np.ndarray) -> np.ndarray:
    """The slow obvious reference: one model, a Python loop over ``steps`` calls of a jitted single-model
    step (same optimizer, init and loss as the vmapped trainer). Returns the margins ``float[T]``."""
    sh = task._shared
    model, opt = sh["model"], sh["optimizer"]
    step = sh.get("ref_step")
    if step is None:
        grad = jax.grad(functools.partial(_loss, model.apply))

        @jax.jit
        def step(params, state, weights):
            updates, state = opt.update(grad(params, weights, sh["X"], sh["y"], sh["l2"]), state, params)
            return optax.apply_updates(params, updates), state

        sh["ref_step"] = step
    params = model.init(jax.random.PRNGKey(sh["seed"]))
    state = opt.init(params)
    w = jnp.asarray(np.asarray(mask, dtype=np.float32).reshape(-1))
    for _ in range(sh["steps"]):
        params, state = step(params, state, w)
    return np.asarray(margin(model.apply(params, sh["x_test"]), sh["y_test"]), dtype=np.float64)


#: bytes of per-model activations an accelerator batch may take (the stacked trainer's step holds about
#: six float32 arrays of models x width x points: logits, their exp, the softmax, its gradient, and the
#: activation and its gradient for the mlp's hidden layer)
ACCELERATOR_BATCH_BYTES = 1 << 30


def default_batch_size(n: int, width: int, *, stacked: bool, backend: str | None = None) -> int:
    """Models per compiled call when ``RetrainTask(batch_size=None)``.

    CPU (measured, 2 cores, digits, logistic, 100 steps): 128 for the stacked trainer (1150-1400 models/s at
    n = 200 against 900-990 at 64; 64 and 256 tied at n = 1297) and 32 for the generic ``vmap`` trainer
    (16-32 beat 256, whose activations left the cache). On an accelerator a 128-model step of these small
    models is a few MFLOP per op, far below what one kernel launch can keep busy, so the batch is the largest
    power of two (at most 4,096) whose stacked activations, ``6 * width * n`` float32 per model, fit in
    :data:`ACCELERATOR_BATCH_BYTES`, and 128 for the generic trainer. (Accelerator sizes follow from that
    reasoning and memory arithmetic; not yet measured on a device.)
    """
    backend = jax.default_backend() if backend is None else backend
    if backend == "cpu":
        return 128 if stacked else 32
    if not stacked:
        return 128
    per_model = 6 * 4 * max(1, int(width)) * max(1, int(n))
    fit = max(1, ACCELERATOR_BATCH_BYTES // per_model)
    return int(min(4096, 1 << (fit.bit_length() - 1)))


def _labels(y: Any, name: str) -> np.ndarray:
    arr = np.asarray(y)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must hold integer class labels; got dtype {arr.dtype}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            rows = np.nonzero(~np.isfinite(arr.reshape(-1)))[0][:10].tolist()
            raise SpexError(f"{name} has non-finite labels at rows {rows}")
        if not np.all(arr == np.round(arr)):
            raise SpexError(f"{name} must hold integer class labels; got non-integer values")
    if arr.size and arr.min() < 0:
        raise SpexError(f"{name} must hold class labels >= 0; got {arr.min()}")
    return arr.astype(np.int32)


def _features(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a numeric array; got {type(x).__name__}") from err
    bad = ~np.isfinite(arr.reshape(arr.shape[0], -1)).all(axis=1) if arr.ndim >= 1 and arr.size else np.zeros(0, bool)
    if bad.any():
        raise SpexError(f"{name} has non-finite values in rows {np.nonzero(bad)[0][:10].tolist()}")
    return arr


def _drop_inert_features(X: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flattened ``X, x_test`` without the features that are 0 on every training point.

    Exact for the logistic model (zero init): such a feature's weights get gradient 0 (data) + l2 * 0
    (penalty) at every step, so any optax rule that maps a zero gradient at a zero parameter to a zero update
    (sgd, momentum, adam, adamw, clipping, ...) keeps them 0, and the feature never moves a logit, on training
    or test points. Images have many such pixels (digits: 3 of 64 over the 1,297-image training split, 7 over
    its first 200), and every one saved is a column of both GEMMs per step.
    """
    flat = X.reshape(X.shape[0], -1)
    active = np.flatnonzero(np.any(flat != 0, axis=0))
    if active.size == flat.shape[1]:
        return X, xt
    if active.size == 0:  # every feature is 0: keep one (its weights stay 0), so the shapes stay non-empty
        active = np.zeros(1, dtype=np.int64)
    return np.ascontiguousarray(flat[:, active]), np.ascontiguousarray(xt.reshape(xt.shape[0], -1)[:, active])


def _with_ones(x: np.ndarray) -> np.ndarray:
    """Flattened ``x`` with a last constant-1 feature (the bias input of :func:`logistic_bias_row`)."""
    flat = x.reshape(x.shape[0], -1)
    return np.concatenate([flat, np.ones((flat.shape[0], 1), flat.dtype)], axis=1)


class RetrainTask(ValueFunction):
    """Value function over training points: train on the kept ones, read the margin of a test point.

    Args:
      X_train: ``float[n, ...]`` features (``(n, d)``) or images (``(n, H, W)`` or ``(n, H, W, C)``).
      y_train: ``int[n]`` class labels in ``[0, num_classes)``.
      x_test: one test input (shape ``X_train.shape[1:]``) or a batch ``(T, ...)`` of them.
      y_test: its label (an int) or ``int[T]``.
      model: ``"logistic"`` (softmax regression from zero; features that are 0 on every training point are
        left out of the GEMMs, which changes no value: see :func:`_drop_inert_features`), ``"mlp"``,
        ``"cnn"`` (images) or an ``(init, apply)`` pair: ``init(key) -> params``,
        ``apply(params, x[N, ...]) -> logits[N, C]``.
      steps: full-batch optimizer steps per training (fixed: a value is a function of the mask alone).
      optimizer: an ``optax.GradientTransformation`` (default ``optax.adam(lr)``).
      lr: learning rate of the default optimizer (default 0.1 for the convex logistic model, 0.01 otherwise:
        Adam at 0.1 makes an MLP's 100-step trajectory chaotic, so float round-off moved margins by 0.3).
      l2: L2 penalty on all parameters (keeps the empty and tiny training sets well-posed).
      seed: key of the initial parameters (the same init for every mask).
      num_classes: default ``max label + 1``.
      batch_size: masks trained per compiled call (memory is ``batch_size`` models and their activations on
        all ``n`` points); bigger batches are split, smaller ones padded to a power of two. ``None`` (default)
        picks by trainer and backend (:func:`default_batch_size`): on CPU 128 for the stacked trainer of the
        flat built-ins (logistic, mlp) and 32 for the generic ``vmap`` trainer (cnn, a user's model); on an
        accelerator as many stacked models as fit 1 GiB of activations (up to 4,096), 128 for ``vmap``.
      test_index: which test point :meth:`evaluate` values (column of :meth:`margins`); see :meth:`for_test`.
      model_id: identity of a user's ``(init, apply)`` pair for :meth:`fingerprint` (without it the
        fingerprint is ``None`` and a cache needs ``fingerprint=``).
      feature_names: names of the training points (default ``"train[i] y=label"``).
      model_options: keyword arguments of the built-in model (``hidden=`` for mlp, ``channels=`` for cnn).
    """

    def __init__(self, X_train: Any, y_train: Any, x_test: Any, y_test: Any, *, model: Any = "logistic",
                 steps: int = 100, optimizer: optax.GradientTransformation | None = None, lr: float | None = None,
                 l2: float = 1e-3, seed: int = 0, num_classes: int | None = None, batch_size: int | None = None,
                 test_index: int = 0, model_id: str | None = None, feature_names: Any = None,
                 model_options: dict[str, Any] | None = None):
        X = _features(X_train, "X_train")
        if X.ndim < 2 or X.shape[0] < 1:
            raise SpexError(f"X_train must have shape (n, d), (n, H, W) or (n, H, W, C) with n >= 1; got {X.shape}")
        y = _labels(y_train, "y_train")
        if y.shape != (X.shape[0],):
            raise SpexError(f"y_train must have shape ({X.shape[0]},) (one label per row of X_train); got {y.shape}")
        xt = _features(x_test, "x_test") if np.ndim(x_test) else None
        if xt is None or xt.ndim not in (X.ndim - 1, X.ndim) or xt.shape[-(X.ndim - 1):] != X.shape[1:]:
            raise SpexError(f"x_test must have shape {X.shape[1:]} (one point) or (T, *{X.shape[1:]}); "
                            f"got {None if xt is None else xt.shape}")
        single = xt.ndim == X.ndim - 1
        xt = xt[None] if single else xt
        yt = _labels(y_test, "y_test").reshape(-1)
        if yt.shape != (xt.shape[0],):
            raise SpexError(f"y_test must have {xt.shape[0]} label(s), one per test point; "
                            f"got shape {np.shape(y_test)}")
        C = int(max(y.max(initial=0), yt.max(initial=0))) + 1
        if num_classes is not None:
            if int(num_classes) < C:
                raise SpexError(f"num_classes={num_classes} but labels go up to {C - 1}")
            C = int(num_classes)
        if C < 2:
            raise SpexError("labels must name at least 2 classes (got only class 0); pass num_classes=")
        for name, v, lo in (("steps", steps, 1), ("batch_size", 1 if batch_size is None else batch_size, 1),
                            ("seed", seed, 0)):
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < lo:
                raise SpexError(f"{name} must be an int >= {lo}; got {v!r}")
        if not (np.isfinite(l2) and l2 >= 0):
            raise SpexError(f"l2 must be a finite number >= 0; got {l2!r}")
        # images: the cnn wants a channel axis; the flat models flatten whatever they get
        if isinstance(model, str) and model == "cnn" and X.ndim == 3:
            X, xt = X[..., None], xt[..., None]
        opts = dict(model_options or {})
        X_fit, xt_fit, net = X, xt, None
        if isinstance(model, str) and model == "logistic":
            X_fit, xt_fit = _drop_inert_features(X, xt)
            if optimizer is None and not opts:
                # the default Adam is elementwise: the bias as a last weight row fed by a constant-1 feature is
                # the same training with one parameter array per model instead of two (see logistic_bias_row)
                X_fit, xt_fit = _with_ones(X_fit), _with_ones(xt_fit)
                net = logistic_bias_row(X_fit.shape[1] - 1, C)
        if net is None:
            net = make_model(model, X_fit.shape[1:], C, **opts)
        if lr is None:
            lr = 0.1 if isinstance(model, str) and model == "logistic" else 0.01
        opt = optimizer if optimizer is not None else optax.adam(float(lr))
        self.n = int(X.shape[0])
        self.num_tests = int(xt.shape[0])
        self._set_index(test_index)
        if batch_size is None:
            width = C if not (isinstance(model, str) and model == "mlp") else max(C, int(opts.get("hidden", 32)))
            batch_size = default_batch_size(self.n, width, stacked=net.apply_many is not None)
        self.batch_size = int(batch_size)
        self._names = None if feature_names is None else [str(s) for s in feature_names]
        if self._names is not None and len(self._names) != self.n:
            raise SpexError(f"feature_names must have {self.n} names; got {len(self._names)}")
        self._shared: dict[str, Any] = {
            "model": net, "optimizer": opt, "X": jnp.asarray(X_fit), "y": jnp.asarray(y), "x_test": jnp.asarray(xt_fit),
            "y_test": jnp.asarray(yt), "steps": int(steps), "l2": float(l2), "seed": int(seed), "cache": {},
            "trained": 0,
        }
        train_many = make_batch_train_fn(net, opt, self._shared["X"], self._shared["y"], self._shared["x_test"],
                                         self._shared["y_test"], steps=int(steps), l2=float(l2), seed=int(seed))
        self._shared["train"] = jax.jit(train_many)
        ident = None
        if isinstance(model, str):
            ident = {"name": model, "options": opts}
        elif model_id is not None:
            ident = {"name": str(model_id)}
        if optimizer is not None:
            ident = None if ident is None else ident | {"optimizer": repr(optimizer)}
        self._shared["identity"] = None if ident is None else {
            "model": ident, "X": X, "y": y, "x_test": xt, "y_test": yt, "steps": int(steps), "lr": float(lr),
            "l2": float(l2), "seed": int(seed), "num_classes": C}
        self._y_np = y
        self._y_test_np = yt

    def _set_index(self, j: Any) -> None:
        if isinstance(j, bool) or not isinstance(j, int | np.integer) or not 0 <= int(j) < self.num_tests:
            raise SpexError(f"test_index must be an int in [0, {self.num_tests}); got {j!r}")
        self.test_index = int(j)

    # -- views ---------------------------------------------------------------------------------------------
    def for_test(self, j: int) -> RetrainTask:
        """The same task valuing test point ``j``; shares the trainings (and their cache) with this one."""
        view = copy.copy(self)
        view._set_index(j)
        return view

    def columns(self) -> list[RetrainTask]:
        """One view per test point (``for_test(j)`` for every ``j``)."""
        return [self.for_test(j) for j in range(self.num_tests)]

    # -- values --------------------------------------------------------------------------------------------
    @property
    def feature_names(self) -> list[str]:
        return self._names if self._names is not None else [f"train[{i}] y={int(v)}" for i, v in enumerate(self._y_np)]

    @property
    def trainings(self) -> int:
        """Number of models trained so far (shared by every view); cached masks are not retrained."""
        return int(self._shared["trained"])

    def clear_cache(self) -> None:
        self._shared["cache"].clear()

    def margins(self, masks: Any) -> np.ndarray:
        """``float64[m, T]``: the margin of every test point after training on each mask's kept points.

        Masks already trained (by this task or any of its views) are read from the shared cache.
        """
        masks = check_masks(masks, self.n)
        cache: dict[bytes, np.ndarray] = self._shared["cache"]
        keys = [k.tobytes() for k in np.packbits(masks, axis=1)]
        todo: dict[bytes, int] = {}
        for i, k in enumerate(keys):
            if k not in cache and k not in todo:
                todo[k] = i
        if todo:
            rows = np.fromiter(todo.values(), dtype=np.int64, count=len(todo))
            vals = self._train(masks[rows])
            for k, v in zip(todo, vals, strict=True):
                cache[k] = v
        return np.stack([cache[k] for k in keys]) if keys else np.zeros((0, self.num_tests))

    def _train(self, masks: np.ndarray) -> np.ndarray:
        train = self._shared["train"]
        cap = self.batch_size
        out = np.empty((masks.shape[0], self.num_tests), dtype=np.float64)
        for lo in range(0, masks.shape[0], cap):
            chunk = masks[lo : lo + cap]
            rows = chunk.shape[0]
            size = min(cap, 1 << max(0, (rows - 1).bit_length()))
            w = np.zeros((size, self.n), dtype=np.float32)
            w[:rows] = chunk
            out[lo : lo + rows] = np.asarray(train(jnp.asarray(w)), dtype=np.float64)[:rows]
        self._shared["trained"] += masks.shape[0]
        return out

    def evaluate(self, masks: np.ndarray) -> np.ndarray:
        return self.margins(masks)[:, self.test_index]

    def fingerprint(self) -> str | None:
        ident = self._shared["identity"]
        if ident is None:
            return None
        fp = self._shared.get("fingerprint")
        if fp is None:
            fp = self._shared["fingerprint"] = fingerprint("spexjax.data.RetrainTask/v1", **ident)
        return fingerprint("spexjax.data.RetrainTask.column/v1", task=fp, test_index=self.test_index)

    def __repr__(self) -> str:
        name = self._shared["identity"]["model"]["name"] if self._shared["identity"] else "custom"
        return (f"RetrainTask(n={self.n}, tests={self.num_tests}, test_index={self.test_index}, model={name!r}, "
                f"steps={self._shared['steps']})")
