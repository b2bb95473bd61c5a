"""LDS, the LASSO datamodel and the synergy/redundancy split against obvious references."""

import numpy as np
import pytest
from scipy.stats import spearmanr

from spexjax import Interactions
from spexjax.data import GROUPS, lasso_datamodel, lds, plot_sets, spearman, split_sets


def test_lds_is_mean_spearman():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((50, 3)), rng.standard_normal((50, 3))
    assert lds(a, b) == pytest.approx(np.mean([spearmanr(a[:, t], b[:, t]).statistic for t in range(3)]))
    assert lds(a[:, 0], 2 * a[:, 0] + 1) == pytest.approx(1.0)
    assert spearman(np.ones(5), np.arange(5)) == 0.0


def test_lasso_datamodel_recovers_linear_function():
    rng = np.random.default_rng(1)
    X = rng.random((400, 20)) < 0.5
    y = 1.0 + 3.0 * X[:, 2] - 2.0 * X[:, 7] + 0.01 * rng.standard_normal(400)
    dm = lasso_datamodel(X, y)
    mob = dict(zip(*dm.mobius(), strict=True))
    assert mob[(2,)] == pytest.approx(3.0, abs=0.05) and mob[(7,)] == pytest.approx(-2.0, abs=0.05)
    assert np.corrcoef(dm.predict(X), y)[0, 1] > 0.999


def test_split_sets_by_sign_and_class(tmp_path):
    y = np.array([1, 1, 2, 2, 1])
    res = Interactions.from_mobius(5, [(), (0,), (0, 1), (2, 3), (0, 2), (1, 4), (0, 1, 4)],
                                   [0.1, 1.0, -0.5, 0.7, 0.3, -0.9, 0.2])
    split = split_sets(res, y, target_class=1, k=2)
    assert split["redundant"]["target"] == [((1, 4), pytest.approx(-0.9)), ((0, 1), pytest.approx(-0.5))]
    assert split["synergistic"]["non_target"] == [((2, 3), pytest.approx(0.7))]
    assert split["synergistic"]["mixed"] == [((0, 2), pytest.approx(0.3))]
    assert split["synergistic"]["target"] == [((0, 1, 4), pytest.approx(0.2))]
    assert set(split["redundant"]) == set(GROUPS) and split["redundant"]["mixed"] == []
    imgs = np.random.default_rng(0).random((5, 8, 8))
    fig = plot_sets(imgs, y, imgs[0], 1, split)
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").stat().st_size > 1000
