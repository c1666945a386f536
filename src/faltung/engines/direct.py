"""Direct engine: sliding-window correlation in Numba.

How it works, and why:

* Rows are processed in blocks; each block keeps a ring buffer of ``kh``
  *extended* input rows (image row plus its left/right margins). Each input
  row is copied into the ring once per block, so the border costs O(margin)
  per row and the image is never padded as a whole.
* The taps are applied four (eight where they fit, in the two-row loop) at a
  time, ``o[x] += w0*r0[x+j0] + ... + w3*r3[x+j3]``: a loop LLVM vectorises
  over ``x`` that does several fused multiply-adds per load/store of the
  output row, which stays in L1.
* Kernels of four or more rows build four output rows per pass over an
  input row (pairs at the end of a block), so each loaded input vector
  feeds four sums.
* Blocks (and batch items) run in parallel with ``prange`` once the image is
  large enough to pay for the threads.

Everything is compiled lazily on first use and cached on disk.
"""

from __future__ import annotations

import numpy as np

from .. import _boundary
from .._spec import ConvSpec
from . import _rows


def _compile():
    # The Numba kernels live in their own module, imported (and compiled) on
    # first use so that importing faltung never loads Numba.
    from ._jit import direct as nb

    return nb.run_serial, nb.run_parallel



# Square float kernels of these sizes get a loop specialised for their exact
# size. Each size and dtype is one more compilation (seconds, on a cold
# cache), so only the commonest sizes are specialised; 7x7 and up gain
# nothing (the unrolled loop no longer vectorises).
FIXED_SIZES = (3, 5)


def _compile_fixed():
    from ._jit import direct as nb

    return nb.run_serial_fixed, nb.run_parallel_fixed


def correlate(x: np.ndarray, k: np.ndarray, spec: ConvSpec, rowmap: np.ndarray,
              colmap: np.ndarray, interior: tuple[int, int], workers: int,
              out: np.ndarray | None = None) -> np.ndarray:
    """Canonical correlation (see :mod:`faltung._spec`) by direct summation.

    ``x`` is (B, H, W) and ``k`` is (Bk, kh, kw), both C-contiguous in
    ``spec.compute_dtype``; returns a (B, Ho, Wo) array of that dtype (``out``
    if given).
    """
    run_serial, run_parallel = _compile()
    out, fill, c0, c1, ox = _rows.setup(spec, interior, out)
    args = (x, k, rowmap, colmap, c0, c1, ox, fill, out)
    kh, kw = spec.kernel_shape
    if kh == kw and kh in FIXED_SIZES and spec.compute_dtype.kind == "f":
        run_serial, run_parallel = _compile_fixed()
        # ext rows/cols that map straight onto the image, for the no-copy path
        oy = spec.offset[0]
        ylo, yhi = _boundary.interior(rowmap, oy)
        xa, xb = c0, max(c0, c1 - kw + 1)
        args = args + ((0,) * kh, (0,) * kw, spec.compute_dtype.type(0), oy, ylo, yhi, xa, xb)
    _rows.dispatch(run_serial, run_parallel, args, spec.batch, spec.out_shape[0],
                   spec.out_pixels * spec.taps, workers)
    return out
