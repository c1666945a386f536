"""Rank-filter engine: median, any rank (percentile), minimum and maximum.

``out[b, y, x]`` is the ``rank``-th smallest (0-based) of the boundary-extended
image under a boolean footprint placed at ``(y + oy, x + ox)``. The engine
knows nothing of the public conventions: the ``faltung.ndimage`` and
``faltung.cv`` wrappers turn sizes, origins, anchors and percentiles into a
footprint, a rank and an offset.

Algorithms (picked by :func:`choose`, forced with ``method=``):

``minmax``
    rank 0 or ``n - 1``. A rectangle is separable: van Herk / Gil-Werman over
    rows (3 operations per pixel, any height; rows combined directly up to
    4) and window doubling along rows (``log2(kw) + 1`` operations), both
    vectorised over x. Other footprints are a minimum over their horizontal
    runs, two lookups per run in a per-row sparse table.
``network``
    compare-exchange networks of branch-free min/max, vectorised over x,
    every dtype. The median of a full 3x3 or 5x5 window sorts the window's
    columns once per pair of output rows and selects from the presorted
    columns (12 / 104 operations per pixel). Any other rank of a footprint
    of up to 25 elements runs a selection network generated for it
    (Batcher's merge-exchange sort cut down to the one output) on chunks of
    a row.
``histogram``
    everything else: Huang's sliding histogram. 8-bit values are their own
    levels (256 counts; a full rectangle updates one histogram shared by two
    output rows). Other dtypes are cut into tiles about three footprints
    wide; each tile's extended region is sorted once (numpy's vectorised sort
    of packed (key, index) pairs, or argsort for 64-bit values) and its
    values replaced by their distinct positions in that order, so the
    window is a set kept as a bitmap. The window snakes through the tile
    (two updates per footprint run and step) and the answer is tracked by
    popcounts, a few word operations per pixel whatever the dtype.

Threads: row blocks (or tile rows) go to a shared pool; the calling thread
works too and every thread takes the next block, so on a busy machine a
helper that is not scheduled in time costs nothing.

NaN policy (floats): a NaN anywhere in a window makes that output NaN, for
median, rank, minimum and maximum alike (as ``np.median`` / ``np.min`` of the
window). With ``boundary='constant'`` a NaN ``fill`` counts as a NaN in every
window that reaches outside the image. The ``minmax`` and ``network``
kernels note NaN while they read the image and the ``histogram`` path checks
with one reduction; only an image with NaN pays for the NaN-aware pass (the
filter of the image with NaN replaced, then a maximum filter of the NaN mask).
``-0.0`` and ``0.0`` compare equal, so either may be returned where both are
in a window; ``inf`` and ``-inf`` order as usual.

Examples
--------
>>> import numpy as np
>>> from faltung.engines import rank
>>> x = np.array([[[1, 9, 2, 8, 3]]], dtype=np.uint8)
>>> rank.rank_filter(x, np.ones((1, 3), bool), 1, (0, -1), "symmetric", np.uint8(0), 1)
array([[[1, 2, 8, 3, 3]]], dtype=uint8)
"""

from __future__ import annotations

import itertools
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .. import _boundary

DTYPES = tuple(np.dtype(t) for t in (np.uint8, np.uint16, np.int8, np.int16, np.int32, np.int64,
                                     np.uint32, np.uint64, np.float32, np.float64))
METHODS = ("minmax", "network", "histogram")
# footprints of up to this many elements use a selection network for any rank
_NETWORK_MAX = 25


# --------------------------------------------------------------------------- public


def rank_filter(x: np.ndarray, footprint: np.ndarray, rank: int, offset: tuple[int, int],
                boundary: str, fill, workers: int, *, method: str | None = None) -> np.ndarray:
    """Rank filter of a batch of images under a boolean footprint.

    Parameters
    ----------
    x : ndarray, shape (B, H, W)
        One of the dtypes in :data:`DTYPES`; not modified.
    footprint : ndarray of bool, shape (kh, kw)
        At least one True element; ``n`` is the number of True elements.
    rank : int
        ``0 <= rank < n``: 0 is the minimum, ``n - 1`` the maximum and
        ``n // 2`` the median as scipy.ndimage takes it.
    offset : (int, int)
        ``(oy, ox)``: footprint element ``(i, j)`` of output pixel ``(y, x)``
        reads extended pixel ``(y + oy + i, x + ox + j)``; ndimage's
        ``origin`` gives ``-(k // 2 + origin)`` per axis.
    boundary : str
        One of :data:`faltung._boundary.KINDS`.
    fill : scalar
        The value outside the image for ``'constant'`` (in ``x``'s dtype).
    workers : int
        Threads (>= 1).
    method : {None, 'minmax', 'network', 'histogram'}
        Force an algorithm (None: :func:`choose`). ``ValueError`` if it does
        not apply.

    Returns
    -------
    ndarray, shape (B, H, W), dtype of ``x``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    >>> rank_filter(x, np.ones((3, 3), bool), 4, (-1, -1), "nearest", np.float32(0), 1)[0]
    array([[ 1.,  2.,  3.,  3.],
           [ 4.,  5.,  6.,  7.],
           [ 8.,  9., 10., 11.],
           [12., 12., 13., 14.]], dtype=float32)
    """
    x, fp, rank, (oy, ox), boundary, fill, workers = _check(x, footprint, rank, offset,
                                                            boundary, fill, workers)
    fp, oy, ox = _trim(fp, oy, ox)
    n = int(fp.sum())
    chosen = choose(x.dtype, fp, rank, method)
    if x.size == 0:
        return np.empty(x.shape, x.dtype)
    if x.dtype.kind == "f":
        if boundary == "constant" and np.isnan(fill):
            return _with_nan(x, fp, rank, n, oy, ox, boundary, fill, True, workers, chosen)
        if chosen == "histogram" and np.isnan(np.min(x)):
            return _with_nan(x, fp, rank, n, oy, ox, boundary, fill, False, workers, chosen)
    out, nan_seen = _run(x, fp, rank, n, oy, ox, boundary, fill, workers, chosen)
    if nan_seen:
        # the min/max and network kernels note NaN as they read rows; only
        # then is the result recomputed the NaN-aware way
        return _with_nan(x, fp, rank, n, oy, ox, boundary, fill, False, workers, chosen)
    return out


def median(x: np.ndarray, footprint: np.ndarray, offset: tuple[int, int], boundary: str, fill,
           workers: int) -> np.ndarray:
    """Median (rank ``n // 2`` of the ``n`` footprint elements, as scipy.ndimage).

    Examples
    --------
    >>> import numpy as np
    >>> median(np.array([[[5, 1, 4]]], np.int16), np.ones((1, 3), bool), (0, -1),
    ...        "nearest", np.int16(0), 1)
    array([[[5, 4, 4]]], dtype=int16)
    """
    n = int(np.count_nonzero(footprint))
    return rank_filter(x, footprint, n // 2, offset, boundary, fill, workers)


def minimum(x: np.ndarray, footprint: np.ndarray, offset: tuple[int, int], boundary: str, fill,
            workers: int) -> np.ndarray:
    """Minimum over the footprint (rank 0).

    Examples
    --------
    >>> import numpy as np
    >>> minimum(np.array([[[5, 1, 4]]], np.float64), np.ones((1, 2), bool), (0, 0),
    ...         "wrap", 0.0, 1)
    array([[[1., 1., 4.]]])
    """
    return rank_filter(x, footprint, 0, offset, boundary, fill, workers)


def maximum(x: np.ndarray, footprint: np.ndarray, offset: tuple[int, int], boundary: str, fill,
            workers: int) -> np.ndarray:
    """Maximum over the footprint (rank ``n - 1``).

    Examples
    --------
    >>> import numpy as np
    >>> maximum(np.array([[[5, 1, 4]]], np.uint16), np.ones((1, 2), bool), (0, 0),
    ...         "constant", np.uint16(7), 1)
    array([[[5, 4, 7]]], dtype=uint16)
    """
    n = int(np.count_nonzero(footprint))
    return rank_filter(x, footprint, n - 1, offset, boundary, fill, workers)


def choose(dtype: np.dtype, footprint: np.ndarray, rank: int, method: str | None = None) -> str:
    """The algorithm :func:`rank_filter` uses (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> choose(np.dtype(np.uint8), np.ones((3, 3), bool), 0)
    'minmax'
    >>> choose(np.dtype(np.float32), np.ones((7, 7), bool), 24)
    'histogram'
    """
    fp, _, _ = _trim(np.asarray(footprint, dtype=bool), 0, 0)
    n = int(fp.sum())
    usable = {"histogram"}
    if rank == 0 or rank == n - 1:
        usable.add("minmax")
    if _median_kernel(fp, rank) or (n <= _NETWORK_MAX and 0 < rank < n - 1):
        usable.add("network")
    if method is not None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS} or None, got {method!r}")
        if method not in usable:
            raise ValueError(f"method {method!r} does not apply to rank {rank} of a "
                             f"{fp.shape[0]}x{fp.shape[1]} footprint with {n} elements "
                             f"(usable: {sorted(usable)})")
        return method
    for m in ("minmax", "network"):
        if m in usable:
            return m
    return "histogram"


# --------------------------------------------------------------------------- checks


def _check(x, footprint, rank, offset, boundary, fill, workers):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"x must be a numpy array, got {type(x).__name__}")
    if x.ndim != 3:
        raise ValueError(f"x must have shape (B, H, W), got {x.ndim} dimensions {x.shape}")
    if x.dtype.newbyteorder("=") not in DTYPES:
        raise TypeError(f"x has dtype {x.dtype}; allowed: {', '.join(map(str, DTYPES))}")
    x = np.ascontiguousarray(x, dtype=x.dtype.newbyteorder("="))
    fp = np.asarray(footprint)
    if fp.dtype != bool:
        raise TypeError(f"footprint must be a bool array, got dtype {fp.dtype}")
    if fp.ndim != 2:
        raise ValueError(f"footprint must be 2-D (kh, kw), got shape {fp.shape}")
    n = int(np.count_nonzero(fp))
    if n == 0:
        raise ValueError(f"footprint of shape {fp.shape} has no True element")
    if isinstance(rank, (bool, np.bool_)) or not isinstance(rank, (int, np.integer)):
        raise TypeError(f"rank must be an integer, got {type(rank).__name__}")
    if not 0 <= rank < n:
        raise ValueError(f"rank must be in [0, {n - 1}] for a footprint of {n} elements, "
                         f"got {rank}")
    try:
        oy, ox = (int(v) for v in offset)
    except (TypeError, ValueError):
        raise ValueError(f"offset must be two integers (oy, ox), got {offset!r}") from None
    if boundary not in _boundary.KINDS:
        raise ValueError(f"boundary must be one of {_boundary.KINDS}, got {boundary!r}")
    if isinstance(workers, (bool, np.bool_)) or not isinstance(workers, (int, np.integer)):
        raise TypeError(f"workers must be an integer, got {type(workers).__name__}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    if boundary == "constant":
        fill = _fill_value(fill, x.dtype)
    else:
        fill = x.dtype.type(0)
    return x, fp, int(rank), (oy, ox), boundary, fill, int(workers)


def _fill_value(fill, dtype):
    try:
        v = np.asarray(fill)
    except Exception:  # noqa: BLE001 - anything unconvertible is a TypeError here
        v = None
    if v is None or v.shape != () or v.dtype.kind not in "biuf":
        raise TypeError(f"fill must be a real scalar, got {fill!r}")
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if v.dtype.kind == "f" and not (np.isfinite(v) and v == np.floor(v)):
            raise ValueError(f"fill {fill!r} is not an integer value of dtype {dtype}")
        if not info.min <= int(v) <= info.max:
            raise ValueError(f"fill {fill!r} does not fit dtype {dtype} "
                             f"([{info.min}, {info.max}])")
        return dtype.type(int(v))
    return dtype.type(v)


def _trim(fp, oy, ox):
    """Drop all-False border rows/columns of the footprint (shifting the offset)."""
    if fp.all():
        return fp, oy, ox
    rows = np.flatnonzero(fp.any(axis=1))
    cols = np.flatnonzero(fp.any(axis=0))
    if rows.size == 0:
        return fp, oy, ox
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return np.ascontiguousarray(fp[r0:r1, c0:c1]), oy + r0, ox + c0


# --------------------------------------------------------------------------- running


def _with_nan(x, fp, rank, n, oy, ox, boundary, fill, fill_nan, workers, chosen):
    nan = np.isnan(x)
    clean = np.where(nan, x.dtype.type(0), x)
    res, _ = _run(clean, fp, rank, n, oy, ox, boundary, x.dtype.type(0) if fill_nan else fill,
                  workers, chosen)
    # a window holds a NaN exactly where the maximum of the NaN mask is 1
    hit, _ = _run(nan.view(np.uint8), fp, n - 1, n, oy, ox, boundary, np.uint8(fill_nan),
                  workers, "minmax")
    res[hit.view(bool)] = np.nan
    return res


def _tables(shape, fp, oy, ox, boundary):
    _, h, w = shape
    kh, kw = fp.shape
    rowmap = _boundary.index_table(oy, h + kh - 1, h, boundary)
    colmap = _boundary.index_table(ox, w + kw - 1, w, boundary)
    c0, c1 = _boundary.interior(colmap, ox)
    return rowmap, colmap, c0, c1


# Order-preserving maps of signed integers onto unsigned ones (flip the sign
# bit): the min/max and network kernels are compiled for six dtypes only.
_UNSIGNED = {np.dtype(np.int8): np.dtype(np.uint8), np.dtype(np.int16): np.dtype(np.uint16),
             np.dtype(np.int32): np.dtype(np.uint32), np.dtype(np.int64): np.dtype(np.uint64)}


def _to_unsigned(x, fill):
    u = _UNSIGNED.get(x.dtype)
    if u is None:
        return x, fill, None
    bias = u.type(1 << (8 * u.itemsize - 1))
    return x.view(u) ^ bias, np.asarray(fill, x.dtype).view(u)[()] ^ bias, (x.dtype, bias)


def _from_unsigned(res, back):
    if back is None:
        return res
    dt, bias = back
    res ^= bias
    return res.view(dt)


def _run(x, fp, rank, n, oy, ox, boundary, fill, workers, chosen):
    """(result, whether a float kernel saw a NaN, which makes the result void)."""
    if chosen == "minmax":
        return _minmax(x, fp, rank == n - 1, oy, ox, boundary, fill, workers)
    if chosen == "network":
        return _network(x, fp, rank, oy, ox, boundary, fill, workers)
    return _histogram(x, fp, rank, oy, ox, boundary, fill, workers), False


def _jit():
    # Numba kernels are imported (and compiled) on first use only: importing
    # faltung never loads Numba.
    from ._jit import rank as nb

    return nb


def _minmax(x, fp, is_max, oy, ox, boundary, fill, workers):
    nb = _jit()
    x, fill, back = _to_unsigned(x, fill)
    rowmap, colmap, c0, c1 = _tables(x.shape, fp, oy, ox, boundary)
    out = np.empty(x.shape, x.dtype)
    nanflag = np.zeros(1, np.uint8)
    kh, kw = fp.shape
    b, h, w = x.shape
    if fp.all():
        args = (x, kh, kw, is_max, rowmap, colmap, c0, c1, ox, fill, out, nanflag)
        ns = 0.1 * x.dtype.itemsize * (3 + np.log2(kw))
        _by_rows(nb.mm_rect_rows, args, b, h, w, ns, workers)
    else:
        runs = _runs(fp)
        lengths = runs[:, 2] - runs[:, 1]
        levels = np.floor(np.log2(lengths)).astype(np.int64)
        table = np.stack([runs[:, 0], runs[:, 1], lengths, levels], axis=1)
        args = (x, np.ascontiguousarray(table), kh, int(levels.max()) + 1, is_max, rowmap,
                colmap, c0, c1, ox, fill, out, nanflag)
        ns = 0.1 * x.dtype.itemsize * (2 * len(runs) + int(levels.max()) + 1)
        _by_rows(nb.mm_runs_rows, args, b, h, w, ns, workers)
    return _from_unsigned(out, back), bool(nanflag[0])


def _network(x, fp, rank, oy, ox, boundary, fill, workers):
    from ._jit import rank_net as nb

    x, fill, back = _to_unsigned(x, fill)
    rowmap, colmap, c0, c1 = _tables(x.shape, fp, oy, ox, boundary)
    out = np.empty(x.shape, x.dtype)
    nanflag = np.zeros(1, np.uint8)
    kh, kw = fp.shape
    b, h, w = x.shape
    n = int(fp.sum())
    if _median_kernel(fp, rank):
        args = (x, kh, rowmap, colmap, c0, c1, ox, fill, out, nanflag)
        # measured serial cost; 8-bit rows cost more than their size suggests
        ns = 0.2 + (0.15 if kh == 3 else 1.0) * x.dtype.itemsize
        _by_rows(nb.med_rows, args, b, h, w, ns, workers)
    else:
        ops, nslots, outslot = selection_network(n, rank)
        fy, fx = (np.ascontiguousarray(a, dtype=np.int64) for a in np.nonzero(fp))
        args = (x, kh, fy, fx, ops, nslots, outslot, rowmap, colmap, c0, c1, ox, fill, out,
                nanflag)
        ns = 0.1 * x.dtype.itemsize * (len(ops) + n)
        _by_rows(nb.select_rows, args, b, h, w, ns, workers)
    return _from_unsigned(out, back), bool(nanflag[0])


def _median_kernel(fp, rank):
    """Whether the dedicated 3x3 / 5x5 median kernels apply."""
    return fp.shape in ((3, 3), (5, 5)) and rank == fp.size // 2 and bool(fp.all())


def _merge_exchange(n):
    """Comparator pairs (i < j: min to i) of Batcher's merge-exchange sort of n wires
    (Knuth, TAOCP 5.2.2, Algorithm M)."""
    pairs = []
    t = max(1, (n - 1).bit_length())
    p = 1 << (t - 1)
    while p > 0:
        q, r, d = 1 << (t - 1), 0, p
        while True:
            pairs.extend((i, i + d) for i in range(n - d) if i & p == r)
            if q == p:
                break
            d, q, r = q - p, q >> 1, p
        p >>= 1
    return pairs


_networks: dict = {}


def selection_network(n: int, rank: int) -> tuple[np.ndarray, int, int]:
    """(ops, slots, output slot): a min/max program whose output is element ``rank``
    (0-based, ascending) of its ``n`` inputs (slots 0..n-1).

    Batcher's sorting network, cut down to the comparators the chosen output
    depends on, keeping only the min or max half of a comparator where the
    other is unused; temporaries reuse dead slots but never an operand's.

    Examples
    --------
    >>> ops, slots, out = selection_network(3, 1)
    >>> len(ops), slots >= 3
    (4, True)
    """
    key = (n, rank)
    if key in _networks:
        return _networks[key]
    wire = list(range(n))
    defs = []  # (kind, operand, operand), value id = n + index
    for i, j in _merge_exchange(n):
        a, b = wire[i], wire[j]
        defs.append((0, a, b))
        defs.append((1, a, b))
        wire[i], wire[j] = n + len(defs) - 2, n + len(defs) - 1
    result = wire[rank]
    live = {result}
    for v in range(n + len(defs) - 1, n - 1, -1):
        if v in live:
            live.update(defs[v - n][1:])
    order = [v for v in range(n, n + len(defs)) if v in live]
    last = {}
    for v in order:
        for a in defs[v - n][1:]:
            last[a] = v
    slot = {i: i for i in range(n)}
    free: list[int] = []
    nslots = n
    ops = []
    for v in order:
        kind, a, b = defs[v - n]
        if free:
            slot[v] = free.pop()
        else:
            slot[v] = nslots
            nslots += 1
        ops.append((kind, slot[v], slot[a], slot[b]))
        for u in {a, b}:
            if last.get(u) == v and u != result:
                free.append(slot[u])
    res = (np.array(ops, dtype=np.int64).reshape(-1, 4), nslots, slot[result])
    _networks[key] = res
    return res


def _runs(fp):
    """(row, first column, end column) of every horizontal run of True."""
    out = []
    for i, row in enumerate(fp):
        d = np.diff(np.concatenate(([0], row.astype(np.int8), [0])))
        starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
        out.extend((i, int(s), int(e)) for s, e in zip(starts, ends))
    return np.array(out, dtype=np.int64).reshape(-1, 3)


def _histogram(x, fp, rank, oy, ox, boundary, fill, workers):
    nb = _jit()
    b, h, w = x.shape
    kh, kw = fp.shape
    rowmap = _boundary.index_table(oy, h + kh - 1, h, boundary)
    colmap = _boundary.index_table(ox, w + kw - 1, w, boundary)
    runs = _runs(fp)
    if x.dtype.itemsize == 1:
        # 8-bit values are their own levels
        u, f, back = _to_unsigned(x, fill)
        lev = _boundary.extend(u, rowmap, colmap, f, oy, ox)
        out = np.empty(x.shape, np.uint8)
        if fp.all() and kh > 1:
            _by_rows(nb.hist8r_rows, (lev, kh, kw, rank, out), b, h, w, 2.0 * kh, workers)
        else:
            _by_rows(nb.hist8_rows, (lev, rank, runs, out), b, h, w, 4.0 * len(runs), workers)
        return _from_unsigned(out, back)
    # Other dtypes: levels are ranks within a tile's extended region.
    vruns = _runs(fp.T)
    th, tw = _tile_shape(kh, kw, h, w)
    nty, ntx = -(-h // th), -(-w // tw)
    rh, rw = th + kh - 1, tw + kw - 1
    # whole tiles only: the extension goes on past the last tile's edge (those
    # cells are sorted but never read)
    rowmap = _boundary.index_table(oy, nty * th + kh - 1, h, boundary)
    colmap = _boundary.index_table(ox, ntx * tw + kw - 1, w, boundary)
    key_view, mode = _key_view(x.dtype)
    out = np.empty(x.shape, x.dtype)
    where = np.empty((h, w), np.int64)
    for i in range(b):
        ext = _boundary.extend(x[i], rowmap, colmap, fill, oy, ox)

        def band(ty, ext=ext):
            if key_view is not None:
                # one sort of (key, index) pairs packed in 64 bits: numpy's
                # vectorised sort is several times faster than its argsort
                packed = np.empty((ntx, rh * rw), np.uint64)
                nb.pack_tiles(ext.view(key_view), mode, ty, th, tw, rh, rw, packed)
                packed.sort(axis=1)
                order = _low_halves(packed)
            else:
                s0, s1 = ext.strides
                tiles = np.lib.stride_tricks.as_strided(
                    ext[ty * th:], (ntx, rh, rw), (tw * s1, s0, s1), writeable=False)
                order = np.argsort(tiles.reshape(ntx, rh * rw), axis=1)
                order = _low_halves(order.astype(np.int64, copy=False))
            nb.tiles_run(ext.shape[1], order, ty, th, tw, rh, rw, runs, vruns, rank, where,
                         h, w)

        _spread(band, nty, workers if h * w * 8.0 * len(runs) > _PARALLEL_NS else 1)
        np.take(ext.ravel(), where, out=out[i])
    return out


def _key_view(dt):
    """(unsigned view dtype, pack_tiles mode) for dtypes of at most 4 bytes, else (None, 0)."""
    if dt.itemsize > 4:
        return None, 0
    view = np.dtype(f"u{dt.itemsize}")
    return view, {"u": 0, "i": 1, "f": 2}[dt.kind]


# A tile's extended region is about _TILE_SCALE footprints wide (at least
# _TILE_MIN): larger regions cost fewer sorted elements per output pixel
# but spread the window's levels thinner, so the answer moves over more
# bitmap words from pixel to pixel.
_TILE_SCALE = 3
_TILE_MIN = 24


def _tile_shape(kh, kw, h, w):
    """Output tile (th, tw) of the tiled histogram."""
    th = max(_TILE_MIN, _TILE_SCALE * kh) - kh + 1
    tw = max(_TILE_MIN, _TILE_SCALE * kw) - kw + 1
    return min(h, th), min(w, tw)


def _low_halves(a):
    """The low 32 bits of each element of a (n, m) 64-bit array, as a uint32 view."""
    if sys.byteorder == "little":
        return a.view(np.uint32)[:, ::2]
    return (a & 0xFFFFFFFF).astype(np.uint32)


# --------------------------------------------------------------------------- threads

# Below this estimated serial time (ns) a call runs on the calling thread only:
# a helper thread pays off only if it is scheduled at once, and a helper that
# is preempted in the middle of its block makes the call wait for it.
_PARALLEL_NS = 1_000_000

_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _helpers(n):
    """A shared pool of at least ``n`` threads (created on first use)."""
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n:
            # the old pool is not shut down: a call running elsewhere may still
            # submit to it; its idle threads end when it is collected
            _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="faltung-rank")
            _pool_size = n
        return _pool


def _spread(task, ntasks, workers):
    """Run ``task(i)`` for every ``i < ntasks`` on up to ``workers`` threads.

    The calling thread works too, and every thread takes the next task not yet
    taken. On a busy machine a helper that is not scheduled in time finds no
    work left (or is cancelled before it starts), so the call never waits a
    scheduler time slice for a thread, as a fork-join parallel region does.
    The Numba kernels release the GIL; numpy's sorts run without it too.
    """
    if workers <= 1 or ntasks <= 1:
        for i in range(ntasks):
            task(i)
        return
    counter = itertools.count()

    def worker():
        for i in counter:
            if i >= ntasks:
                return
            task(i)

    pool = _helpers(min(workers, ntasks) - 1)
    futures = [pool.submit(worker) for _ in range(min(workers, ntasks) - 1)]
    try:
        worker()
    finally:
        for f in futures:
            if not f.cancel():
                f.result()


def _by_rows(kernel, args, b, h, w, ns_per_pixel, workers):
    """Call ``kernel(*args, image, y0, y1)`` over blocks of output rows."""
    if workers <= 1 or b * h * w * ns_per_pixel < _PARALLEL_NS:
        for i in range(b):
            kernel(*args, i, 0, h)
        return
    per_image = max(1, min(-(-h // 16), -(-4 * workers // b)))
    rows = -(-h // per_image)
    rows += rows % 2  # the pair kernels like even blocks

    def task(t):
        i, y0 = divmod(t, per_image)
        y0 *= rows
        if y0 < h:
            kernel(*args, i, y0, min(h, y0 + rows))

    _spread(task, b * per_image, workers)
