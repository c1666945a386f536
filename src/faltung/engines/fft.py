"""FFT engine: whole-image correlation through ``scipy.fft``.

The extended window that the output reads (image plus boundary margins) is
built once, then correlated with the kernel as a product of spectra. Only
the *valid* part of a circular convolution of length ``L >= window`` is kept,
and wrap-around only pollutes the first ``k-1`` samples, so ``L`` need not
cover window + kernel: ``next_fast_len(window)`` suffices.

float32 and complex64 stay single precision (``scipy.fft`` keeps them).
Peak extra memory: the extended window plus its spectrum, about
``3 * B * L0 * L1`` elements of the compute dtype.
"""

from __future__ import annotations

import numpy as np
import scipy.fft as sfft

from .._spec import ConvSpec


def correlate(xe: np.ndarray, k: np.ndarray, spec: ConvSpec, workers: int) -> np.ndarray:
    """Canonical correlation of an already extended window ``xe``.

    ``xe`` is (B, Ho+kh-1, Wo+kw-1), ``k`` is (Bk, kh, kw), both in a float or
    complex compute dtype. Returns (B, Ho, Wo) in that dtype.
    """
    kh, kw = spec.kernel_shape
    he, we = xe.shape[-2:]
    dt = xe.dtype
    real = dt.kind == "f"
    shape = (sfft.next_fast_len(he, real), sfft.next_fast_len(we, real))
    flipped = k[:, ::-1, ::-1]
    if real:
        spec_x = sfft.rfft2(xe, shape, axes=(-2, -1), workers=workers)
        spec_x *= sfft.rfft2(flipped, shape, axes=(-2, -1), workers=workers)
        full = sfft.irfft2(spec_x, shape, axes=(-2, -1), workers=workers, overwrite_x=True)
    else:
        spec_x = sfft.fft2(xe, shape, axes=(-2, -1), workers=workers)
        spec_x *= sfft.fft2(flipped, shape, axes=(-2, -1), workers=workers)
        full = sfft.ifft2(spec_x, shape, axes=(-2, -1), workers=workers, overwrite_x=True)
    return np.ascontiguousarray(full[:, kh - 1:he, kw - 1:we], dtype=dt)
