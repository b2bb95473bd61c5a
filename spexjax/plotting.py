"""Kept for ``Interactions.plot`` and old imports: the plots live in :mod:`spexjax.report.plots`."""

from spexjax.report.plots import plot, plot_bar, plot_network, plot_text

__all__ = ["plot", "plot_bar", "plot_network", "plot_text"]
