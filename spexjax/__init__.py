"""spexjax: find the few interactions that drive a model's output, with the fewest ablations.

Public surface (fixed by the API contract): :func:`spex`, :func:`proxyspex`, :class:`Interactions`,
:class:`ValueFunction`, :func:`faithfulness`, and the :mod:`spexjax.testing` synthetic functions.
"""

from __future__ import annotations

import importlib.util as _ilu
import os as _os
import sys as _sys


def _mount_kernels() -> None:
    """Make ``spexjax.kernels`` importable from a source checkout.

    An installed wheel maps the repository's top-level ``kernels/`` folder to ``spexjax/kernels``
    (see ``pyproject.toml``), so nothing named ``kernels`` lands in site-packages. When the package
    runs straight from a checkout (``PYTHONPATH=.``) that mapping does not exist, so we register the
    folder under its package name here.
    """
    if "spexjax.kernels" in _sys.modules or _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "kernels")):
        return
    root = _os.path.join(_os.path.dirname(_os.path.dirname(_os.path.abspath(__file__))), "kernels")
    init = _os.path.join(root, "__init__.py")
    if not _os.path.isfile(init):
        return
    spec = _ilu.spec_from_file_location("spexjax.kernels", init, submodule_search_locations=[root])
    if spec is None or spec.loader is None:  # pragma: no cover
        return
    module = _ilu.module_from_spec(spec)
    _sys.modules["spexjax.kernels"] = module
    spec.loader.exec_module(module)


_mount_kernels()

from spexjax import kernels  # noqa: E402
from spexjax.errors import BudgetError, SpexError, ValueFunctionError  # noqa: E402
from spexjax.interactions import Interactions  # noqa: E402
from spexjax.metrics import faithfulness  # noqa: E402
from spexjax.value_functions import AffineQueries, ValueFunction  # noqa: E402

# The algorithm functions share their modules' names: bind the functions after the submodules load so
# that `spexjax.spex` is the function, not the module.
from spexjax.spex import spex  # noqa: E402  isort: skip

from spexjax.proxyspex import proxyspex  # noqa: E402  isort: skip
from spexjax import testing  # noqa: E402
from spexjax.errors import MissingExtraError  # noqa: E402

__version__ = "0.1.0"


# The application floor loads on first use (``spexjax.llm``, ...): ``import spexjax`` never needs torch,
# transformers, a model package or a network.
_LAZY_SUBPACKAGES = ("baselines", "data", "heads", "llm", "report")


def __getattr__(name: str):
    if name in _LAZY_SUBPACKAGES:
        import importlib

        module = importlib.import_module(f"spexjax.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'spexjax' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY_SUBPACKAGES))


__all__ = [
    "AffineQueries",
    "BudgetError",
    "MissingExtraError",
    "Interactions",
    "SpexError",
    "ValueFunction",
    "ValueFunctionError",
    "faithfulness",
    "kernels",
    "proxyspex",
    "spex",
    "testing",
]
