"""Boundary kinds, their ecosystem aliases, and the one index mapping.

Every engine gets out-of-image samples through :func:`index_table` (or the
padded tiles built from it by :func:`extend`), so the five kinds are defined
exactly once.

========== ============== ==================== ====================== ==============
canonical  picture        scipy.signal         scipy.ndimage          OpenCV
========== ============== ==================== ====================== ==============
constant   ``kk|abcd|kk`` ``fill``             ``constant``           BORDER_CONSTANT
symmetric  ``ba|abcd|dc`` ``symm``             ``reflect``            BORDER_REFLECT
mirror     ``cb|abcd|cb`` --                   ``mirror``             BORDER_REFLECT_101
nearest    ``aa|abcd|dd`` --                   ``nearest``            BORDER_REPLICATE
wrap       ``cd|abcd|ab`` ``wrap``             ``wrap``               BORDER_WRAP
========== ============== ==================== ====================== ==============

The bare word ``reflect`` means ``symmetric`` for the scipy families (the top
level and :mod:`faltung.ndimage`) but ``mirror`` for torch and numpy.pad.
"""

from __future__ import annotations

import numpy as np

KINDS = ("constant", "symmetric", "mirror", "nearest", "wrap")

# Aliases every family shares; ``reflect`` is deliberately absent.
_COMMON = {
    "constant": "constant",
    "fill": "constant",
    "pad": "constant",
    "grid-constant": "constant",
    "zeros": "constant",
    "zero": "constant",
    "border_constant": "constant",
    "symmetric": "symmetric",
    "symm": "symmetric",
    "grid-mirror": "symmetric",
    "border_reflect": "symmetric",
    "mirror": "mirror",
    "border_reflect_101": "mirror",
    "border_reflect101": "mirror",
    "border_default": "mirror",
    "reflect101": "mirror",
    "reflect_101": "mirror",
    "nearest": "nearest",
    "edge": "nearest",
    "replicate": "nearest",
    "border_replicate": "nearest",
    "wrap": "wrap",
    "circular": "wrap",
    "periodic": "wrap",
    "grid-wrap": "wrap",
    "border_wrap": "wrap",
}

_REFLECT = {"signal": "symmetric", "ndimage": "symmetric", "torch": "mirror", "numpy": "mirror"}


def names(family: str = "signal") -> list[str]:
    """All boundary names accepted by ``family``, canonical names first."""
    rest = sorted(set(_COMMON) - set(KINDS)) + ["reflect"]
    return list(KINDS) + sorted(rest)


def canonical(name: str, family: str = "signal") -> str | None:
    """Canonical kind for ``name`` in ``family``, or None when unknown."""
    key = name.strip().lower()
    for prefix in ("cv2.", "cv."):
        if key.startswith(prefix):
            key = key[len(prefix):]
    if key == "reflect":
        return _REFLECT[family]
    return _COMMON.get(key)


def index_table(start: int, count: int, n: int, kind: str) -> np.ndarray:
    """Map extended indices ``start .. start+count-1`` onto ``0 .. n-1``.

    Returns int64 indices; ``-1`` marks a sample that takes the fill value
    (``constant`` only). Reflections and wraps repeat as often as needed, so a
    kernel larger than the image is handled the way scipy and numpy.pad do.
    """
    i = np.arange(start, start + count, dtype=np.int64)
    if kind == "constant":
        return np.where((i >= 0) & (i < n), i, -1)
    if kind == "nearest":
        return np.clip(i, 0, n - 1)
    if kind == "wrap":
        return np.mod(i, n)
    if kind == "symmetric":
        p = np.mod(i, 2 * n)
        return np.where(p < n, p, 2 * n - 1 - p)
    if kind == "mirror":
        if n == 1:
            return np.zeros_like(i)
        p = np.mod(i, 2 * n - 2)
        return np.where(p < n, p, 2 * n - 2 - p)
    raise ValueError(f"boundary kind {kind!r} is not one of {KINDS}")


def interior(table: np.ndarray, start: int) -> tuple[int, int]:
    """Longest run ``[c0, c1)`` of ``table`` where ``table[c] == c + start``.

    Engines copy that run as one contiguous slice and go through the table
    only for the margins.
    """
    ident = (table == np.arange(start, start + table.size)) & (table >= 0)
    if not ident.any():
        return 0, 0
    idx = np.flatnonzero(ident)
    return int(idx[0]), int(idx[-1]) + 1


def extend(x: np.ndarray, rows: np.ndarray, cols: np.ndarray, fill,
           row_start: int, col_start: int, out: np.ndarray | None = None) -> np.ndarray:
    """Extended copy of ``x`` (..., H, W) sampled at ``rows`` x ``cols``.

    ``rows``/``cols`` come from :func:`index_table` with the given starts (or
    are a contiguous piece of such a table, with the start of that piece);
    ``-1`` entries take ``fill``. The part of the window inside the image is
    copied as one slice; only the margins go through the tables, so a window
    that is a tile of a large extended image costs about its own size.
    ``out``: where to write (shape ``(..., rows.size, cols.size)``).
    """
    h, w = x.shape[-2:]
    # In-image coordinates map to themselves for every kind, so the run
    # [r0, r1) of window rows that fall inside the image is an identity run.
    r0 = min(max(0, -row_start), rows.size)
    r1 = max(r0, min(rows.size, h - row_start))
    c0 = min(max(0, -col_start), cols.size)
    c1 = max(c0, min(cols.size, w - col_start))
    if out is None:
        out = np.empty(x.shape[:-2] + (rows.size, cols.size), dtype=x.dtype)
    band = x[..., row_start + r0:row_start + r1, :]
    out[..., r0:r1, c0:c1] = band[..., col_start + c0:col_start + c1]
    for sl in (slice(0, c0), slice(c1, cols.size)):
        idx = cols[sl]
        if idx.size and r1 > r0:
            if idx.max() < 0:
                # constant-fill margin: no gather (a fancy-indexed copy and a
                # masked store cost as much as the whole interior of a tile)
                out[..., r0:r1, sl] = fill
                continue
            out[..., r0:r1, sl] = band[..., np.maximum(idx, 0)]
            out[..., r0:r1, sl][..., idx < 0] = fill
    safe_cols = None
    for sl in (slice(0, r0), slice(r1, rows.size)):
        idx = rows[sl]
        if idx.size:
            if idx.max() < 0:
                out[..., sl, :] = fill
                continue
            if safe_cols is None:
                safe_cols = np.maximum(cols, 0)
            out[..., sl, :] = x[..., np.maximum(idx, 0)[:, None], safe_cols[None, :]]
            out[..., sl, :][..., idx < 0, :] = fill
            out[..., sl, :][..., cols < 0] = fill
    return out
