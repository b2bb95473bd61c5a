"""Persistent XLA compilation cache, so a fresh process does not pay the decoder's compile time again.

SPEX compiles one peeling program per (C, P, 2^b, t, decoder) shape; compiling it costs seconds, running
it milliseconds. JAX can keep compiled programs on disk; we switch that on (once, lazily, at the first
algorithm call) unless the user configured a cache themselves or opted out with
``SPEXJAX_COMPILATION_CACHE=0``. The folder is ``$SPEXJAX_CACHE_DIR`` or ``~/.cache/spexjax/xla``.
"""

from __future__ import annotations

import os

_done = False


def enable_persistent_compilation_cache() -> str | None:
    """Turn on JAX's persistent compilation cache; returns the folder used (``None`` if off)."""
    global _done
    import jax

    if _done:
        return jax.config.jax_compilation_cache_dir or None
    _done = True
    if os.environ.get("SPEXJAX_COMPILATION_CACHE", "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    current = jax.config.jax_compilation_cache_dir
    if current:
        return current
    path = os.environ.get("SPEXJAX_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "spexjax", "xla")
    try:
        os.makedirs(path, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.2)
    except Exception:  # noqa: BLE001 - a read-only home must not break explanations
        return None
    return path
