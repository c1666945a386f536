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
from . import _rows

_compiled = None


def _compile():
    global _compiled
    if _compiled is not None:
        return _compiled
    from numba import njit, prange

    prim = _rows.get()
    fill_row, row_single, row_pair = prim.fill_row, prim.row_single, prim.row_pair
    jit = njit(cache=True, nogil=True, fastmath=_rows.FASTMATH)

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

    _compiled = (run_serial, run_parallel)
    return _compiled



def correlate(x: np.ndarray, k: np.ndarray, spec: ConvSpec, rowmap: np.ndarray,
              colmap: np.ndarray, interior: tuple[int, int], workers: int) -> np.ndarray:
    """Canonical correlation (see :mod:`faltung._spec`) by direct summation.

    ``x`` is (B, H, W) and ``k`` is (Bk, kh, kw), both C-contiguous in
    ``spec.compute_dtype``; returns a new (B, Ho, Wo) array of that dtype.
    """
    run_serial, run_parallel = _compile()
    dt = spec.compute_dtype
    out = np.empty((spec.batch,) + spec.out_shape, dtype=dt)
    fill = dt.type(spec.fillvalue)
    c0, c1 = interior
    ox = spec.offset[1]
    args = (x, k, rowmap, colmap, c0, c1, ox, fill, out)
    _rows.dispatch(run_serial, run_parallel, args, spec.batch, spec.out_shape[0],
                   spec.out_pixels * spec.taps, workers)
    return out
