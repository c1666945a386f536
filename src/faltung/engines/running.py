"""Running-sum engine: box (all-equal) kernels in O(1) per pixel, any size.

Column sums over ``kh`` extended rows are updated by one added and one
dropped row per output row (vectorised over the row); each output row is
then a running sum along the column sums. The horizontal running sum is a
serial dependency chain, so four output rows are swept together: four
independent chains keep the core busy while each addition's latency passes.

Accumulation is float64 for float32 data (complex128 for complex64, int64
for integers), so the drift of a running sum stays far below the rounding
error of direct float32 summation. The input must be finite: a NaN or Inf
would spread along the running sum (the planner checks this).
"""

from __future__ import annotations

import numpy as np

from .._spec import ConvSpec
from . import _rows


def accumulator(compute: np.dtype) -> np.dtype:
    """dtype of the running sums for ``compute``."""
    if compute.kind == "c":
        return np.dtype(np.complex128)
    if compute.kind == "f":
        return np.dtype(np.float64)
    return np.dtype(np.int64)


def box_value(k: np.ndarray):
    """The common value of an all-equal 2-D kernel, or None."""
    first = k.flat[0]
    return first if (k == first).all() else None


_compiled = None


def _compile():
    global _compiled
    if _compiled is not None:
        return _compiled
    from numba import njit, prange

    prim = _rows.get()
    fill_row = prim.fill_row
    jit = njit(cache=True, nogil=True, fastmath=_rows.FASTMATH)

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

    _compiled = (run_serial, run_parallel)
    return _compiled


def correlate(x: np.ndarray, value, spec: ConvSpec, rowmap: np.ndarray, colmap: np.ndarray,
              interior: tuple[int, int], workers: int) -> np.ndarray:
    """Canonical correlation with the box kernel whose every entry is ``value``.

    ``x`` is (B, H, W) C-contiguous in ``spec.compute_dtype``. Returns a new
    (B, Ho, Wo) array of that dtype. Requires finite input.
    """
    run_serial, run_parallel = _compile()
    dt = spec.compute_dtype
    acc = accumulator(dt)
    out = np.empty((spec.batch,) + spec.out_shape, dtype=dt)
    kh, kw = spec.kernel_shape
    args = (x, acc.type(value), kh, kw, rowmap, colmap, interior[0], interior[1],
            spec.offset[1], dt.type(spec.fillvalue), out, np.empty(1, dtype=acc))
    # The work is about six operations per pixel whatever the kernel size.
    _rows.dispatch(run_serial, run_parallel, args, spec.batch, spec.out_shape[0],
                   spec.out_pixels * 8, workers)
    return out
