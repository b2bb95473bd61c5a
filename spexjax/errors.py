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


class MissingExtraError(ImportError):
    """An optional dependency (torch, transformers, the embedded model, scikit-learn, ...) is not installed.

    The message names the missing module and the ``pip install`` line (the extra) that brings it.
    """


def require(module: str, extra: str, *, what: str = "this feature") -> object:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra that provides it.

    Applications import their heavy dependencies through this at call time, so ``import spexjax`` never
    needs torch, transformers or the model packages.
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise MissingExtraError(
            f"{what} needs the Python module {module!r}; install it with: pip install 'spexjax[{extra}]'"
        ) from err
