"""ConvSpec: *what* to compute, independent of *how*.

Every convolution and correlation is reduced to one canonical form, a
cross-correlation of an extended image with a kernel ``K``::

    out[b, y, x] = sum_{i, j} K[b, i, j] * ext(X)[b, y + oy + i, x + ox + j]

where ``ext`` applies the boundary kind. Convolution flips the kernel first;
scipy's correlate2d conjugates it. The output region (full/same/valid) only
changes the offsets ``oy, ox`` and the output shape.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ConvSpec:
    """A normalised 2-D correlation problem (the form all engines accept).

    Attributes
    ----------
    batch : int
        Number of 2-D images (leading axes flattened).
    in_shape : (int, int)
        Spatial shape (H, W) of each image.
    kernel_shape : (int, int)
        Spatial shape (kh, kw) of the correlation kernel.
    kernel_batch : int
        1 (one kernel for all images) or ``batch`` (one kernel per image).
    out_shape : (int, int)
        Spatial shape of the result.
    offset : (int, int)
        ``(oy, ox)``: extended-image coordinate of output pixel (0, 0)'s
        first kernel tap.
    boundary : str
        Canonical boundary kind (see :mod:`faltung._boundary`).
    fillvalue : scalar
        Value outside the image for ``constant``, already in ``compute_dtype``.
    compute_dtype : numpy.dtype
        dtype the engines work in.
    result_dtype : numpy.dtype
        dtype of the returned array.
    """

    batch: int
    in_shape: tuple[int, int]
    kernel_shape: tuple[int, int]
    kernel_batch: int
    out_shape: tuple[int, int]
    offset: tuple[int, int]
    boundary: str
    fillvalue: object
    compute_dtype: np.dtype
    result_dtype: np.dtype

    @property
    def ext_shape(self) -> tuple[int, int]:
        """Shape of the extended-image window the output reads."""
        return (self.out_shape[0] + self.kernel_shape[0] - 1,
                self.out_shape[1] + self.kernel_shape[1] - 1)

    @property
    def taps(self) -> int:
        return self.kernel_shape[0] * self.kernel_shape[1]

    @property
    def out_pixels(self) -> int:
        return self.batch * self.out_shape[0] * self.out_shape[1]


def region(mode: str, n: int, k: int, flipped: bool) -> tuple[int, int]:
    """Output length and extended-image offset along one axis.

    ``same`` is centred on ``full`` exactly as scipy.signal centres it, which
    differs between convolution and correlation for even ``k``.
    """
    if mode == "full":
        return n + k - 1, -(k - 1)
    if mode == "valid":
        return n - k + 1, 0
    # same
    return n, (-(k // 2) if flipped else -((k - 1) // 2))
