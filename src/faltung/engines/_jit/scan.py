"""Numba kernel for the planner's NaN/Inf check (see :func:`faltung._plan._all_finite`).

``x * 0`` is 0 for every finite x and NaN for NaN and +-Inf, so one summed
pass answers "all finite?" without the boolean temporary of
``np.isfinite(x).all()``; reassociation lets LLVM vectorise the sum, and
without the 'nnan'/'ninf' flags it may not fold ``x * 0`` to 0.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_FASTMATH = {"contract", "reassoc", "nsz", "arcp"}


@njit(cache=True, nogil=True, parallel=True, fastmath=_FASTMATH)
def all_finite(x, chunks):
    n = x.shape[0]
    step = (n + chunks - 1) // chunks
    sums = np.zeros(chunks, x.dtype)
    for c in prange(chunks):
        s = x[c * step:min(n, c * step + step)]
        acc = x.dtype.type(0)
        for i in range(s.shape[0]):
            acc += s[i] * 0
        sums[c] = acc
    return sums.sum() == 0


@njit(cache=True, nogil=True, fastmath=_FASTMATH)
def store_finite(src, c0, dst, y0, x0, rows, cols):
    # dst[y0:, x0:][:rows, :cols] = src[:rows, c0:c0 + cols], answering "all
    # finite?" in the same pass (one read of src instead of two). Whole
    # C-contiguous rows go in so that the inner loop vectorises.
    acc = src.dtype.type(0)
    for i in range(rows):
        s = src[i]
        d = dst[y0 + i]
        for j in range(cols):
            v = s[c0 + j]
            d[x0 + j] = v
            acc += v * 0
    return acc == 0
