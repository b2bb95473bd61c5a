"""Reports of an explanation: one self-contained HTML file, PNG plots and a terminal summary.

Everything is built from an :class:`~spexjax.Interactions` alone (its ``feature_names`` and ``meta``), so a
saved result (``Interactions.save``) rebuilds the same report: ``spexjax report result.json --report r.html``.
The view follows ``meta["lens"]`` (:mod:`spexjax.report.lenses`): the prompt's text (default), the training
images of a data attribution (:func:`with_images`), or a layers x heads grid for attention heads
(:func:`with_grid`).

    >>> from spexjax.report import save_html
    >>> save_html(result, "report.html")          # doctest: +SKIP
"""

from __future__ import annotations

from spexjax.report.content import INDICES, Explanation, Term, explain, with_meta
from spexjax.report.document import save_html, to_html
from spexjax.report.html import render
from spexjax.report.lenses import LENSES, lens_of, with_grid, with_images
from spexjax.report.plots import plot_bar, plot_grid, plot_network, plot_text
from spexjax.report.text import summary

__all__ = [
    "INDICES",
    "LENSES",
    "Explanation",
    "Term",
    "explain",
    "lens_of",
    "plot_bar",
    "plot_grid",
    "plot_network",
    "plot_text",
    "render",
    "save_html",
    "summary",
    "to_html",
    "with_grid",
    "with_images",
    "with_meta",
]
