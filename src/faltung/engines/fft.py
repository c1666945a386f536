"""FFT engine: whole-image or overlap-save correlation through ``scipy.fft``.

The output reads an extended window of the image (image plus boundary
margins). Correlation becomes a product of spectra. Only the *valid* part of
a circular convolution of length ``L`` is kept; wrap-around pollutes just the
first ``k-1`` samples, so ``L`` need only cover the window (whole-image
mode) or one tile (overlap-save mode), never window + kernel.

* **whole**: one transform of the whole window; best when the kernel is
  comparable to the image. Peak extra memory about ``3 * B * L0 * L1``
  elements of the compute dtype.
* **overlap-save**: the output is cut into tiles of ``(L0-kh+1) x (L1-kw+1)``
  pixels; each reads an ``L0 x L1`` tile of the window. Tiles are transformed
  in batches of at most ``batch_tiles`` (threads work across the batch), so
  peak extra memory is the extended window plus
  ``3 * batch_tiles * L0 * L1`` elements, whatever the image size.

The kernel spectrum is computed once per call (or once per Plan), pruned:
rows of the zero-padded kernel that are all zero are never transformed.
float32 and complex64 stay single precision (``scipy.fft`` keeps them).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.fft as sfft

from .._spec import ConvSpec

# Tile transform sizes tried by the planner; all are 5-smooth.
TILE_SIZES = (64, 96, 128, 160, 192, 256, 320, 384, 512, 640, 768, 1024)
# Bytes of tile buffers processed per batch (keeps a batch within L2/L3).
BATCH_BYTES = 24 << 20


def shapes(spec: ConvSpec) -> list[tuple[int, int] | None]:
    """Transform shapes worth considering: None (whole image) and tiles."""
    kh, kw = spec.kernel_shape
    ho, wo = spec.out_shape
    out: list[tuple[int, int] | None] = [None]
    whole = whole_shape(spec)
    for n in TILE_SIZES:
        if n < 2 * max(kh, kw):
            continue
        # A tile bigger than the whole window is the whole-image case.
        if n - kh + 1 >= ho and n - kw + 1 >= wo:
            break
        out.append((min(n, whole[0]), min(n, whole[1])))
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
    # overheads), and a whole-image transform falls out of cache.
    penalty = 1.3 if tile is None else 1 + 128 / min(l0, l1)
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


def whole_shape(spec: ConvSpec) -> tuple[int, int]:
    he, we = spec.ext_shape
    real = spec.compute_dtype.kind != "c"
    return sfft.next_fast_len(he, real), sfft.next_fast_len(we, real)


def correlate(xe: np.ndarray, k: np.ndarray, spec: ConvSpec, workers: int,
              tile: tuple[int, int] | None = None, kspec: np.ndarray | None = None
              ) -> np.ndarray:
    """Canonical correlation of an extended window ``xe`` (B, Ho+kh-1, Wo+kw-1).

    ``k`` is (Bk, kh, kw) in the same float or complex dtype. ``tile`` selects
    overlap-save with that transform shape; None transforms the whole window.
    ``kspec`` is a precomputed :func:`kernel_spectrum` for that shape.
    Returns (B, Ho, Wo) in ``xe``'s dtype.
    """
    kh, kw = spec.kernel_shape
    ho, wo = spec.out_shape
    dt = xe.dtype
    if tile is None:
        shape = whole_shape(spec)
        if kspec is None:
            kspec = kernel_spectrum(k, shape, workers)
        full = _transform(xe, kspec, shape, slice(kh - 1, kh - 1 + ho), workers)
        return np.ascontiguousarray(full[:, :, kw - 1:kw - 1 + wo], dtype=dt)

    l0, l1 = tile
    s0, s1 = l0 - kh + 1, l1 - kw + 1
    ny, nx = math.ceil(ho / s0), math.ceil(wo / s1)
    if kspec is None:
        kspec = kernel_spectrum(k, tile, workers)
    out = np.empty((spec.batch, ho, wo), dtype=dt)
    per_batch = max(1, BATCH_BYTES // (3 * l0 * l1 * dt.itemsize))
    jobs = [(b, ty, tx) for b in range(spec.batch) for ty in range(ny) for tx in range(nx)]
    buf = np.zeros((min(per_batch, len(jobs)), l0, l1), dtype=dt)
    for start in range(0, len(jobs), per_batch):
        chunk = jobs[start:start + per_batch]
        tiles = buf[:len(chunk)]
        ksel = []
        for t, (b, ty, tx) in enumerate(chunk):
            src = xe[b, ty * s0:ty * s0 + l0, tx * s1:tx * s1 + l1]
            tiles[t, :src.shape[0], :src.shape[1]] = src
            if src.shape != (l0, l1):
                tiles[t, src.shape[0]:, :] = 0
                tiles[t, :, src.shape[1]:] = 0
            ksel.append(b if kspec.shape[0] > 1 else 0)
        ks = kspec if kspec.shape[0] == 1 else kspec[ksel]
        res = _transform(tiles, ks, tile, slice(kh - 1, l0), workers)
        for t, (b, ty, tx) in enumerate(chunk):
            y0, x0 = ty * s0, tx * s1
            hy, wx = min(s0, ho - y0), min(s1, wo - x0)
            out[b, y0:y0 + hy, x0:x0 + wx] = res[t, :hy, kw - 1:kw - 1 + wx]
    return out
