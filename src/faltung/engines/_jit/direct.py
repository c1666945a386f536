"""Numba kernels of the direct engine (see :mod:`faltung.engines.direct`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .rows import FASTMATH, fill_row, row_pair, row_quad, row_single

jit = njit(cache=True, nogil=True, fastmath=FASTMATH)


@jit
def block(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring):
    kh = k.shape[1]
    kb = b if k.shape[0] > 1 else 0
    nring = kh + 3
    filled = y0
    y = y0
    while y < y1:
        if kh >= 4 and y + 3 < y1:
            # four output rows per pass over an input row: each loaded
            # vector feeds four sums (about 10 % faster than pairs at k=11..31)
            need = y + kh + 3
            while filled < need:
                fill_row(ring[filled % nring], x, b, rowmap[filled], colmap, c0, c1, ox, fill)
                filled += 1
            o0 = out[b, y]
            o1 = out[b, y + 1]
            o2 = out[b, y + 2]
            o3 = out[b, y + 3]
            o1[:] = 0
            o2[:] = 0
            o3[:] = 0
            row_single(o0, ring[y % nring], k[kb, 0], True)
            row_pair(o0, o1, ring[(y + 1) % nring], k[kb, 1], k[kb, 0])
            r = ring[(y + 2) % nring]
            row_pair(o0, o1, r, k[kb, 2], k[kb, 1])
            row_single(o2, r, k[kb, 0], False)
            for i in range(3, kh):
                row_quad(o0, o1, o2, o3, ring[(y + i) % nring], k[kb, i], k[kb, i - 1],
                         k[kb, i - 2], k[kb, i - 3])
            r = ring[(y + kh) % nring]
            row_pair(o1, o2, r, k[kb, kh - 1], k[kb, kh - 2])
            row_single(o3, r, k[kb, kh - 3], False)
            row_pair(o2, o3, ring[(y + kh + 1) % nring], k[kb, kh - 1], k[kb, kh - 2])
            row_single(o3, ring[(y + kh + 2) % nring], k[kb, kh - 1], False)
            y += 4
            continue
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
    ring = np.empty((kh + 3, out.shape[2] + k.shape[2] - 1), dtype=out.dtype)
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
        ring = np.empty((kh + 3, wext), dtype=out.dtype)
        block(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring)


# Small kernels: the kernel size arrives as the lengths of two tuples
# (``hk``, ``wk``), which are part of their Numba type, so each size gets its
# own compiled loop with constant trip counts. LLVM unrolls every tap and
# vectorises over x: two output rows are built in registers from kh+1 input
# rows and no partial sums go through memory. Each ring row is stored twice
# (at p and p + nring) so the kh+1 rows a pair needs are always one
# contiguous window: no modulo (and no division check) inside the loop.
@jit
def pair_fixed(o0, o1, win, k, kb, hk, wk, z):
    kh = len(hk)
    kw = len(wk)
    for x in range(o0.shape[0]):
        a0 = z
        a1 = z
        for i in range(kh + 1):
            for j in range(kw):
                v = win[i, x + j]
                if i < kh:
                    a0 += k[kb, i, j] * v
                if i > 0:
                    a1 += k[kb, i - 1, j] * v
        o0[x] = a0
        o1[x] = a1


@jit
def single_fixed(o0, win, k, kb, hk, wk, z):
    kh = len(hk)
    kw = len(wk)
    for x in range(o0.shape[0]):
        a0 = z
        for i in range(kh):
            for j in range(kw):
                a0 += k[kb, i, j] * win[i, x + j]
        o0[x] = a0


@jit
def margin_cols(o, x, b, rowmap, colmap, e0, k, kb, kh, kw, xs, xe, fill, z):
    # The few output columns whose window crosses the left/right border,
    # summed in the same order as the vectorised loop.
    for xo in range(xs, xe):
        acc = z
        for i in range(kh):
            r = rowmap[e0 + i]
            for j in range(kw):
                c = colmap[xo + j]
                v = fill if (r < 0 or c < 0) else x[b, r, c]
                acc += k[kb, i, j] * v
        o[xo] = acc


@jit
def block_fixed(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, hk, wk, z,
                oy, ylo, yhi, xa, xb):
    # Rows whose whole window lies inside the image are read straight from
    # it (interior columns) with the border columns summed apart; other rows
    # go through the ring of extended rows.
    kh = len(hk)
    kw = len(wk)
    kb = b if k.shape[0] > 1 else 0
    nring = kh + 1
    wo = out.shape[2]
    filled = y0
    y = y0
    while y < y1:
        pair = y + 1 < y1
        if pair and xb > xa and y >= ylo and y + kh < yhi:
            r = y + oy
            o0 = out[b, y]
            o1 = out[b, y + 1]
            pair_fixed(o0[xa:xb], o1[xa:xb], x[b, r:r + kh + 1], k, kb, hk, wk, z)
            for e in range(2):
                margin_cols(out[b, y + e], x, b, rowmap, colmap, y + e, k, kb, kh, kw, 0, xa,
                            fill, z)
                margin_cols(out[b, y + e], x, b, rowmap, colmap, y + e, k, kb, kh, kw, xb, wo,
                            fill, z)
            y += 2
            continue
        need = y + kh + (1 if pair else 0)
        filled = max(filled, y)
        while filled < need:
            p = filled % nring
            fill_row(ring[p], x, b, rowmap[filled], colmap, c0, c1, ox, fill)
            src = ring[p]
            dup = ring[p + nring]
            for c in range(dup.shape[0]):
                dup[c] = src[c]
            filled += 1
        base = y % nring
        if pair:
            pair_fixed(out[b, y], out[b, y + 1], ring[base:base + kh + 1], k, kb, hk, wk, z)
            y += 2
        else:
            single_fixed(out[b, y], ring[base:base + kh], k, kb, hk, wk, z)
            y += 1


@njit(cache=True, nogil=True)
def run_serial_fixed(x, k, rowmap, colmap, c0, c1, ox, fill, out, hk, wk, z, oy, ylo, yhi,
                     xa, xb):
    ring = np.empty((2 * (len(hk) + 1), out.shape[2] + len(wk) - 1), dtype=out.dtype)
    for b in range(out.shape[0]):
        block_fixed(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, 0, out.shape[1], ring,
                    hk, wk, z, oy, ylo, yhi, xa, xb)


@njit(cache=True, nogil=True, parallel=True)
def run_parallel_fixed(x, k, rowmap, colmap, c0, c1, ox, fill, out, hk, wk, z, oy, ylo, yhi,
                       xa, xb, rows):
    nb = (out.shape[1] + rows - 1) // rows
    shape = (2 * (len(hk) + 1), out.shape[2] + len(wk) - 1)
    for task in prange(out.shape[0] * nb):
        b = task // nb
        y0 = (task % nb) * rows
        y1 = min(out.shape[1], y0 + rows)
        ring = np.empty(shape, dtype=out.dtype)
        block_fixed(x, k, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, hk, wk, z,
                    oy, ylo, yhi, xa, xb)
