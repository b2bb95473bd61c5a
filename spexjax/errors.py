"""Exceptions raised at the API boundary.

Value mistakes are ``ValueError`` subclasses (:class:`SpexError` and below) so that ``except ValueError`` keeps
working for users who do not care about the distinction; a wrong type is :class:`ArgumentTypeError`, a
``TypeError``. Messages always name the argument and what was expected. The checks that raise them live in
``spexjax/_checks.py``, one function per kind of argument.
"""

from __future__ import annotations


class SpexError(ValueError):
    """Base class for spexjax input errors."""


class ArgumentError(SpexError):
    """An argument's value is out of its range or not one of its choices (``max_degree=0``, ``decoder="x"``)."""


class ArgumentTypeError(TypeError):
    """An argument has the wrong type (a str budget, a bool where an int is due). A ``TypeError``, as Python's
    own wrong-type errors are; the message names the argument, what was expected and the type it got."""


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
