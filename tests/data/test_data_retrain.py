"""RetrainTask: vmapped trainings equal the per-mask reference loop; values, views, cache, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import spexjax
from spexjax.data import RetrainTask, load_digits_split, margin, train_reference
from spexjax.data.models import _conv3x3
from spexjax.errors import SpexError


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(12)


def _masks(n, m, seed=0):
    return np.random.default_rng(seed).random((m, n)) < 0.5


@pytest.mark.parametrize("model,steps", [("logistic", 10), ("mlp", 5), ("cnn", 2)])
def test_vmapped_training_matches_per_mask_loop(digits, model, steps):
    X, y, Xt, yt = digits
    task = RetrainTask(X, y, Xt[:3], yt[:3], model=model, steps=steps, batch_size=4)
    masks = _masks(task.n, 5)  # 5 rows: one full batch of 4 and one padded batch
    got = task.margins(masks)
    assert got.shape == (5, 3)
    for r in (0, 4):
        np.testing.assert_allclose(got[r], train_reference(task, masks[r]), rtol=1e-4, atol=1e-4)


def test_margin_definition():
    logits = jnp.array([[1.0, 3.0, 2.0], [5.0, 0.0, -1.0]])
    np.testing.assert_allclose(margin(logits, jnp.array([1, 1])), [1.0, -5.0])


def test_conv_matches_lax_conv():
    kx, kw = jax.random.split(jax.random.PRNGKey(1))
    x = jax.random.normal(kx, (2, 8, 8, 3))
    w = jax.random.normal(kw, (3, 3, 3, 5))
    for stride in (1, 2):
        ref = jax.lax.conv_general_dilated(x, w, (stride, stride), ((1, 1), (1, 1)),
                                           dimension_numbers=("NHWC", "HWIO", "NHWC"))
        np.testing.assert_allclose(_conv3x3(x, w, stride), ref, rtol=1e-5, atol=1e-5)


def test_values_deterministic_and_views_share_trainings(digits):
    X, y, Xt, yt = digits
    task = RetrainTask(X, y, Xt[:4], yt[:4], steps=10, batch_size=8)
    masks = _masks(task.n, 6, seed=1)
    mat = task.margins(masks)
    assert task.trainings == 6
    np.testing.assert_array_equal(task(masks), mat[:, 0])
    v2 = task.for_test(2)
    np.testing.assert_array_equal(v2(masks), mat[:, 2])
    assert task.trainings == 6  # served from the shared cache
    assert [v.test_index for v in task.columns()] == [0, 1, 2, 3]
    # a fresh task gives the same values (fixed seed and steps), one mask at a time too
    other = RetrainTask(X, y, Xt[:4], yt[:4], steps=10, batch_size=8)
    np.testing.assert_allclose(other.margins(masks[3:4])[0], mat[3], rtol=1e-5, atol=1e-5)
    # empty training set: logistic starts at zero and only the penalty acts, so every logit stays 0
    np.testing.assert_allclose(task.margins(np.zeros((1, task.n), bool)), 0.0, atol=1e-6)


def test_fingerprint_and_names(digits):
    X, y, Xt, yt = digits
    a = RetrainTask(X, y, Xt[:2], yt[:2], steps=5)
    assert a.fingerprint() == RetrainTask(X, y, Xt[:2], yt[:2], steps=5).fingerprint()
    assert a.fingerprint() != a.for_test(1).fingerprint()
    assert a.fingerprint() != RetrainTask(X, y, Xt[:2], yt[:2], steps=6).fingerprint()
    assert len(a.feature_names) == a.n and a.feature_names[0] == f"train[0] y={y[0]}"
    m = spexjax.data.logistic((8, 8), 10)
    assert RetrainTask(X, y, Xt[0], yt[0], model=(m.init, m.apply), steps=5).fingerprint() is None
    assert RetrainTask(X, y, Xt[0], yt[0], model=(m.init, m.apply), steps=5, model_id="mine").fingerprint()


def test_user_model_pair_equals_builtin(digits):
    X, y, Xt, yt = digits
    m = spexjax.data.logistic((8, 8), 10)
    masks = _masks(len(y), 3, seed=2)
    a = RetrainTask(X, y, Xt[0], yt[0], steps=8, lr=0.1).margins(masks)
    b = RetrainTask(X, y, Xt[0], yt[0], model=(m.init, m.apply), steps=8, lr=0.1).margins(masks)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_logistic_drops_features_zero_on_every_training_point(digits):
    """Digits have pixels that are 0 on every training image; the built-in logistic leaves them out of its
    GEMMs. Same margins as the unpruned user pair, even when the test point is non-zero on them."""
    X, y, Xt, yt = digits
    X = X.copy()
    X[:, 2, 3] = 0.0  # one more inert pixel, lit in the test image
    xt = Xt[:2].copy()
    xt[:, 2, 3] = 9.0
    task = RetrainTask(X, y, xt, yt[:2], steps=8, lr=0.1)
    d_active = int(np.any(X.reshape(len(X), -1) != 0, axis=0).sum())
    # the active features plus the constant-1 bias input (default optimizer: bias as the last weight row)
    assert task._shared["X"].shape == (len(X), d_active + 1) and d_active < 64
    np.testing.assert_array_equal(task._shared["X"][:, -1], 1.0)
    m = spexjax.data.logistic((8, 8), 10)
    full = RetrainTask(X, y, xt, yt[:2], model=(m.init, m.apply), steps=8, lr=0.1)
    masks = _masks(len(y), 4, seed=3)
    np.testing.assert_allclose(task.margins(masks), full.margins(masks), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(task.margins(masks)[0], train_reference(task, masks[0]), rtol=1e-4, atol=1e-4)
    # an all-zero training set keeps one (inert) feature: only the biases learn, as in the unpruned model
    zero = RetrainTask(np.zeros_like(X), y, xt, yt[:2], steps=3, lr=0.1)
    assert zero._shared["X"].shape == (len(X), 2)
    zfull = RetrainTask(np.zeros_like(X), y, xt, yt[:2], model=(m.init, m.apply), steps=3, lr=0.1)
    np.testing.assert_allclose(zero.margins(masks), zfull.margins(masks), rtol=1e-5, atol=1e-5)


def test_logistic_bias_row_is_the_same_training(digits):
    """The default logistic keeps its bias as a last weight row; with a user optimizer it keeps {w, b}.
    Both train the same model: equal margins (float32 round-off only)."""
    import optax

    X, y, Xt, yt = digits
    merged = RetrainTask(X, y, Xt[:3], yt[:3], steps=20, lr=0.1)
    split = RetrainTask(X, y, Xt[:3], yt[:3], steps=20, optimizer=optax.adam(0.1))
    assert set(merged._shared["model"].init(jax.random.PRNGKey(0))) == {"wb"}
    assert set(split._shared["model"].init(jax.random.PRNGKey(0))) == {"w", "b"}
    masks = _masks(len(y), 6, seed=4)
    np.testing.assert_allclose(merged.margins(masks), split.margins(masks), rtol=1e-4, atol=1e-4)


def test_flat_features_and_single_point(digits):
    X, y, Xt, yt = digits
    task = RetrainTask(X.reshape(len(X), -1), y, Xt[5].reshape(-1), int(yt[5]), steps=5)
    assert task.num_tests == 1 and task(np.ones((2, task.n), bool)).shape == (2,)


def test_bad_inputs(digits):
    X, y, Xt, yt = digits
    with pytest.raises(SpexError, match="y_train"):
        RetrainTask(X, y[:-1], Xt[0], yt[0])
    with pytest.raises(SpexError, match="x_test"):
        RetrainTask(X, y, Xt[0, :4], yt[0])
    bad = X.copy()
    bad[3, 1, 1] = np.nan
    with pytest.raises(SpexError, match=r"X_train.*rows \[3\]"):
        RetrainTask(bad, y, Xt[0], yt[0])
    with pytest.raises(SpexError, match="integer class labels"):
        RetrainTask(X, y + 0.5, Xt[0], yt[0])
    with pytest.raises(SpexError, match=">= 0"):
        RetrainTask(X, y - 5, Xt[0], yt[0])
    with pytest.raises(SpexError, match="y_test"):
        RetrainTask(X, y, Xt[:3], yt[:2])
    with pytest.raises(SpexError, match="num_classes"):
        RetrainTask(X, y, Xt[0], yt[0], num_classes=3)
    with pytest.raises(SpexError, match="test_index"):
        RetrainTask(X, y, Xt[:2], yt[:2], test_index=2)
    with pytest.raises(ValueError, match="model must be one of"):
        RetrainTask(X, y, Xt[0], yt[0], model="resnet")
    with pytest.raises(TypeError, match="model"):
        RetrainTask(X, y, Xt[0], yt[0], model=3)
    task = RetrainTask(X, y, Xt[0], yt[0], steps=2)
    with pytest.raises(ValueError, match="masks"):
        task(np.ones((2, task.n + 1), bool))


def test_planted_duplicates_are_the_most_redundant_pair():
    """Acceptance 1: two copies of the test image in a digits training set are the most negative pair."""
    Xtr, ytr, Xte, yte = load_digits_split()
    j, n0 = 0, 20
    X = np.concatenate([Xtr[:n0], Xte[j : j + 1], Xte[j : j + 1]])
    y = np.concatenate([ytr[:n0], yte[j : j + 1], yte[j : j + 1]])
    task = RetrainTask(X, y, Xte[j], yte[j], steps=50, l2=1e-2, batch_size=512)
    res = spexjax.proxyspex(task, task.n, budget=1500, max_degree=3, key=0)
    held_out = np.random.default_rng(5).random((300, task.n)) < 0.5
    assert spexjax.faithfulness(res, task, held_out) >= 0.9
    sup, co = res.mobius()
    pairs = [(c, s) for s, c in zip(sup, co, strict=True) if len(s) == 2]
    assert min(pairs)[1] == (n0, n0 + 1) and min(pairs)[0] < 0


@pytest.mark.parametrize("name", ["logistic", "mlp"])
def test_apply_many_equals_vmapped_apply(name):
    """The stacked features-major forward the trainer uses is vmap(apply) up to layout."""
    m = spexjax.data.make_model(name, (8, 8), 10)
    assert m.apply_many is not None
    keys = jax.random.split(jax.random.PRNGKey(3), 3)
    stacked = jax.vmap(m.init)(keys)
    stacked = jax.tree_util.tree_map(lambda p: p + 0.1 * jax.random.normal(jax.random.PRNGKey(4), p.shape), stacked)
    x = jax.random.uniform(jax.random.PRNGKey(5), (7, 8, 8))
    want = jax.vmap(m.apply, in_axes=(0, None))(stacked, x)  # (B, N, C)
    got = m.apply_many(stacked, x.reshape(7, -1).T)  # (B, C, N)
    np.testing.assert_allclose(np.swapaxes(got, 1, 2), want, rtol=1e-5, atol=1e-5)
    assert spexjax.data.make_model("cnn", (8, 8, 1), 10).apply_many is None  # cnn keeps the generic vmap


def test_default_batch_size_by_backend_and_trainer(digits):
    from spexjax.data.retrain import ACCELERATOR_BATCH_BYTES, default_batch_size

    # CPU: the measured sizes, whatever n
    assert default_batch_size(1297, 10, stacked=True, backend="cpu") == 128
    assert default_batch_size(10**6, 10, stacked=False, backend="cpu") == 32
    # accelerator, stacked: the largest power of two whose 6 * width * n float32 activations fit the budget
    for n, width in ((1297, 10), (50_000, 10), (50_000, 64), (10**7, 10), (200, 10)):
        b = default_batch_size(n, width, stacked=True, backend="gpu")
        assert b & (b - 1) == 0 and 1 <= b <= 4096
        assert b * 24 * width * n <= ACCELERATOR_BATCH_BYTES or b == 1
        assert b == 4096 or 2 * b * 24 * width * n > ACCELERATOR_BATCH_BYTES
    assert default_batch_size(1297, 10, stacked=True, backend="gpu") == 2048
    assert default_batch_size(200, 10, stacked=True, backend="tpu") == 4096
    assert default_batch_size(1297, 10, stacked=False, backend="gpu") == 128
    # the task picks by its model: stacked logistic/mlp, vmap for the cnn (this suite runs on CPU)
    X, y, Xt, yt = digits
    if jax.default_backend() == "cpu":
        assert RetrainTask(X, y, Xt[0], yt[0], steps=1).batch_size == 128
        assert RetrainTask(X, y, Xt[0], yt[0], steps=1, model="cnn").batch_size == 32
    assert RetrainTask(X, y, Xt[0], yt[0], steps=1, batch_size=3).batch_size == 3
