"""LightGBM through its C API (``ctypes``), without importing the ``lightgbm`` Python package.

Why: ``import lightgbm`` imports scikit-learn and, through it, SciPy's stats module: 1.0-1.25 s in a fresh
process on the 2-core CI machine (measured 2026-12-07 with ``python -X importtime``: scikit-learn 0.75-0.82 s
of it), more than ProxySPEX's whole fit of a few thousand masks (0.4-0.5 s), and every fresh explanation
(the command line, a notebook kernel) pays it. The proxy needs six things of LightGBM: a binned dataset,
a validation set binned like it, one boosting round at a time, the validation metric, the model text (the
readout parses trees from it) and predictions. The shared library shipped in the installed ``lightgbm``
wheel offers all six through its stable C API, and it is the very code the Python package calls, so the
trees are the same (``tests/test_proxyspex.py`` compares the model text with ``lightgbm.train``'s).

The library is located without running the package (``importlib.util.find_spec``); where it is not found
next to the package (an unusual install), the package is imported and its loaded library is used instead:
slower to start, same results.

Early stopping follows ``lightgbm.early_stopping`` (one validation set, one metric, no ``min_delta``):
the best iteration is the first with the lowest validation score; training stops ``stopping_rounds``
iterations after it, or at the last round.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import sys
from typing import Any

import numpy as np

__all__ = ["CBooster", "LightGBMError", "library", "train"]

_DTYPE_FLOAT32 = 0  # C_API_DTYPE_FLOAT32
_ROW_MAJOR = 1  # C_API_IS_ROW_MAJOR
_PREDICT_NORMAL = 0  # C_API_PREDICT_NORMAL
_FEATURE_IMPORTANCE_SPLIT = 0

_LIB: ctypes.CDLL | None = None


class LightGBMError(RuntimeError):
    """LightGBM's C API reported an error (its own message)."""


def _library_file() -> str | None:
    """The shared library inside the installed ``lightgbm`` package, found without importing it."""
    spec = importlib.util.find_spec("lightgbm")
    if spec is None or not spec.submodule_search_locations:
        return None
    names = {"win32": "lib_lightgbm.dll", "darwin": "lib_lightgbm.dylib"}
    name = names.get(sys.platform, "lib_lightgbm.so")
    for folder in spec.submodule_search_locations:
        for sub in ("lib", "", "bin"):
            path = os.path.join(folder, sub, name)
            if os.path.isfile(path):
                return path
    return None


def library() -> ctypes.CDLL:
    """LightGBM's shared library, loaded once. Raises ``ImportError`` (with the pip command) when missing."""
    global _LIB
    if _LIB is None:
        path = _library_file()
        if path is not None:
            lib = ctypes.CDLL(path)
        else:
            try:
                import lightgbm.basic  # optional dependency; only reached when the library is not in the wheel
            except ImportError as err:
                raise ImportError("ProxySPEX's tree proxy needs LightGBM: pip install lightgbm") from err
            lib = lightgbm.basic._LIB
        lib.LGBM_GetLastError.restype = ctypes.c_char_p
        _LIB = lib
    return _LIB


def _call(name: str, *args: Any) -> None:
    lib = library()
    if getattr(lib, name)(*args) != 0:
        raise LightGBMError(f"LightGBM {name}: {lib.LGBM_GetLastError().decode(errors='replace')}")


def params_to_str(params: dict[str, Any]) -> str:
    """``key=value`` pairs as LightGBM's parser reads them (the format the Python package sends)."""
    out = []
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            v = ",".join(map(str, v))
        out.append(f"{k}={v}")
    return " ".join(out)


class _Dataset:
    """A binned dataset (freed with the object); ``reference`` bins it like another (validation sets)."""

    def __init__(self, X: np.ndarray, y: np.ndarray, params: str, reference: _Dataset | None = None):
        X = np.ascontiguousarray(X, dtype=np.float32)
        label = np.ascontiguousarray(y, dtype=np.float32)  # LightGBM stores labels as float32
        if X.ndim != 2 or label.shape != (X.shape[0],):
            raise ValueError(f"X must be [rows, features] and y [rows]; got {X.shape} and {label.shape}")
        self.handle = ctypes.c_void_p()
        ref = reference.handle if reference is not None else None
        _call("LGBM_DatasetCreateFromMat", X.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(_DTYPE_FLOAT32),
              ctypes.c_int32(X.shape[0]), ctypes.c_int32(X.shape[1]), ctypes.c_int(_ROW_MAJOR),
              ctypes.c_char_p(params.encode()), ref, ctypes.byref(self.handle))
        _call("LGBM_DatasetSetField", self.handle, ctypes.c_char_p(b"label"),
              label.ctypes.data_as(ctypes.c_void_p), ctypes.c_int(label.shape[0]), ctypes.c_int(_DTYPE_FLOAT32))

    def __del__(self) -> None:
        if getattr(self, "handle", None) is not None and self.handle.value and _LIB is not None:
            _LIB.LGBM_DatasetFree(self.handle)
            self.handle = None


class CBooster:
    """A trained booster: the subset of ``lightgbm.Booster`` the proxy uses (same names, same meaning).

    Attributes:
      best_iteration: the early-stopped iteration count (1-based; 0 when there was no validation set).
      best_score: ``{"valid_0": {"l2": score}}`` at the best iteration (empty without a validation set),
        as ``lightgbm.train`` reports it.
    """

    def __init__(self, handle: ctypes.c_void_p, best_iteration: int = 0, best_score: dict | None = None):
        self.handle = handle
        self.best_iteration = int(best_iteration)
        self.best_score: dict[str, dict[str, float]] = best_score or {}

    def __del__(self) -> None:
        if getattr(self, "handle", None) is not None and self.handle.value and _LIB is not None:
            _LIB.LGBM_BoosterFree(self.handle)
            self.handle = None

    # pickling: through the model text, as the Python package does
    def __getstate__(self) -> dict[str, Any]:
        return {"model": self.model_to_string(num_iteration=-1), "best_iteration": self.best_iteration,
                "best_score": self.best_score}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.handle = ctypes.c_void_p()
        iters = ctypes.c_int(0)
        _call("LGBM_BoosterLoadModelFromString", ctypes.c_char_p(state["model"].encode()), ctypes.byref(iters),
              ctypes.byref(self.handle))
        self.best_iteration = int(state["best_iteration"])
        self.best_score = state["best_score"]

    def num_trees(self) -> int:
        out = ctypes.c_int(0)
        _call("LGBM_BoosterNumberOfTotalModel", self.handle, ctypes.byref(out))
        return int(out.value)

    def _iterations(self, num_iteration: int | None) -> int:
        return self.best_iteration if num_iteration is None else int(num_iteration)  # <= 0: all

    def model_to_string(self, num_iteration: int | None = None) -> str:
        """The model text (``None``: up to the best iteration, as ``lightgbm.Booster.model_to_string``)."""
        it = self._iterations(num_iteration)
        size = 1 << 20
        for _ in range(2):
            buf = ctypes.create_string_buffer(size)
            need = ctypes.c_int64(0)
            _call("LGBM_BoosterSaveModelToString", self.handle, ctypes.c_int(0), ctypes.c_int(it),
                  ctypes.c_int(_FEATURE_IMPORTANCE_SPLIT), ctypes.c_int64(size), ctypes.byref(need), buf)
            if need.value <= size:
                return buf.value.decode()
            size = int(need.value)
        raise LightGBMError("LightGBM LGBM_BoosterSaveModelToString: the model text kept growing")

    def predict(self, X: np.ndarray, num_iteration: int | None = None) -> np.ndarray:
        """Raw predictions (regression: the prediction) of ``float32``-cast rows."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"X must be [rows, features], got shape {X.shape}")
        out = np.zeros(X.shape[0], dtype=np.float64)
        got = ctypes.c_int64(0)
        _call("LGBM_BoosterPredictForMat", self.handle, X.ctypes.data_as(ctypes.c_void_p),
              ctypes.c_int(_DTYPE_FLOAT32), ctypes.c_int32(X.shape[0]), ctypes.c_int32(X.shape[1]),
              ctypes.c_int(_ROW_MAJOR), ctypes.c_int(_PREDICT_NORMAL), ctypes.c_int(0),
              ctypes.c_int(self._iterations(num_iteration)), ctypes.c_char_p(b""), ctypes.byref(got),
              out.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))
        if got.value != X.shape[0]:
            raise LightGBMError(f"LightGBM returned {got.value} predictions for {X.shape[0]} rows")
        return out


class Data:
    """Training rows and an optional validation split, binned once and reused by every fit of a search."""

    def __init__(self, X_train: np.ndarray, y_train: np.ndarray, X_valid: np.ndarray | None,
                 y_valid: np.ndarray | None, params: dict[str, Any]):
        text = params_to_str(params)
        self.train = _Dataset(X_train, y_train, text)
        self.valid = _Dataset(X_valid, y_valid, text, reference=self.train) if X_valid is not None else None


def train(params: dict[str, Any], data: Data, *, num_boost_round: int, early_stopping_rounds: int) -> CBooster:
    """Boost up to ``num_boost_round`` rounds; with a validation set, stop ``early_stopping_rounds`` rounds
    after its best l2 (``<= 0``: no early stopping, the score of the last round is reported)."""
    handle = ctypes.c_void_p()
    _call("LGBM_BoosterCreate", data.train.handle, ctypes.c_char_p(params_to_str(params).encode()),
          ctypes.byref(handle))
    booster = CBooster(handle)
    if data.valid is not None:
        _call("LGBM_BoosterAddValidData", handle, data.valid.handle)
        counts = ctypes.c_int(0)
        _call("LGBM_BoosterGetEvalCounts", handle, ctypes.byref(counts))
        if counts.value != 1:
            raise LightGBMError(f"expected one validation metric (l2), LightGBM reports {counts.value}")
    finished = ctypes.c_int(0)
    score = np.zeros(1, dtype=np.float64)
    got = ctypes.c_int(0)
    best, best_iter, last = np.inf, 0, None
    for i in range(int(num_boost_round)):
        _call("LGBM_BoosterUpdateOneIter", handle, ctypes.byref(finished))
        if data.valid is None:
            continue
        _call("LGBM_BoosterGetEval", handle, ctypes.c_int(1), ctypes.byref(got),
              score.ctypes.data_as(ctypes.POINTER(ctypes.c_double)))
        last = float(score[0])
        if early_stopping_rounds <= 0:
            continue
        if i == 0 or last < best:
            best, best_iter = last, i
        elif i - best_iter >= early_stopping_rounds:
            break
    if data.valid is not None:
        if early_stopping_rounds > 0:
            booster.best_iteration = best_iter + 1
            booster.best_score = {"valid_0": {"l2": best}}
        elif last is not None:
            booster.best_score = {"valid_0": {"l2": last}}
    if 0 < booster.best_iteration < booster.num_trees():
        # keep the trees up to the best iteration only, as lightgbm.train does (keep_training_booster=False
        # reloads the model from its text at the best iteration): the same num_trees(), predict() and text
        booster = _reload(booster)
    return booster


def _reload(booster: CBooster) -> CBooster:
    handle = ctypes.c_void_p()
    iters = ctypes.c_int(0)
    text = booster.model_to_string(num_iteration=booster.best_iteration)
    _call("LGBM_BoosterLoadModelFromString", ctypes.c_char_p(text.encode()), ctypes.byref(iters), ctypes.byref(handle))
    return CBooster(handle, booster.best_iteration, booster.best_score)
