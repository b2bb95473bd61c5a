"""PNG plots: highlighted text, top-interactions bars, network; and Interactions.plot still works."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("matplotlib", reason="plots need matplotlib: pip install 'spexjax[plot]'")

from report_cases import double_negation  # noqa: E402

from spexjax import plotting  # noqa: E402  (the old import path keeps working)
from spexjax.report import plot_bar, plot_network, plot_text  # noqa: E402


@pytest.fixture
def result():
    return double_negation()


def _png(path):
    from matplotlib.image import imread

    img = imread(str(path))
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 200
    assert img[..., :3].std() > 0.02  # something was drawn
    return img


def test_plot_text_colours_each_word(result, tmp_path):
    fig = plot_text(result, path=tmp_path / "t.png")
    texts = [t.get_text() for t in fig.texts]
    for w in ("The", "movie", "not", "bad", "all"):
        assert w in texts
    img = _png(tmp_path / "t.png")[..., :3]
    blue = (img[..., 2] > 0.55) & (img[..., 0] < 0.35)  # 'bad' has the strongest negative effect
    assert blue.sum() > 50


def test_plot_bar_and_network(result, tmp_path):
    fig = plot_bar(result, k=5, path=tmp_path / "b.png")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert "not × bad" in labels
    _png(tmp_path / "b.png")
    fig = plot_network(result, index="Moebius", path=tmp_path / "n.png")
    assert {"not", "bad"} <= {t.get_text() for t in fig.axes[0].texts}
    _png(tmp_path / "n.png")


def test_interactions_plot_and_old_module(result):
    assert result.plot("bar").axes and result.plot("network").axes
    assert plotting.plot_text is plot_text
    with pytest.raises(ValueError, match="kind must be"):
        result.plot("pie")
    np.testing.assert_equal(len(plotting.plot(result, "text").texts) > 7, True)


def test_plot_grid_draws_each_head_and_the_sets(tmp_path):
    from report_cases import heads_result

    from spexjax.report import plot_grid, with_grid

    res = with_grid(heads_result(4, 6), prune=[{"kept": [0, 5, 9]}])
    fig = plot_grid(res, path=tmp_path / "g.png")
    ax = fig.axes[0]
    grid = ax.images[0].get_array()
    assert grid.shape == (4, 6)  # one cell per head, layer-major
    np.testing.assert_allclose(grid[1, 1], res.index("Moebius", min_order=1)[(7,)])
    assert len(ax.patches) >= 3 + 2  # three kept-head outlines, two pair arcs
    assert {t.get_text() for t in ax.get_yticklabels()} == {"L0", "L1", "L2", "L3"}
    _png(tmp_path / "g.png")
    # the shape can come from names alone, and a wrong index is named
    assert plot_grid(heads_result(4, 6)).axes[0].images[0].get_array().shape == (4, 6)
    with pytest.raises(ValueError, match="index must be one of"):
        plot_grid(res, index="pie")
