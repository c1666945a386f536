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
    key = (k.tobytes(), k.shape, k.dtype.str, compute.str, max_rank)
    if key in _cache:
        return _cache[key]
    k64 = k.astype(np.complex128 if compute.kind == "c" else np.float64)
    if not np.isfinite(k64).all():
        return None
    # Singular values alone are ~50x cheaper than the full SVD: reject
    # full-rank kernels before paying for the vectors.
    s = np.linalg.svd(k64, compute_uv=False)
    tol = max(kh, kw) * np.finfo(compute).eps * s[0]
    r = int((s > tol).sum())
    if s[0] == 0 or r > max_rank:
        _remember(key, None)
        return None
    uu, s, vh = np.linalg.svd(k64)
    root = np.sqrt(s[:r])
    u = (uu[:, :r] * root).T
    v = vh[:r] * root[:, None]
    # relative residual from the dropped singular values (no overflow-prone
    # reconstruction for kernels with extreme magnitudes)
    sn = s / s[0]
    residual = float(np.sqrt((sn[r:] ** 2).sum() / (sn ** 2).sum()))
    real = np.dtype(compute).kind != "c"
    if real:
        u, v = u.real, v.real
    f = Factors(np.ascontiguousarray(u, dtype=compute),
                np.ascontiguousarray(v, dtype=compute), residual)
    _remember(key, f)
    return f


# Recently factored kernels: one-shot calls with the same kernel skip the SVD.
_cache: dict = {}


def _remember(key, value) -> None:
    if len(_cache) >= 64:
        _cache.pop(next(iter(_cache)))
    _cache[key] = value


def _compile():
    # The Numba kernels live in their own module, imported (and compiled) on
    # first use so that importing faltung never loads Numba.
    from ._jit import separable as nb

    return nb.run_serial, nb.run_parallel



def correlate(x: np.ndarray, f: Factors, spec: ConvSpec, rowmap: np.ndarray,
              colmap: np.ndarray, interior: tuple[int, int], workers: int,
              out: np.ndarray | None = None) -> np.ndarray:
    """Canonical correlation with a factored kernel.

    ``x`` is (B, H, W) C-contiguous in ``spec.compute_dtype`` (the factors'
    dtype). Returns a new (B, Ho, Wo) array of that dtype.
    """
    run_serial, run_parallel = _compile()
    out, fill, c0, c1, ox = _rows.setup(spec, interior, out)
    kh, kw = spec.kernel_shape
    args = (x, f.u, f.v, rowmap, colmap, c0, c1, ox, fill, out)
    _rows.dispatch(run_serial, run_parallel, args, spec.batch, spec.out_shape[0],
                   spec.out_pixels * f.rank * (kh + kw), workers)
    return out


def correlate_framed(center: np.ndarray, band: np.ndarray, side: np.ndarray, top: int,
                     left: int, f: Factors, out: np.ndarray) -> np.ndarray:
    """Correlation of one window given as a centre and the frame around it.

    The window (H, W) is ``center`` (hc, wc) at rows ``top..top+hc``, columns
    ``left..left+wc``; ``band`` (H - hc, W) holds the rows above and below it,
    ``side`` (hc, W - wc) the columns left and right of it on the centre's
    rows. A chunked array's stored chunk is then read where it lies, only the
    frame (its halo) being copied; each row goes through the ring buffer as
    in :func:`correlate`, so the result equals it bit for bit. ``out`` is the
    C-contiguous (H - kh + 1, W - kw + 1) result in the factors' dtype.
    """
    from ._jit import separable as nb

    nb.run_framed(center, band, side, top, left, f.u, f.v, out)
    return out

