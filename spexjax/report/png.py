"""A tiny PNG writer (NumPy + zlib only) and the image handling a report needs: layout, scaling, thumbnails.

The image report embeds every picture in the HTML file as a ``data:image/png;base64,...`` URI, so the file opens
anywhere with no network and no image library. PNG is written by hand (signature, ``IHDR``, one ``IDAT`` of
filter-0 rows compressed with zlib, ``IEND``; CRCs from :func:`zlib.crc32`) because matplotlib or Pillow are
optional extras and a thumbnail needs nothing they offer.

Sizes are bounded by construction: a thumbnail's longest side is at most ``max_side`` pixels (larger images are
block-averaged down), so one thumbnail's PNG is at most ``max_side^2 * channels + max_side + ~70`` bytes even for
incompressible pixels (zlib stores such blocks raw, 5 bytes per 64 kB).
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from typing import Any

import numpy as np

__all__ = ["as_images", "data_uri", "decode_png_size", "encode_png", "thumbnail", "to_uint8", "valid_b64_png"]

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # grey, grey+alpha, RGB, RGBA
_B64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)


def encode_png(image: Any) -> bytes:
    """PNG bytes of a ``uint8`` image ``[h, w]`` (grey) or ``[h, w, c]`` with ``c`` in 1..4."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (use to_uint8 first); got {a.dtype}")
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in _COLOR_TYPE or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"image must have shape [h, w] or [h, w, c] with c in 1..4; got {a.shape}")
    h, w, c = a.shape
    rows = np.concatenate([np.zeros((h, 1), np.uint8), np.ascontiguousarray(a).reshape(h, w * c)], axis=1)
    header = struct.pack(">IIBBBBB", w, h, 8, _COLOR_TYPE[c], 0, 0, 0)
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + _chunk(
        b"IEND", b""
    )


def data_uri(png: bytes | str) -> str:
    """``data:image/png;base64,...`` of PNG bytes (or of an already base64-encoded PNG string)."""
    b64 = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
    return "data:image/png;base64," + b64


def decode_png_size(b64: str) -> tuple[int, int] | None:
    """``(width, height)`` from a base64 PNG's header, or ``None`` when it is not a PNG."""
    try:
        raw = base64.b64decode(b64[:64] + "=" * (-len(b64[:64]) % 4), validate=True)
    except (ValueError, TypeError):
        return None
    if len(raw) < 24 or raw[:8] != _SIGNATURE or raw[12:16] != b"IHDR":
        return None
    w, h = struct.unpack(">II", raw[16:24])
    return int(w), int(h)


def valid_b64_png(text: Any) -> bool:
    """True when ``text`` is plain base64 of a PNG: safe to put in an attribute (a saved result may be edited)."""
    return isinstance(text, str) and bool(_B64.match(text)) and decode_png_size(text) is not None


def as_images(images: Any, n: int | None = None) -> Any:
    """View a stack of images as ``[N, h, w, c]`` (``c`` 1, 3 or 4), without copying a memory map.

    Accepts ``[N, h, w]``, ``[N, h, w, c]``, channels-first ``[N, c, h, w]`` (c in 1, 3; PyTorch's layout) and
    flat ``[N, d]`` with ``d`` a perfect square (grey) or three times one (RGB, channels-last).
    """
    a = images
    if not hasattr(a, "shape") or not hasattr(a, "ndim"):
        a = np.asarray(a)
    if n is not None and a.shape[0] != n:
        raise ValueError(f"images must hold one image per training point ({n}); got {a.shape[0]}")
    if a.ndim == 2:
        d = a.shape[1]
        side = int(round(np.sqrt(d)))
        if side * side == d:
            return a.reshape(a.shape[0], side, side, 1)
        side = int(round(np.sqrt(d / 3)))
        if 3 * side * side == d:
            return a.reshape(a.shape[0], side, side, 3)
        raise ValueError(f"images: flat rows of {d} values are not square grey or RGB images; pass [N, h, w(, c)]")
    if a.ndim == 3:
        return a.reshape(*a.shape, 1)
    if a.ndim == 4:
        if a.shape[3] in (1, 3, 4):
            return a
        if a.shape[1] in (1, 3):
            return a.transpose(0, 2, 3, 1)
    raise ValueError(f"images must have shape [N, h, w], [N, h, w, c] or [N, c, h, w]; got {tuple(a.shape)}")


def to_uint8(stack: np.ndarray) -> np.ndarray:
    """One scale for a stack of images: ``uint8`` as is, floats in [0, 1] times 255, else min-max jointly.

    A joint scale keeps brightness comparable between the thumbnails of one report (standardised images,
    e.g. CIFAR after mean/std normalisation, are shown with one contrast stretch for all of them).
    """
    a = np.asarray(stack)
    if a.dtype == np.uint8:
        return a
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    a = a.astype(np.float64)
    finite = np.isfinite(a)
    if not finite.all():
        a = np.where(finite, a, 0.0)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 1.0)
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    elif lo >= 0.0 and hi <= 255.0 and np.all(a == np.round(a)):
        lo, hi = 0.0, 255.0
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    return np.clip(np.round((a - lo) * scale), 0, 255).astype(np.uint8)


def thumbnail(image: np.ndarray, max_side: int = 64) -> np.ndarray:
    """``image`` (``[h, w, c]``) block-averaged by the smallest integer factor that brings its sides to
    ``<= max_side``; small images are returned as they are (the browser scales them up, pixelated)."""
    a = np.asarray(image)
    h, w = a.shape[:2]
    f = int(np.ceil(max(h, w) / max_side))
    if f <= 1:
        return a
    h2, w2 = max(1, h // f), max(1, w // f)
    cut = a[: h2 * f, : w2 * f].astype(np.float64)
    out = cut.reshape(h2, f, w2, f, *a.shape[2:]).mean(axis=(1, 3))
    return np.round(out).astype(a.dtype) if a.dtype == np.uint8 else out.astype(a.dtype)
