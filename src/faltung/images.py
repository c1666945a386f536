"""Test images generated in code (no data files)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import DTypeLike

__all__ = ["zone_plate"]


def zone_plate(size: int = 512, dtype: DTypeLike = np.float32) -> np.ndarray:
    """A circular zone plate: ``0.5 + 0.5 * cos(k * r**2)``, values in [0, 1].

    The local frequency of the rings grows linearly with the distance ``r``
    from the centre, from 0 at the centre to the Nyquist limit (half a cycle
    per pixel) at the corners, so every spatial frequency of the image appears
    somewhere along a radius, in every orientation. This makes the effect of
    a filter easy to see: a low-pass filter (box, Gaussian) greys out the
    outer rings, an edge or derivative filter (Sobel, Laplacian) suppresses
    the flat centre and outlines the rings, and a sharpening filter raises the
    contrast of the fine outer rings.

    Parameters
    ----------
    size : int
        Side length in pixels; the image is ``size x size``.
    dtype : dtype
        Floating-point dtype of the result. The pattern is computed in
        float64 and then cast.

    Returns
    -------
    ndarray
        Shape ``(size, size)``. Symmetric under transposition and under
        flips of either axis; the value is 1 at the centre (for odd sizes the
        centre is a pixel).

    Examples
    --------
    >>> from faltung.images import zone_plate
    >>> img = zone_plate(65)
    >>> img.shape, img.dtype
    ((65, 65), dtype('float32'))
    >>> float(img[32, 32]), bool(0 <= img.min() and img.max() <= 1)
    (1.0, True)
    >>> bool((img == img.T).all() and (img == img[::-1]).all())
    True
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)):
        raise TypeError(f"size must be an int, got {size!r}")
    if size < 1:
        raise ValueError(f"size must be at least 1, got {size}")
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"dtype must be a floating-point dtype, got {dt}")
    c = (size - 1) / 2
    y = np.arange(size, dtype=np.float64) - c
    r2 = y[:, None] ** 2 + y[None, :] ** 2
    # Phase k*r^2 changes by 2*k*r radians per pixel: pi (Nyquist) at the corner.
    r_max = max(c * math.sqrt(2.0), 1.0)
    k = math.pi / (2.0 * r_max)
    return (0.5 + 0.5 * np.cos(k * r2)).astype(dt)
