"""Numba kernels of the running engine (see :mod:`faltung.engines.running`)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .rows import FASTMATH, fill_row

jit = njit(cache=True, nogil=True, fastmath=FASTMATH)


@jit
def update(cur, prev, add, sub):
    for x in range(cur.shape[0]):
        cur[x] = prev[x] + add[x] - sub[x]

@jit
def horizontal4(o0, o1, o2, o3, c0, c1, c2, c3, kw, scale):
    s0 = c0[:kw].sum()
    s1 = c1[:kw].sum()
    s2 = c2[:kw].sum()
    s3 = c3[:kw].sum()
    for x in range(o0.shape[0]):
        o0[x] = s0 * scale
        o1[x] = s1 * scale
        o2[x] = s2 * scale
        o3[x] = s3 * scale
        s0 += c0[x + kw] - c0[x]
        s1 += c1[x + kw] - c1[x]
        s2 += c2[x + kw] - c2[x]
        s3 += c3[x + kw] - c3[x]

@jit
def horizontal1(o, c, kw, scale):
    s = c[:kw].sum()
    for x in range(o.shape[0]):
        o[x] = s * scale
        s += c[x + kw] - c[x]

@jit
def block(x, scale, kh, kw, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, cs):
    nring = ring.shape[0]
    filled = y0
    while filled < y0 + kh:
        fill_row(ring[filled % nring], x, b, rowmap[filled], colmap, c0, c1, ox, fill)
        filled += 1
    first = cs[0]
    first[:] = 0
    for i in range(kh):
        r = ring[(y0 + i) % nring]
        for j in range(first.shape[0]):
            first[j] += r[j]
    y = y0
    while y < y1:
        g = min(4, y1 - y)
        for q in range(1, g):
            e = y + q - 1 + kh
            while filled <= e:
                fill_row(ring[filled % nring], x, b, rowmap[filled], colmap, c0, c1, ox,
                         fill)
                filled += 1
            update(cs[q], cs[q - 1], ring[e % nring], ring[(y + q - 1) % nring])
        if g == 4:
            horizontal4(out[b, y], out[b, y + 1], out[b, y + 2], out[b, y + 3],
                        cs[0], cs[1], cs[2], cs[3], kw, scale)
        else:
            for q in range(g):
                horizontal1(out[b, y + q], cs[q], kw, scale)
        if y + g < y1:
            e = y + g - 1 + kh
            while filled <= e:
                fill_row(ring[filled % nring], x, b, rowmap[filled], colmap, c0, c1, ox,
                         fill)
                filled += 1
            update(cs[0], cs[g - 1], ring[e % nring], ring[(y + g - 1) % nring])
        y += g

@njit(cache=True, nogil=True)
def run_serial(x, scale, kh, kw, rowmap, colmap, c0, c1, ox, fill, out, cs_proto):
    wext = out.shape[2] + kw - 1
    ring = np.empty((kh + 4, wext), dtype=x.dtype)
    cs = np.empty((4, wext), dtype=cs_proto.dtype)
    for b in range(out.shape[0]):
        block(x, scale, kh, kw, rowmap, colmap, c0, c1, ox, fill, out, b, 0, out.shape[1],
              ring, cs)

@njit(cache=True, nogil=True, parallel=True)
def run_parallel(x, scale, kh, kw, rowmap, colmap, c0, c1, ox, fill, out, cs_proto, rows):
    nb = (out.shape[1] + rows - 1) // rows
    wext = out.shape[2] + kw - 1
    for task in prange(out.shape[0] * nb):
        b = task // nb
        y0 = (task % nb) * rows
        y1 = min(out.shape[1], y0 + rows)
        ring = np.empty((kh + 4, wext), dtype=x.dtype)
        cs = np.empty((4, wext), dtype=cs_proto.dtype)
        block(x, scale, kh, kw, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, cs)
