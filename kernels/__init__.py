"""Device kernels for sparse Walsh-Hadamard recovery (imported as ``spexjax.kernels``).

Arrays in, arrays out: these modules import only JAX and NumPy and know nothing of models.
"""

from __future__ import annotations

from . import bch, characters, fwht, gf2m, trees

__all__ = ["bch", "characters", "fwht", "gf2m", "trees"]
