"""FFT engine: whole-image or overlap-save correlation through ``scipy.fft``.

The output reads an extended window of the image (image plus boundary
margins). Correlation becomes a product of spectra. Only the *valid* part of
a circular convolution of length ``L`` is kept; wrap-around pollutes just the
first ``k-1`` samples, so ``L`` need only cover the window (whole-image
mode) or one tile (overlap-save mode), never window + kernel.

* **whole**: one transform of the whole window; best when the kernel is
  comparable to the image. Peak extra memory about ``3 * B * L0 * L1``
  elements of the compute dtype. With zero fill the image is transformed
  as it is (see :func:`zero_margins`).
* **overlap-save**: the output is cut into tiles of ``(L0-kh+1) x (L1-kw+1)``
  pixels; each tile gathers its ``L0 x L1`` piece of the window straight
  from the image (no padded copy of the image is made). Each thread takes
  whole tiles and transforms them single-threaded, so a tile stays in its
  core's cache from gather to result. Peak extra memory is about
  ``4 * workers * L0 * L1`` elements besides the result, whatever the image
  size.

The kernel spectrum is computed once per call (or once per Plan), pruned:
rows of the zero-padded kernel that are all zero are never transformed.
float32 and complex64 stay single precision (``scipy.fft`` keeps them).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import scipy.fft as sfft

from .. import _boundary
from .._spec import ConvSpec

# Rough tile sides the planner tries; each is then fitted to the output so
# that the tiles cover it with little waste (see :func:`shapes`).
TILE_SIZES = (96, 128, 160, 192, 256, 320, 384, 448, 512, 576, 640, 768, 1024)


def _fit(n: int, out: int, k: int, real: bool) -> int:
    """Transform length near ``n`` whose tiles cover ``out`` outputs evenly."""
    count = math.ceil(out / max(n - k + 1, 1))
    return sfft.next_fast_len(math.ceil(out / count) + k - 1, real)


def shapes(spec: ConvSpec) -> list[tuple[int, int] | None]:
    """Transform shapes worth considering: None (whole image) and tiles."""
    kh, kw = spec.kernel_shape
    ho, wo = spec.out_shape
    whole = whole_shape(spec)
    real = spec.compute_dtype.kind != "c"
    out: list[tuple[int, int] | None] = [None]
    for n in TILE_SIZES:
        if n < 2 * max(kh, kw):
            continue
        shape = (min(_fit(n, ho, kh, False), whole[0]), min(_fit(n, wo, kw, real), whole[1]))
        # A tile as big as the whole window is the whole-image case.
        if shape[0] - kh + 1 >= ho and shape[1] - kw + 1 >= wo:
            break
        if shape not in out:
            out.append(shape)
    return out


def tiles(spec: ConvSpec, tile: tuple[int, int] | None) -> int:
    """Number of transforms (tiles) a call makes."""
    if tile is None:
        return spec.batch
    kh, kw = spec.kernel_shape
    return spec.batch * math.ceil(spec.out_shape[0] / (tile[0] - kh + 1)) * math.ceil(
        spec.out_shape[1] / (tile[1] - kw + 1))


def work(spec: ConvSpec, tile: tuple[int, int] | None) -> float:
    """Transform work in units of ``element * log2(elements)``."""
    l0, l1 = tile or whole_shape(spec)
    # forward + inverse of the image tiles (the kernel spectrum is amortised).
    # Measured: small tiles run below the n*log(n) rate (per-transform
    # overheads), and a whole-image transform falls out of cache (2079x2160
    # took 1.7x the time of 16 tiles of 576x576 for the same work).
    if tile is None:
        penalty = 1.3 if l0 * l1 <= 1 << 19 else 2.0
    else:
        penalty = 1 + 128 / min(l0, l1)
    return tiles(spec, tile) * 2 * l0 * l1 * math.log2(max(l0 * l1, 2)) * penalty


def kernel_spectrum(k: np.ndarray, shape: tuple[int, int], workers: int) -> np.ndarray:
    """Spectrum of the flipped kernel(s) ``k`` (Bk, kh, kw) at ``shape``.

    Transforms the kh non-zero rows first and pads afterwards, which is
    about half the work of a full 2-D transform of the padded kernel.
    """
    flipped = np.ascontiguousarray(k[:, ::-1, ::-1])
    if flipped.dtype.kind == "c":
        rows = sfft.fft(flipped, shape[1], axis=-1, workers=workers)
    else:
        rows = sfft.rfft(flipped, shape[1], axis=-1, workers=workers)
    return sfft.fft(rows, shape[0], axis=-2, workers=workers)


def _transform(data: np.ndarray, kspec: np.ndarray, shape, rows: slice,
               workers: int) -> np.ndarray:
    """Correlate ``data`` (..., h, w) with a kernel spectrum; keep ``rows``.

    Row and column passes are done one axis at a time: the row transform
    only touches the ``h`` rows that hold data (zero padding to ``shape[0]``
    happens in the column pass), and the inverse drops the rows that are
    not kept before the last pass. This is also markedly faster than
    ``irfft2`` (which copies and pads its input).
    """
    l0, l1 = shape
    if data.dtype.kind == "c":
        spec_x = sfft.fft(data, l1, axis=-1, workers=workers)
    else:
        spec_x = sfft.rfft(data, l1, axis=-1, workers=workers)
    spec_x = sfft.fft(spec_x, l0, axis=-2, workers=workers, overwrite_x=True)
    spec_x *= kspec
    spec_x = sfft.ifft(spec_x, axis=-2, workers=workers, overwrite_x=True)[..., rows, :]
    if data.dtype.kind == "c":
        return sfft.ifft(spec_x, l1, axis=-1, workers=workers, overwrite_x=True)
    return sfft.irfft(spec_x, l1, axis=-1, workers=workers, overwrite_x=True)


def zero_margins(spec: ConvSpec) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` zero margins of the window, or None.

    When the window is the whole image with zero fill around it, the image
    goes into the transform as it is: the transform's own zero padding then
    stands in for both margins (circularly, one run of zeros serves the
    bottom and the top), so no padded copy is made and the transform needs
    only ``H + max(top, bottom)`` points instead of ``H + top + bottom``.
    """
    if spec.boundary != "constant" or spec.fillvalue != 0:
        return None
    (he, we), (h, w) = spec.ext_shape, spec.in_shape
    top, left = -spec.offset[0], -spec.offset[1]
    bottom, right = he - h - top, we - w - left
    kh, kw = spec.kernel_shape
    if min(top, bottom, left, right) < 0 or top > kh - 1 or left > kw - 1:
        return None
    return top, bottom, left, right


def whole_shape(spec: ConvSpec) -> tuple[int, int]:
    """Transform shape of the whole-image mode."""
    he, we = spec.ext_shape
    zm = zero_margins(spec)
    if zm is not None:
        # The kernel must fit too: a shorter transform would alias its taps.
        he = max(spec.in_shape[0] + max(zm[0], zm[1]), spec.kernel_shape[0])
        we = max(spec.in_shape[1] + max(zm[2], zm[3]), spec.kernel_shape[1])
    # The last axis is a real transform for real data (5-smooth lengths are
    # fast there); the other axis is always complex (up to 11-smooth).
    real = spec.compute_dtype.kind != "c"
    return sfft.next_fast_len(he, False), sfft.next_fast_len(we, real)


_POOLS: dict[tuple[int, int], ThreadPoolExecutor] = {}


def _pool(workers: int) -> ThreadPoolExecutor:
    """A lasting thread pool: starting threads on every call cost ~1 ms each.

    Keyed by process id as well, because a forked child inherits the pool
    object but not its threads.
    """
    key = (os.getpid(), workers)
    pool = _POOLS.get(key)
    if pool is None:
        pool = _POOLS[key] = ThreadPoolExecutor(workers, thread_name_prefix="faltung-fft")
    return pool


def _finite(a: np.ndarray) -> bool:
    # NaN or Inf anywhere in a transform's input spreads to every output of
    # it, so a finite sum of the outputs means the input was finite (a sum
    # that overflows only costs a needless fallback).
    return math.isfinite(abs(a.sum()))


def _tile_job(x, rows, cols, fill, spec, tile, kspec, out, check, job) -> bool:
    """One overlap-save tile: gather, transform, multiply, keep the valid part.

    Returns whether the kept outputs are all finite (True unless ``check``).
    """
    b, ty, tx = job
    kh, kw = spec.kernel_shape
    ho, wo = spec.out_shape
    l0, l1 = tile
    s0, s1 = l0 - kh + 1, l1 - kw + 1
    y0, x0 = ty * s0, tx * s1
    r = rows[y0:y0 + l0]
    c = cols[x0:x0 + l1]
    buf = np.zeros((l0, l1), dtype=out.dtype)
    _boundary.extend(x[b], r, c, fill, spec.offset[0] + y0, spec.offset[1] + x0,
                     out=buf[:r.size, :c.size])
    hy, wx = min(s0, ho - y0), min(s1, wo - x0)
    res = _transform(buf, kspec[b if kspec.shape[0] > 1 else 0], tile,
                     slice(kh - 1, kh - 1 + hy), 1)
    if not check:
        out[b, y0:y0 + hy, x0:x0 + wx] = res[:, kw - 1:kw - 1 + wx]
        return True
    from ._jit.scan import store_finite

    return bool(store_finite(res, kw - 1, out[b], y0, x0, hy, wx))


def correlate(x: np.ndarray, k: np.ndarray, spec: ConvSpec, rows: np.ndarray,
              cols: np.ndarray, workers: int, tile: tuple[int, int] | None = None,
              kspec: np.ndarray | None = None, check_finite: bool = False
              ) -> np.ndarray | None:
    """Canonical correlation of images ``x`` (B, H, W) through their window.

    ``rows``/``cols`` are the boundary index tables of the extended window
    (``spec.offset`` is its start). ``k`` is (Bk, kh, kw) in ``x``'s float or
    complex dtype. ``tile`` selects overlap-save with that transform shape;
    None transforms the whole window. ``kspec`` is a precomputed
    :func:`kernel_spectrum` for that shape. Returns (B, Ho, Wo) in ``x``'s
    dtype; with ``check_finite``, None instead when the input holds NaN or
    Inf (they would smear over whole tiles; the caller sums directly then).
    The check rides on the results, while they are still in cache, instead
    of a separate pass over the input.

    Peak extra memory: whole-image mode about ``3 * B * L0 * L1`` elements
    (plus the extended window unless :func:`zero_margins` applies);
    overlap-save about ``4 * workers * L0 * L1`` elements besides the result,
    whatever the image size.
    """
    kh, kw = spec.kernel_shape
    ho, wo = spec.out_shape
    dt = x.dtype
    fill = dt.type(spec.fillvalue)
    if tile is None:
        shape = whole_shape(spec)
        if kspec is None:
            kspec = kernel_spectrum(k, shape, workers)
        zm = zero_margins(spec)
        if zm is None:
            data, r0, c0 = _boundary.extend(x, rows, cols, fill, *spec.offset), kh - 1, kw - 1
        else:
            # Circular indexing: window row -top is transform row L0 - top.
            data, r0, c0 = x, kh - 1 - zm[0], kw - 1 - zm[2]
        full = _transform(data, kspec, shape, slice(r0, r0 + ho), workers)
        res = np.ascontiguousarray(full[:, :, c0:c0 + wo], dtype=dt)
        return None if check_finite and not _finite(res) else res

    if kspec is None:
        kspec = kernel_spectrum(k, tile, workers)
    out = np.empty((spec.batch, ho, wo), dtype=dt)
    jobs = [(b, ty, tx) for b in range(spec.batch)
            for ty in range(math.ceil(ho / (tile[0] - kh + 1)))
            for tx in range(math.ceil(wo / (tile[1] - kw + 1)))]
    run = partial(_tile_job, x, rows, cols, fill, spec, tile, kspec, out, check_finite)
    # One tile per thread, each transformed single-threaded, keeps a tile's
    # whole pipeline in that core's cache (measured 1.3-1.6x faster than
    # threading the 1-D passes of a batch of tiles).
    if workers > 1 and len(jobs) > 1:
        finite = all(list(_pool(workers).map(run, jobs)))
    else:
        finite = all([run(job) for job in jobs])
    return None if check_finite and not finite else out
