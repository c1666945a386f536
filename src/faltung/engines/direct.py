"""Direct engine: sliding-window correlation in Numba.

How it works, and why:

* Rows are processed in blocks; each block keeps a ring buffer of ``kh``
  *extended* input rows (image row plus its left/right margins). Each input
  row is copied into the ring once per block, so the border costs O(margin)
  per row and the image is never padded as a whole.
* The taps are applied four at a time, ``o[x] += w0*r0[x+j0] + ... +
  w3*r3[x+j3]``: a loop LLVM vectorises over ``x`` that does four fused
  multiply-adds per load/store of the output row, which stays in L1.
* Blocks (and batch items) run in parallel with ``prange`` once the image is
  large enough to pay for the threads.

Everything is compiled lazily on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np

from .._spec import ConvSpec

# IEEE-safe fast-math: allow FMA contraction and reassociation, but keep
# NaN/Inf semantics (no 'nnan'/'ninf'), so NaN and Inf propagate as in scipy.
_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

_compiled = None


def _compile():
    global _compiled
    if _compiled is not None:
        return _compiled
    import numba
    from numba import njit, prange

    jit = njit(cache=True, nogil=True, fastmath=_FASTMATH)

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
        for j in range(0, kw, 4):
            g = min(4, kw - j)
            first = assign and j == 0
            a0 = row[j:j + n]
            w0 = w[j]
            if g == 4:
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

    @jit
    def row_pair(o0, o1, row, v, w):
        # One input row feeds two output rows (kernel rows v and w): each
        # loaded vector serves two FMAs.
        n = o0.shape[0]
        kw = v.shape[0]
        for j in range(0, kw, 4):
            g = min(4, kw - j)
            a0 = row[j:j + n]
            v0, w0 = v[j], w[j]
            if g == 4:
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

    _compiled = (run_serial, run_parallel, numba)
    return _compiled


# Below this many multiply-adds the thread pool costs more than it saves.
_PARALLEL_MACS = 1 << 21


def correlate(x: np.ndarray, k: np.ndarray, spec: ConvSpec, rowmap: np.ndarray,
              colmap: np.ndarray, interior: tuple[int, int], workers: int) -> np.ndarray:
    """Canonical correlation (see :mod:`faltung._spec`) by direct summation.

    ``x`` is (B, H, W) and ``k`` is (Bk, kh, kw), both C-contiguous in
    ``spec.compute_dtype``; returns a new (B, Ho, Wo) array of that dtype.
    """
    run_serial, run_parallel, numba = _compile()
    dt = spec.compute_dtype
    out = np.empty((spec.batch,) + spec.out_shape, dtype=dt)
    fill = dt.type(spec.fillvalue)
    c0, c1 = interior
    ox = spec.offset[1]
    macs = spec.out_pixels * spec.taps
    if workers <= 1 or macs < _PARALLEL_MACS:
        run_serial(x, k, rowmap, colmap, c0, c1, ox, fill, out)
        return out
    ho = spec.out_shape[0]
    tasks_per_image = max(1, -(-4 * workers // spec.batch))
    rows = max(8, -(-ho // tasks_per_image))
    prev = numba.get_num_threads()
    numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
    try:
        run_parallel(x, k, rowmap, colmap, c0, c1, ox, fill, out, rows)
    finally:
        numba.set_num_threads(prev)
    return out
