"""Winograd engine: F(4x4, 3x3) for 3x3, stride-1, undilated convolutions.

A 4x4 block of outputs is computed from the 6x6 input tile that covers it as

    Y = A^T [ U (.) V ] A,   U = G g G^T (the 3x3 kernel),  V = B^T d B (the tile)

so each output costs 36/16 = 2.25 multiplications per channel pair instead
of 9. Over channels the elementwise product becomes 36 independent GEMMs
``M[xi] = V[xi] @ U[xi]`` of shape (tiles x C) @ (C x K), done by numpy's BLAS.
The transforms run in Numba (:mod:`._jit_winograd`), vectorised over channels.

The matrices come from Toom-Cook interpolation at the points
(0, 1, -1, 2, -2, inf); :func:`matrices` builds them exactly (rationals) for
any points, and the Numba kernels hard-code the ones for these points.

Backward passes reuse the same machinery:

* the input gradient is the same kind of convolution of ``grad_y`` with the
  flipped, transposed kernel (padding ``2 - p``);
* the weight gradient is the adjoint of the forward algorithm,
  ``gU[xi] = V[xi]^T @ (A gY A^T)[xi]`` summed over tiles, then
  ``g_w = G^T gU G``: 36 GEMMs again.

Accuracy. The transforms multiply by up to 8 (A) and 5 (B) and divide by
24 (G), so rounding errors grow: measured on random normal data against a
float64 reference, max|error| / max|output| in float32 is

    ========================  ========  ==========  ============
    case                      output    input grad  weight grad
    ========================  ========  ==========  ============
    C = K = 16, 28x28, N=2     3.1e-6    2.7e-6      2.4e-6
    C = K = 64, 56x56, N=8     7.3e-6    6.4e-6      4.0e-6
    C = K = 256, 14x14         1.1e-5    8.8e-6      2.4e-6
    C = K = 512, 14x14         9.4e-6    9.4e-6      3.0e-6
    ========================  ========  ==========  ============

against 2e-7 .. 6e-7 for direct summation (im2col, and torch). ``ERROR_BOUND``
documents 1e-4 (the tests hold every case to it, and the small ones to
2e-5); in float64 the error is ~1e-15. A NaN or Inf in an input spreads
over the whole 4x4 output tile (0 * Inf in the transforms); the kernels
notice it, and with ``finite_only`` (what the planner asks for) the call
raises :class:`NonFinite` so that it can be redone by direct summation.

Work is split into tasks (one image and a block of tile rows: transform,
36 GEMMs, inverse transform, all on cache-sized data) run by :mod:`.threads`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from . import threads
from .geometry import Geometry

POINTS = (0, 1, -1, 2, -2)

# Documented bound on max|y - y_exact| / max|y_exact| in float32 for inputs
# whose values are of similar magnitude (the test suite checks against it).
# In float64 the error is ~1e-15 relative: the same algorithm, a smaller eps.
ERROR_BOUND = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-12}

# Bytes of transformed tiles (36 x tiles x channels) per task. Measured on
# the reference machine (2 MB L2 per core), P5 forward: tasks of half an
# image (0.9 MB) 6.6-7.1 ms, of whole 56^2 images (1.8 MB) 5.9-6.5 ms;
# longer GEMMs run nearer BLAS speed and the fixed cost per task shrinks.
TASK_BYTES = 2 << 20


def _solve_exact(a: list[list[Fraction]]) -> list[list[Fraction]]:
    """Inverse of a square matrix of Fractions (Gauss-Jordan, exact)."""
    n = len(a)
    m = [row[:] + [Fraction(int(i == j)) for j in range(n)] for i, row in enumerate(a)]
    for col in range(n):
        piv = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[piv] = m[piv], m[col]
        p = m[col][col]
        m[col] = [v / p for v in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                f = m[r][col]
                m[r] = [a - f * b for a, b in zip(m[r], m[col])]
    return [row[n:] for row in m]


def matrices(m: int = 4, r: int = 3, points=POINTS):
    """Exact Winograd matrices ``(A^T, B^T, G)`` of F(m, r) for ``points`` (+ inf).

    Derived by transposing Toom-Cook linear convolution (evaluate both
    polynomials at the points, multiply, interpolate): for correlation,
    ``y = A^T [(G g) * (B^T d)]`` with ``A^T`` the evaluation of the output
    polynomial, ``B^T`` the transposed interpolation matrix and ``G`` the
    evaluation of the kernel. Each row of ``B^T`` is scaled to integers with
    no common factor, the inverse scale going into ``G``. Returns lists of
    lists of Fractions.

    Examples
    --------
    >>> at, bt, g = matrices(2, 3, (0, 1, -1))
    >>> [[int(v) for v in row] for row in at]
    [[1, 1, 1, 0], [0, 1, -1, 1]]
    """
    n = m + r - 1
    pts = [Fraction(p) for p in points]
    if len(pts) != n - 1 or len(set(pts)) != n - 1:
        raise ValueError(f"F({m}, {r}) needs {n - 1} distinct finite points, got {points}")

    def evaluation(k: int) -> list[list[Fraction]]:
        rows = [[p ** j for j in range(k)] for p in pts]
        rows.append([Fraction(0)] * (k - 1) + [Fraction(1)])  # the point at infinity
        return rows

    ea, eg = evaluation(m), evaluation(r)
    inv = _solve_exact(evaluation(n))
    bt = [[inv[j][i] for j in range(n)] for i in range(n)]
    g = [row[:] for row in eg]
    for i in range(n):
        den = 1
        for v in bt[i]:
            den = den * v.denominator // _gcd(den, v.denominator)
        num = 0
        for v in bt[i]:
            num = _gcd(num, abs((v * den).numerator))
        scale = Fraction(den, num)
        bt[i] = [v * scale for v in bt[i]]
        g[i] = [v / scale for v in g[i]]
    at = [[ea[i][j] for i in range(n)] for j in range(m)]
    return at, bt, g


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


_G = np.array(matrices()[2], dtype=np.float64)
# (G x G)[(a, b), (r, s)] = G[a, r] G[b, s]: the 2-D kernel transform as one matrix.
_GG = np.kron(_G, _G)


class NonFinite(Exception):
    """An input held NaN or Inf and the caller asked for exact propagation."""


def supports(g: Geometry) -> str | None:
    """None if this engine computes ``g``, else the reason it does not."""
    if (g.r, g.s) != (3, 3):
        return f"kernel is {g.r}x{g.s}, not 3x3"
    if g.stride != (1, 1):
        return f"stride is {g.stride}, not 1"
    if g.dilation != (1, 1):
        return f"dilation is {g.dilation}, not 1"
    return None


def transform_weight(w: np.ndarray) -> np.ndarray:
    """U[6a+b, c, k] = (G w[k, c] G^T)[a, b], computed in float64 (one small GEMM),
    returned in w's dtype."""
    k, c = w.shape[:2]
    u = np.empty((36, c, k), np.float64)
    np.matmul(_GG, w.reshape(k, c, 9).transpose(2, 1, 0).reshape(9, c * k),
              out=u.reshape(36, c * k))
    return u.astype(w.dtype)


def _jit():
    # Compiled on first use so that importing faltung never loads Numba.
    from . import _jit_winograd

    return _jit_winograd


def _blocks(th: int, tw: int, channels: int, images: int, itemsize: int
            ) -> list[tuple[int, int]]:
    """Tile-row ranges of one image: about TASK_BYTES of transformed tiles each,
    and enough blocks over the batch for every thread to have two tasks."""
    per = max(32, TASK_BYTES // (36 * itemsize * max(1, channels)))
    nblk = max(round(th * tw / per), -(-2 * threads.cpu_count() // max(1, images)))
    nblk = min(th, max(1, nblk))
    edges = [th * b // nblk for b in range(nblk + 1)]
    return list(zip(edges[:-1], edges[1:]))


def _conv(x: np.ndarray, u: np.ndarray, pt: int, pl: int, bias: np.ndarray,
          y: np.ndarray, finite_only: bool) -> None:
    """y = bias + correlation of x (zero-extended: x[0, 0] sits at (pt, pl)) with
    the 3x3 kernel behind u.

    x (N, C, H, W) and y (N, K, Ho, Wo) are C-contiguous; u is (36, C, K).
    One task per image and block of tile rows: transform, 36 GEMMs, inverse
    transform, all on cache-sized data. With ``finite_only``, NaN or Inf in
    x raises NonFinite (the transforms spread them over whole 4x4 tiles).
    """
    jit = _jit()
    c = x.shape[1]
    th, tw = -(-y.shape[2] // 4), -(-y.shape[3] // 4)

    def task(n, i0, i1):
        v = np.empty((36, (i1 - i0) * tw, c), x.dtype)
        poison = jit.input_tiles(x, n, pt, pl, i0, i1, tw, v)
        if finite_only and poison != 0:
            return False
        m = np.matmul(v, u)
        jit.output_tiles(m, n, i0, i1, tw, bias, y)
        return True

    blocks = _blocks(th, tw, max(c, u.shape[2]), x.shape[0], x.itemsize)
    done = threads.run(task, [(n, i0, i1) for n in range(x.shape[0]) for i0, i1 in blocks])
    if not all(done):
        raise NonFinite


def _group(a: np.ndarray, groups: int, gi: int) -> np.ndarray:
    if groups == 1:
        return a
    step = a.shape[1] // groups
    return np.ascontiguousarray(a[:, gi * step:(gi + 1) * step])


def forward(x: np.ndarray, w: np.ndarray, bias: np.ndarray | None, g: Geometry,
            finite_only: bool = False) -> np.ndarray:
    """conv2d forward (zero padding ``g.pad``); x, w C-contiguous in one dtype.

    ``finite_only``: raise NonFinite instead of computing when x holds NaN or
    Inf (which Winograd spreads over 4x4 output tiles).
    """
    kg = g.k // g.groups
    y = np.empty((g.n, g.k) + g.out, x.dtype)
    b = np.zeros(g.k, x.dtype) if bias is None else bias
    for gi in range(g.groups):
        u = transform_weight(w[gi * kg:(gi + 1) * kg])
        if g.groups == 1:
            _conv(x, u, g.pad[0], g.pad[2], b, y, finite_only)
        else:
            yg = np.empty((g.n, kg) + g.out, x.dtype)
            _conv(_group(x, g.groups, gi), u, g.pad[0], g.pad[2],
                  np.ascontiguousarray(b[gi * kg:(gi + 1) * kg]), yg, finite_only)
            y[:, gi * kg:(gi + 1) * kg] = yg
    return y


def backward_data(dy: np.ndarray, w: np.ndarray, g: Geometry,
                  finite_only: bool = False) -> np.ndarray:
    """Gradient of conv2d with respect to its (zero-padded) input, shape (N, C, H, W)."""
    kg, cg = g.k // g.groups, g.c // g.groups
    gx = np.empty((g.n, g.c, g.h, g.w), dy.dtype)
    zero = np.zeros(cg, dy.dtype)
    for gi in range(g.groups):
        # Correlating grad_y with the flipped, transposed kernel, padded by
        # 2 - p, gives the input gradient (a negative pad crops).
        wt = np.ascontiguousarray(w[gi * kg:(gi + 1) * kg, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        u = transform_weight(wt)
        if g.groups == 1:
            _conv(dy, u, 2 - g.pad[0], 2 - g.pad[2], zero, gx, finite_only)
        else:
            part = np.empty((g.n, cg, g.h, g.w), dy.dtype)
            _conv(_group(dy, g.groups, gi), u, 2 - g.pad[0], 2 - g.pad[2], zero, part,
                  finite_only)
            gx[:, gi * cg:(gi + 1) * cg] = part
    return gx


def backward_weight(dy: np.ndarray, x: np.ndarray, g: Geometry,
                    finite_only: bool = False) -> np.ndarray:
    """Gradient of conv2d with respect to its weight, shape (K, C/groups, 3, 3)."""
    jit = _jit()
    kg, cg = g.k // g.groups, g.c // g.groups
    th, tw = -(-g.out[0] // 4), -(-g.out[1] // 4)
    gw = np.empty((g.k, cg, 3, 3), dy.dtype)
    blocks = _blocks(th, tw, max(cg, kg), g.n, x.itemsize)
    items = [(n, i0, i1) for n in range(g.n) for i0, i1 in blocks]
    # Tasks take several items and sum their GEMMs in float64.
    ntask = min(len(items), 2 * threads.cpu_count())
    for gi in range(g.groups):
        xg, dyg = _group(x, g.groups, gi), _group(dy, g.groups, gi)

        def task(part, xg=xg, dyg=dyg):
            acc = np.zeros((36, cg, kg), np.float64)
            for n, i0, i1 in part:
                t = (i1 - i0) * tw
                v = np.empty((36, t, cg), x.dtype)
                poison = jit.input_tiles(xg, n, g.pad[0], g.pad[2], i0, i1, tw, v)
                d = np.empty((36, t, kg), dy.dtype)
                poison += jit.grad_tiles(dyg, n, i0, i1, tw, d)
                if finite_only and poison != 0:
                    return None
                acc += np.matmul(v.transpose(0, 2, 1), d)
            return acc

        parts = threads.run(task, [(items[i::ntask],) for i in range(ntask)])
        if any(p is None for p in parts):
            raise NonFinite
        gu = sum(parts)
        # g_w[k, c] = G^T gU[:, c, k] G, in float64.
        gw[gi * kg:(gi + 1) * kg] = (_GG.T @ gu.reshape(36, cg * kg)).reshape(
            3, 3, cg, kg).transpose(3, 2, 0, 1)
    return gw
