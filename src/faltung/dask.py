"""faltung on Dask arrays: chunked, distributed and out-of-core filtering.

The functions here take a :class:`dask.array.Array` (a NumPy array is
wrapped with :func:`dask.array.asarray`) and return a lazy Dask array. They
have the signatures of their in-memory counterparts - :func:`convolve2d` and
:func:`correlate2d` as :func:`faltung.convolve2d`, the filters as
:mod:`faltung.ndimage` - and the result **equals the in-memory result bit for
bit**, for every mode, boundary and dtype, at the outer edges too:

* The outer edges are extended with faltung's own index mapping
  (:func:`faltung._boundary.index_table`), never with Dask's boundary names,
  so ``symmetric``, ``mirror``, ``nearest``, ``wrap`` (also repeated, for
  kernels larger than the image) and ``constant`` mean what they mean in
  memory.
* Halos: each output block is computed by ``map_blocks`` on its *window* -
  its chunk plus the kernel's reach per axis, ``(k - 1) // 2`` samples before
  and ``k // 2`` after, with the boundary rule applied beyond the image. A
  window is assembled in one copy from slices cut where the neighbouring
  chunks live (on a cluster only the halos travel); Dask's ``map_overlap``
  would copy edge chunks three times and keep whole chunks alive for their
  neighbours' halos. Chunks smaller than the reach are merged with a
  neighbour (the result's chunks say so), so any chunking works.
* Every chunk runs the engine the in-memory call would choose (the planner is
  asked once, for the whole array) with the same kernel data (SVD factors,
  FFT tile size and kernel spectrum). Where an engine's rounding depends on
  where a block of rows starts - direct summation pairs output rows, the
  running-sum engine restarts its sums per block of rows, overlap-save FFT
  tiles start at the origin - the result's chunk boundaries are moved to
  positions the in-memory call also starts from, and each chunk is split at
  the in-memory call's thread blocks. So the result's chunks may differ a
  little from the input's: to the FFT tile grid; to even rows for direct
  summation; to whole rows and the in-memory thread blocks for box kernels on
  float data (running sums), which can make chunks large - pass
  ``exact=False`` to keep the requested chunks, which then agree with the
  in-memory result to rounding (about 1 ulp of the dtype times the kernel
  size).
* Integer inputs are computed exactly whatever the engine, so each chunk is
  planned on its own. An integer result that does not fit its dtype raises
  OverflowError when the chunk holding it is computed (faltung never wraps).
* NaN and Inf: in memory, engines other than direct summation are used only
  on finite input. With ``check_finite=True`` (default) the input is scanned
  once, eagerly, when the planned engine needs it (one extra read of the
  data) and the whole result is computed as in memory. With
  ``check_finite=False`` there is no scan: each chunk whose window holds a
  NaN or Inf falls back to direct summation on its own, so NaN and Inf still
  propagate as in scipy, but chunks without them may then differ by rounding
  from an in-memory result that used direct summation everywhere.
* Each chunk is computed single-threaded (Dask runs chunks in parallel); the
  ``workers`` argument only states which in-memory call (thread count) the
  result reproduces.

Rank filters (median, minimum, maximum, rank, percentile) select values, so
they are exact under any chunking. Recursive filters (``method='iir'``)
cannot be chunked and are refused.

Tasks refer to module-level functions, so Dask pickles them by reference:
workers import faltung and load its Numba kernels from their disk cache (or
compile them once); no compiled function is ever pickled.

Bit for bit means: against faltung in memory on the same kind of machine.
Workers compile the Numba kernels for their own CPU, so a worker with other
vector instructions may round differently (as faltung in memory would there).

``faltung.convolve2d`` does not dispatch here: given a Dask array it computes
it into memory, as any array-like, and returns a NumPy array; call these
functions for a lazy result. :func:`filter_chunked` and :func:`filter_file`
filter arrays and files larger than memory (``np.memmap`` and ``.npy``, Zarr,
TIFF) chunk by chunk.

Examples
--------
>>> import numpy as np
>>> import dask.array as da
>>> import faltung
>>> import faltung.dask as fd
>>> image = np.random.default_rng(0).random((300, 200), dtype=np.float32)
>>> lazy = fd.convolve2d(da.from_array(image, chunks=64), np.ones((5, 5), np.float32),
...                      mode='same', boundary='symm')
>>> bool(np.array_equal(lazy.compute(), faltung.convolve2d(image, np.ones((5, 5), np.float32),
...                                                          mode='same', boundary='symm')))
True
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

try:
    import dask
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph
except ImportError as _exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("faltung.dask needs Dask: pip install 'faltung[dask]' "
                      "(dask[array,distributed])") from _exc

from . import _boundary, _core, _filters, _plan, _validate
from . import ndimage as _nd
from ._spec import ConvSpec, region
from .engines import _rows
from .engines import direct as _direct
from .engines import fft as _fft
from .engines import separable as _separable
from .engines.separable import Factors

__all__ = [
    "convolve", "convolve1d", "convolve2d", "correlate", "correlate1d", "correlate2d",
    "FileArray", "filter_chunked", "filter_file", "gaussian_filter", "gaussian_filter1d",
    "maximum_filter", "median_filter", "minimum_filter", "percentile_filter", "prewitt",
    "rank_filter", "sobel", "uniform_filter", "uniform_filter1d", "FILE_FILTERS",
]

# Output columns are cut at multiples of this for direct summation of complex
# data: the vectorised loop and its remainder may round complex products
# differently, so a column must land in the same part of the loop as in memory.
_COL_ALIGN = 64


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------

def _input(value, name: str) -> da.Array:
    """A Dask array with a numeric dtype (NumPy arrays are wrapped, not copied)."""
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a numeric array, got {value!r}")
    x = value if isinstance(value, da.Array) else da.asarray(value)
    # the in-memory rules for dtypes, checked on a one-element stand-in
    _validate.array(np.zeros(1, dtype=x.dtype), name)
    if any(math.isnan(n) for n in x.shape):
        raise ValueError(f"{name} has unknown chunk sizes (shape {x.shape}); call "
                         f"{name}.compute_chunk_sizes() first")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape}); both inputs need at least "
                         "one element")
    return x


def _no_array_output(output) -> None:
    if isinstance(output, np.ndarray) or isinstance(output, da.Array):
        raise TypeError("output must be None or a dtype here: Dask results are lazy; write "
                        "them into an array with dask.array.store (or filter_chunked)")


def _moveaxis(x: da.Array, source, destination) -> da.Array:
    """``da.moveaxis`` that hands back ``x`` itself when nothing moves (so an
    array filter_chunked reads directly is still recognised)."""
    src = np.atleast_1d(source) % x.ndim
    dst = np.atleast_1d(destination) % x.ndim
    if np.array_equal(src, dst):
        return x
    res = da.moveaxis(x, tuple(int(a) for a in src), tuple(int(a) for a in dst))
    entry = _SOURCES.get(x.name)
    if entry is not None:
        # still read straight from the source, its axes moved
        order = [a for a in range(x.ndim) if a not in src]
        for d, a in sorted(zip(dst, src)):
            order.insert(int(d), int(a))
        _SOURCES[res.name] = (entry[0], _Moved(entry[1], order))
    return res


def _native(dt: np.dtype) -> np.dtype:
    return np.dtype(dt).newbyteorder("=")


# ---------------------------------------------------------------------------
# chunk boundaries
# ---------------------------------------------------------------------------

def _edges(chunks: Sequence[int]) -> list[int]:
    return list(np.cumsum((0,) + tuple(chunks)))


def _merge_small(cuts: list[int], minimum: int, edges: tuple[int, int] = (0, 0)) -> list[int]:
    """Drop cuts until every chunk holds at least ``minimum`` samples (the
    halo a neighbour takes from it), the first and last at least ``edges``."""
    cuts = sorted(set(cuts))
    while len(cuts) > 2:
        sizes = np.diff(cuts)
        need = np.full(sizes.size, minimum)
        need[0], need[-1] = max(minimum, edges[0]), max(minimum, edges[1])
        short = sizes < need
        if not short.any():
            break
        i = int(np.flatnonzero(short)[np.argmin(sizes[short])])
        # merge the smallest chunk into its smaller neighbour
        if i == 0:
            j = 1
        elif i == len(sizes) - 1:
            j = i
        else:
            j = i if sizes[i - 1] <= sizes[i + 1] else i + 1
        del cuts[j]
    return cuts


def _cuts(in_chunks: Sequence[int], n_out: int, shift: int, snap: Callable[[int], int] | None,
          minimum: int, edges: tuple[int, int] = (0, 0)) -> tuple[int, ...]:
    """Output chunk boundaries from the input's, ``(0, ..., n_out)``.

    An input boundary ``c`` becomes output position ``c - shift`` (the output
    whose window is centred on it), moved by ``snap`` to a position the
    engine computes exactly as in memory (None: no such position but 0).
    """
    inner = [c - shift for c in _edges(in_chunks)[1:-1]]
    if snap is None:
        inner = []
    elif snap is not _any:
        inner = [snap(c) for c in inner]
    cuts = [0] + [c for c in inner if 0 < c < n_out] + [n_out]
    return tuple(_merge_small(cuts, minimum, edges))


def _any(c: int) -> int:
    return c


def _multiple(step: int) -> Callable[[int], int]:
    return lambda c: int(round(c / step)) * step


def _group_in_block(block: int | None, group: int) -> Callable[[int], int]:
    # direct summation computes output rows in groups (pairs, or fours for
    # the generic loop) from the start of each in-memory thread block: a cut
    # must not split a group, or its rows would be summed in another order
    def snap(c: int) -> int:
        start = 0 if block is None else c - c % block
        return c - (c - start) % group
    return snap


# ---------------------------------------------------------------------------
# windows: a chunk plus its halos, with the boundary applied
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class _Window:
    """One windowed axis: output sample ``y`` reads extended samples
    ``y + offset .. y + offset + kk - 1`` of an axis of length ``n``."""

    n: int
    out: int
    offset: int
    kk: int
    kind: str
    cuts: tuple[int, ...]


class _Gather:
    """How one block's window is put together (sent with its task).

    ``reads``: per piece, the source block index (None: the whole source,
    read directly), ascending slices into it, the axes to reverse (mirrored
    boundary samples) and where the piece goes in the window. ``fills``:
    ``(axis, start, stop)`` slabs of the window that take the fill value.
    Wrapped so that Dask treats it as data.
    """

    def __init__(self, shape, reads, fills):
        self.shape = shape
        self.reads = reads
        self.fills = fills


def _segments(table: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Runs ``(w0, w1, first source index, step)`` of a window's index table:
    step +1 (the image, a wrap), -1 (a reflection) or 0 (fill)."""
    segs, w, n = [], 0, table.size
    while w < n:
        v = int(table[w])
        e = w + 1
        if v < 0:
            while e < n and table[e] < 0:
                e += 1
            segs.append((w, e, -1, 0))
        else:
            step = int(table[e] - v) if e < n and table[e] >= 0 else 1
            if abs(step) != 1:
                step = 1
            else:
                while e < n and table[e] >= 0 and table[e] - table[e - 1] == step:
                    e += 1
            segs.append((w, e, v, step))
        w = e
    return segs


def _axis_pieces(table: np.ndarray, edges: list[int]):
    """(pieces, fill runs) of one windowed axis. A piece is
    (chunk, lo, hi, reversed, window start): chunk-local ascending range."""
    pieces, fills = [], []
    for w0, w1, v, step in _segments(table):
        n = w1 - w0
        if step == 0:
            fills.append((w0, w1))
            continue
        a, b = (v, v + n) if step > 0 else (v - n + 1, v + 1)
        c = int(np.searchsorted(edges, a, side="right")) - 1
        while a < b:
            hi = min(b, edges[c + 1])
            at = w0 + (a - v) if step > 0 else w0 + (v - hi + 1)
            pieces.append((c, a - edges[c], hi - edges[c], step < 0, at))
            a, c = hi, c + 1
    return pieces, fills


def _gather_plan(per_axis: list, shape: tuple[int, ...], direct: bool) -> _Gather:
    reads, fills = [], []
    for axis, (_, axis_fills) in enumerate(per_axis):
        fills += [(axis, a, b) for a, b in axis_fills]
    for combo in itertools.product(*[p for p, _ in per_axis]):
        block = None if direct else tuple(c for c, _, _, _, _ in combo)
        src = tuple(slice(lo, hi) for _, lo, hi, _, _ in combo)
        flips = tuple(i for i, (_, _, _, rev, _) in enumerate(combo) if rev)
        dst = tuple(slice(at, at + hi - lo) for _, lo, hi, _, at in combo)
        reads.append((block, src, flips, dst))
    return _Gather(shape, reads, fills)


def _flip(piece: np.ndarray, flips: tuple[int, ...]) -> np.ndarray:
    if flips:
        piece = piece[tuple(slice(None, None, -1) if a in flips else slice(None)
                            for a in range(piece.ndim))]
    return piece


def _piece(block: np.ndarray, src: tuple, flips: tuple[int, ...]) -> np.ndarray:
    return _flip(block[src], flips)


def _halo(block: np.ndarray, cuts: list) -> tuple[np.ndarray, ...]:
    """The small pieces that other blocks' windows take from ``block``, cut in
    one task (copies: only they travel, not the chunk they are cut from)."""
    return tuple(np.ascontiguousarray(_piece(block, sl, flips)) for sl, flips in cuts)


def _nth(pieces: tuple, i: int) -> np.ndarray:
    return pieces[i]


def _fill(out: np.ndarray, plan: _Gather, fill) -> np.ndarray:
    for axis, a, b in plan.fills:
        idx = [slice(None)] * out.ndim
        idx[axis] = slice(a, b)
        out[tuple(idx)] = fill
    return out


def _assemble(pieces: list, plan: _Gather, fill, dtype: np.dtype) -> np.ndarray:
    """One window from the pieces of the chunks it overlaps: one copy."""
    out = np.empty(plan.shape, dtype=dtype)
    for piece, (_, _, _, dst) in zip(pieces, plan.reads):
        out[dst] = piece
    return _fill(out, plan, fill)


def _sizes(plan: _Gather) -> list[int]:
    return [math.prod(sl.stop - sl.start for sl in dst) for _, _, _, dst in plan.reads]


def _largest(plan: _Gather) -> int:
    """The piece holding most of a window: sliced in the block's own task, so
    the block runs where its chunk lives (and used in place when framed)."""
    return int(np.argmax(_sizes(plan)))


class _Framed:
    """A window as its centre - a chunk's samples, where the chunk lies - and
    the frame around it (see :func:`faltung.engines.separable.correlate_framed`)."""

    def __init__(self, shape, center, band, side, top, left):
        self.shape = shape
        self.center = center
        self.band = band
        self.side = side
        self.top = top
        self.left = left


def _framed(pieces: list, plan: _Gather, fill, dtype: np.dtype):
    """The window of :func:`_assemble` without copying its largest piece: only
    its frame is put together. Falls back to the assembled window when that
    piece is not a 2-D block of ``dtype`` with contiguous rows."""
    if len(plan.shape) != 2:
        return _assemble(pieces, plan, fill, dtype)
    k = _largest(plan)
    center, (_, _, flips, (rows, cols)) = pieces[k], plan.reads[k]
    if flips or center.dtype != dtype or center.strides[1] != center.itemsize:
        return _assemble(pieces, plan, fill, dtype)
    h, w = plan.shape
    top, hc, left, wc = rows.start, rows.stop - rows.start, cols.start, cols.stop - cols.start
    band = np.empty((h - hc, w), dtype=dtype)
    side = np.empty((hc, w - wc), dtype=dtype)
    # (target, window rows, window columns, where they go in the target)
    regions = [(band, (0, top), (0, w), (0, 0)),
               (band, (top + hc, h), (0, w), (top, 0)),
               (side, (top, top + hc), (0, left), (0, 0)),
               (side, (top, top + hc), (left + wc, w), (0, left))]

    def paste(value, r: tuple[int, int], c: tuple[int, int], piece: bool) -> None:
        for target, (a, b), (p, q), (ta, tp) in regions:
            r0, r1, c0, c1 = max(r[0], a), min(r[1], b), max(c[0], p), min(c[1], q)
            if r0 < r1 and c0 < c1:
                target[r0 - a + ta:r1 - a + ta, c0 - p + tp:c1 - p + tp] = \
                    value[r0 - r[0]:r1 - r[0], c0 - c[0]:c1 - c[0]] if piece else value

    for axis, a, b in plan.fills:
        paste(fill, (a, b) if axis == 0 else (0, h), (a, b) if axis == 1 else (0, w), False)
    for i, (piece, (_, _, _, (pr, pc))) in enumerate(zip(pieces, plan.reads)):
        if i != k:
            paste(piece, (pr.start, pr.stop), (pc.start, pc.stop), True)
    return _Framed(plan.shape, center, band, side, top, left)


def _read_window(src, plan: _Gather, fill, dtype: np.dtype) -> np.ndarray:
    """One window read straight from the array-like ``src``: only the samples it
    needs (a few rectangular reads where the boundary wraps or reflects)."""
    out = np.empty(plan.shape, dtype=dtype)
    for _, sl, flips, dst in plan.reads:
        out[dst] = _flip(np.asarray(src[sl]), flips)
    return _fill(out, plan, fill)


# Dask arrays whose windows can be read straight from an array-like:
# name -> (name of the array filter_chunked/filter_file made, array-like).
_SOURCES: dict[str, tuple[str, object]] = {}


def _source_of(xd: da.Array):
    entry = _SOURCES.get(xd.name)
    return None if entry is None else entry[1]


def _forget_sources(family: str) -> None:
    for name in [k for k, (f, _) in _SOURCES.items() if f == family]:
        _SOURCES.pop(name, None)


class _Lazy:
    """An array-like whose ``[...]`` takes unit-step slices and reads only those."""

    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > self.ndim or not all(isinstance(k, slice) for k in key):
            raise IndexError(f"{type(self).__name__} takes up to {self.ndim} slices, got {key!r}")
        out = []
        for k, n in zip(key + (slice(None),) * (self.ndim - len(key)), self.shape):
            a, b, step = k.indices(n)
            if step != 1:
                raise IndexError(f"{type(self).__name__} takes unit-step slices, got {k!r}")
            out.append(slice(a, max(a, b)))
        return self._read(tuple(out))


class _Converted(_Lazy):
    """An image file's samples as filter_file filters them: the colour channels
    (``channels`` of them), in ``work``, divided by ``unit`` if ``unit``."""

    def __init__(self, src, channels: int | None, work: np.dtype, unit: float | None):
        self.src, self.work, self.unit = src, np.dtype(work), unit
        self.shape = tuple(src.shape[:2]) + (() if channels is None else (channels,))
        self.dtype = self.work

    def _read(self, key: tuple) -> np.ndarray:
        v = np.asarray(self.src[key]).astype(self.work)
        # as the Dask expression it stands for: float32 / float32(unit)
        return v / self.work.type(self.unit) if self.unit else v


class _Moved(_Lazy):
    """``base.transpose(order)``, read lazily."""

    def __init__(self, base, order: list[int]):
        self.base, self.order = base, order
        self.shape = tuple(base.shape[a] for a in order)
        self.dtype = base.dtype

    def _read(self, key: tuple) -> np.ndarray:
        inner = [slice(None)] * len(key)
        for i, a in enumerate(self.order):
            inner[a] = key[i]
        return np.asarray(self.base[tuple(inner)]).transpose(self.order)


def _blocks(xd: da.Array, windows: dict[int, _Window], fill, fn: Callable, job,
            dtype: np.dtype, source=None, framed: bool = False) -> da.Array:
    """``fn(window, job, block_id=...)`` for every output block.

    Along a windowed axis, output block ``[c_i, c_{i+1})`` gets the extended
    samples ``[c_i + offset, c_{i+1} + offset + kk - 1)`` - its chunk,
    ``(kk - 1) // 2`` samples of halo before and ``kk // 2`` after for a
    centred kernel, and faltung's boundary rule beyond the image's edges.
    Each window is assembled in one copy from slices cut where the chunks
    live (on a cluster only the halos travel), inside the task that filters
    it. With ``source = (array_like, dtype)`` each window is read from the
    array-like directly instead: no block then waits for a neighbour's chunk,
    so an out-of-core run holds only the blocks being computed. With
    ``framed``, ``fn`` takes a :class:`_Framed` window (or an assembled one).
    """
    direct = source is not None
    wdt = np.dtype(source[1]) if direct else xd.dtype
    job_d = dask.delayed(job, pure=True)
    name = "faltung-" + getattr(fn, "__name__", "block").strip("_") + "-" + \
        dask.base.tokenize(xd.name, windows, fill, str(wdt), direct, framed, job_d.key)
    edges = [_edges(c) for c in xd.chunks]
    in_chunks, out_chunks, per_axis = [], [], []
    for axis in range(xd.ndim):
        e = edges[axis]
        if axis in windows:
            w = windows[axis]
            sizes = np.diff(w.cuts)
            in_chunks.append(tuple(int(n + w.kk - 1) for n in sizes))
            out_chunks.append(tuple(int(n) for n in sizes))
            per_axis.append([_axis_pieces(
                _boundary.index_table(int(c + w.offset), int(n + w.kk - 1), w.n, w.kind),
                [0, w.n] if direct else e) for c, n in zip(w.cuts[:-1], sizes)])
        else:
            in_chunks.append(xd.chunks[axis])
            out_chunks.append(xd.chunks[axis])
            per_axis.append([([(0 if direct else i, int(a) if direct else 0,
                                int(b) if direct else int(b - a), False, 0)], [])
                             for i, (a, b) in enumerate(zip(e[:-1], e[1:]))])
    dsk: dict = {}
    src_key = "faltung-source-" + name.split("-", 2)[2]
    if direct:
        dsk[src_key] = source[0]
    piece = "faltung-halo-" + name.split("-", 2)[2]
    halos: dict = {}
    for idx in itertools.product(*[range(len(p)) for p in per_axis]):
        shape = tuple(c[i] for c, i in zip(in_chunks, idx))
        plan = _gather_plan([p[i] for p, i in zip(per_axis, idx)], shape, direct)
        if direct:
            window = (_read_window, src_key, plan, fill, wdt)
        else:
            pieces = _window_pieces(plan, xd.name, piece, idx, halos, dsk)
            window = (_framed if framed else _assemble, pieces, plan, fill, wdt)
        dsk[(name,) + idx] = (_apply, fn, window, job_d.key, idx)
    for block, cuts in halos.items():
        dsk[(piece,) + block] = (_halo, (xd.name,) + block, cuts)
    graph = HighLevelGraph.from_collections(name, dsk,
                                            dependencies=[job_d] + ([] if direct else [xd]))
    return da.Array(graph, name, tuple(out_chunks), dtype=dtype,
                    meta=np.empty((0,) * xd.ndim, dtype=dtype))


def _window_pieces(plan: _Gather, source: str, halo: str, idx: tuple[int, ...],
                   halos: dict, dsk: dict) -> list:
    """The tasks (run inside the block's own task) that give a window's pieces.

    The chunk holding most of the window is sliced in the block's task, so
    the block runs where that chunk lives. Pieces of other chunks - halos -
    are cut by one task per chunk (:func:`_halo`), shared by all the windows
    that read the chunk: it runs as early as the first of them in Dask's
    order, so a neighbour never waits for its halo behind this chunk's owner's
    own blocks (one task per piece did: idle gaps of ~0.1 s per run, measured
    on a 2-worker cluster). ``halos`` collects the cuts per chunk. A large
    piece of another chunk (chunk edges away from the block's) gets a task of
    its own in ``dsk``, so that only it travels.
    """
    sizes = _sizes(plan)
    own = plan.reads[_largest(plan)][0]
    out = []
    for k, (block, sl, flips, _) in enumerate(plan.reads):
        if block == own:
            out.append((_piece, (source,) + block, sl, flips))
        elif sizes[k] * 16 > max(sizes):
            key = (halo + "-piece",) + idx + (k,)
            dsk[key] = (_piece, (source,) + block, sl, flips)
            out.append(key)
        else:
            cuts = halos.setdefault(block, [])
            cuts.append((sl, flips))
            out.append((_nth, (halo,) + block, len(cuts) - 1))
    return out


def _apply(fn: Callable, window: np.ndarray, job, block_id: tuple[int, ...]) -> np.ndarray:
    return fn(window, job, block_id=block_id)


# ---------------------------------------------------------------------------
# one correlation, chunked
# ---------------------------------------------------------------------------

@dataclass
class _CorrJob:
    """What every block of one chunked correlation needs (sent once per worker).

    Blocks are laid out as ``(*batch, [H], *W)``: ``nb`` batch axes, an H
    axis if ``has_h``, and W axes flattened into the image width (several
    only for a kernel one column wide).
    """

    nb: int
    has_h: bool
    kernel: np.ndarray              # (Bk, kh, kw) correlation kernel
    fill: object                    # in the compute dtype
    cdt: np.dtype
    plan: _plan.EnginePlan | None   # pinned (float/complex); None: plan each piece
    method: str
    known: Factors | None
    rows_block: int | None          # in-memory thread block (rows) to split at
    row_cuts: tuple[int, ...]
    batch_shape: tuple[int, ...]
    batch_edges: tuple[tuple[int, ...], ...]
    local_finite: bool              # pieces check their own window for NaN/Inf
    out_dtype: np.dtype
    cast: str                       # 'signal' (scipy's result rules) or 'filter' (ndimage's)
    divide: int | None = None       # uniform_filter on integers: exact sum / size
    image_hw: tuple[int, int] = (0, 0)
    offset: tuple[int, int] = (0, 0)
    col_cuts: tuple[int, ...] = (0,)
    mark: bool = False              # tell the engine which samples lie outside the image


def _signal_cast(res: np.ndarray, rt: np.dtype) -> np.ndarray:
    if rt.kind in "iu" and res.size:
        _validate.int_range(int(res.min()), int(res.max()), rt, False)
    if res.dtype == object:
        res = np.array(res.tolist(), dtype=rt if rt.kind in "iu" else np.float64)
    return res.astype(rt, copy=False)


def _piece_spec(job: _CorrJob, b: int, bk: int, h_in: int, w_in: int) -> ConvSpec:
    kh, kw = job.kernel.shape[1:]
    return ConvSpec(batch=b, in_shape=(h_in, w_in), kernel_shape=(kh, kw), kernel_batch=bk,
                    out_shape=(h_in - kh + 1, w_in - kw + 1), offset=(0, 0),
                    boundary="constant", fillvalue=job.fill, compute_dtype=job.cdt,
                    result_dtype=job.cdt)


def _outside(start: int, count: int, n: int) -> tuple[int, int]:
    """How many of the extended samples ``start .. start+count-1`` lie before
    and after an image axis of length ``n``."""
    return min(count, max(0, -start)), min(count, max(0, start + count - n))


def _marked(t3: np.ndarray, rows: tuple[int, int], cols: tuple[int, int]):
    """``t3`` (an extended tile) rearranged as an image plus the samples
    outside it, and index tables that read the outside samples as boundary.

    The engine then sees which samples are boundary, as in memory: the
    direct engine's 3x3 and 5x5 loops sum the border columns apart (in
    another order) from the columns whose window lies inside the image. As
    in memory, the inside part comes first, so ``offset = -(samples before)``;
    one spare sample after it keeps the outside samples off the identity run.
    """
    th, tw = t3.shape[1:]
    (r0, r1), (c0, c1) = rows, cols

    def order(n: int, lo: int, hi: int) -> np.ndarray:
        return np.r_[lo:n - hi, lo % n, 0:lo, n - hi:n]

    x = np.ascontiguousarray(t3[:, order(th, r0, r1)][:, :, order(tw, c0, c1)])

    def table(n: int, lo: int, hi: int) -> np.ndarray:
        inside = n - lo - hi
        return np.r_[inside + 1:inside + 1 + lo, 0:inside,
                     inside + 1 + lo:inside + 1 + lo + hi].astype(np.int64)

    return x, table(th, r0, r1), table(tw, c0, c1), (-r0, -c0)


def _run_piece(job: _CorrJob, t3: np.ndarray, kernel: np.ndarray, kspec,
               outside: tuple | None = None) -> np.ndarray:
    spec = _piece_spec(job, t3.shape[0], kernel.shape[0], t3.shape[1], t3.shape[2])
    if job.plan is None:
        # integers: exact whatever the engine, so plan this piece on its data
        bound = None
        if job.cdt.kind in "iu":
            xmax = max(abs(int(t3.max())), abs(int(t3.min())))
            ksum = float(np.abs(kernel.astype(np.float64)).sum(axis=(-2, -1)).max())
            bound = int(xmax * ksum * (1 + 1e-9)) + 1
        ep = _plan.make(spec, kernel, job.method, 1, bound, None, factors=job.known)
    elif (job.plan.engine == "fft" and job.plan.tile is None
          and (zm := _fft.zero_margins(job.plan.spec)) is not None
          and t3.shape[1:] == job.plan.spec.ext_shape):
        # The whole-image transform of zero-filled input takes the image
        # itself, not its padded window (another transform length, other
        # rounding): hand it the image, as in memory.
        mem = job.plan.spec
        image = t3[:, zm[0]:zm[0] + mem.in_shape[0], zm[2]:zm[2] + mem.in_shape[1]]
        spec = dataclasses.replace(mem, batch=t3.shape[0], kernel_batch=kernel.shape[0])
        ep = dataclasses.replace(job.plan, spec=spec, threads=1, kernel=kernel, kspec=kspec,
                                 needs_finite=job.local_finite)
        return ep.execute(image)
    else:
        rows = np.arange(spec.in_shape[0], dtype=np.int64)
        cols = np.arange(spec.in_shape[1], dtype=np.int64)
        if outside is not None and any(outside[0] + outside[1]):
            t3, rows, cols, off = _marked(t3, *outside)
            spec = dataclasses.replace(spec, in_shape=t3.shape[1:], offset=off)
        ep = dataclasses.replace(job.plan, spec=spec, rows=rows, cols=cols, threads=1,
                                 kernel=kernel, kspec=kspec, needs_finite=job.local_finite)
    return ep.execute(t3)


def _batch_index(job: _CorrJob, block_id: tuple[int, ...]) -> np.ndarray | None:
    """Flat batch indices of a block (for one kernel per image)."""
    if job.kernel.shape[0] == 1:
        return None
    ranges = [np.arange(e[i], e[i + 1]) for e, i in zip(job.batch_edges, block_id[:job.nb])]
    grid = np.meshgrid(*ranges, indexing="ij") if ranges else []
    return np.ravel_multi_index([g.ravel() for g in grid], job.batch_shape) if ranges else \
        np.zeros(1, dtype=np.int64)


def _cast(res: np.ndarray, job: _CorrJob) -> np.ndarray:
    """A block's result in the output dtype, by the rules of the in-memory call."""
    if res.dtype == object:
        res = np.array(res.tolist(), dtype=object)
    if job.divide:
        res = res / job.divide
    if job.cast == "signal":
        return _signal_cast(res, job.out_dtype)
    return _filters.cast(res, job.out_dtype)


def _framed_block(tile: _Framed, job: _CorrJob) -> np.ndarray:
    kh, kw = job.kernel.shape[1:]
    h, w = tile.shape
    out = np.empty((h - kh + 1, w - kw + 1), dtype=job.cdt)
    return _separable.correlate_framed(tile.center, tile.band, tile.side, tile.top, tile.left,
                                       job.plan.factors, out)


def _corr_block(tile: np.ndarray | _Framed, job: _CorrJob, block_id=None) -> np.ndarray:
    if isinstance(tile, _Framed):
        return _cast(_framed_block(tile, job), job)
    nb = job.nb
    kh, kw = job.kernel.shape[1:]
    bshape = tile.shape[:nb]
    th = tile.shape[nb] if job.has_h else 1
    wshape = tile.shape[nb + job.has_h:]
    t3 = np.ascontiguousarray(tile).reshape((-1, th, int(np.prod(wshape, dtype=np.int64))))
    ho = th - kh + 1
    idx = _batch_index(job, block_id)
    kernel = job.kernel if idx is None else job.kernel[idx]
    kspec = None
    if job.plan is not None and job.plan.kspec is not None:
        kspec = job.plan.kspec if idx is None else job.plan.kspec[idx]
    y0 = job.row_cuts[block_id[nb]] if job.has_h else 0
    # split where the in-memory call starts a thread block
    splits = [0]
    if job.rows_block:
        first = -y0 % job.rows_block
        splits += list(range(first or job.rows_block, ho, job.rows_block))
    splits.append(ho)
    x0 = job.col_cuts[block_id[-1]] if job.mark else 0
    parts = []
    for p0, p1 in zip(splits[:-1], splits[1:]):
        if p1 <= p0:
            continue
        outside = None
        if job.mark:
            (h, w), (oy, ox) = job.image_hw, job.offset
            outside = (_outside(y0 + p0 + oy, p1 - p0 + kh - 1, h),
                       _outside(x0 + ox, t3.shape[2], w))
        parts.append(_run_piece(job, t3[:, p0:p1 + kh - 1], kernel, kspec, outside))
    res = _cast(parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1), job)
    out_w = wshape[:-1] + (wshape[-1] - kw + 1,) if len(wshape) == 1 else wshape
    return res.reshape(bshape + ((ho,) if job.has_h else ()) + tuple(out_w))


class _Finite:
    """Whether the input holds only finite values: scanned once, on demand."""

    def __init__(self, xd: da.Array, check: bool):
        self.xd = xd
        self.check = check
        self.value: bool | None = None

    def get(self) -> bool | None:
        """True/False after a scan, None when scanning is switched off."""
        if not self.check:
            return None
        if self.value is None:
            if self.xd.dtype.kind in "iu":
                self.value = True
            else:
                # one pass per block, in slices (no boolean copy of a block)
                parts = [dask.delayed(_plan._all_finite)(b) for b in self.xd.to_delayed().ravel()]
                self.value = all(dask.compute(*parts))
        return self.value


def _rows_block(ep: _plan.EnginePlan) -> int | None:
    """Rows per thread block of the in-memory call (None: one block per image).

    The blocks of :func:`faltung.engines._rows.dispatch` decide where
    direct summation starts pairing rows and running sums restart.
    """
    spec = ep.spec
    kh, kw = spec.kernel_shape
    if ep.engine == "direct":
        work, per_thread = spec.out_pixels * spec.taps, 4
    elif ep.engine == "running":
        work, per_thread = spec.out_pixels * 8, 1 if kh > 16 else 2
    else:
        return None
    return _rows.block_rows(spec.batch, spec.out_shape[0], work, ep.threads, per_thread)


def _correlate(xd: da.Array, nb: int, has_h: bool, kernel: np.ndarray,
               offset: tuple[int, int], out_hw: tuple[int, int], kind: str, fill,
               cdt: np.dtype, method: str, threads: int, known: Factors | None,
               exact: bool, finite: _Finite, out_dtype: np.dtype, cast: str,
               divide: int | None = None) -> da.Array:
    """Chunked canonical correlation of ``xd`` laid out as ``(*batch, [H], *W)``.

    ``kernel`` is the (Bk, kh, kw) correlation kernel, ``offset``/``out_hw``
    the output region (see :mod:`faltung._spec`), ``fill`` the constant in
    ``cdt``. Returns ``(*batch, [Ho], *Wo)`` cast to ``out_dtype``.
    """
    kh, kw = kernel.shape[1:]
    nw = xd.ndim - nb - has_h
    h = xd.shape[nb] if has_h else 1
    wdims = xd.shape[nb + has_h:]
    w = int(np.prod(wdims, dtype=np.int64))
    ho, wo = out_hw
    batch_shape = xd.shape[:nb]
    b = int(np.prod(batch_shape, dtype=np.int64))
    if nw > 1 and not (kw == 1 and offset[1] == 0 and wo == w):
        raise AssertionError("a kernel wider than one column needs a single W axis")
    # the tile dtype: float work converts first, as the engines do; integer
    # work keeps integers exact (uint64 beyond int64 only as Python ints)
    if cdt.kind in "fc":
        tile_dt = cdt
    elif xd.dtype == np.uint64:
        tile_dt = np.dtype(object)
    else:
        tile_dt = np.dtype(np.int64)
    src = _source_of(xd)
    xd = xd.astype(tile_dt)
    kc = kernel
    if kc.dtype == np.uint64 and int(kc.max()) > np.iinfo(np.int64).max:
        kc = kc.astype(object)
    else:
        kc = np.ascontiguousarray(kc, dtype=cdt)

    ep = None
    rows_block = None
    local = False
    if cdt.kind in "fc":
        spec = ConvSpec(batch=b, in_shape=(h, w), kernel_shape=(kh, kw),
                        kernel_batch=kc.shape[0], out_shape=(ho, wo), offset=offset,
                        boundary=kind, fillvalue=fill, compute_dtype=cdt, result_dtype=cdt)
        ep = _plan.make(spec, kc, method, threads, None, None, factors=known)
        if ep.needs_finite:
            ok = finite.get()
            if ok is False:
                # in memory, a NaN or Inf anywhere sends the call to direct summation
                ep = dataclasses.replace(ep, engine="direct", factors=None, box=None,
                                         tile=None, kspec=None)
            local = ok is None
        ep = dataclasses.replace(ep, needs_finite=False)
        rows_block = _rows_block(ep)

    # where chunk boundaries may go, per engine
    snap_h = snap_w = _any
    mark = (ep is not None and ep.engine == "direct" and kh == kw
            and kh in _direct.FIXED_SIZES and cdt.kind == "f")
    if ep is not None and exact:
        if ep.engine == "direct":
            snap_h = _group_in_block(rows_block, 4 if kh >= 4 and not mark else 2)
            if cdt.kind == "c":
                snap_w = _multiple(_COL_ALIGN)
        elif ep.engine == "running":
            snap_h = _multiple(rows_block) if rows_block else None
            snap_w = None
        elif ep.engine == "fft":
            if ep.tile is None:
                snap_h = snap_w = None
            else:
                snap_h = _multiple(ep.tile[0] - kh + 1)
                snap_w = _multiple(ep.tile[1] - kw + 1)
    edges = (0, 0)
    if mark and exact:
        # the 3x3/5x5 loops take their fast path only in chunks holding a column
        # whose window lies inside the image, as the whole image does
        inside_end = min(wo + kw - 1, w - offset[1]) - kw + 1
        edges = (max(0, -offset[1]) + 1, wo - inside_end + 1)
    windows = {}
    cuts_h = cuts_w = (0, ho)
    if has_h:
        cuts_h = _cuts(xd.chunks[nb], ho, -offset[0] - (kh - 1) // 2, snap_h, kh // 2)
        windows[nb] = _Window(h, ho, offset[0], kh, kind, cuts_h)
    if nw == 1:
        cuts_w = _cuts(xd.chunks[-1], wo, -offset[1] - (kw - 1) // 2, snap_w, kw // 2, edges)
        windows[xd.ndim - 1] = _Window(w, wo, offset[1], kw, kind, cuts_w)
    elif snap_w is not _any:
        # several W axes flattened: only one chunk each keeps the in-memory layout
        xd = xd.rechunk({a: -1 for a in range(nb + has_h, xd.ndim)})

    job = _CorrJob(nb=nb, has_h=has_h, kernel=kc, fill=fill, cdt=cdt, plan=ep, method=method,
                   known=known, rows_block=rows_block if ep is not None else None,
                   row_cuts=cuts_h, batch_shape=batch_shape,
                   batch_edges=tuple(tuple(_edges(c)) for c in xd.chunks[:nb]),
                   local_finite=local, out_dtype=np.dtype(out_dtype), cast=cast,
                   divide=divide, image_hw=(h, w), offset=offset,
                   col_cuts=cuts_w if nw == 1 else (0,),
                   mark=mark)
    if nw > 1 and snap_w is not _any:
        src = None  # rechunked above
    # one 2-D image and a separable plan: the engine reads each chunk where it
    # lies and only the halo around it is copied
    framed = (ep is not None and ep.engine == "separable" and nb == 0 and has_h and nw == 1
              and kc.shape[0] == 1 and cdt.kind == "f" and tile_dt == cdt and not local)
    return _blocks(xd, windows, fill, _corr_block, job, np.dtype(out_dtype),
                   None if src is None else (src, tile_dt), framed)


# ---------------------------------------------------------------------------
# scipy.signal style
# ---------------------------------------------------------------------------

def _whole_block(block: np.ndarray, in2, mode, boundary, fillvalue, method, axes, workers,
                 flipped) -> np.ndarray:
    return _core._convolve(block, in2, mode, boundary, fillvalue, method, axes, None, workers,
                           flipped)


def _convolve(in1, in2, mode, boundary, fillvalue, method, axes, workers, flipped, exact,
              check_finite) -> da.Array:
    xd = _input(in1, "in1")
    if xd.ndim < 2:
        raise ValueError(f"in1 must have at least 2 dimensions (..., H, W), got shape "
                         f"{xd.shape}")
    st = _core._setup(xd.shape, xd.dtype, in2, mode, boundary, fillvalue, method, axes,
                      workers, flipped, "signal")
    if st.swap:
        # valid mode with the kernel larger than the image: scipy swaps the roles;
        # the result is smaller than the kernel, so it is one block
        whole = xd.rechunk(-1)
        return da.map_blocks(_whole_block, whole, in2, mode, boundary, fillvalue, method,
                             axes, workers, flipped, chunks=st.out_shape, dtype=st.rt,
                             meta=np.empty((0,) * xd.ndim, dtype=st.rt))
    xm = _moveaxis(xd, st.axes, (-2, -1))
    nb = xm.ndim - 2
    h, w = xm.shape[-2:]
    kc3 = _core._corr_kernel(st.k3, st.flipped)
    kh, kw = kc3.shape[1:]
    ho, oy = region(st.mode, h, kh, st.flipped)
    wo, ox = region(st.mode, w, kw, st.flipped)
    res = _correlate(xm, nb, True, kc3, (oy, ox), (ho, wo), st.kind, st.fill, st.cdt,
                     st.method, st.threads, None, exact, _Finite(xm, check_finite), st.rt,
                     "signal")
    return _moveaxis(res, (-2, -1), st.axes)


def convolve2d(in1: ArrayLike, in2: ArrayLike, mode: str = "full", boundary: str = "fill",
               fillvalue: complex = 0, *, method: str = "auto",
               axes: tuple[int, int] = (-2, -1), workers: int | None = None,
               exact: bool = True, check_finite: bool = True) -> da.Array:
    """Convolve a Dask array with a kernel, as :func:`faltung.convolve2d`.

    A true convolution (the kernel is flipped). Arguments are those of
    :func:`faltung.convolve2d` (there is no ``out``: the result is lazy; store
    it with :func:`dask.array.store`). ``in2`` is a NumPy kernel (2-D, or
    with the batch axes of ``in1``).

    Parameters
    ----------
    in1 : dask.array.Array or array_like
        Image, shape (..., H, W), chunked any way along any axis.
    in2 : array_like
        Kernel.
    mode, boundary, fillvalue, method, axes
        As :func:`faltung.convolve2d`.
    workers : int, optional
        The thread count of the in-memory call this reproduces (it decides
        where the in-memory engines start blocks of rows). Chunks themselves
        run single-threaded, in parallel under Dask.
    exact : bool
        Move chunk boundaries where needed so that the result equals the
        in-memory result bit for bit (see the module notes). False keeps the
        requested chunks; results then agree to rounding.
    check_finite : bool
        Scan the input for NaN/Inf when the planned engine requires finite
        input, as the in-memory call does (one extra pass over the data).

    Returns
    -------
    dask.array.Array
        Lazy result, with the shape and dtype of the in-memory result.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> image = da.from_array(np.arange(1, 10).reshape(3, 3), chunks=2)
    >>> fd.convolve2d(image, [[0, 1], [1, 0]], mode='same').compute()
    array([[ 0,  1,  2],
           [ 1,  6,  8],
           [ 4, 12, 14]])
    """
    return _convolve(in1, in2, mode, boundary, fillvalue, method, axes, workers, True, exact,
                     check_finite)


def correlate2d(in1: ArrayLike, in2: ArrayLike, mode: str = "full", boundary: str = "fill",
                fillvalue: complex = 0, *, method: str = "auto",
                axes: tuple[int, int] = (-2, -1), workers: int | None = None,
                exact: bool = True, check_finite: bool = True) -> da.Array:
    """Cross-correlate a Dask array with a kernel, as :func:`faltung.correlate2d`.

    Parameters are those of :func:`convolve2d`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> image = da.from_array(np.arange(1, 10).reshape(3, 3), chunks=2)
    >>> fd.correlate2d(image, [[1, 0], [0, -1]], mode='valid').compute()
    array([[-4, -4],
           [-4, -4]])
    """
    return _convolve(in1, in2, mode, boundary, fillvalue, method, axes, workers, False, exact,
                     check_finite)


# ---------------------------------------------------------------------------
# scipy.ndimage style: the linear filters, as faltung.ndimage computes them
# ---------------------------------------------------------------------------

@dataclass
class _Ctx:
    threads: int
    exact: bool
    finite: _Finite


def _filter_corr(xm: da.Array, nb: int, has_h: bool, k2: np.ndarray, off: tuple[int, int],
                 kind: str, fill, cdt: np.dtype, method: str, ctx: _Ctx,
                 factors: tuple[np.ndarray, np.ndarray] | None, out_dt: np.dtype,
                 divide: int | None = None) -> da.Array:
    """:func:`faltung._filters.correlate` followed by :func:`faltung._filters.cast`,
    chunked: a same-shape correlation of ``(*batch, [H], *W)`` at ``off``."""
    kh, kw = k2.shape
    fill_c = _validate.fillvalue(fill, cdt, used=kind == "constant")
    known = None
    if factors is not None and kh > 1 and kw > 1 and (
            cdt.kind not in "iu" or all(np.all(np.mod(f, 1) == 0) for f in factors)):
        u, v = factors
        known = Factors(np.ascontiguousarray(u, dtype=cdt), np.ascontiguousarray(v, dtype=cdt),
                        0.0)
    h = xm.shape[nb] if has_h else 1
    w = int(np.prod(xm.shape[nb + has_h:], dtype=np.int64))
    return _correlate(xm, nb, has_h, np.asarray(k2)[None], off, (h, w), kind, fill_c, cdt,
                      method, ctx.threads, known, ctx.exact, ctx.finite, out_dt, "filter",
                      divide)


def _pass1d(x: da.Array, w: np.ndarray, axis: int, kind: str, cval, origin: int,
            cdt: np.dtype, ctx: _Ctx, out_dt: np.dtype, divide: int | None = None) -> da.Array:
    """One 1-D correlation along ``axis``, laid out as faltung.ndimage lays it out:
    along the last axis a (B, 1, n) image, otherwise a vertical (before, n, after)."""
    k = w.size
    off = -(k // 2 + origin)
    cdt = _nd._fill_fits(cdt, kind, cval)
    if axis == x.ndim - 1:
        return _along_last(x, w.reshape(1, k), (0, off), kind, cval, cdt, "auto", ctx,
                           out_dt, divide)
    return _filter_corr(x, axis, True, w.reshape(k, 1), (off, 0), kind, cval, cdt, "auto",
                        ctx, None, out_dt, divide)


def _along_last(x: da.Array, k2: np.ndarray, off: tuple[int, int], kind: str, fill,
                cdt: np.dtype, method: str, ctx: _Ctx, out_dt: np.dtype,
                divide: int | None = None) -> da.Array:
    """A filter along the last axis, laid out as faltung.ndimage lays it out:
    every line a row of one tall image (the engines' row blocks then run
    across lines, so their boundaries must be those of the in-memory call)."""
    lines = x.reshape(-1, x.shape[-1]) if x.ndim != 2 else x
    res = _filter_corr(lines, 0, True, k2, off, kind, fill, cdt, method, ctx, None, out_dt,
                       divide)
    return res.reshape(x.shape) if x.ndim != 2 else res


def _passes(x: da.Array, passes: list, out_dt: np.dtype, cdt: np.dtype,
            ctx: _Ctx) -> da.Array:
    """faltung.ndimage's sequence of 1-D passes (fused into one separable pass
    under the same conditions), each chunked."""
    if not passes:
        return x.astype(out_dt)
    if (len(passes) == 2 and out_dt.kind in "fc" and passes[0][0] != passes[1][0]
            and passes[0][2:4] == passes[1][2:4] and _nd._fusable_fill(passes)):
        (a0, w0, kind, cval, o0), (a1, w1, _, _, o1) = sorted(passes, key=lambda p: p[0])
        xm = _moveaxis(x, (a0, a1), (-2, -1))
        k2 = np.multiply.outer(w0, w1)
        off = (-(w0.size // 2 + o0), -(w1.size // 2 + o1))
        res = _filter_corr(xm, xm.ndim - 2, True, k2, off, kind, cval, cdt, "auto", ctx,
                           (w0[None], w1[None]), out_dt)
        return _moveaxis(res, (-2, -1), (a0, a1))
    cur = x
    for axis, w, kind, cval, o in passes:
        cur = _pass1d(cur, w, axis, kind, cval, o, cdt, ctx, out_dt)
    return cur


def _ctx(x: da.Array, workers, exact: bool, check_finite: bool) -> _Ctx:
    return _Ctx(_validate.workers(workers), bool(exact), _Finite(x, check_finite))


def _correlate_nd(input, weights, output, mode, cval, origin, axes, flip: bool, workers,
                  method, exact, check_finite) -> da.Array:
    x = _input(input, "input")
    _no_array_output(output)
    w = _validate.array(weights, "weights")
    ax = _validate.filter_axes(axes, x.ndim)
    if w.ndim != len(ax):
        raise ValueError(f"weights must have one dimension per filtered axis ({len(ax)}), "
                         f"got shape {w.shape}")
    _validate.at_most_2d(len(ax), f"faltung.dask.{'convolve' if flip else 'correlate'}")
    kind = _validate.filter_mode(mode)
    cv = _nd._cval(cval, x)
    ax, origin = _nd._ascending(ax, _validate.per_axis(origin, len(ax), "origin"))
    orig = _validate.origin(origin, w.shape)
    method = _validate.method(method)
    ctx = _ctx(x, workers, exact, check_finite)
    out_dt, _ = _validate.filter_output(output, x.shape, _nd._default_dtype(x, w))
    if flip:
        w = w[(slice(None, None, -1),) * w.ndim]
        orig = tuple(-o - (1 - k % 2) for o, k in zip(orig, w.shape))
    elif w.dtype.kind == "c":
        w = np.conj(w)
    cdt = _nd._cdt(x, w.dtype.kind == "c", _nd._is_int(w), out_dt)
    cdt = _nd._fill_fits(cdt, kind, cv)
    if w.ndim == 1:
        xm = _moveaxis(x, ax, (-1,))
        k2, o2 = w.reshape(1, -1), (0,) + orig
        res = _along_last(xm, k2, tuple(-(k // 2 + o) for k, o in zip(k2.shape, o2)), kind,
                          cv, cdt, method, ctx, out_dt)
        return _moveaxis(res, (-1,), ax)
    xm = _moveaxis(x, ax, (-2, -1))
    off = tuple(-(k // 2 + o) for k, o in zip(w.shape, orig))
    res = _filter_corr(xm, xm.ndim - 2, True, w, off, kind, cv, cdt, method, ctx, None, out_dt)
    return _moveaxis(res, (-2, -1), ax)


def correlate(input: ArrayLike, weights: ArrayLike, output: DTypeLike = None,
              mode: str = "reflect", cval: float = 0.0, origin: int | Sequence[int] = 0, *,
              axes: Sequence[int] | None = None, method: str = "auto",
              workers: int | None = None, exact: bool = True,
              check_finite: bool = True) -> da.Array:
    """Correlation of a Dask array, as :func:`faltung.ndimage.correlate`.

    Parameters are those of :func:`faltung.ndimage.correlate` (``output`` is
    a dtype or None), plus ``exact`` and ``check_finite`` as in
    :func:`convolve2d`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.correlate(da.arange(5.0, chunks=2), [1, 2, 3], mode='constant').compute()
    array([ 3.,  8., 14., 20., 11.])
    """
    return _correlate_nd(input, weights, output, mode, cval, origin, axes, False, workers,
                         method, exact, check_finite)


def convolve(input: ArrayLike, weights: ArrayLike, output: DTypeLike = None,
             mode: str = "reflect", cval: float = 0.0, origin: int | Sequence[int] = 0, *,
             axes: Sequence[int] | None = None, method: str = "auto",
             workers: int | None = None, exact: bool = True,
             check_finite: bool = True) -> da.Array:
    """Convolution of a Dask array, as :func:`faltung.ndimage.convolve`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.convolve(da.arange(5.0, chunks=2), [1, 2, 3], mode='constant').compute()
    array([ 1.,  4., 10., 16., 17.])
    """
    return _correlate_nd(input, weights, output, mode, cval, origin, axes, True, workers,
                         method, exact, check_finite)


def _one_d(input, weights, axis, output, mode, cval, origin, flip: bool, workers, exact,
           check_finite) -> da.Array:
    x = _input(input, "input")
    _no_array_output(output)
    w = _validate.array(weights, "weights")
    if w.ndim != 1:
        raise ValueError(f"weights must be 1-D, got shape {w.shape}")
    (ax,) = _validate.filter_axes(_validate.integer(axis, "axis"), x.ndim, "axis")
    kind = _validate.filter_mode(mode)
    cv = _nd._cval(cval, x)
    (o,) = _validate.origin(origin, (w.size,))
    ctx = _ctx(x, workers, exact, check_finite)
    out_dt, _ = _validate.filter_output(output, x.shape, _nd._default_dtype(x, w))
    if flip:
        w, o = w[::-1], -o - (1 - w.size % 2)
    elif w.dtype.kind == "c":
        w = np.conj(w)
    cdt = _nd._cdt(x, w.dtype.kind == "c", _nd._is_int(w), out_dt)
    return _pass1d(x, w, ax, kind, cv, o, cdt, ctx, out_dt)


def correlate1d(input: ArrayLike, weights: ArrayLike, axis: int = -1,
                output: DTypeLike = None, mode: str = "reflect", cval: float = 0.0,
                origin: int = 0, *, workers: int | None = None, exact: bool = True,
                check_finite: bool = True) -> da.Array:
    """1-D correlation along ``axis``, as :func:`faltung.ndimage.correlate1d`.

    Examples
    --------
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.correlate1d(da.from_array([2, 8, 0, 4, 1, 9, 9, 0], chunks=3), [1, 3]).compute()
    array([ 8, 26,  8, 12,  7, 28, 36,  9])
    """
    return _one_d(input, weights, axis, output, mode, cval, origin, False, workers, exact,
                  check_finite)


def convolve1d(input: ArrayLike, weights: ArrayLike, axis: int = -1,
               output: DTypeLike = None, mode: str = "reflect", cval: float = 0.0,
               origin: int = 0, *, workers: int | None = None, exact: bool = True,
               check_finite: bool = True) -> da.Array:
    """1-D convolution along ``axis``, as :func:`faltung.ndimage.convolve1d`.

    Examples
    --------
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.convolve1d(da.from_array([2, 8, 0, 4, 1, 9, 9, 0], chunks=3), [1, 3]).compute()
    array([14, 24,  4, 13, 12, 36, 27,  0])
    """
    return _one_d(input, weights, axis, output, mode, cval, origin, True, workers, exact,
                  check_finite)


def gaussian_filter(input: ArrayLike, sigma: float | Sequence[float],
                    order: int | Sequence[int] = 0, output: DTypeLike = None,
                    mode: str | Sequence[str] = "reflect", cval: float = 0.0,
                    truncate: float = 4.0, *, radius: int | Sequence[int] | None = None,
                    axes: Sequence[int] | None = None, method: str = "fir",
                    workers: int | None = None, exact: bool = True,
                    check_finite: bool = True) -> da.Array:
    """Gaussian filter of a Dask array, as :func:`faltung.ndimage.gaussian_filter`.

    Only ``method='fir'`` (the sampled, truncated Gaussian): the recursive
    ``'iir'`` filter runs along whole rows and cannot be chunked.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> from faltung import ndimage
    >>> image = np.random.default_rng(1).random((64, 80))
    >>> lazy = fd.gaussian_filter(da.from_array(image, chunks=(20, 30)), 2.0)
    >>> bool(np.array_equal(lazy.compute(), ndimage.gaussian_filter(image, 2.0)))
    True
    """
    x = _input(input, "input")
    _no_array_output(output)
    out_dt, _ = _validate.filter_output(output, x.shape, _native(x.dtype))
    if method == "iir":
        raise ValueError("method='iir' (a recursive filter along whole rows) cannot be "
                         "computed chunk by chunk; use method='fir'")
    if method != "fir":
        raise ValueError(f"method must be 'fir' (the only one that can be chunked), got "
                         f"{method!r}")
    ctx = _ctx(x, workers, exact, check_finite)
    passes = _nd._gauss_passes(x, sigma, order, mode, cval, truncate, radius, axes)
    cdt = _nd._cdt(x, False, False, out_dt)
    return _passes(x, passes, out_dt, cdt, ctx)


def gaussian_filter1d(input: ArrayLike, sigma: float, axis: int = -1, order: int = 0,
                      output: DTypeLike = None, mode: str = "reflect", cval: float = 0.0,
                      truncate: float = 4.0, *, radius: int | None = None,
                      workers: int | None = None, exact: bool = True,
                      check_finite: bool = True) -> da.Array:
    """1-D Gaussian filter, as :func:`faltung.ndimage.gaussian_filter1d`.

    Examples
    --------
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.gaussian_filter1d(da.from_array([1.0, 2.0, 3.0, 4.0, 5.0], chunks=2), 1
    ...                      ).compute().round(4)
    array([1.427 , 2.0678, 3.    , 3.9322, 4.573 ])
    """
    x = _input(input, "input")
    _no_array_output(output)
    (ax,) = _validate.filter_axes(_validate.integer(axis, "axis"), x.ndim, "axis")
    s = _validate.real_number(sigma, "sigma", 0.0, strict=True)
    o = _validate.integer(order, "order", 0, 3)
    tr = _validate.real_number(truncate, "truncate", 0.0)
    r = None if radius is None else _validate.integer(radius, "radius", 0)
    kind = _validate.filter_mode(mode)
    out_dt, _ = _validate.filter_output(output, x.shape, _native(x.dtype))
    ctx = _ctx(x, workers, exact, check_finite)
    cdt = _nd._cdt(x, False, False, out_dt)
    return _pass1d(x, _nd._gauss_weights(s, o, tr, r), ax, kind, _nd._cval(cval, x), 0, cdt,
                   ctx, out_dt)


def uniform_filter(input: ArrayLike, size: int | Sequence[int] = 3, output: DTypeLike = None,
                   mode: str | Sequence[str] = "reflect", cval: float = 0.0,
                   origin: int | Sequence[int] = 0, *, axes: Sequence[int] | None = None,
                   workers: int | None = None, exact: bool = True,
                   check_finite: bool = True) -> da.Array:
    """Box (mean) filter of a Dask array, as :func:`faltung.ndimage.uniform_filter`.

    On float data large boxes run as running sums, whose in-memory rounding
    depends on where each thread's block of rows starts: with ``exact=True``
    the result is chunked in whole rows at those blocks (large chunks); pass
    ``exact=False`` for the requested chunks, equal to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.uniform_filter(da.from_array(np.array([0., 0., 3., 0., 0.]), chunks=2), 3).compute()
    array([0., 1., 1., 1., 0.])
    """
    x = _input(input, "input")
    _no_array_output(output)
    ax = _validate.filter_axes(axes, x.ndim)
    n = len(ax)
    sizes = _validate.per_axis(size, n, "size", lambda v: _validate.integer(v, "size", 1))
    modes = _nd._modes(mode, n)
    origins = _validate.origin(origin, sizes)
    out_dt, _ = _validate.filter_output(output, x.shape, _native(x.dtype))
    ctx = _ctx(x, workers, exact, check_finite)
    cv = _nd._cval(cval, x)
    passes = [(a, np.full(s, 1.0 / s), m, cv, o)
              for a, s, m, o in zip(ax, sizes, modes, origins) if s > 1]
    if out_dt.kind in "iu" and x.dtype.kind in "iu":
        # as in memory: the exact integer window sum divided by the size
        cur = x
        for a, w, m, c, o in passes:
            cur = _pass1d(cur, np.ones(w.size, dtype=np.int64), a, m, c, o,
                          np.dtype(np.int64), ctx, out_dt, divide=w.size)
        return cur if passes else cur.astype(out_dt)
    cdt = _nd._cdt(x, x.dtype.kind == "c", False, out_dt)
    return _passes(x, passes, out_dt, cdt, ctx)


def uniform_filter1d(input: ArrayLike, size: int, axis: int = -1, output: DTypeLike = None,
                     mode: str = "reflect", cval: float = 0.0, origin: int = 0, *,
                     workers: int | None = None, exact: bool = True,
                     check_finite: bool = True) -> da.Array:
    """1-D box filter, as :func:`faltung.ndimage.uniform_filter1d`.

    Examples
    --------
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.uniform_filter1d(da.from_array([2.0, 8.0, 0.0, 4.0, 1.0], chunks=2), 3).compute()
    array([4.        , 3.33333333, 4.        , 1.66666667, 2.        ])
    """
    x = _input(input, "input")
    (ax,) = _validate.filter_axes(_validate.integer(axis, "axis"), x.ndim, "axis")
    s = _validate.integer(size, "size", 1)
    return uniform_filter(x, (s,), output, mode, cval, origin, axes=(ax,), workers=workers,
                          exact=exact, check_finite=check_finite)


def _derivative(input, axis, output, mode, cval, diff, smooth, workers, exact,
                check_finite) -> da.Array:
    x = _input(input, "input")
    _no_array_output(output)
    (ax,) = _validate.filter_axes(_validate.integer(axis, "axis"), x.ndim, "axis")
    modes = _nd._modes(mode, x.ndim)
    cv = _nd._cval(cval, x)
    out_dt, _ = _validate.filter_output(output, x.shape, _native(x.dtype))
    ctx = _ctx(x, workers, exact, check_finite)
    passes = [(ax, np.array(diff), modes[ax], cv, 0)]
    passes += [(a, np.array(smooth), modes[a], cv, 0) for a in range(x.ndim) if a != ax]
    cdt = _nd._cdt(x, False, True, out_dt)
    return _passes(x, passes, out_dt, cdt, ctx)


def sobel(input: ArrayLike, axis: int = -1, output: DTypeLike = None,
          mode: str | Sequence[str] = "reflect", cval: float = 0.0, *,
          workers: int | None = None, exact: bool = True,
          check_finite: bool = True) -> da.Array:
    """Sobel derivative along ``axis``, as :func:`faltung.ndimage.sobel`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> ramp = da.from_array(np.tile(np.arange(5), (3, 1)), chunks=2)
    >>> fd.sobel(ramp, axis=1).compute()[1]
    array([4, 8, 8, 8, 4])
    """
    return _derivative(input, axis, output, mode, cval, [-1, 0, 1], [1, 2, 1], workers, exact,
                       check_finite)


def prewitt(input: ArrayLike, axis: int = -1, output: DTypeLike = None,
            mode: str | Sequence[str] = "reflect", cval: float = 0.0, *,
            workers: int | None = None, exact: bool = True,
            check_finite: bool = True) -> da.Array:
    """Prewitt derivative along ``axis``, as :func:`faltung.ndimage.prewitt`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> ramp = da.from_array(np.tile(np.arange(5), (3, 1)), chunks=2)
    >>> fd.prewitt(ramp, axis=1).compute()[1]
    array([3, 6, 6, 6, 3])
    """
    return _derivative(input, axis, output, mode, cval, [-1, 0, 1], [1, 1, 1], workers, exact,
                       check_finite)


# ---------------------------------------------------------------------------
# rank filters: the in-memory filter on each extended tile
# ---------------------------------------------------------------------------

@dataclass
class _RankJob:
    name: str
    kwargs: dict
    crop: dict[int, int]   # axis -> first sample of the tile's output to keep
    kk: dict[int, int]     # axis -> footprint length
    out_dtype: np.dtype


def _rank_block(tile: np.ndarray, job: _RankJob, block_id=None) -> np.ndarray:
    # the tile already holds the boundary (faltung's rule) and the halos, so
    # the outputs kept never see the tile's own edges
    res = getattr(_nd, job.name)(tile, workers=1, **job.kwargs)
    keep = tuple(slice(job.crop[a], job.crop[a] + tile.shape[a] - job.kk[a] + 1)
                 if a in job.crop else slice(None) for a in range(tile.ndim))
    # cast only what is kept: the tile's own border outputs may not fit
    return _filters.cast(res[keep], job.out_dtype)


def _rank(name: str, input, size, footprint, output, mode, cval, origin, axes, workers,
          **extra) -> da.Array:
    x = _input(input, "input")
    _no_array_output(output)
    if x.dtype.kind == "c":
        raise TypeError(f"{name}: complex input has no ordering; filter the real and "
                        "imaginary parts (or the magnitude) separately")
    _validate.workers(workers)
    kwargs = dict(size=size, footprint=footprint, mode=mode, cval=cval, origin=origin,
                  axes=axes, **extra)
    # every argument check, and the output dtype, from the in-memory filter on a
    # one-element stand-in
    probe = getattr(_nd, name)(np.zeros((1,) * x.ndim, dtype=x.dtype), output=output,
                               **kwargs)
    out_dt = np.dtype(probe.dtype)
    ax = _validate.filter_axes(axes, x.ndim)
    modes = dict(zip(ax, _nd._modes(mode, len(ax))))
    if footprint is None:
        sizes = _validate.per_axis(size, len(ax), "size")
        shape = dict(zip(ax, sizes))
    else:
        fp = np.asarray(footprint)
        shape = dict(zip(sorted(ax), fp.shape))
    # an origin belongs to its axis; a footprint is laid out in ascending axis order
    origins = dict(zip(ax, _validate.per_axis(origin, len(ax), "origin")))
    # the values the engine works on: native order, float16 as float32
    work_dt = _native(x.dtype)
    if work_dt == np.float16:
        work_dt = np.dtype(np.float32)
    src = _source_of(x)
    xd = x.astype(work_dt)
    kind_of = {a: _validate.filter_mode(m) for a, m in modes.items()}
    fill = _validate.fillvalue(_nd._cval(cval, x), work_dt,
                               used="constant" in kind_of.values())
    windows, crop, kks = {}, {}, {}
    for a in ax:
        k = int(shape[a])
        off = -(k // 2 + int(origins[a]))
        cuts = _cuts(xd.chunks[a], xd.shape[a], -off - (k - 1) // 2, _any, k // 2)
        windows[a] = _Window(xd.shape[a], xd.shape[a], off, k, kind_of[a], cuts)
        crop[a], kks[a] = -off, k
    job = _RankJob(name=name, kwargs=kwargs, crop=crop, kk=kks, out_dtype=out_dt)
    return _blocks(xd, windows, fill, _rank_block, job, out_dt,
                   None if src is None else (src, work_dt))


def median_filter(input: ArrayLike, size: int | Sequence[int] | None = None,
                  footprint: ArrayLike | None = None, output: DTypeLike = None,
                  mode: str = "reflect", cval: float = 0.0, origin: int | Sequence[int] = 0,
                  *, axes: Sequence[int] | None = None,
                  workers: int | None = None) -> da.Array:
    """Median filter of a Dask array, as :func:`faltung.ndimage.median_filter`.

    Order statistics are exact under any chunking; ``workers`` is accepted for
    symmetry (chunks run single-threaded).

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.median_filter(da.from_array(np.array([1, 9, 2, 8, 3]), chunks=2), size=3).compute()
    array([1, 2, 8, 3, 3])
    """
    return _rank("median_filter", input, size, footprint, output, mode, cval, origin, axes,
                 workers)


def rank_filter(input: ArrayLike, rank: int, size: int | Sequence[int] | None = None,
                footprint: ArrayLike | None = None, output: DTypeLike = None,
                mode: str = "reflect", cval: float = 0.0, origin: int | Sequence[int] = 0, *,
                axes: Sequence[int] | None = None, workers: int | None = None) -> da.Array:
    """Rank filter of a Dask array, as :func:`faltung.ndimage.rank_filter`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> fd.rank_filter(da.from_array(np.array([1, 9, 2, 8, 3]), chunks=2), -1, size=3).compute()
    array([9, 9, 9, 8, 8])
    """
    return _rank("rank_filter", input, size, footprint, output, mode, cval, origin, axes,
                 workers, rank=rank)


def percentile_filter(input: ArrayLike, percentile: float,
                      size: int | Sequence[int] | None = None,
                      footprint: ArrayLike | None = None, output: DTypeLike = None,
                      mode: str = "reflect", cval: float = 0.0,
                      origin: int | Sequence[int] = 0, *, axes: Sequence[int] | None = None,
                      workers: int | None = None) -> da.Array:
    """Percentile filter of a Dask array, as :func:`faltung.ndimage.percentile_filter`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> x = da.from_array(np.array([1, 9, 2, 8, 3]), chunks=2)
    >>> fd.percentile_filter(x, 0, size=3).compute()
    array([1, 1, 2, 2, 3])
    """
    return _rank("percentile_filter", input, size, footprint, output, mode, cval, origin, axes,
                 workers, percentile=percentile)


def minimum_filter(input: ArrayLike, size: int | Sequence[int] | None = None,
                   footprint: ArrayLike | None = None, output: DTypeLike = None,
                   mode: str | Sequence[str] = "reflect", cval: float = 0.0,
                   origin: int | Sequence[int] = 0, *, axes: Sequence[int] | None = None,
                   workers: int | None = None) -> da.Array:
    """Minimum filter of a Dask array, as :func:`faltung.ndimage.minimum_filter`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> x = da.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2)
    >>> fd.minimum_filter(x, size=3).compute()
    array([1, 1, 1, 1, 1, 5])
    """
    return _rank("minimum_filter", input, size, footprint, output, mode, cval, origin, axes,
                 workers)


def maximum_filter(input: ArrayLike, size: int | Sequence[int] | None = None,
                   footprint: ArrayLike | None = None, output: DTypeLike = None,
                   mode: str | Sequence[str] = "reflect", cval: float = 0.0,
                   origin: int | Sequence[int] = 0, *, axes: Sequence[int] | None = None,
                   workers: int | None = None) -> da.Array:
    """Maximum filter of a Dask array, as :func:`faltung.ndimage.maximum_filter`.

    Examples
    --------
    >>> import numpy as np
    >>> import dask.array as da
    >>> import faltung.dask as fd
    >>> x = da.from_array(np.array([3, 1, 4, 1, 5, 9]), chunks=2)
    >>> fd.maximum_filter(x, size=3).compute()
    array([3, 4, 4, 5, 9, 9])
    """
    return _rank("maximum_filter", input, size, footprint, output, mode, cval, origin, axes,
                 workers)


# ---------------------------------------------------------------------------
# out of core
# ---------------------------------------------------------------------------

class FileArray:
    """A C-ordered array in a file (``.npy`` or raw), read and written with
    positional I/O.

    Each access reads (or writes) just the bytes of the rows and columns it
    touches, straight into (or from) its own buffer: a process filtering a file
    much larger than memory holds only the chunks in flight (an ``np.memmap``
    keeps every page it has touched mapped, and counted in its resident set;
    even a short-lived map of a window maps whole pages around each row).
    Thread- and process-safe for disjoint regions; picklable (workers reopen
    the file).

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> from faltung.dask import FileArray
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npy")
    >>> np.save(path, np.arange(12.0).reshape(3, 4))
    >>> m = FileArray.open_npy(path)
    >>> m.shape, m[1:3, 2:4].tolist()
    ((3, 4), [[6.0, 7.0], [10.0, 11.0]])
    """

    def __init__(self, path, dtype, shape, offset: int = 0, writable: bool = False):
        self.path = os.fspath(path)
        self.dtype = np.dtype(dtype)
        self.shape = tuple(int(n) for n in shape)
        self.ndim = len(self.shape)
        self.offset = int(offset)
        self.writable = writable
        if self.ndim < 1:
            raise ValueError("FileArray needs at least one dimension")

    @classmethod
    def open_npy(cls, path, writable: bool = False) -> FileArray:
        """An existing ``.npy`` file (C order)."""
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
            offset = f.tell()
        if fortran:
            raise ValueError(f"{path}: Fortran-ordered .npy files are not supported; save "
                             "the array in C order")
        if dtype.hasobject:
            raise ValueError(f"{path}: object arrays cannot be read by rows")
        return cls(path, dtype, shape, offset, writable)

    @classmethod
    def create_npy(cls, path, dtype, shape) -> FileArray:
        """A new ``.npy`` file of ``shape`` and ``dtype`` (sparse until written)."""
        header = {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                  "fortran_order": False, "shape": tuple(int(n) for n in shape)}
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            offset = f.tell()
            f.truncate(offset + int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize)
        return cls(path, dtype, shape, offset, writable=True)

    @classmethod
    def of_memmap(cls, arr: np.memmap) -> FileArray:
        """The file behind a C-contiguous ``np.memmap`` (as created, not a view)."""
        if not arr.flags.c_contiguous or arr.filename is None:
            raise ValueError("only a C-contiguous np.memmap of a file can be read by rows")
        return cls(arr.filename, arr.dtype, arr.shape, arr.offset,
                   writable=arr.mode in ("r+", "w+"))

    def _region(self, key) -> tuple[range, slice, tuple]:
        """(rows, columns, rest): step-1 ranges along the first two axes."""
        key = key if isinstance(key, tuple) else (key,)
        if Ellipsis in key or len(key) > self.ndim or not all(
                isinstance(k, slice) and k.step in (None, 1) for k in key[:2]):
            raise IndexError(f"FileArray takes slices with step 1, got {key!r}")
        key = key + (slice(None),) * (self.ndim - len(key))
        r0, r1, _ = key[0].indices(self.shape[0])
        if self.ndim == 1:
            return range(0, 1), slice(r0, max(r0, r1)), ()
        c0, c1, _ = key[1].indices(self.shape[1])
        return range(r0, max(r0, r1)), slice(c0, max(c0, c1)), tuple(key[2:])

    def _layout(self):
        if self.ndim == 1:
            return 0, self.dtype.itemsize
        inner = int(np.prod(self.shape[2:], dtype=np.int64)) * self.dtype.itemsize
        return self.shape[1] * inner, inner

    def __getitem__(self, key) -> np.ndarray:
        rows, cols, rest = self._region(key)
        row_bytes, item = self._layout()
        tail = self.shape[2:]
        shape = ((len(rows),) if self.ndim > 1 else ()) + (cols.stop - cols.start,) + tail
        out = np.empty(shape, dtype=self.dtype)
        flat = out.reshape(max(1, len(rows)), -1).view(np.uint8)
        fd = os.open(self.path, os.O_RDONLY)
        try:
            whole = cols.start == 0 and cols.stop == (self.shape[1] if self.ndim > 1
                                                      else self.shape[0])
            if whole and len(rows):
                # whole rows: one read
                _pread_into(fd, flat.reshape(-1), self.offset + rows.start * row_bytes)
            else:
                for i, r in enumerate(rows):
                    _pread_into(fd, flat[i], self.offset + r * row_bytes + cols.start * item)
        finally:
            os.close(fd)
        return out[(slice(None),) * (out.ndim - len(tail)) + rest] if rest else out

    def __setitem__(self, key, value) -> None:
        if not self.writable:
            raise ValueError(f"{self.path} is open read-only")
        rows, cols, rest = self._region(key)
        if any(r.indices(n) != (0, n, 1) for r, n in zip(rest, self.shape[2:])):
            raise IndexError("FileArray writes whole trailing axes only")
        row_bytes, item = self._layout()
        shape = ((len(rows),) if self.ndim > 1 else ()) + (cols.stop - cols.start,) + \
            self.shape[2:]
        data = np.ascontiguousarray(np.broadcast_to(np.asarray(value, dtype=self.dtype), shape))
        flat = data.reshape(max(1, len(rows)), -1).view(np.uint8)
        fd = os.open(self.path, os.O_WRONLY)
        try:
            for i, r in enumerate(rows):
                _pwrite_from(fd, flat[i], self.offset + r * row_bytes + cols.start * item)
        finally:
            os.close(fd)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, dtype=None, copy=None):
        res = self[:]
        return res if dtype is None else res.astype(dtype)

    def __repr__(self) -> str:
        return f"FileArray({self.path!r}, {self.dtype}, {self.shape})"


def _pread_into(fd: int, buf: np.ndarray, offset: int) -> None:
    view = memoryview(buf)
    done = 0
    while done < len(view):
        n = os.preadv(fd, [view[done:]], offset + done)
        if n <= 0:
            raise OSError(f"unexpected end of file reading {len(view)} bytes at {offset}")
        done += n


def _pwrite_from(fd: int, buf: np.ndarray, offset: int) -> None:
    view = memoryview(buf)
    done = 0
    while done < len(view):
        done += os.pwritev(fd, [view[done:]], offset + done)


def _source(src) -> object:
    if isinstance(src, np.memmap):
        return FileArray.of_memmap(src)
    return src


def _whole_pixels(res: da.Array) -> da.Array:
    """``res`` with each block spanning the axes after the first two whole.

    :class:`FileArray` writes a block as one contiguous run of bytes per row,
    so a block must hold whole pixels (all channels): one that holds some of
    them (channels computed separately, a trailing axis chunked) would need a
    write per pixel. Merging along the trailing axes keeps the row and column
    chunks, so a block is no larger than one chunk of every channel.
    """
    if res.ndim > 2 and any(len(c) > 1 for c in res.chunks[2:]):
        res = res.rechunk({axis: -1 for axis in range(2, res.ndim)})
    return res


def _compute(target, progress: bool, scheduler):
    """Compute a delayed store, with Dask's progress display when asked."""
    client = None
    if scheduler is None:
        try:
            from distributed import get_client

            client = get_client()
        except (ImportError, ValueError):
            client = None
    if client is not None:
        future = client.compute(target)
        if progress:
            from distributed import progress as show

            show(future)
        return future.result()
    if progress:
        from dask.diagnostics import ProgressBar

        with ProgressBar():
            return dask.compute(target, scheduler=scheduler)
    return dask.compute(target, scheduler=scheduler)


def filter_chunked(src, dst, func: Callable | str, *args, chunks=4096, progress: bool = False,
                   scheduler=None, **kwargs):
    """Filter an array larger than memory chunk by chunk into another.

    ``func`` is a function of this module (or its name), called as
    ``func(dask_src, *args, **kwargs)``; its result is written into ``dst``
    block by block with :func:`dask.array.store`. Memory held at once is a
    few chunks per thread (the tile with its halos, its compute-dtype copy
    and the output block) plus the halo strips between chunk rows: about
    ``threads * 4 * chunk bytes`` for float32 work, not the array's size.

    Parameters
    ----------
    src : array_like
        Any sliceable array: ``np.memmap`` (read by rows through
        :class:`FileArray`, so untouched pages never count as resident), a
        Zarr array (also a TIFF opened with ``tifffile.imread(path,
        aszarr=True)``), :class:`FileArray`, h5py dataset, NumPy array.
    dst : array_like
        Writable array of the result's shape: ``np.memmap`` (written by rows,
        whole pixels: blocks are merged along the axes after the first two),
        Zarr array, :class:`FileArray`, NumPy array.
    func : callable or str
        E.g. :func:`gaussian_filter` or ``'gaussian_filter'``.
    chunks : int or tuple
        Chunk shape for reading ``src`` (Dask's ``chunks``).
    progress : bool
        Show Dask's progress bar (or ``distributed.progress`` on a cluster).
    scheduler : str, optional
        Dask scheduler (``'threads'``, ``'synchronous'``, ...); default: the
        active ``distributed.Client`` if any, else Dask's default.

    Returns
    -------
    dst

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> import faltung.dask as fd
    >>> from faltung import ndimage
    >>> folder = tempfile.mkdtemp()
    >>> src = np.lib.format.open_memmap(os.path.join(folder, "in.npy"), "w+", np.float32,
    ...                                 (300, 200))
    >>> src[:] = np.random.default_rng(0).random((300, 200))
    >>> dst = np.lib.format.open_memmap(os.path.join(folder, "out.npy"), "w+", np.float32,
    ...                                 (300, 200))
    >>> _ = fd.filter_chunked(src, dst, "gaussian_filter", 2.0, chunks=64)
    >>> bool(np.array_equal(dst, ndimage.gaussian_filter(np.asarray(src), 2.0)))
    True
    """
    fn = _FUNCS.get(func) if isinstance(func, str) else func
    if fn is None:
        raise ValueError(f"func must be a function or the name of one of: "
                         f"{', '.join(sorted(_FUNCS))}; got {func!r}")
    source = _source(src)
    x = da.from_array(source, chunks=chunks, name=False, lock=False, asarray=True)
    _SOURCES[x.name] = (x.name, source)
    try:
        res = fn(x, *args, **kwargs)
    finally:
        _forget_sources(x.name)
    if not isinstance(res, da.Array):
        raise TypeError(f"func must return a Dask array, got {type(res).__name__}")
    if tuple(res.shape) != tuple(dst.shape):
        raise ValueError(f"dst has shape {tuple(dst.shape)}, but the result has shape "
                         f"{tuple(res.shape)}")
    target = _source(dst)
    lock = True
    if isinstance(target, FileArray):
        lock = False  # each block writes its own bytes
        res = _whole_pixels(res)
    elif isinstance(getattr(target, "chunks", None), tuple) and \
            len(target.chunks) == res.ndim and all(isinstance(c, int) for c in target.chunks):
        # whole destination chunks per block: no two blocks write one chunk
        res = res.rechunk(tuple(target.chunks))
        lock = False
    stored = da.store(res, target, lock=lock, compute=False)
    _compute(stored, progress, scheduler)
    return dst


# --------------------------------------------------------------------------- files

def _sigma(p: dict, default: float = 1.0) -> float:
    return p["sigma"] if p.get("sigma") is not None else default


def _size(p: dict, default: int = 3) -> int:
    return p.get("size") or default


def _axis(p: dict) -> int:
    axis = p.get("axis") or "x"
    if axis not in ("x", "y"):
        raise ValueError(f"axis must be 'x' or 'y', got {axis!r}")
    return 1 if axis == "x" else 0


def _per_channel(fn: Callable[[da.Array], da.Array], x: da.Array) -> da.Array:
    if x.ndim == 2:
        return fn(x)
    return da.stack([fn(x[..., c]) for c in range(x.shape[-1])], axis=-1)


def _dog(x, b, p):
    lo = _validate.real_number(_sigma(p), "sigma", 0.0)
    hi = 1.6 * lo if p.get("sigma2") is None else _validate.real_number(p["sigma2"], "sigma2",
                                                                         0.0)
    if hi < lo:
        raise ValueError(f"sigma2 ({hi}) must be >= sigma ({lo})")
    g = [gaussian_filter(x, s, mode=b, axes=(0, 1)) for s in (lo, hi)]
    return g[0] - g[1]


def _unsharp(x, b, p):
    a = _validate.real_number(p.get("amount") or 1.0, "amount")
    blurred = gaussian_filter(x, _sigma(p), mode=b, axes=(0, 1))
    return x + x.dtype.type(a) * (x - blurred)


def _gaussian(x, b, p):
    if p.get("iir"):
        raise ValueError("the recursive (iir) Gaussian cannot be computed chunk by chunk; "
                         "leave out iir")
    return gaussian_filter(x, _sigma(p), mode=b, axes=(0, 1))


#: Filters :func:`filter_file` knows, by the names of :data:`faltung.filters.NAMED`
#: (the CLI's ``--filter``): ``(function of (image, boundary, params), params used)``.
#: Each gives the result of ``faltung.filters.by_name`` on the same image.
FILE_FILTERS: dict[str, tuple[Callable, tuple[str, ...]]] = {
    "gaussian": (_gaussian, ("sigma", "iir")),
    "box": (lambda x, b, p: uniform_filter(x, _size(p), mode=b, axes=(0, 1),
                                           exact=p.get("_exact", True)), ("size",)),
    "median": (lambda x, b, p: median_filter(x, _size(p), mode=b, axes=(0, 1)), ("size",)),
    "min": (lambda x, b, p: minimum_filter(x, _size(p), mode=b, axes=(0, 1)), ("size",)),
    "max": (lambda x, b, p: maximum_filter(x, _size(p), mode=b, axes=(0, 1)), ("size",)),
    "sobel": (lambda x, b, p: _per_channel(lambda c: sobel(c, _axis(p), mode=b), x),
              ("axis",)),
    "prewitt": (lambda x, b, p: _per_channel(lambda c: prewitt(c, _axis(p), mode=b), x),
                ("axis",)),
    "dog": (_dog, ("sigma", "sigma2")),
    "unsharp": (_unsharp, ("sigma", "amount")),
}


def _open_input(path: Path):
    """(array-like, scale unit, bit depth) of an input file, read lazily."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        src = FileArray.open_npy(path)
        unit, depth = {"uint8": (255.0, 8), "uint16": (65535.0, 16)}.get(src.dtype.name,
                                                                          (1.0, 8))
        return src, unit, depth, False
    if suffix in (".tif", ".tiff"):
        import tifffile
        import zarr

        src = zarr.open(tifffile.imread(path, aszarr=True), mode="r")
        if src.dtype in (np.uint8, np.uint16):
            return src, 1.0, 8 * src.dtype.itemsize, True
        return src, 1.0, 0, False
    if suffix == ".zarr":
        import zarr

        return zarr.open(path, mode="r"), 1.0, 0, False
    raise ValueError(f"cannot read {str(path)!r} out of core: use .npy, .tif/.tiff or .zarr")


def filter_file(input_path, output_path, filter_name: str, params: dict | None = None,
                chunks: int | tuple[int, ...] = 4096, *, boundary: str = "reflect",
                progress: bool = False, scheduler=None) -> tuple[tuple[int, ...], np.dtype]:
    """Apply a named filter to an image file too big for memory, chunk by chunk.

    The values are those of ``faltung filter`` (the CLI) without chunks - bit
    for bit, except for ``box`` on a large image, where the exact result would
    need chunks of whole rows (running sums restart at the in-memory thread
    blocks) more than four times the requested chunk: then the requested
    chunks are kept and the result agrees to rounding. An
    8/16-bit TIFF is filtered as float32 in [0, 1]; a ``.npy`` array as
    float32 (float64 stays float64) with its values; a float TIFF or Zarr
    array as it is. A ``.npy`` output holds the float result; a TIFF output
    is written back at the input's bit depth (``rint(clip(v, 0, 1) * max)``,
    as the CLI writes images; float for float input), uncompressed with its
    samples in one run, each block written where it goes; a ``.zarr`` output
    holds the float result. Every block reads its window (chunk and halo)
    from the input file itself, so memory holds about ``threads x 4`` float
    chunks whatever the image's size. If the computation fails while a
    ``.npy`` or TIFF output is being written, the partial file is removed (a
    Zarr output is left as it is).

    Parameters
    ----------
    input_path, output_path : str or Path
        ``.npy``, ``.tif``/``.tiff`` or ``.zarr``; images are (H, W) or
        (H, W, C) (channels filtered independently; a 2nd or 4th channel is
        taken as alpha and kept).
    filter_name : str
        A key of :data:`FILE_FILTERS` (``gaussian``, ``box``, ``median``,
        ``min``, ``max``, ``sobel``, ``prewitt``, ``dog``, ``unsharp``).
    params : dict
        The CLI's filter parameters: ``sigma``, ``size``, ``axis`` ('x'/'y'),
        ``sigma2``, ``amount``.
    chunks : int or tuple
        Chunk edge (rows, columns) read and filtered at once.
    boundary : str
        Boundary name (every alias faltung knows).
    progress : bool
        Show Dask's progress bar.
    scheduler : str, optional
        Dask scheduler; default: the active ``distributed.Client`` if any,
        else threads.

    Returns
    -------
    (shape, dtype) of what was written.

    Examples
    --------
    >>> import numpy as np, os, tempfile
    >>> import faltung.dask as fd
    >>> from faltung import filters
    >>> folder = tempfile.mkdtemp()
    >>> image = np.random.default_rng(0).random((200, 150)).astype(np.float32)
    >>> np.save(os.path.join(folder, "in.npy"), image)
    >>> fd.filter_file(os.path.join(folder, "in.npy"), os.path.join(folder, "out.npy"),
    ...                "gaussian", {"sigma": 2.0}, chunks=64)
    ((200, 150), dtype('float32'))
    >>> out = np.load(os.path.join(folder, "out.npy"))
    >>> bool(np.array_equal(out, filters.by_name("gaussian", image, sigma=2.0)))
    True
    """
    params = dict(params or {})
    key = filter_name.strip().lower().replace("-", "_") if isinstance(filter_name, str) else None
    if key not in FILE_FILTERS:
        raise ValueError(f"unknown filter {filter_name!r} for out-of-core filtering; known: "
                         f"{', '.join(sorted(FILE_FILTERS))}")
    fn, takes = FILE_FILTERS[key]
    extra = [k for k, v in params.items() if v not in (None, False) and k not in takes]
    if extra:
        raise ValueError(f"filter {key!r} does not take {', '.join(extra)} "
                         f"(it takes: {', '.join(takes) or 'no parameters'})")
    params.pop("_exact", None)
    inp, outp = Path(input_path), Path(output_path)
    if outp.exists() and inp.exists() and os.path.samefile(inp, outp):
        # the output is created (emptied) before the input is read
        raise ValueError(f"output_path must not be input_path ({str(inp)!r})")
    src, unit, depth, scaled = _open_input(inp)
    if src.ndim not in (2, 3) or 0 in src.shape:
        raise ValueError(f"{inp}: expected a non-empty (H, W) or (H, W, C) image, got shape "
                         f"{tuple(src.shape)}")
    if np.dtype(src.dtype).kind not in "iuf":
        raise TypeError(f"{inp}: expected an integer or float image, got {src.dtype}")
    if isinstance(chunks, (int, np.integer)):
        chunks = (int(chunks), int(chunks)) + ((-1,) if src.ndim == 3 else ())
    x = da.from_array(src, chunks=chunks, name=False, lock=False, asarray=True)
    work = np.float64 if x.dtype == np.float64 else np.float32
    data = x.astype(work)
    if scaled:
        data = data / work(255.0 if depth == 8 else 65535.0)
    alpha = data.ndim == 3 and data.shape[2] in (2, 4)
    colour = data[..., :-1] if alpha else data
    # every block reads its window straight from the file (converted there),
    # so that no block waits, holding chunks, for its neighbours' chunks
    _SOURCES[colour.name] = (x.name, _Converted(
        src, colour.shape[2] if colour.ndim == 3 else None, work,
        (255.0 if depth == 8 else 65535.0) if scaled else None))
    try:
        res = fn(colour, boundary, params)
        limit = 4 * np.prod(x.chunksize[:2]) * res.dtype.itemsize
        if max(np.prod(c[:2]) for c in itertools.product(*res.chunks[:2])) * \
                res.dtype.itemsize > limit:
            # an exact box filter on float data would need whole-row chunks at the
            # in-memory thread blocks (running sums): keep the chunks asked for
            res = fn(colour, boundary, {**params, "_exact": False})
    finally:
        _forget_sources(x.name)
    res = res.astype(colour.dtype, copy=False)
    if alpha:
        res = da.concatenate([res, data[..., -1:]], axis=-1)
    suffix = outp.suffix.lower()
    if suffix == ".npy":
        # channels computed apart (alpha kept, sobel/prewitt per channel) come
        # in blocks of some channels; FileArray writes whole pixels
        res = _whole_pixels(res)
        target = FileArray.create_npy(outp, res.dtype, res.shape)
        try:
            _compute(da.store(res, target, lock=False, compute=False), progress, scheduler)
        except BaseException:
            # create_npy has replaced whatever was there: drop the half-written file
            outp.unlink(missing_ok=True)
            raise
        return tuple(res.shape), np.dtype(res.dtype)
    if suffix == ".zarr":
        import zarr

        z = zarr.open(outp, mode="w", shape=res.shape, dtype=res.dtype,
                      chunks=tuple(c[0] for c in res.chunks))
        res = res.rechunk(z.chunks)
        _compute(da.store(res, z, lock=False, compute=False), progress, scheduler)
        return tuple(res.shape), np.dtype(res.dtype)
    if suffix in (".tif", ".tiff"):
        return _write_tiff(outp, res, unit, depth, progress, scheduler)
    raise ValueError(f"cannot write {str(outp)!r} out of core: use .npy, .tif/.tiff or .zarr")


def _write_tiff(path: Path, res: da.Array, unit: float, depth: int, progress: bool,
                scheduler):
    import tifffile

    if depth:
        out_dt = np.dtype(np.uint8 if depth == 8 else np.uint16)
        maxval = 255.0 if depth == 8 else 65535.0
        # as the CLI writes images: clip to [0, 1] in the input's unit, round
        res = da.map_blocks(_quantize, res, unit, maxval, out_dt, dtype=out_dt)
    out_dt = np.dtype(res.dtype)
    res = _whole_pixels(res)
    # An uncompressed TIFF with its samples in one contiguous run: each block
    # is written where it goes, in any order, like a .npy (a tiled TIFF would
    # have to be written tile row by tile row, holding a whole row of blocks).
    mm = tifffile.memmap(path, shape=res.shape, dtype=out_dt,
                         photometric="rgb" if res.ndim == 3 and res.shape[2] in (3, 4)
                         else "minisblack", bigtiff=res.nbytes >= (1 << 32) - (1 << 25))
    try:
        target = FileArray.of_memmap(mm)
        del mm
        _compute(da.store(res, target, lock=False, compute=False), progress, scheduler)
    except BaseException:
        path.unlink(missing_ok=True)  # a half-written TIFF
        raise
    return tuple(res.shape), out_dt


def _quantize(block: np.ndarray, unit: float, maxval: float, dt: np.dtype) -> np.ndarray:
    # in place: one temporary of the block, not four
    v = np.nan_to_num(block / unit, copy=False, nan=0.0, posinf=1.0, neginf=0.0)
    np.clip(v, 0.0, 1.0, out=v)
    v *= maxval
    return np.rint(v, out=v).astype(dt)


_FUNCS: dict[str, Callable] = {
    name: globals()[name] for name in (
        "convolve", "convolve1d", "convolve2d", "correlate", "correlate1d", "correlate2d",
        "gaussian_filter", "gaussian_filter1d", "maximum_filter", "median_filter",
        "minimum_filter", "percentile_filter", "prewitt", "rank_filter", "sobel",
        "uniform_filter", "uniform_filter1d")}
