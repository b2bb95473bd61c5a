"""The argument checks of the public entry points, written once.

Why one module: the same mistakes (a ``bool`` where an int is due, ``max_degree=0``, a budget given as a
str, names of the wrong length) were checked by hand in each method, with different exception classes for
the same mistake (a bad ``max_degree`` was a ``ValueError`` from ``spex`` and a ``SpexError`` from
``proxyspex``) and slightly different words. Here each kind of mistake has one exception class
(:mod:`spexjax.errors`), used everywhere:

- a wrong *type* -> :class:`~spexjax.errors.ArgumentTypeError` (a ``TypeError``);
- a value outside its range or not one of the choices -> :class:`~spexjax.errors.ArgumentError` (a
  ``SpexError``, so a ``ValueError``);
- a budget that cannot pay for the design -> :class:`~spexjax.errors.BudgetError`;
- a bad mask batch (or ``n < 1``) -> :class:`~spexjax.errors.MaskError`;
- an input array (coefficients, targets) that is not finite -> :class:`~spexjax.errors.ArgumentError`; a value
  function that returns non-finite values is the query runner's :class:`~spexjax.errors.ValueFunctionError`.

Every message names the argument and what was expected (the README's "Bad input" table shows them verbatim;
``tests/test_readme_bad_inputs.py`` runs it). Nothing here imports more than NumPy and :mod:`spexjax.errors`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from spexjax._rng import key_to_seed
from spexjax.errors import ArgumentError, ArgumentTypeError, BudgetError, MaskError

__all__ = [
    "check_bool",
    "check_budget",
    "check_choice",
    "check_feature_names",
    "check_finite",
    "check_int",
    "check_key",
    "check_masks",
    "check_max_degree",
    "check_n",
    "check_number",
    "is_int",
]


def is_int(value: Any) -> bool:
    """True for Python and NumPy integers, False for ``bool`` (a ``bool`` is an int to Python, never to us)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
              expected: str | None = None, allow_none: bool = False) -> int | None:
    """``value`` as an int in ``[minimum, maximum]`` (``None`` passes through when ``allow_none``).

    ``expected`` is the phrase after "must be" (default: "an int", "an int >= minimum", "an int in [a, b]").
    """
    if value is None and allow_none:
        return None
    if expected is None:
        if minimum is not None and maximum is not None:
            expected = f"an int in [{minimum}, {maximum}]"
        elif minimum is not None:
            expected = f"an int >= {minimum}"
        elif maximum is not None:
            expected = f"an int <= {maximum}"
        else:
            expected = "an int"
        if allow_none:
            expected += " or None"
    if not is_int(value):
        raise ArgumentTypeError(f"{name} must be {expected}; got {type(value).__name__}")
    v = int(value)
    if (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        raise ArgumentError(f"{name} must be {expected}; got {v}")
    return v


def check_number(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                 low_open: bool = False, expected: str, allow_none: bool = False) -> float | None:
    """``value`` as a finite float in ``[low, high]`` (``(low, high]`` with ``low_open``)."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ArgumentTypeError(f"{name} must be {expected}; got {type(value).__name__}")
    v = float(value)
    bad = not np.isfinite(v) or (low is not None and (v <= low if low_open else v < low)) or (
        high is not None and v > high)
    if bad:
        raise ArgumentError(f"{name} must be {expected}; got {value}")
    return v


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; ints and strings are refused (``refine=0`` is more likely a slip than a choice)."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be True or False; got {type(value).__name__}")
    return bool(value)


def check_choice(name: str, value: Any, choices: Sequence[Any], *, expected: str | None = None) -> Any:
    """``value`` if it is one of ``choices``; else an :class:`ArgumentError` listing them."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a set
        ok = False
    if not ok:
        raise ArgumentError(f"{name} must be {expected or f'one of {tuple(choices)}'}; got {value!r}")
    return value


def check_n(n: Any) -> int:
    """The number of features: an int >= 1 (a ``MaskError`` below 1: no mask has zero columns)."""
    if not is_int(n):
        raise ArgumentTypeError(f"n must be an int (number of features); got {type(n).__name__}")
    if int(n) < 1:
        raise MaskError(f"n must be >= 1 (number of features); got n={int(n)}")
    return int(n)


def check_budget(budget: Any, *, minimum: int | None = 0, method: str | None = None,
                 allow_none: bool = False) -> int | None:
    """``budget`` (value-function rows) as an int; a :class:`BudgetError` below ``minimum``.

    ``method`` words the minimum's message: ``"budget=5 is too small for lime: it needs at least 2
    value-function rows"``; without it ``"budget must be >= 0; got -1"``. ``minimum=None`` checks the type
    only (for a caller whose minimum depends on the design, and which says so itself).
    """
    if budget is None and allow_none:
        return None
    if not is_int(budget):
        raise ArgumentTypeError(f"budget must be an int (number of value-function rows); got {type(budget).__name__}")
    b = int(budget)
    if minimum is not None and b < minimum:
        if method is None:
            raise BudgetError(f"budget must be >= {minimum}; got {b}")
        raise BudgetError(f"budget={b} is too small for {method}: it needs at least {minimum} value-function rows")
    return b


def check_max_degree(max_degree: Any) -> int:
    """The largest interaction order: an int >= 1 (one message for a wrong type and a wrong value)."""
    message = f"max_degree must be an int >= 1; got {max_degree!r}"
    if not is_int(max_degree):
        raise ArgumentTypeError(message)
    if int(max_degree) < 1:
        raise ArgumentError(message)
    return int(max_degree)


def check_key(key: Any) -> Any:
    """``key`` if it is an int seed or a JAX PRNG key (what :func:`spexjax._rng.key_to_seed` accepts)."""
    key_to_seed(key)
    return key


def check_feature_names(names: Any, n: int) -> list[str] | None:
    """``names`` as a list of ``n`` str (``None`` passes through); a single str is refused (it is a sequence)."""
    if names is None:
        return None
    if isinstance(names, str):
        raise ArgumentTypeError("feature_names must be a sequence of str, one per feature; got a single str")
    names = [str(f) for f in names]
    if len(names) != n:
        raise ArgumentError(f"feature_names must have n={n} entries; got {len(names)}")
    return names


def check_finite(name: str, values: Any) -> np.ndarray:
    """``values`` (an input array: coefficients, targets) as float64; an :class:`ArgumentError` if any is NaN
    or inf. (A value *function* returning non-finite values is the query runner's
    :class:`~spexjax.errors.ValueFunctionError`, which names the rows.)"""
    y = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(y)):
        raise ArgumentError(f"{name} must be finite")
    return y


def check_masks(masks: Any, n: int | None = None, *, name: str = "masks") -> np.ndarray:
    """Return ``masks`` as a NumPy ``bool[m, n]`` array or raise a clear error."""
    try:
        arr = np.asarray(masks)
    except Exception as err:  # noqa: BLE001 - anything un-arrayable is a type error for the user
        raise ArgumentTypeError(f"{name} must be an array of shape (m, n); got {type(masks).__name__}") from err
    if arr.ndim != 2:
        raise MaskError(f"{name} must have shape (m, n); got shape {arr.shape}")
    if n is not None and arr.shape[1] != n:
        raise MaskError(f"{name} must have shape (m, {n}); got shape {arr.shape}")
    if arr.dtype != np.bool_:
        if arr.dtype.kind in "iu" or arr.dtype.kind == "f":
            if arr.size and not np.isin(arr, (0, 1)).all():
                raise MaskError(f"{name} must be boolean (or 0/1); got values other than 0 and 1")
            arr = arr.astype(bool)
        else:
            raise MaskError(f"{name} must be a bool array; got dtype {arr.dtype}")
    return arr
