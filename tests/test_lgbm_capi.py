"""The proxy's LightGBM-through-ctypes path (spexjax/proxies/_lgbm_capi.py) against ``lightgbm.train``.

The C-API path exists only to skip ``import lightgbm`` (scikit-learn, SciPy: ~1 s per fresh process); it
must change no tree, no score and no prediction. The reference below builds the same datasets and early
stopping with the Python package, as ``LightGBMProxy`` did before.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

lgb = pytest.importorskip("lightgbm", reason="lightgbm is the tree proxy's backend")

from spexjax._rng import LGBM_SPLIT, numpy_rng  # noqa: E402
from spexjax.proxies import _lgbm_capi as capi  # noqa: E402
from spexjax.proxies.lgbm import DEFAULT_PARAMS, LightGBMProxy  # noqa: E402


def _problem(m: int, n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = (rng.random((m, n)) < 0.5).astype(np.float32)
    y = 2 * X[:, 0] - 1.5 * X[:, 1] * X[:, 2] + 0.2 * X[:, 3:8].sum(1) + 0.3 * rng.normal(size=m)
    return X, y


def _trees(text: str) -> str:
    return text.split("\nTree=", 1)[1].split("end of trees")[0]


@pytest.mark.parametrize(("m", "n", "stop", "seed"), [(800, 40, 100, 0), (3000, 64, 100, 1), (19, 10, 100, 2),
                                                     (500, 12, 0, 3)])
def test_same_model_as_lightgbm_train(m, n, stop, seed):
    X, y = _problem(m, n, seed)
    perm = np.random.default_rng(seed).permutation(m)
    nv = int(round(0.15 * m)) if m >= 20 else 0
    val, tr = perm[:nv], perm[nv:]
    p = {"objective": "regression", "learning_rate": 0.3, "max_bin": 2, "lambda_l2": 1e-3, "min_data_in_bin": 1,
         "verbosity": -1, "seed": 7, "deterministic": True, "num_threads": 1, "force_row_wise": True,
         "min_data_in_leaf": 5, "max_depth": 4, "num_leaves": 16}
    dtrain = lgb.Dataset(X[tr], y[tr], params={"max_bin": 2, "min_data_in_bin": 1, "verbosity": -1})
    dval = dtrain.create_valid(X[val], y[val]) if nv else None
    cbs = [lgb.early_stopping(stop, verbose=False)] if dval is not None and stop > 0 else []
    want = lgb.train(p, dtrain, num_boost_round=300, valid_sets=[dval] if dval is not None else None, callbacks=cbs)
    got = capi.train(p, capi.Data(X[tr], y[tr], X[val] if nv else None, y[val] if nv else None, p),
                     num_boost_round=300, early_stopping_rounds=stop)
    assert got.best_iteration == want.best_iteration
    assert got.num_trees() == want.num_trees()
    assert _trees(got.model_to_string()) == _trees(want.model_to_string())
    if want.best_score:
        assert got.best_score["valid_0"]["l2"] == want.best_score["valid_0"]["l2"]
    else:
        assert got.best_score == {}
    it = want.best_iteration or None
    np.testing.assert_array_equal(got.predict(X[:64], num_iteration=it), want.predict(X[:64], num_iteration=it))
    again = pickle.loads(pickle.dumps(got))  # through the model text, as lightgbm.Booster pickles
    assert again.model_to_string() == got.model_to_string() and again.best_iteration == got.best_iteration


def test_search_grid_picks_what_the_python_package_picks():
    """The 4-setting search (one binned dataset reused by every fit): the chosen setting and its trees."""
    X, y = _problem(900, 24, 5)
    proxy = LightGBMProxy(search=True).fit(X, y, max_degree=2, key=3)
    m = X.shape[0]
    perm = numpy_rng(3, LGBM_SPLIT).permutation(m)
    nv = int(round(0.15 * m))
    val, tr = perm[:nv], perm[nv:]
    chosen = proxy.info["params"]
    p = {**chosen, "verbosity": -1}
    base = {k: v for k, v in DEFAULT_PARAMS.items() if k not in ("num_boost_round", "early_stopping_rounds")}
    dtrain = lgb.Dataset(X[tr], y[tr], params={"max_bin": base["max_bin"], "min_data_in_bin": 1, "verbosity": -1})
    dval = dtrain.create_valid(X[val], y[val])
    want = lgb.train(p, dtrain, num_boost_round=DEFAULT_PARAMS["num_boost_round"], valid_sets=[dval],
                     callbacks=[lgb.early_stopping(DEFAULT_PARAMS["early_stopping_rounds"], verbose=False)])
    assert proxy.info["best_iteration"] == want.best_iteration
    assert _trees(proxy.booster.model_to_string()) == _trees(want.model_to_string())
    assert proxy.info["valid_l2"] == want.best_score["valid_0"]["l2"]


def test_a_fit_does_not_import_the_python_package():
    """What the module is for: a fresh process fits the proxy without importing lightgbm or scikit-learn."""
    code = (
        "import sys, numpy as np\n"
        "from spexjax.proxies.lgbm import LightGBMProxy\n"
        "X = (np.random.default_rng(0).random((400, 16)) < 0.5).astype(np.float32)\n"
        "p = LightGBMProxy().fit(X, X[:, 0] - X[:, 1] * X[:, 2], max_degree=2)\n"
        "assert p.fourier(16, 2)[1].size > 0\n"
        "print(sorted(m for m in ('lightgbm', 'sklearn', 'scipy.stats') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_lightgbm_errors_are_raised_with_its_message():
    X, y = _problem(100, 8, 4)
    with pytest.raises(capi.LightGBMError, match="LightGBM LGBM_BoosterCreate"):
        capi.train({"objective": "no_such_objective", "verbosity": -1}, capi.Data(X, y, None, None, {}),
                   num_boost_round=1, early_stopping_rounds=0)
