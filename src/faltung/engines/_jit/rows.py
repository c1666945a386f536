"""Row primitives shared by the row-streaming engines.

Not an engine: the direct, separable and running engines all stream
extended image rows through a small ring buffer and apply 1-D tap groups to
them; these are those building blocks, written once.

* ``fill_row`` builds one *extended* row (image row plus its boundary
  margins, from the index tables of :mod:`faltung._boundary`).
* ``row_single`` / ``row_pair`` / ``row_quad`` apply a 1-D group of taps
  along a row to one, two or four output rows. Taps go four or eight at a
  time so each load/store of the output serves several fused multiply-adds.
* ``rows_combine`` sums weighted rows (the vertical pass of a separable filter).

All functions live at module level: Numba's on-disk cache keys a closure by
its pickled cells, which differ in every process, so closures never hit it.
"""

from __future__ import annotations

from numba import njit

# IEEE-safe fast-math: allow FMA contraction and reassociation, but keep
# NaN/Inf semantics (no 'nnan'/'ninf'), so NaN and Inf propagate as in scipy.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

jit = njit(cache=True, nogil=True, fastmath=FASTMATH)


@jit
def fill_row(dst, x, b, r, colmap, c0, c1, ox, fill):
    n = dst.shape[0]
    if r < 0:
        for c in range(n):
            dst[c] = fill
        return
    src = x[b, r]
    for c in range(c0):
        m = colmap[c]
        dst[c] = src[m] if m >= 0 else fill
    if c1 > c0:
        dst[c0:c1] = src[c0 + ox:c1 + ox]
    for c in range(c1, n):
        m = colmap[c]
        dst[c] = src[m] if m >= 0 else fill

@jit
def row_single(o, row, w, assign):
    # o (+)= sum_j w[j] * row[x + j], taps four at a time; pre-sliced views
    # keep indices provably non-negative, so Numba emits no wraparound
    # branch and LLVM vectorises over x.
    n = o.shape[0]
    kw = w.shape[0]
    j = 0
    while j < kw:
        g = min(8, kw - j)
        if g < 8:
            g = min(4, g)
        first = assign and j == 0
        a0 = row[j:j + n]
        w0 = w[j]
        if g == 8:
            a1, a2, a3 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n], row[j + 3:j + 3 + n]
            a4, a5 = row[j + 4:j + 4 + n], row[j + 5:j + 5 + n]
            a6, a7 = row[j + 6:j + 6 + n], row[j + 7:j + 7 + n]
            w1, w2, w3 = w[j + 1], w[j + 2], w[j + 3]
            w4, w5, w6, w7 = w[j + 4], w[j + 5], w[j + 6], w[j + 7]
            if first:
                for x in range(n):
                    o[x] = (w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
                            + w4 * a4[x] + w5 * a5[x] + w6 * a6[x] + w7 * a7[x])
            else:
                for x in range(n):
                    o[x] += (w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
                             + w4 * a4[x] + w5 * a5[x] + w6 * a6[x] + w7 * a7[x])
        elif g == 4:
            a1, a2, a3 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n], row[j + 3:j + 3 + n]
            w1, w2, w3 = w[j + 1], w[j + 2], w[j + 3]
            if first:
                for x in range(n):
                    o[x] = w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
            else:
                for x in range(n):
                    o[x] += w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
        elif g == 3:
            a1, a2 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n]
            w1, w2 = w[j + 1], w[j + 2]
            if first:
                for x in range(n):
                    o[x] = w0 * a0[x] + w1 * a1[x] + w2 * a2[x]
            else:
                for x in range(n):
                    o[x] += w0 * a0[x] + w1 * a1[x] + w2 * a2[x]
        elif g == 2:
            a1 = row[j + 1:j + 1 + n]
            w1 = w[j + 1]
            if first:
                for x in range(n):
                    o[x] = w0 * a0[x] + w1 * a1[x]
            else:
                for x in range(n):
                    o[x] += w0 * a0[x] + w1 * a1[x]
        else:
            if first:
                for x in range(n):
                    o[x] = w0 * a0[x]
            else:
                for x in range(n):
                    o[x] += w0 * a0[x]
        j += g

@jit
def row_pair(o0, o1, row, v, w):
    # One input row feeds two output rows (kernel rows v and w): each
    # loaded vector serves two FMAs.
    n = o0.shape[0]
    kw = v.shape[0]
    j = 0
    while j < kw:
        # eight taps at a time where they fit: fewer loads and stores of
        # the two output rows per FMA (measured 7-10 % faster at k = 9..15)
        g = 8 if kw - j >= 8 else min(4, kw - j)
        a0 = row[j:j + n]
        v0, w0 = v[j], w[j]
        if g == 8:
            a1, a2, a3 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n], row[j + 3:j + 3 + n]
            a4, a5 = row[j + 4:j + 4 + n], row[j + 5:j + 5 + n]
            a6, a7 = row[j + 6:j + 6 + n], row[j + 7:j + 7 + n]
            v1, v2, v3 = v[j + 1], v[j + 2], v[j + 3]
            v4, v5, v6, v7 = v[j + 4], v[j + 5], v[j + 6], v[j + 7]
            w1, w2, w3 = w[j + 1], w[j + 2], w[j + 3]
            w4, w5, w6, w7 = w[j + 4], w[j + 5], w[j + 6], w[j + 7]
            for x in range(n):
                p0, p1, p2, p3 = a0[x], a1[x], a2[x], a3[x]
                p4, p5, p6, p7 = a4[x], a5[x], a6[x], a7[x]
                o0[x] += (v0 * p0 + v1 * p1 + v2 * p2 + v3 * p3
                          + v4 * p4 + v5 * p5 + v6 * p6 + v7 * p7)
                o1[x] += (w0 * p0 + w1 * p1 + w2 * p2 + w3 * p3
                          + w4 * p4 + w5 * p5 + w6 * p6 + w7 * p7)
        elif g == 4:
            a1, a2, a3 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n], row[j + 3:j + 3 + n]
            v1, v2, v3 = v[j + 1], v[j + 2], v[j + 3]
            w1, w2, w3 = w[j + 1], w[j + 2], w[j + 3]
            for x in range(n):
                p0, p1, p2, p3 = a0[x], a1[x], a2[x], a3[x]
                o0[x] += v0 * p0 + v1 * p1 + v2 * p2 + v3 * p3
                o1[x] += w0 * p0 + w1 * p1 + w2 * p2 + w3 * p3
        elif g == 3:
            a1, a2 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n]
            v1, v2 = v[j + 1], v[j + 2]
            w1, w2 = w[j + 1], w[j + 2]
            for x in range(n):
                p0, p1, p2 = a0[x], a1[x], a2[x]
                o0[x] += v0 * p0 + v1 * p1 + v2 * p2
                o1[x] += w0 * p0 + w1 * p1 + w2 * p2
        elif g == 2:
            a1 = row[j + 1:j + 1 + n]
            v1, w1 = v[j + 1], w[j + 1]
            for x in range(n):
                p0, p1 = a0[x], a1[x]
                o0[x] += v0 * p0 + v1 * p1
                o1[x] += w0 * p0 + w1 * p1
        else:
            for x in range(n):
                p0 = a0[x]
                o0[x] += v0 * p0
                o1[x] += w0 * p0
        j += g


@jit
def row_quad(o0, o1, o2, o3, row, k0, k1, k2, k3):
    # One input row feeds four output rows (kernel rows k0..k3), taps four
    # at a time: sixteen weights, four inputs and four sums stay in
    # registers (eight taps at a time spill and run five times slower).
    n = o0.shape[0]
    kw = k0.shape[0]
    j = 0
    while j < kw:
        g = min(4, kw - j)
        a0 = row[j:j + n]
        if g == 4:
            a1, a2, a3 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n], row[j + 3:j + 3 + n]
            p00, p01, p02, p03 = k0[j], k0[j + 1], k0[j + 2], k0[j + 3]
            p10, p11, p12, p13 = k1[j], k1[j + 1], k1[j + 2], k1[j + 3]
            p20, p21, p22, p23 = k2[j], k2[j + 1], k2[j + 2], k2[j + 3]
            p30, p31, p32, p33 = k3[j], k3[j + 1], k3[j + 2], k3[j + 3]
            for x in range(n):
                q0, q1, q2, q3 = a0[x], a1[x], a2[x], a3[x]
                o0[x] += p00 * q0 + p01 * q1 + p02 * q2 + p03 * q3
                o1[x] += p10 * q0 + p11 * q1 + p12 * q2 + p13 * q3
                o2[x] += p20 * q0 + p21 * q1 + p22 * q2 + p23 * q3
                o3[x] += p30 * q0 + p31 * q1 + p32 * q2 + p33 * q3
        elif g == 3:
            a1, a2 = row[j + 1:j + 1 + n], row[j + 2:j + 2 + n]
            p00, p01, p02 = k0[j], k0[j + 1], k0[j + 2]
            p10, p11, p12 = k1[j], k1[j + 1], k1[j + 2]
            p20, p21, p22 = k2[j], k2[j + 1], k2[j + 2]
            p30, p31, p32 = k3[j], k3[j + 1], k3[j + 2]
            for x in range(n):
                q0, q1, q2 = a0[x], a1[x], a2[x]
                o0[x] += p00 * q0 + p01 * q1 + p02 * q2
                o1[x] += p10 * q0 + p11 * q1 + p12 * q2
                o2[x] += p20 * q0 + p21 * q1 + p22 * q2
                o3[x] += p30 * q0 + p31 * q1 + p32 * q2
        elif g == 2:
            a1 = row[j + 1:j + 1 + n]
            p00, p01, p10, p11 = k0[j], k0[j + 1], k1[j], k1[j + 1]
            p20, p21, p30, p31 = k2[j], k2[j + 1], k3[j], k3[j + 1]
            for x in range(n):
                q0, q1 = a0[x], a1[x]
                o0[x] += p00 * q0 + p01 * q1
                o1[x] += p10 * q0 + p11 * q1
                o2[x] += p20 * q0 + p21 * q1
                o3[x] += p30 * q0 + p31 * q1
        else:
            p00, p10, p20, p30 = k0[j], k1[j], k2[j], k3[j]
            for x in range(n):
                q0 = a0[x]
                o0[x] += p00 * q0
                o1[x] += p10 * q0
                o2[x] += p20 * q0
                o3[x] += p30 * q0
        j += g


@jit
def rows_combine(t, ring, first, nring, u, assign):
    # t (+)= sum_i u[i] * ring[(first + i) % nring], rows four at a time.
    n = t.shape[0]
    kh = u.shape[0]
    i = 0
    while i < kh:
        g = min(8, kh - i)
        if g < 8:
            g = min(4, g)
        a0 = ring[(first + i) % nring]
        w0 = u[i]
        init = assign and i == 0
        if g == 8:
            a1 = ring[(first + i + 1) % nring]
            a2 = ring[(first + i + 2) % nring]
            a3 = ring[(first + i + 3) % nring]
            a4 = ring[(first + i + 4) % nring]
            a5 = ring[(first + i + 5) % nring]
            a6 = ring[(first + i + 6) % nring]
            a7 = ring[(first + i + 7) % nring]
            w1, w2, w3 = u[i + 1], u[i + 2], u[i + 3]
            w4, w5, w6, w7 = u[i + 4], u[i + 5], u[i + 6], u[i + 7]
            if init:
                for x in range(n):
                    t[x] = (w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
                            + w4 * a4[x] + w5 * a5[x] + w6 * a6[x] + w7 * a7[x])
            else:
                for x in range(n):
                    t[x] += (w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
                             + w4 * a4[x] + w5 * a5[x] + w6 * a6[x] + w7 * a7[x])
        elif g == 4:
            a1 = ring[(first + i + 1) % nring]
            a2 = ring[(first + i + 2) % nring]
            a3 = ring[(first + i + 3) % nring]
            w1, w2, w3 = u[i + 1], u[i + 2], u[i + 3]
            if init:
                for x in range(n):
                    t[x] = w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
            else:
                for x in range(n):
                    t[x] += w0 * a0[x] + w1 * a1[x] + w2 * a2[x] + w3 * a3[x]
        elif g == 3:
            a1 = ring[(first + i + 1) % nring]
            a2 = ring[(first + i + 2) % nring]
            w1, w2 = u[i + 1], u[i + 2]
            if init:
                for x in range(n):
                    t[x] = w0 * a0[x] + w1 * a1[x] + w2 * a2[x]
            else:
                for x in range(n):
                    t[x] += w0 * a0[x] + w1 * a1[x] + w2 * a2[x]
        elif g == 2:
            a1 = ring[(first + i + 1) % nring]
            w1 = u[i + 1]
            if init:
                for x in range(n):
                    t[x] = w0 * a0[x] + w1 * a1[x]
            else:
                for x in range(n):
                    t[x] += w0 * a0[x] + w1 * a1[x]
        else:
            if init:
                for x in range(n):
                    t[x] = w0 * a0[x]
            else:
                for x in range(n):
                    t[x] += w0 * a0[x]
        i += g
