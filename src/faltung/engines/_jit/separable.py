"""Numba kernels of the separable engine (see :mod:`faltung.engines.separable`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .rows import FASTMATH, fill_row, row_single, rows_combine

jit = njit(cache=True, nogil=True, fastmath=FASTMATH)


@jit
def block(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, tmp):
    kh = u.shape[1]
    nring = kh
    filled = y0
    for y in range(y0, y1):
        while filled < y + kh:
            fill_row(ring[filled % nring], x, b, rowmap[filled], colmap, c0, c1, ox, fill)
            filled += 1
        emit(out[b, y], ring, y, nring, u, v, tmp)


@jit
def emit(o, ring, y, nring, u, v, tmp):
    for q in range(u.shape[0]):
        rows_combine(tmp, ring, y, nring, u[q], True)
        row_single(o, tmp, v[q], q == 0)


@jit
def fill_framed(dst, center, band, side, r, top, left):
    hc, wc = center.shape
    if r < top:
        dst[:] = band[r]
    elif r >= top + hc:
        dst[:] = band[r - hc]
    else:
        s = side[r - top]
        dst[:left] = s[:left]
        dst[left:left + wc] = center[r - top]
        dst[left + wc:] = s[left:]


@jit
def run_framed(center, band, side, top, left, u, v, out):
    kh = u.shape[1]
    wext = out.shape[1] + v.shape[1] - 1
    ring = np.empty((kh, wext), dtype=out.dtype)
    tmp = np.empty(wext, dtype=out.dtype)
    filled = 0
    for y in range(out.shape[0]):
        while filled < y + kh:
            fill_framed(ring[filled % kh], center, band, side, filled, top, left)
            filled += 1
        emit(out[y], ring, y, kh, u, v, tmp)

@njit(cache=True, nogil=True)
def run_serial(x, u, v, rowmap, colmap, c0, c1, ox, fill, out):
    wext = out.shape[2] + v.shape[1] - 1
    ring = np.empty((u.shape[1], wext), dtype=out.dtype)
    tmp = np.empty(wext, dtype=out.dtype)
    for b in range(out.shape[0]):
        block(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, b, 0, out.shape[1], ring, tmp)

@njit(cache=True, nogil=True, parallel=True)
def run_parallel(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, rows):
    nb = (out.shape[1] + rows - 1) // rows
    wext = out.shape[2] + v.shape[1] - 1
    for task in prange(out.shape[0] * nb):
        b = task // nb
        y0 = (task % nb) * rows
        y1 = min(out.shape[1], y0 + rows)
        ring = np.empty((u.shape[1], wext), dtype=out.dtype)
        tmp = np.empty(wext, dtype=out.dtype)
        block(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, tmp)
