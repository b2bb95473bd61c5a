"""Exceptions raised at the API boundary.

All are ``ValueError`` subclasses so that ``except ValueError`` keeps working for users who do not
care about the distinction; messages always name the argument and what was expected.
"""

from __future__ import annotations


class SpexError(ValueError):
    """Base class for spexjax input errors."""


class BudgetError(SpexError):
    """The query budget cannot pay for the requested design (the message says the minimum)."""


class ValueFunctionError(SpexError):
    """The value function returned something unusable (wrong shape, non-finite values) or raised."""


class MaskError(SpexError):
    """A mask batch has the wrong shape or dtype."""
