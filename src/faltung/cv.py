"""OpenCV-style filters: cv2's signatures and results, faltung's engines.

Images are H x W or H x W x C (each channel filtered alone; any number of
channels). These functions compute **correlations** (OpenCV's filter2D
does not flip the kernel). ``anchor`` is (x, y) with -1 meaning the kernel
centre ``k // 2``. Results equal cv2's:

* ``ddepth`` is -1 (the source depth), a ``CV_*`` code (the constants below
  have cv2's values) or a numpy dtype. Integer outputs are rounded half to
  even and saturated, as cv2's ``saturate_cast``.
* ``borderType`` is a ``BORDER_*`` code (``BORDER_ISOLATED`` may be or-ed
  in) or a boundary name. ``BORDER_CONSTANT`` pads with 0.
* Where cv2 refuses, faltung works: ``BORDER_WRAP`` in every filter,
  ``medianBlur`` of any odd size on every depth, any ``ddepth``.
* Integer images with integer kernels (box sums, Sobel, Scharr, Laplacian)
  are computed exactly, then scaled and rounded, as cv2. Float kernels on
  8/16-bit images are computed in float32 like cv2, but the summation order
  differs, so a result within float32 rounding of a half-integer may round
  the other way (an off-by-one in a few pixels).
* ``GaussianBlur`` of uint8 images reproduces cv2's 8-bit fixed-point
  arithmetic exactly for kernels up to 11 taps (sigma up to about 1.7 with
  ``ksize=(0, 0)``); larger uint8 kernels and 16-bit images are summed in
  floating point and may differ from cv2 by 1 (uint8: 2) in some pixels.
* ``blur``/``boxFilter`` of uint8 images: cv2 scales the window sum in fixed
  point; faltung rounds ``sum / area`` half up, which equals cv2 except for
  some power-of-two areas, where cv2 is 1 higher in places.

Examples
--------
>>> import numpy as np
>>> from faltung import cv
>>> img = np.zeros((5, 5), np.uint8); img[2, 2] = 90
>>> cv.blur(img, (3, 3))[1:4, 1:4]
array([[10, 10, 10],
       [10, 10, 10],
       [10, 10, 10]], dtype=uint8)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from . import _filters, _validate, kernels

# cv2's constants, so that code written for cv2 runs unchanged
CV_8U, CV_8S, CV_16U, CV_16S, CV_32S, CV_32F, CV_64F, CV_16F = range(8)
BORDER_CONSTANT, BORDER_REPLICATE, BORDER_REFLECT, BORDER_WRAP, BORDER_REFLECT_101 = range(5)
BORDER_REFLECT101 = BORDER_DEFAULT = BORDER_REFLECT_101
BORDER_ISOLATED = 16
FILTER_SCHARR = -1

_DEPTH_CODE = {np.dtype(v): k for k, v in _validate.CV_DEPTHS.items()}


def _layout(src: np.ndarray):
    """(B, H, W) view with channels as the batch, and the way back."""
    if src.ndim == 2:
        return src[None], lambda r: r[0]
    x3 = np.moveaxis(src, 2, 0)
    return x3, lambda r: np.moveaxis(r, 0, 2)


def _engine_dtype(src: np.dtype, exact_ints: bool, ddepth: np.dtype) -> np.dtype:
    """int64 for exact integer work; otherwise float32 unless the source or the
    destination is wider (cv2 computes a float64 destination in float64)."""
    if src.kind in "iu" and exact_ints:
        return np.dtype(np.int64)
    wide = ddepth == np.float64 or src.itemsize > (2 if src.kind in "iu" else 4)
    return np.dtype(np.float64 if wide else np.float32)


def _exact_float(src: np.dtype, ksum: float, plain: bool) -> np.dtype | None:
    """A float dtype in which integer images with an integer kernel are summed
    exactly, or None. Every partial sum is an integer of magnitude at most
    ``sum|k| * max|src|``; below 2**24 (float32) or 2**53 (float64) each is
    representable, so any summation order, FMA included, gives the exact
    result, several times faster than int64 summation. float32 only when no
    scale/delta follows, so those are applied in float64 as before."""
    info = np.iinfo(src)
    bound = ksum * max(abs(int(info.min)), int(info.max))
    if plain and bound < 2.0**24:
        return np.dtype(np.float32)
    if bound < 2.0**53:
        return np.dtype(np.float64)
    return None


def _integral(k: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(k)) and np.all(np.mod(k, 1) == 0))


def _store(res: np.ndarray, ddepth: np.dtype, scale: float = 1.0, delta: float = 0.0
           ) -> np.ndarray:
    """scale/delta, then cv2's saturate_cast to ``ddepth``."""
    if scale != 1.0 or delta != 0.0:
        if res.dtype.kind in "iu" or ddepth.itemsize > res.dtype.itemsize:
            res = res.astype(np.float64)
        res = res * res.dtype.type(scale) + res.dtype.type(delta)
    if ddepth.kind in "iu" and res.dtype.kind == "f":
        if res.size < (1 << 15) or ddepth.itemsize > 4:
            info = np.iinfo(ddepth)
            res = np.nan_to_num(res, nan=0.0)
            return np.clip(np.rint(res), info.min, info.max).astype(ddepth)
    return _filters.cast(res, ddepth, rounding="rint", saturate=True, name="ddepth")


def _run(src: np.ndarray, k: np.ndarray, anchor: tuple[int, int], kind: str,
         cdt: np.dtype, factors=None, method: str = "auto") -> np.ndarray:
    x3, back = _layout(src)
    res = _filters.correlate(x3, k, (-anchor[0], -anchor[1]), kind, 0, cdt, method,
                             workers=_validate.workers(None), factors=factors)
    return back(res)


def filter2D(src: ArrayLike, ddepth: int, kernel: ArrayLike, dst: np.ndarray | None = None,
             anchor: Sequence[int] = (-1, -1), delta: float = 0, borderType: int | str = 4
             ) -> np.ndarray:
    """Correlate an image with a kernel, as ``cv2.filter2D``.

    ``dst[y, x] = sum kernel[i, j] * src[y + i - ay, x + j - ax] + delta``
    with ``(ax, ay) = anchor`` (default: the kernel centre), rounded and
    saturated to ``ddepth``. The planner picks the engine (direct,
    separable, running sums or FFT).

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> img = np.arange(9, dtype=np.float32).reshape(3, 3)
    >>> cv.filter2D(img, -1, np.array([[0, 0, 0], [0, 0, 1], [0, 0, 0]], np.float32))
    array([[1., 2., 1.],
           [4., 5., 4.],
           [7., 8., 7.]], dtype=float32)
    """
    x = _validate.cv_src(src)
    k = _validate.array(kernel, "kernel")
    if k.ndim != 2 or k.dtype.kind == "c":
        raise ValueError(f"kernel must be a real 2-D array, got {k.dtype} of shape {k.shape}")
    dd = _validate.cv_depth(ddepth, x.dtype)
    anc = _validate.cv_anchor(anchor, k.shape)
    kind = _validate.cv_border(borderType)
    d = _validate.real_number(delta, "delta")
    exact = x.dtype.kind in "iu" and _integral(k)
    res = _store(_run_exact(x, k, anc, kind, dd, d == 0) if exact else
                 _run(x, k, anc, kind, _engine_dtype(x.dtype, False, dd)), dd, 1.0, d)
    return _out(res, dst)


def _run_exact(x, k, anchor, kind, dd, plain, factors=None):
    """Integer image, integer kernel: exact, in a float dtype where that is
    exact (direct summation, or separable passes with the integer factors;
    never the FFT), else in int64."""
    fdt = _exact_float(x.dtype, float(np.abs(k.astype(np.float64)).sum()), plain)
    if fdt is None:
        return _run(x, k.astype(np.int64), anchor, kind, _engine_dtype(x.dtype, True, dd),
                    factors)
    method = "separable" if factors is not None and min(k.shape) > 1 else "direct"
    return _run(x, k.astype(np.float64), anchor, kind, fdt, factors, method)


def _out(res: np.ndarray, dst: np.ndarray | None) -> np.ndarray:
    if dst is None:
        return res
    if not isinstance(dst, np.ndarray) or dst.shape != res.shape or dst.dtype != res.dtype:
        raise ValueError(f"dst must be an array of shape {res.shape} and dtype {res.dtype}, "
                         f"got {_validate._describe(dst)}")
    np.copyto(dst, res)
    return dst


def _vector(v, name: str) -> np.ndarray:
    a = _validate.array(v, name)
    if a.dtype.kind == "c" or a.size != max(a.shape, default=1):
        raise ValueError(f"{name} must be a real 1-D kernel (or a row/column), "
                         f"got {a.dtype} of shape {a.shape}")
    return a.reshape(-1)


def _separable(x, ky, kx, anchor, kind, dd, scale=1.0, delta=0.0):
    exact = x.dtype.kind in "iu" and _integral(ky) and _integral(kx)
    # the outer product in the kernels' own (maybe single) precision would round
    ky, kx = (v.astype(np.int64 if exact else np.float64) for v in (ky, kx))
    k2 = np.multiply.outer(ky, kx)
    if exact:
        res = _run_exact(x, k2, anchor, kind, dd, scale == 1.0 and delta == 0.0,
                         (ky[None], kx[None]))
    else:
        res = _run(x, k2, anchor, kind, _engine_dtype(x.dtype, False, dd),
                   factors=(ky[None], kx[None]))
    return _store(res, dd, scale, delta)


def sepFilter2D(src: ArrayLike, ddepth: int, kernelX: ArrayLike, kernelY: ArrayLike,
                dst: np.ndarray | None = None, anchor: Sequence[int] = (-1, -1),
                delta: float = 0, borderType: int | str = 4) -> np.ndarray:
    """Separable correlation, as ``cv2.sepFilter2D``: ``kernelY`` down the
    columns, ``kernelX`` along the rows (the same as :func:`filter2D` with
    ``outer(kernelY, kernelX)``).

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> img = np.zeros((3, 5), np.float32); img[1, 2] = 1
    >>> cv.sepFilter2D(img, -1, [1, 2, 3], [1, 1, 1])[1]
    array([0., 3., 2., 1., 0.], dtype=float32)
    """
    x = _validate.cv_src(src)
    kx, ky = _vector(kernelX, "kernelX"), _vector(kernelY, "kernelY")
    dd = _validate.cv_depth(ddepth, x.dtype)
    anc = _validate.cv_anchor(anchor, (ky.size, kx.size))
    kind = _validate.cv_border(borderType)
    d = _validate.real_number(delta, "delta")
    return _out(_separable(x, ky, kx, anc, kind, dd, 1.0, d), dst)


def boxFilter(src: ArrayLike, ddepth: int, ksize: Sequence[int], dst: np.ndarray | None = None,
              anchor: Sequence[int] = (-1, -1), normalize: bool = True,
              borderType: int | str = 4) -> np.ndarray:
    """Box filter, as ``cv2.boxFilter``: window sums, divided by the area when
    ``normalize``. Runs as running sums (O(1) per pixel in ``ksize``); integer
    images are summed exactly, then scaled and rounded as cv2 does.

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> cv.boxFilter(np.ones((3, 3), np.uint8), -1, (3, 3), normalize=False)
    array([[9, 9, 9],
           [9, 9, 9],
           [9, 9, 9]], dtype=uint8)
    """
    x = _validate.cv_src(src)
    dd = _validate.cv_depth(ddepth, x.dtype)
    kh, kw = _validate.cv_ksize(ksize)
    anc = _validate.cv_anchor(anchor, (kh, kw))
    kind = _validate.cv_border(borderType)
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be a bool, got {_validate._describe(normalize)}")
    scale = 1.0 / (kh * kw) if normalize else 1.0
    if x.dtype.kind in "iu":
        res = _run(x, np.ones((kh, kw), np.int64), anc, kind, np.dtype(np.int64))
        if normalize and dd == np.uint8 and x.dtype == np.uint8:
            # cv2's 8-bit box filter scales in fixed point and rounds halves
            # up (not to even); off-half results still round to nearest. For
            # power-of-two areas cv2's own rounding differs by 1 in places.
            return _out(np.clip(np.floor(res * scale + 0.5), 0, 255).astype(np.uint8), dst)
        return _out(_store(res, dd, scale), dst)
    cdt = _engine_dtype(x.dtype, False, dd)
    res = _run(x, np.full((kh, kw), scale), anc, kind, cdt)
    return _out(_store(res, dd), dst)


def blur(src: ArrayLike, ksize: Sequence[int], dst: np.ndarray | None = None,
         anchor: Sequence[int] = (-1, -1), borderType: int | str = 4) -> np.ndarray:
    """Normalised box filter, as ``cv2.blur``.

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> img = np.array([[0, 0, 0], [0, 9, 0], [0, 0, 0]], np.float32)
    >>> cv.blur(img, (3, 1), borderType=cv.BORDER_CONSTANT)[1]
    array([3., 3., 3.], dtype=float32)
    """
    return boxFilter(src, -1, ksize, dst, anchor, True, borderType)


def GaussianBlur(src: ArrayLike, ksize: Sequence[int], sigmaX: float,
                 dst: np.ndarray | None = None, sigmaY: float = 0,
                 borderType: int | str = 4) -> np.ndarray:
    """Gaussian blur, as ``cv2.GaussianBlur``.

    ``ksize`` (width, height) must be odd, or (0, 0) to derive it from the
    sigmas (cv2's rule: ``round(sigma * (3 if uint8 else 4) * 2 + 1) | 1``).
    ``sigmaY = 0`` means ``sigmaX``; a zero sigma is derived from the size.
    The kernels are ``cv2.getGaussianKernel``'s, applied as two 1-D passes.

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> img = np.zeros((5, 5), np.float32); img[2, 2] = 1
    >>> round(float(cv.GaussianBlur(img, (3, 3), 0).sum()), 6)
    1.0
    """
    x = _validate.cv_src(src)
    sx = _validate.real_number(sigmaX, "sigmaX")
    sy = _validate.real_number(sigmaY, "sigmaY")
    if sy == 0:
        sy = sx
    if isinstance(ksize, (int, np.integer)) or ksize is None:
        raise TypeError(f"ksize must be a (width, height) pair, got {ksize!r}")
    pair = tuple(ksize)
    if len(pair) != 2:
        raise ValueError(f"ksize must be a (width, height) pair, got {ksize!r}")
    kw, kh = (_validate.integer(v, "ksize", 0) for v in pair)
    depth = _DEPTH_CODE.get(x.dtype.newbyteorder("="), CV_64F)
    if kw == 0:
        kw = kernels.gaussian_ksize(sx, depth) if sx > 0 else 0
    if kh == 0:
        kh = kernels.gaussian_ksize(sy, depth) if sy > 0 else 0
    if kw < 1 or kh < 1 or kw % 2 == 0 or kh % 2 == 0:
        raise ValueError(f"ksize must be positive and odd, or (0, 0) with a positive sigma; "
                         f"got ksize={ksize!r}, sigmaX={sigmaX!r}")
    kind = _validate.cv_border(borderType)
    kx = kernels.gaussian_cv(kw, max(sx, 0.0)).reshape(-1)
    ky = kernels.gaussian_cv(kh, max(sy, 0.0)).reshape(-1)
    if x.dtype == np.uint8 and max(kh, kw) <= _FIXED_GAUSS_MAX:
        return _out(_gaussian_u8_fixed(x, ky, kx, kind), dst)
    return _out(_separable(x, ky, kx, (kh // 2, kw // 2), kind, x.dtype), dst)


# cv2 blurs 8-bit images with kernels in 8-bit fixed point (bit-exact mode);
# for kernels up to this size faltung reproduces it exactly.
_FIXED_GAUSS_MAX = 11


def _fixed8(k: np.ndarray) -> np.ndarray:
    """A 1-D kernel in 8-bit fixed point, its rounding error moved to the centre
    tap so that it still sums to exactly 256."""
    q = np.rint(k * 256).astype(np.int64)
    q[k.size // 2] += 256 - int(q.sum())
    return q


def _gaussian_u8_fixed(x: np.ndarray, ky: np.ndarray, kx: np.ndarray, kind: str) -> np.ndarray:
    qy, qx = _fixed8(ky), _fixed8(kx)
    k2 = np.multiply.outer(qy, qx).astype(np.float64)
    # Every partial sum is an integer below 255 * 2**16 < 2**24, so float32
    # separable passes (or direct summation) compute it exactly, in any order;
    # an FFT would not, so it is not allowed here.
    method = "separable" if min(k2.shape) > 1 else "direct"
    x3, back = _layout(x)
    res = _filters.correlate(x3, k2, (-(ky.size // 2), -(kx.size // 2)), kind, 0,
                             np.dtype(np.float32), method, _validate.workers(None),
                             factors=(qy[None].astype(np.float64), qx[None].astype(np.float64)))
    # the sum has 16 fractional bits: round half up, as cv2's fixed-point cast
    res *= np.float32(1 / 65536)
    res += np.float32(0.5)
    return back(_filters.cast(res, np.dtype(np.uint8), "trunc", saturate=True))


def medianBlur(src: ArrayLike, ksize: int, dst: np.ndarray | None = None) -> np.ndarray:
    """Median of the ``ksize x ksize`` window, as ``cv2.medianBlur`` (border:
    replicate). Any odd ``ksize`` on any depth (cv2 allows only 3 and 5
    beyond uint8).

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> cv.medianBlur(np.array([[0, 0, 0], [0, 255, 0], [0, 0, 0]], np.uint8), 3)
    array([[0, 0, 0],
           [0, 0, 0],
           [0, 0, 0]], dtype=uint8)
    """
    from .engines import rank as _rank

    x = _validate.cv_src(src)
    k = _validate.integer(ksize, "ksize", 1)
    if k % 2 == 0:
        raise ValueError(f"ksize must be odd, got {ksize}")
    x3, back = _layout(x)
    xc = np.ascontiguousarray(x3, dtype=x.dtype.newbyteorder("="))
    fp = np.ones((k, k), dtype=bool)
    res = _rank.rank_filter(xc, fp, k * k // 2, (-(k // 2), -(k // 2)), "nearest",
                            xc.dtype.type(0), _validate.workers(None))
    return _out(back(res), dst)


def _deriv(x, dd, dx, dy, ksize, scale, delta, kind):
    ky, kx = kernels.deriv_kernels(dx, dy, ksize)
    return _separable(x, np.asarray(ky, np.float64).reshape(-1),
                      np.asarray(kx, np.float64).reshape(-1),
                      (ky.size // 2, kx.size // 2), kind, dd, scale, delta)


def Sobel(src: ArrayLike, ddepth: int, dx: int, dy: int, dst: np.ndarray | None = None,
          ksize: int = 3, scale: float = 1, delta: float = 0, borderType: int | str = 4
          ) -> np.ndarray:
    """Sobel derivative, as ``cv2.Sobel`` (``ksize`` 1, 3, 5, 7, or
    ``FILTER_SCHARR`` = -1). Integer images are differentiated exactly.

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> ramp = np.tile(np.arange(5, dtype=np.float32), (3, 1))
    >>> cv.Sobel(ramp, cv.CV_32F, 1, 0)[1]
    array([0., 8., 8., 8., 0.], dtype=float32)
    """
    x = _validate.cv_src(src)
    dd = _validate.cv_depth(ddepth, x.dtype)
    kind = _validate.cv_border(borderType)
    s = _validate.real_number(scale, "scale")
    d = _validate.real_number(delta, "delta")
    return _out(_deriv(x, dd, dx, dy, ksize, s, d, kind), dst)


def Scharr(src: ArrayLike, ddepth: int, dx: int, dy: int, dst: np.ndarray | None = None,
           scale: float = 1, delta: float = 0, borderType: int | str = 4) -> np.ndarray:
    """Scharr derivative, as ``cv2.Scharr`` (``dx + dy == 1``).

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> ramp = np.tile(np.arange(5, dtype=np.float32), (3, 1))
    >>> cv.Scharr(ramp, cv.CV_32F, 1, 0)[1]
    array([ 0., 32., 32., 32.,  0.], dtype=float32)
    """
    if (dx, dy) not in ((1, 0), (0, 1)):
        raise ValueError(f"Scharr needs (dx, dy) = (1, 0) or (0, 1), got ({dx}, {dy})")
    return Sobel(src, ddepth, dx, dy, dst, FILTER_SCHARR, scale, delta, borderType)


def Laplacian(src: ArrayLike, ddepth: int, dst: np.ndarray | None = None, ksize: int = 1,
              scale: float = 1, delta: float = 0, borderType: int | str = 4) -> np.ndarray:
    """Laplacian, as ``cv2.Laplacian``: the 3x3 4-neighbour stencil for
    ``ksize`` 1, ``[[2, 0, 2], [0, -8, 0], [2, 0, 2]]`` for 3, and the sum of the
    second Sobel derivatives for 5 and 7.

    Examples
    --------
    >>> import numpy as np
    >>> from faltung import cv
    >>> img = np.zeros((3, 3), np.float32); img[1, 1] = 1
    >>> cv.Laplacian(img, cv.CV_32F, borderType=cv.BORDER_CONSTANT)
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]], dtype=float32)
    """
    x = _validate.cv_src(src)
    dd = _validate.cv_depth(ddepth, x.dtype)
    kind = _validate.cv_border(borderType)
    s = _validate.real_number(scale, "scale")
    d = _validate.real_number(delta, "delta")
    k = _validate.integer(ksize, "ksize", 1, 31)
    if k % 2 == 0:
        raise ValueError(f"ksize must be odd, got {ksize}")
    kern = kernels.laplacian(ksize=k)
    anc = (kern.shape[0] // 2, kern.shape[1] // 2)
    if x.dtype.kind in "iu":
        res = _run_exact(x, kern, anc, kind, dd, s == 1.0 and d == 0.0)
    else:
        res = _run(x, kern, anc, kind, _engine_dtype(x.dtype, False, dd))
    return _out(_store(res, dd, s, d), dst)


__all__ = ["GaussianBlur", "Laplacian", "Scharr", "Sobel", "blur", "boxFilter", "filter2D",
           "medianBlur", "sepFilter2D"]
