"""scipy.signal-style convolve2d / correlate2d: arguments → ConvSpec → engine."""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from . import _boundary, _plan, _validate
from ._spec import ConvSpec, region
from .engines import direct as _direct
from .engines import exact as _exact
from .engines import fft as _fft

Mode = Literal["full", "same", "valid"]
Method = Literal["auto", "direct", "fft"]


def _int_bound(x: np.ndarray, k: np.ndarray, fill, uses_fill: bool) -> int:
    """Worst-case |result| of an integer correlation (conservative)."""
    xmax = max(abs(int(x.max())), abs(int(x.min())))
    if uses_fill:
        xmax = max(xmax, abs(int(fill)))
    ksum = float(np.abs(k.astype(np.float64)).sum(axis=(-2, -1)).max())
    return int(xmax * ksum * (1 + 1e-9)) + 1


def _prepare(x3, kc3, mode, kind, fill, flipped, rt, cdt) -> tuple[ConvSpec, np.ndarray,
                                                                  np.ndarray]:
    (b, h, w), (bk, kh, kw) = x3.shape, kc3.shape
    ho, oy = region(mode, h, kh, flipped)
    wo, ox = region(mode, w, kw, flipped)
    spec = ConvSpec(batch=b, in_shape=(h, w), kernel_shape=(kh, kw), kernel_batch=bk,
                    out_shape=(ho, wo), offset=(oy, ox), boundary=kind, fillvalue=fill,
                    compute_dtype=cdt, result_dtype=rt)
    rows = _boundary.index_table(oy, ho + kh - 1, h, kind)
    cols = _boundary.index_table(ox, wo + kw - 1, w, kind)
    return spec, rows, cols


def _execute(x3, kc3, spec: ConvSpec, rows, cols, method, threads, int_bound):
    """Run the chosen engine; returns (result in compute dtype or object, Choice)."""
    choice = _plan.choose(spec, method, threads, int_bound)
    cdt = spec.compute_dtype
    if choice.engine == "direct":
        x = np.ascontiguousarray(x3, dtype=cdt)
        k = np.ascontiguousarray(kc3, dtype=cdt)
        interior = _boundary.interior(cols, spec.offset[1])
        return _direct.correlate(x, k, spec, rows, cols, interior, threads), choice
    if choice.engine == "fft":
        fdt = cdt if cdt.kind in "fc" else np.dtype(np.float64)
        xe = _boundary.extend(np.asarray(x3, dtype=fdt), rows, cols, fdt.type(spec.fillvalue))
        res = _fft.correlate(xe, np.asarray(kc3, dtype=fdt), spec, threads)
        if cdt.kind in "iu":
            res = np.rint(res).astype(cdt)
        return res, choice
    xe = _boundary.extend(np.asarray(x3, dtype=object), rows, cols, spec.fillvalue)
    return _exact.correlate(xe, kc3, spec), choice


def _finish(res: np.ndarray, rt: np.dtype, out: np.ndarray | None) -> np.ndarray:
    """Cast to the result (or ``out``) dtype, refusing any integer overflow."""
    target = out.dtype if out is not None else rt
    if target.kind in "iu" and res.size:
        _validate.int_range(int(res.min()), int(res.max()), target, out is not None)
    if res.dtype == object:
        res = res.astype(np.float64 if target.kind in "fc" else np.int64) \
            if target.kind != "u" else np.array(res.tolist(), dtype=target)
    return res.astype(target, copy=False)


def _convolve(in1, in2, mode, boundary, fillvalue, method, axes, out, workers, flipped,
              family="signal", return_choice=False):
    x = _validate.array(in1, "in1")
    k = _validate.array(in2, "in2")
    _validate.ndim_at_least(x, "in1")
    _validate.ndim_at_least(k, "in2")
    mode = _validate.mode(mode)
    kind = _validate.boundary(boundary, family)
    method = _validate.method(method)
    ax = _validate.axes(axes, x.ndim)
    threads = _validate.workers(workers)
    fill_raw = _validate.scalar(fillvalue, "fillvalue")

    xs = np.moveaxis(x, ax, (-2, -1))
    batch_shape = xs.shape[:-2]
    if k.ndim > 2:
        _validate.kernel_batch(k, x.ndim, batch_shape)
        ks = np.moveaxis(k, ax, (-2, -1))
    else:
        ks = k
    rt = _validate.result_dtype(x.dtype, k.dtype, fill_raw, kind == "constant")
    cdt = _validate.compute_dtype(rt)
    fill = _validate.fillvalue(fill_raw, cdt)

    x3 = xs.reshape((-1,) + xs.shape[-2:])
    k3 = ks.reshape((-1,) + ks.shape[-2:])
    swap = mode == "valid" and _validate.valid_swap(x3.shape[1:], k3.shape[1:])
    if swap:
        # scipy swaps the roles: the kernel becomes the image and each image a kernel.
        x3, k3 = np.broadcast_to(k3, (x3.shape[0],) + k3.shape[1:]), x3

    kc3 = k3[:, ::-1, ::-1] if flipped else np.conj(k3) if k3.dtype.kind == "c" else k3
    spec, rows, cols = _prepare(x3, kc3, mode, kind, fill, flipped, rt, cdt)

    out_shape = batch_shape + spec.out_shape
    out_shape = tuple(np.moveaxis(np.empty(out_shape, dtype=np.uint8), (-2, -1), ax).shape) \
        if batch_shape else out_shape
    out = _validate.out_array(out, out_shape, rt)

    int_bound = _int_bound(x3, kc3, fill, kind == "constant") if cdt.kind in "iu" else None
    res, choice = _execute(x3, kc3, spec, rows, cols, method, threads, int_bound)
    if swap and not flipped:
        res = res[:, ::-1, ::-1]
    res = _finish(res, rt, out)
    res = np.moveaxis(res.reshape(batch_shape + spec.out_shape), (-2, -1), ax)
    if out is not None:
        np.copyto(out, res, casting="unsafe")
        res = out
    else:
        res = np.ascontiguousarray(res) if not batch_shape else res
    return (res, choice) if return_choice else res


def convolve2d(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", boundary: str = "fill",
               fillvalue: complex = 0, *, method: Method = "auto",
               axes: tuple[int, int] = (-2, -1), out: np.ndarray | None = None,
               workers: int | None = None) -> np.ndarray:
    """Convolve two 2-D arrays, as :func:`scipy.signal.convolve2d` does.

    This is a true convolution: the kernel ``in2`` is flipped.

    Parameters
    ----------
    in1 : array_like
        Image, shape (..., H, W); leading axes are a batch. Integer, float or
        complex; not bool.
    in2 : array_like
        Kernel, shape (h, w), or with the same batch axes as ``in1``.
    mode : {'full', 'valid', 'same'}
        Output region. ``full`` is (H+h-1, W+w-1); ``valid`` is (H-h+1,
        W-w+1), swapping the inputs when the kernel is larger in every axis,
        exactly as scipy; ``same`` is (H, W), centred as scipy centres it.
    boundary : str
        ``'fill'`` (``'constant'``), ``'wrap'``, ``'symm'`` and every alias of
        the five boundary kinds: ``symmetric``/``reflect``/``grid-mirror``/
        ``BORDER_REFLECT``; ``mirror``/``BORDER_REFLECT_101``; ``nearest``/
        ``edge``/``replicate``/``BORDER_REPLICATE``; ``wrap``/``circular``/
        ``BORDER_WRAP``. Here ``reflect`` means ndimage's ``reflect``
        (``symmetric``: ``cba|abcd|dcb``). Kernels larger than the image
        reflect or wrap repeatedly.
    fillvalue : scalar
        Value outside the image for ``fill``. A complex value makes a real
        computation complex. With integer inputs a float value is truncated
        toward zero, as scipy does.
    method : {'auto', 'direct', 'fft'}
        Engine. ``auto`` asks the planner.
    axes : (int, int)
        The two spatial axes of ``in1`` (e.g. ``(0, 1)`` for H x W x C).
    out : ndarray, optional
        Array to write into; its dtype may be wider than the result's.
    workers : int, optional
        Threads; None uses every core, negative values count back from it.

    Returns
    -------
    ndarray
        dtype ``np.result_type(in1, in2)`` like scipy (float16 results are
        computed in float32). Integer results are exact: an OverflowError is
        raised rather than wrapping around when the result does not fit.

    Examples
    --------
    >>> import numpy as np
    >>> import faltung
    >>> image = np.arange(1, 10).reshape(3, 3)
    >>> faltung.convolve2d(image, [[0, 1], [1, 0]], mode='same')
    array([[ 0,  1,  2],
           [ 1,  6,  8],
           [ 4, 12, 14]])
    """
    return _convolve(in1, in2, mode, boundary, fillvalue, method, axes, out, workers, True)


def correlate2d(in1: ArrayLike, in2: ArrayLike, mode: Mode = "full", boundary: str = "fill",
                fillvalue: complex = 0, *, method: Method = "auto",
                axes: tuple[int, int] = (-2, -1), out: np.ndarray | None = None,
                workers: int | None = None) -> np.ndarray:
    """Cross-correlate two 2-D arrays, as :func:`scipy.signal.correlate2d` does.

    A correlation: the kernel is not flipped, but a complex kernel is
    conjugated (scipy's definition). Parameters and results are those of
    :func:`convolve2d`; ``same`` centres even kernels as scipy's correlate2d
    does, one sample differently from convolve2d.

    Examples
    --------
    >>> import numpy as np
    >>> import faltung
    >>> image = np.arange(1, 10).reshape(3, 3)
    >>> faltung.correlate2d(image, [[1, 0], [0, -1]], mode='valid')
    array([[-4, -4],
           [-4, -4]])
    """
    return _convolve(in1, in2, mode, boundary, fillvalue, method, axes, out, workers, False)
