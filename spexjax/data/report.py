"""Reading a data-attribution result: which groups of training points reinforce or replace each other.

For a margin value function, a Möbius term ``a(S)`` of a set ``S`` of training points is what the points of
``S`` do *together* beyond their subsets: ``a(S) > 0`` is synergy (only together do they push the margin up,
e.g. points that jointly shape a decision boundary), ``a(S) < 0`` is redundancy (each alone does the job, two
copies of the same image being the extreme case). Sets are split by the labels of their points: all of the
test point's class (target), none of it (non-target), or mixed.

The HTML report draws the same split with the training images themselves: :func:`with_images` (from
:mod:`spexjax.report.lenses`) attaches the thumbnails of the shown points to a result (images as an array or a
``.npy`` path beside a datamodels store), and :func:`spexjax.report.save_html` then draws the image view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from spexjax.errors import SpexError, require
from spexjax.interactions import Interactions
from spexjax.report.lenses import with_images

__all__ = ["split_sets", "plot_sets", "with_images", "GROUPS"]

GROUPS = ("target", "non_target", "mixed")


def split_sets(result: Interactions, y_train: Any, target_class: int, *, k: int = 3,
               min_order: int = 2) -> dict[str, dict[str, list[tuple[tuple[int, ...], float]]]]:
    """Top ``k`` synergistic (largest positive Möbius) and redundant (most negative) sets of at least
    ``min_order`` points, by group: ``{"synergistic": {"target": [(S, a), ...], "non_target": ..., "mixed":
    ...}, "redundant": {...}}``."""
    y = np.asarray(y_train).reshape(-1)
    if y.shape[0] != result.n:
        raise SpexError(f"y_train must have {result.n} labels (one per training point); got {y.shape[0]}")
    supports, coeffs = result.mobius()
    out: dict[str, dict[str, list[tuple[tuple[int, ...], float]]]] = {
        kind: {g: [] for g in GROUPS} for kind in ("synergistic", "redundant")}
    order = np.argsort(-np.asarray(coeffs), kind="stable")
    for kind, idx in (("synergistic", order), ("redundant", order[::-1])):
        for i in idx:
            s, a = supports[i], float(coeffs[i])
            if len(s) < min_order or (a <= 0 if kind == "synergistic" else a >= 0):
                continue
            hits = int(np.sum(y[list(s)] == target_class))
            group = "target" if hits == len(s) else "non_target" if hits == 0 else "mixed"
            if len(out[kind][group]) < k:
                out[kind][group].append((s, a))
    return out


def plot_sets(images: Any, y_train: Any, test_image: Any, test_label: int, split: dict, *, title: str = "",
              fig: Any = None, max_points: int = 4) -> Any:
    """Draw the test image and, row by row, the images of the sets in ``split`` (from :func:`split_sets`),
    each row labelled with its kind, group and Möbius coefficient. Returns the matplotlib figure (or
    subfigure when ``fig`` is given)."""
    plt = require("matplotlib.pyplot", "data", what="plot_sets")
    imgs = np.asarray(images)
    if imgs.ndim == 2:
        side = int(round(np.sqrt(imgs.shape[1])))
        imgs = imgs.reshape(len(imgs), side, side)
    y = np.asarray(y_train).reshape(-1)
    rows = [(kind, g, s, a) for kind in ("synergistic", "redundant") for g in GROUPS for s, a in split[kind][g]]
    nr = max(1, len(rows)) + 1
    fig = plt.figure(figsize=(1.1 * (max_points + 3), 1.0 * nr)) if fig is None else fig
    grid = fig.add_gridspec(nr, max_points + 2)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(np.asarray(test_image).reshape(imgs.shape[1:]), cmap="gray_r")
    ax.set_title(f"test (y={test_label})", fontsize=8)
    ax.axis("off")
    tx = fig.add_subplot(grid[0, 1:])
    tx.axis("off")
    tx.text(0, 0.5, title or "Möbius terms of the margin: + synergy, - redundancy", fontsize=8, va="center")
    for r, (kind, g, s, a) in enumerate(rows, start=1):
        lab = fig.add_subplot(grid[r, 0:2])
        lab.axis("off")
        lab.text(0, 0.5, f"{kind}\n{g.replace('_', '-')}\na={a:+.3f}", fontsize=7, va="center",
                 color="tab:green" if a > 0 else "tab:red")
        for c, i in enumerate(s[:max_points]):
            axi = fig.add_subplot(grid[r, 2 + c])
            axi.imshow(imgs[i], cmap="gray_r")
            axi.set_title(f"#{i} y={int(y[i])}", fontsize=6)
            axi.axis("off")
    if not rows:
        lab = fig.add_subplot(grid[1, :])
        lab.axis("off")
        lab.text(0, 0.5, "no interaction of order >= 2 was found", fontsize=8)
    return fig
