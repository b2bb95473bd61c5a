"""Adapters to other explanation libraries (imported on demand; each needs its library installed).

- :mod:`spexjax.integrations.shapiq`: ``SpexApproximator`` (a shapiq ``Approximator``) and
  ``InteractionValues`` conversions.
"""

from __future__ import annotations

__all__: list[str] = []
