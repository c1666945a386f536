"""Separable engine: a rank-r kernel as r pairs of 1-D passes.

``K = sum_q u_q v_q^T`` (from the SVD, or exact integer factors for an
integer rank-1 kernel). For each output row the vertical pass combines ``kh``
extended rows of a ring buffer into one temporary row, and the horizontal
pass slides ``v_q`` along it. The temporary row lives in L1, so the two
passes of a pair never sweep the image through memory twice: the image is
read once and the output written once, whatever r is.

Cost per output pixel: ``r * (kh + kw)`` multiply-adds instead of ``kh * kw``.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import gcd

import numpy as np

from .._spec import ConvSpec
from . import _rows


@dataclass(frozen=True)
class Factors:
    """Separable factors of a correlation kernel.

    ``u`` is (r, kh), ``v`` is (r, kw); the kernel is ``sum_q outer(u[q], v[q])``
    up to ``residual`` (relative Frobenius norm; 0 for exact integer factors).
    """

    u: np.ndarray
    v: np.ndarray
    residual: float

    @property
    def rank(self) -> int:
        return self.u.shape[0]


def _int_rank1(k: np.ndarray) -> Factors | None:
    """Exact integer factors of an integer rank-1 kernel, else None."""
    kk = k.astype(object)
    i0, j0 = np.unravel_index(np.argmax(np.abs(k)), k.shape)
    p = int(kk[i0, j0])
    if p == 0:
        return None
    u, v = kk[:, j0], kk[i0, :]
    if not (np.outer(u, v) == p * kk).all():
        return None
    gu = gcd(*(int(a) for a in u))
    gv = gcd(*(int(a) for a in v))
    c, rem = divmod(gu * gv, p)
    if rem:
        return None
    u = np.array([int(a) // gu * c for a in u], dtype=np.int64)
    v = np.array([int(a) // gv for a in v], dtype=np.int64)
    return Factors(u[None, :], v[None, :], 0.0)


def factorize(k: np.ndarray, compute: np.dtype, max_rank: int | None = None) -> Factors | None:
    """Low-rank factors of the 2-D correlation kernel ``k``, or None.

    Singular values below ``max(kh, kw) * eps(compute) * s_max`` are dropped,
    so the separable result stays within the rounding error of direct
    summation in ``compute``. Integer computation only accepts exact integer
    rank-1 factors. Returns None if the rank exceeds ``max_rank``
    (default: the largest rank that still saves work).
    """
    kh, kw = k.shape
    if kh == 1 or kw == 1:
        return None  # already one pass
    if compute.kind in "iu":
        return _int_rank1(k)
    if max_rank is None:
        max_rank = max(1, (kh * kw) // (kh + kw) - 1)
    k64 = k.astype(np.complex128 if compute.kind == "c" else np.float64)
    if not np.isfinite(k64).all():
        return None
    uu, s, vh = np.linalg.svd(k64)
    if s[0] == 0:
        return None
    tol = max(kh, kw) * np.finfo(compute).eps * s[0]
    r = int((s > tol).sum())
    if r > max_rank:
        return None
    root = np.sqrt(s[:r])
    u = (uu[:, :r] * root).T
    v = vh[:r] * root[:, None]
    approx = u.T @ v
    residual = float(np.linalg.norm(approx - k64) / np.linalg.norm(k64))
    real = np.dtype(compute).kind != "c"
    if real:
        u, v = u.real, v.real
    return Factors(np.ascontiguousarray(u, dtype=compute),
                   np.ascontiguousarray(v, dtype=compute), residual)


_compiled = None


def _compile():
    global _compiled
    if _compiled is not None:
        return _compiled
    from numba import njit, prange

    prim = _rows.get()
    fill_row, row_single, rows_combine = prim.fill_row, prim.row_single, prim.rows_combine
    jit = njit(cache=True, nogil=True, fastmath=_rows.FASTMATH)

    @jit
    def block(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, tmp):
        kh = u.shape[1]
        nring = kh
        filled = y0
        for y in range(y0, y1):
            while filled < y + kh:
                fill_row(ring[filled % nring], x, b, rowmap[filled], colmap, c0, c1, ox, fill)
                filled += 1
            o = out[b, y]
            for q in range(u.shape[0]):
                rows_combine(tmp, ring, y, nring, u[q], True)
                row_single(o, tmp, v[q], q == 0)

    @njit(cache=True, nogil=True)
    def run_serial(x, u, v, rowmap, colmap, c0, c1, ox, fill, out):
        wext = out.shape[2] + v.shape[1] - 1
        ring = np.empty((u.shape[1], wext), dtype=out.dtype)
        tmp = np.empty(wext, dtype=out.dtype)
        for b in range(out.shape[0]):
            block(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, b, 0, out.shape[1], ring, tmp)

    @njit(cache=True, nogil=True, parallel=True)
    def run_parallel(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, rows):
        nb = (out.shape[1] + rows - 1) // rows
        wext = out.shape[2] + v.shape[1] - 1
        for task in prange(out.shape[0] * nb):
            b = task // nb
            y0 = (task % nb) * rows
            y1 = min(out.shape[1], y0 + rows)
            ring = np.empty((u.shape[1], wext), dtype=out.dtype)
            tmp = np.empty(wext, dtype=out.dtype)
            block(x, u, v, rowmap, colmap, c0, c1, ox, fill, out, b, y0, y1, ring, tmp)

    _compiled = (run_serial, run_parallel)
    return _compiled



def correlate(x: np.ndarray, f: Factors, spec: ConvSpec, rowmap: np.ndarray,
              colmap: np.ndarray, interior: tuple[int, int], workers: int) -> np.ndarray:
    """Canonical correlation with a factored kernel.

    ``x`` is (B, H, W) C-contiguous in ``spec.compute_dtype`` (the factors'
    dtype). Returns a new (B, Ho, Wo) array of that dtype.
    """
    run_serial, run_parallel = _compile()
    dt = spec.compute_dtype
    out = np.empty((spec.batch,) + spec.out_shape, dtype=dt)
    fill = dt.type(spec.fillvalue)
    c0, c1 = interior
    ox = spec.offset[1]
    kh, kw = spec.kernel_shape
    args = (x, f.u, f.v, rowmap, colmap, c0, c1, ox, fill, out)
    _rows.dispatch(run_serial, run_parallel, args, spec.batch, spec.out_shape[0],
                   spec.out_pixels * f.rank * (kh + kw), workers)
    return out
