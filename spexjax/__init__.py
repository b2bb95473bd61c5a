"""spexjax: find the few interactions that drive a model's output, with the fewest ablations.

Public surface (fixed by the API contract): :func:`spex`, :func:`proxyspex`, :class:`Interactions`,
:class:`ValueFunction`, :func:`faithfulness`, and the :mod:`spexjax.testing` synthetic functions.
"""

from __future__ import annotations

import importlib as _il
import importlib.machinery as _ilm
import importlib.util as _ilu
import os as _os
import sys as _sys

_KERNELS_DOC = """Device kernels for sparse Walsh-Hadamard recovery (importable as ``spexjax.kernels`` only).

Arrays in, arrays out: these modules import only JAX and NumPy and know nothing of models.
"""
_KERNEL_MODULES = ("bch", "characters", "fwht", "gf2m", "peeling", "trees")


def _mount_kernels() -> None:
    """Register ``spexjax.kernels`` over the folder that holds the kernel modules.

    The repository keeps the kernels in a top-level ``kernels/`` folder, and that folder deliberately has no
    ``__init__.py``: a regular package named ``kernels`` at the repository root would shadow Hugging Face's
    ``kernels`` package (which ``transformers`` imports) for anything run from the root, because ``python -m``
    and ``python -c`` put the working directory first on ``sys.path``. A folder without ``__init__.py`` is at
    most a namespace portion, and any installed regular package of the same name wins over it.

    So the package object for ``spexjax.kernels`` is made here, whatever the install mode:
    a wheel copies the modules to ``spexjax/kernels/`` (``pyproject.toml``'s package-dir mapping); an editable
    install or a source checkout (``PYTHONPATH=.``, e.g. on the GPU machine) finds them in ``../kernels``.
    """
    name = "spexjax.kernels"
    if name in _sys.modules:
        return
    here = _os.path.dirname(_os.path.abspath(__file__))
    for folder in (_os.path.join(here, "kernels"), _os.path.join(_os.path.dirname(here), "kernels")):
        if _os.path.isfile(_os.path.join(folder, "fwht.py")):
            break
    else:  # pragma: no cover - a broken install
        raise ImportError(f"spexjax: the kernel modules (fwht.py, ...) are in neither {here}/kernels nor ../kernels")
    spec = _ilm.ModuleSpec(name, None, is_package=True)
    spec.submodule_search_locations = [folder]
    module = _ilu.module_from_spec(spec)
    module.__doc__ = _KERNELS_DOC
    module.__all__ = list(_KERNEL_MODULES)
    _sys.modules[name] = module
    for sub in _KERNEL_MODULES:
        setattr(module, sub, _il.import_module(f"{name}.{sub}"))


_mount_kernels()

from spexjax import interactions as _interactions_module  # noqa: E402
from spexjax import kernels  # noqa: E402
from spexjax.errors import BudgetError, SpexError, ValueFunctionError  # noqa: E402
from spexjax.interactions import Interactions  # noqa: E402
from spexjax.metrics import faithfulness  # noqa: E402
from spexjax.value_functions import AffineQueries, ValueFunction  # noqa: E402

# The algorithm functions share their modules' names: bind the functions after the submodules load so
# that `spexjax.spex` is the function, not the module.
from spexjax.spex import spex  # noqa: E402  isort: skip

from spexjax.proxyspex import proxyspex  # noqa: E402  isort: skip
from spexjax.pipeline import explain  # noqa: E402  isort: skip
from spexjax import testing  # noqa: E402
from spexjax._version import __version__  # noqa: E402,F401  (re-exported)
from spexjax.errors import MissingExtraError  # noqa: E402

# The application floor loads on first use (``spexjax.llm``, ...): ``import spexjax`` never needs torch,
# transformers, a model package or a network.
_LAZY_SUBPACKAGES = ("baselines", "data", "heads", "llm", "report")


def _plot(result: Interactions, kind: str, **kwargs):
    from spexjax.report.plots import plot  # the application floor (and matplotlib) loads on first use

    return plot(result, kind, **kwargs)


def _html_fragment(result: Interactions) -> str:
    from spexjax.report import to_html  # the application floor loads on first use

    return to_html(result, full_page=False)


# Interactions.plot / _repr_html_ draw with the report, which sits a floor above the result's module: the root,
# above both, wires them here so that the engine never imports the application floor (tests/test_layers.py).
_interactions_module.PRESENTATION.update(plot=_plot, html=_html_fragment)


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
    "explain",
    "faithfulness",
    "kernels",
    "proxyspex",
    "spex",
    "testing",
]
