"""The report of a result as one HTML document: the view its lens names, drawn by the module that owns it.

Why a module of its own: the text view (:mod:`spexjax.report.html`) and the image and grid views
(:mod:`spexjax.report.views`, which reuses the text view's panels) are peers; choosing between them sits above
both, so neither imports the other back.
"""

from __future__ import annotations

import os
from typing import Any

from spexjax.interactions import Interactions
from spexjax.report import lenses, views
from spexjax.report.content import explain
from spexjax.report.html import render

__all__ = ["save_html", "to_html"]


def to_html(
    result: Any,
    *,
    full_page: bool = True,
    k: int = 15,
    order: int | None = None,
    images: Any = None,
    labels: Any = None,
    test_image: Any = None,
    test_label: int | None = None,
    margin: float | None = None,
    **kwargs: Any,
) -> str:
    """The report of ``result`` (an :class:`~spexjax.Interactions`) as an HTML string.

    The view follows ``result.meta["lens"]`` (:mod:`spexjax.report.lenses`): the text view by default, the
    training-image view for data attribution, the layers x heads grid for attention heads. ``images=`` (the
    training images, or a ``.npy`` path) with ``labels=``, ``test_image=``, ``test_label=``, ``margin=``
    attaches the images first (:func:`~spexjax.report.lenses.with_images`), so a plain data result gets the
    image view in one call.

    ``k`` terms per index, STII/FSII at ``order`` (default 2); other keywords go to
    :func:`spexjax.report.content.explain` (``text=``, ``title=``).
    """
    if not isinstance(result, Interactions):
        raise TypeError(f"result must be a spexjax.Interactions; got {type(result).__name__}")
    if images is not None:
        result = lenses.with_images(result, images, labels, test_image=test_image, test_label=test_label,
                                    margin=margin)
    elif labels is not None or test_image is not None or test_label is not None or margin is not None:
        raise ValueError("images: labels=, test_image=, test_label= and margin= describe images; pass images= too")
    kind = lenses.lens_of(result)
    spec = lenses.lens_spec(result)
    if kind == "images" and not spec.get("thumbs") and spec.get("images_path"):
        # a lens that names the images beside a datamodels store: read the shown rows from there now
        result = lenses.with_images(result, spec["images_path"], spec.get("labels_path"),
                                    test_label=spec.get("target_class"))
    if kind == "text":
        return render(explain(result, k=k, order=order, **kwargs), full_page=full_page)
    if order is not None or kwargs.get("text") is not None:
        raise ValueError(f"order/text: only the text view uses them; this result's lens is {kind!r}")
    title = kwargs.get("title")
    if kind == "images":
        return views.render_images(lenses.image_view(result, k=k), full_page=full_page, title=title)
    return views.render_grid(lenses.grid_view(result, k=k), full_page=full_page, title=title)


def save_html(result: Any, path: str | os.PathLike, **kwargs: Any) -> str:
    """Write the report of ``result`` to ``path`` (one self-contained file); returns the path."""
    path = os.fspath(path)
    text = to_html(result, **kwargs)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path
