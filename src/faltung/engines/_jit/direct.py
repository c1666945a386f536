"""Numba kernels of the direct engine (see :mod:`faltung.engines.direct`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .rows import FASTMATH, fill_row, row_pair, row_single

jit = njit(cache=True, nogil=True, fastmath=FASTMATH)


@jit
def block(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring):
    kh = k.shape[1]
    kb = b if k.shape[0] > 1 else 0
    nring = kh + 1
    filled = y0
    y = y0
    while y < y1:
        pair = y + 1 < y1
        need = y + kh + (1 if pair else 0)
        while filled < need:
            fill_row(ring[filled % nring], x, b, rowmap[filled], colmap, c0, c1, ox, fill)
            filled += 1
        o0 = out[b, y]
        row_single(o0, ring[y % nring], k[kb, 0], True)
        if pair:
            o1 = out[b, y + 1]
            o1[:] = 0
            for i in range(1, kh):
                row_pair(o0, o1, ring[(y + i) % nring], k[kb, i], k[kb, i - 1])
            row_single(o1, ring[(y + kh) % nring], k[kb, kh - 1], False)
            y += 2
        else:
            for i in range(1, kh):
                row_single(o0, ring[(y + i) % nring], k[kb, i], False)
            y += 1

@njit(cache=True, nogil=True)
def run_serial(x, k, rowmap, colmap, c0, c1, ox, fill, out):
    kh = k.shape[1]
    ring = np.empty((kh + 1, out.shape[2] + k.shape[2] - 1), dtype=out.dtype)
    for b in range(out.shape[0]):
        block(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, 0, out.shape[1], ring)

@njit(cache=True, nogil=True, parallel=True)
def run_parallel(x, k, rowmap, colmap, c0, c1, ox, fill, out, rows):
    nb = (out.shape[1] + rows - 1) // rows
    kh = k.shape[1]
    wext = out.shape[2] + k.shape[2] - 1
    for task in prange(out.shape[0] * nb):
        b = task // nb
        y0 = (task % nb) * rows
        y1 = min(out.shape[1], y0 + rows)
        ring = np.empty((kh + 1, wext), dtype=out.dtype)
        block(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring)
