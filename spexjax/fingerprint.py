"""One way to name a value function for the query cache: a sha256 over canonical JSON and array bytes.

Every task (prompt, retraining, heads) builds its ``fingerprint()`` here, so two tasks that would give
different values never share cached rows, and the same task in a new process finds its old rows.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import numpy as np

__all__ = ["fingerprint", "file_digest"]


def _canonical(obj: Any, arrays: list[np.ndarray]) -> Any:
    """JSON-ready form of ``obj``; arrays are replaced by a reference and hashed separately (bytes + dtype)."""
    if obj is None or isinstance(obj, bool | int | str):
        return obj
    if isinstance(obj, float):
        return repr(obj)  # exact, and NaN/inf stay distinct
    if isinstance(obj, np.generic):
        return _canonical(obj.item(), arrays)
    if isinstance(obj, dict):
        return {str(k): _canonical(v, arrays) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [_canonical(v, arrays) for v in obj]
    if isinstance(obj, np.ndarray) or hasattr(obj, "__array__"):
        arr = np.ascontiguousarray(np.asarray(obj))
        arrays.append(arr)
        return {"__array__": len(arrays) - 1, "dtype": arr.dtype.str, "shape": list(arr.shape)}
    raise TypeError(f"fingerprint: cannot hash a {type(obj).__name__}; pass its identity as a str")


def fingerprint(kind: str, **parts: Any) -> str:
    """sha256 hex digest of ``kind`` (e.g. ``"spexjax.llm.PromptTask/v1"``) and every named part.

    Parts may be JSON types, NumPy arrays (hashed by dtype, shape and bytes) or nested lists/dicts of them.
    Bump the version in ``kind`` whenever the meaning of a value changes for the same parts.
    """
    arrays: list[np.ndarray] = []
    doc = json.dumps({"kind": kind, "parts": _canonical(parts, arrays)}, sort_keys=True, separators=(",", ":"))
    h = hashlib.sha256(doc.encode())
    for arr in arrays:
        h.update(arr.tobytes())
    return h.hexdigest()


def file_digest(path: Any, *, limit: int | None = None) -> str:
    """sha256 of a file's bytes (the first ``limit`` bytes if given), for model weights in fingerprints."""
    h = hashlib.sha256()
    left = limit
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(1 << 22 if left is None else min(1 << 22, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)
                if left <= 0:
                    break
    return h.hexdigest()
