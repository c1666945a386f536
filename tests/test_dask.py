"""faltung.dask: chunked results equal the in-memory ones bit for bit.

The oracle is faltung itself in memory (faltung.convolve2d / faltung.ndimage),
which the rest of the suite checks against scipy, ndimage, cv2 and torch.
"""

import os
import pickle
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

import faltung  # noqa: E402
import faltung.dask as fd  # noqa: E402
from faltung import filters, ndimage  # noqa: E402

BOUNDARIES = ("fill", "symm", "wrap", "mirror", "nearest")
MODES = ("full", "same", "valid")
ND_MODES = ("reflect", "constant", "nearest", "mirror", "wrap")
DTYPES = ("float32", "float64", "complex64", "complex128", "float16", "uint8", "int16",
          "int64")


@pytest.fixture(autouse=True)
def _synchronous():
    # one thread per test: results must not depend on the scheduler, and the
    # suite shares the machine's two cores
    with dask.config.set(scheduler="synchronous"):
        yield


def _chunking(draw, n):
    """A random chunking of an axis of length n: sizes 1 .. n."""
    cuts = draw(st.lists(st.integers(1, max(1, n - 1)), max_size=4, unique=True))
    edges = sorted({0, n, *[c for c in cuts if 0 < c < n]})
    return tuple(b - a for a, b in zip(edges[:-1], edges[1:]))


@st.composite
def signal_cases(draw):
    h, w = draw(st.integers(1, 40)), draw(st.integers(1, 40))
    kh, kw = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    dt = np.dtype(draw(st.sampled_from(DTYPES)))
    kind = draw(st.sampled_from(("random", "rank1", "box")))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    if dt.kind in "iu":
        x = rng.integers(0, 50, (h, w)).astype(dt)
        k = np.ones((kh, kw), int) if kind == "box" else rng.integers(-3, 4, (kh, kw))
    else:
        x = rng.standard_normal((h, w)).astype(dt)
        if dt.kind == "c":
            x = x + 1j * rng.standard_normal((h, w)).astype(dt)
        if kind == "box":
            k = np.full((kh, kw), 1.0 / (kh * kw))
        elif kind == "rank1":
            k = np.outer(rng.standard_normal(kh), rng.standard_normal(kw))
        else:
            k = rng.standard_normal((kh, kw))
    chunks = (_chunking(draw, h), _chunking(draw, w))
    return (x, k, draw(st.sampled_from(MODES)), draw(st.sampled_from(BOUNDARIES)),
            draw(st.integers(-2, 2)), draw(st.booleans()), draw(st.sampled_from((1, 2))),
            chunks)


def _same(got, ref):
    assert got.dtype == ref.dtype
    assert got.shape == ref.shape
    np.testing.assert_array_equal(got, ref)


@given(signal_cases())
def test_signal_equals_in_memory(case):
    """Every mode, boundary, dtype and chunking (chunks of one sample
    included) gives the in-memory result bit for bit."""
    x, k, mode, boundary, fill, flip, workers, chunks = case
    mem = faltung.convolve2d if flip else faltung.correlate2d
    lazy = fd.convolve2d if flip else fd.correlate2d
    xd = da.from_array(x, chunks=chunks)
    try:
        ref = mem(x, k, mode, boundary, fill, workers=workers)
    except (ValueError, OverflowError) as exc:
        with pytest.raises(type(exc)):
            lazy(xd, k, mode, boundary, fill, workers=workers).compute()
        return
    res = lazy(xd, k, mode, boundary, fill, workers=workers)
    assert res.shape == ref.shape and res.dtype == ref.dtype  # known before computing
    _same(res.compute(), ref)


# Cases where the in-memory engines start blocks of rows or tiles at fixed
# places: each must be reproduced, whatever chunks were asked for.
ENGINE_CASES = [
    # (shape, kernel, method, workers, dtype, chunks)
    ((301, 257), "random11", "direct", 2, "float64", (45, 70)),     # odd thread blocks
    ((301, 257), "random11", "direct", 2, "complex64", (45, 70)),   # pairs + complex loop tail
    ((200, 230), "random3", "direct", 2, "float32", (33, 51)),      # 3x3 loop, border columns
    ((260, 300), "box25", "running", 2, "float64", (40, 50)),       # running sums per block
    ((260, 300), "box5", "running", 1, "float32", (64, 64)),
    ((900, 880), "random15", "fft", 2, "float32", (200, 250)),      # overlap-save tiles
    ((900, 880), "random15", "fft", 1, "complex64", (128, 300)),
    ((420, 380), "random31", "fft", 2, "float64", (100, 90)),       # whole-image FFT
    ((300, 280), "rank1_21", "separable", 2, "float32", (37, 41)),
]


def _kernel(spec, dtype, rng):
    kind, n = spec.rstrip("0123456789").rstrip("_"), int(spec.lstrip("abcdefghijklmnopqrstuvwxyz_"))
    if kind == "box":
        k = np.full((n, n), 1.0 / n ** 2)
    elif kind == "rank1":
        k = np.outer(rng.standard_normal(n), rng.standard_normal(n))
    else:
        k = rng.standard_normal((n, n))
    return k.astype(dtype)


@pytest.mark.parametrize("shape, kspec, method, workers, dtype, chunks", ENGINE_CASES)
@pytest.mark.parametrize("boundary", ["symm", "wrap", "fill"])
def test_engines_exact(shape, kspec, method, workers, dtype, chunks, boundary, rng):
    x = rng.standard_normal(shape).astype(dtype)
    k = _kernel(kspec, dtype, rng)
    if method == "fft":
        k = k.astype(dtype)
    report = faltung.explain(x, k, "same", boundary, method=method, workers=workers)
    assert f"chosen: {method}" in report
    chosen = next(line for line in report.splitlines() if line.startswith(" *"))
    ref = faltung.convolve2d(x, k, "same", boundary, method=method, workers=workers)
    res = fd.convolve2d(da.from_array(x, chunks=chunks), k, "same", boundary, method=method,
                        workers=workers)
    if "whole image" in chosen:
        assert res.numblocks == (1, 1)  # one transform of everything, as in memory
    elif "overlap-save" in chosen:
        step = int(chosen.split("tiles ")[1].split("x")[0]) - k.shape[0] + 1
        assert all(c % step == 0 for c in res.chunks[0][:-1])
    _same(res.compute(), ref)


def test_exact_false_keeps_chunks(rng):
    x = rng.standard_normal((260, 300))
    k = np.full((25, 25), 1 / 625)
    ref = faltung.convolve2d(x, k, "same", "symm", workers=2)
    exact = fd.convolve2d(da.from_array(x, chunks=64), k, "same", "symm", workers=2)
    loose = fd.convolve2d(da.from_array(x, chunks=64), k, "same", "symm", workers=2,
                          exact=False)
    # the requested chunks, the last row of chunks merged up to the reach (12)
    assert loose.chunks == ((64, 64, 64, 68), (64, 64, 64, 64, 44))
    assert exact.chunks == ((260,), (300,))  # running sums: one block in memory too
    _same(exact.compute(), ref)
    np.testing.assert_allclose(loose.compute(), ref, rtol=1e-12, atol=1e-14)


def test_small_chunks_are_merged(rng):
    """Chunks smaller than the kernel's reach work: they are merged with a
    neighbour until each holds the reach."""
    x = rng.standard_normal((40, 37)).astype(np.float32)
    k = rng.standard_normal((15, 15)).astype(np.float32)
    res = fd.convolve2d(da.from_array(x, chunks=(1, 3)), k, "same", "mirror")
    assert min(res.chunks[0]) >= 7 and min(res.chunks[1]) >= 7
    _same(res.compute(), faltung.convolve2d(x, k, "same", "mirror"))


def test_batch_axes_and_batched_kernel(rng):
    x = rng.standard_normal((3, 30, 4, 28))
    k = rng.standard_normal((3, 5, 4, 6))       # one kernel per image, axes (1, 3)
    xd = da.from_array(x, chunks=(2, 11, 3, 9))
    res = fd.convolve2d(xd, k, "same", "wrap", axes=(1, 3))
    _same(res.compute(), faltung.convolve2d(x, k, "same", "wrap", axes=(1, 3)))
    k2 = rng.standard_normal((5, 6))
    res = fd.correlate2d(xd, k2, "full", "symm", axes=(-3, -1))
    _same(res.compute(), faltung.correlate2d(x, k2, "full", "symm", axes=(-3, -1)))


def test_valid_swap(rng):
    x = rng.standard_normal((5, 6))
    k = rng.standard_normal((9, 10))
    res = fd.convolve2d(da.from_array(x, chunks=2), k, "valid")
    _same(res.compute(), faltung.convolve2d(x, k, "valid"))


def test_awkward_inputs_work_and_are_not_modified(rng):
    base = rng.standard_normal((40, 50))
    big = base.astype(">f8")
    ro = base[::2, ::-1].copy()
    ro.flags.writeable = False
    k = rng.standard_normal((4, 5))
    for x in (big, ro, base[::2, ::3], np.asfortranarray(base)):
        before = x.copy()
        res = fd.convolve2d(da.from_array(x, chunks=(7, 9)), k, "same", "symm").compute()
        _same(res, faltung.convolve2d(x, k, "same", "symm"))
        np.testing.assert_array_equal(x, before)
    # a NumPy array is accepted as well
    _same(fd.correlate2d(base, k, "full").compute(), faltung.correlate2d(base, k, "full"))


def test_integer_overflow_raises():
    x = da.from_array(np.full((20, 20), 200, np.uint8), chunks=7)
    res = fd.convolve2d(x, np.ones((3, 3), np.uint8), "same")
    assert res.dtype == np.uint8
    with pytest.raises(OverflowError, match="does not fit"):
        res.compute()
    with pytest.raises(OverflowError):
        fd.sobel(da.from_array(np.tile(np.arange(9, 0, -1, dtype=np.uint8), (6, 1)), chunks=4),
                 axis=1).compute()


def test_argument_errors():
    with pytest.raises(TypeError, match="in1 has dtype bool"):
        fd.convolve2d(da.ones((4, 4), dtype=bool, chunks=2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="in1 is empty"):
        fd.convolve2d(da.ones((0, 4), chunks=2), np.ones((2, 2)))
    with pytest.raises(ValueError, match="mode must be one of"):
        fd.convolve2d(da.ones((4, 4), chunks=2), np.ones((2, 2)), mode="middle")
    with pytest.raises(ValueError, match="boundary must be one of"):
        fd.convolve2d(da.ones((4, 4), chunks=2), np.ones((2, 2)), boundary="bounce")
    with pytest.raises(TypeError, match="output must be None or a dtype"):
        fd.gaussian_filter(da.ones((4, 4), chunks=2), 1.0, output=np.empty((4, 4)))
    with pytest.raises(ValueError, match="iir"):
        fd.gaussian_filter(da.ones((4, 4), chunks=2), 1.0, method="iir")
    with pytest.raises(ValueError, match="sigma must be >= 0"):
        fd.gaussian_filter(da.ones((4, 4), chunks=2), -1.0)
    with pytest.raises(TypeError, match="complex input has no ordering"):
        fd.median_filter(da.ones((4, 4), dtype=complex, chunks=2), 3)
    with pytest.raises(ValueError, match="does not fit the input dtype"):
        fd.median_filter(da.ones((4, 4), dtype=np.uint8, chunks=2), 3, mode="constant",
                         cval=-1)


def test_nan_and_inf(rng):
    x = rng.standard_normal((90, 80)).astype(np.float32)
    x[40, 33] = np.nan
    x[3, 70] = np.inf
    k = np.outer(np.hanning(9), np.hanning(9)).astype(np.float32)
    ref = faltung.convolve2d(x, k, "same", "symm")
    xd = da.from_array(x, chunks=30)
    _same(fd.convolve2d(xd, k, "same", "symm").compute(), ref)   # scanned: direct everywhere
    local = fd.convolve2d(xd, k, "same", "symm", check_finite=False).compute()
    np.testing.assert_array_equal(np.isnan(local), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(local), np.isinf(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(local[fin], ref[fin], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# ndimage filters
# ---------------------------------------------------------------------------

@st.composite
def filter_cases(draw):
    ndim = draw(st.sampled_from((1, 2, 2, 3)))
    shape = tuple(draw(st.integers(1, 30 if ndim < 3 else 9)) for _ in range(ndim))
    dt = np.dtype(draw(st.sampled_from(("float32", "float64", "uint8", "int16", "float16"))))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    x = (rng.standard_normal(shape) * 40).astype(dt) if dt.kind == "f" else \
        rng.integers(0, 120, shape).astype(dt)
    name = draw(st.sampled_from(("gaussian_filter", "uniform_filter", "correlate", "convolve",
                                 "sobel", "prewitt", "median_filter", "minimum_filter",
                                 "maximum_filter", "gaussian_filter1d", "uniform_filter1d",
                                 "correlate1d", "percentile_filter")))
    mode = draw(st.sampled_from(ND_MODES))
    kw = {"mode": mode, "cval": draw(st.sampled_from((0.0, -2.0, 1.5)))}
    if draw(st.booleans()):
        kw["output"] = draw(st.sampled_from(("float32", "float64", "int32")))
    args = ()
    axes = tuple(sorted(draw(st.permutations(range(ndim)))[:min(ndim, 2)]))
    if name == "gaussian_filter":
        args = (draw(st.floats(0.3, 3.0)),)
        kw["order"] = draw(st.integers(0, 2))
        if ndim > 1 and draw(st.booleans()):
            kw["mode"] = [draw(st.sampled_from(ND_MODES)) for _ in range(ndim)]
    elif name == "uniform_filter":
        kw["size"] = draw(st.integers(1, 9))
    elif name in ("correlate", "convolve"):
        kw["axes"] = axes
        args = (rng.standard_normal(tuple(draw(st.integers(1, 7)) for _ in axes)),)
    elif name in ("sobel", "prewitt", "gaussian_filter1d", "uniform_filter1d", "correlate1d"):
        kw["axis"] = draw(st.integers(0, ndim - 1))
        if name == "gaussian_filter1d":
            args = (draw(st.floats(0.3, 3.0)),)
        elif name == "uniform_filter1d":
            args = (draw(st.integers(1, 9)),)
        elif name == "correlate1d":
            args = (rng.standard_normal(draw(st.integers(1, 7))),)
    else:
        kw["axes"] = axes
        if name == "percentile_filter":
            args = (draw(st.sampled_from((0, 30, 50, 100))),)
        if draw(st.booleans()):
            kw["size"] = draw(st.integers(1, 6))
        else:
            kw["footprint"] = rng.random(tuple(draw(st.integers(1, 5)) for _ in axes)) < 0.6
            kw["footprint"].flat[0] = True
    chunks = tuple(_chunking(draw, n) for n in shape)
    return name, x, args, kw, chunks


@given(filter_cases())
def test_filters_equal_in_memory(case):
    name, x, args, kw, chunks = case
    xd = da.from_array(x, chunks=chunks)
    lazy = getattr(fd, name)
    try:
        ref = getattr(ndimage, name)(x, *args, **kw)
    except (ValueError, OverflowError, TypeError) as exc:
        with pytest.raises(type(exc)):
            lazy(xd, *args, **kw).compute()
        return
    _same(lazy(xd, *args, **kw).compute(), ref)


def test_gaussian_3d_and_channels(rng):
    x = rng.standard_normal((12, 40, 3)).astype(np.float32)
    xd = da.from_array(x, chunks=(5, 13, 1))
    _same(fd.gaussian_filter(xd, 1.5, axes=(0, 1)).compute(),
          ndimage.gaussian_filter(x, 1.5, axes=(0, 1)))
    _same(fd.gaussian_filter(xd, (1.0, 2.0, 0.5)).compute(),
          ndimage.gaussian_filter(x, (1.0, 2.0, 0.5)))
    _same(fd.uniform_filter(xd, 5, mode=("wrap", "nearest", "mirror")).compute(),
          ndimage.uniform_filter(x, 5, mode=("wrap", "nearest", "mirror")))


@pytest.mark.parametrize("mode", ND_MODES)
@pytest.mark.parametrize("chunks", [(64, 50), ((5, 100, 102), (3, 120, 87)), (210, 210),
                                    ((7, 7, 193), (33, 177))])
def test_stored_chunks_are_read_in_place(rng, monkeypatch, mode, chunks):
    """A separable plan reads each stored (C-contiguous) chunk where it lies
    and copies only its frame; the result is still the in-memory one, chunks
    smaller than the halo and all five boundaries included."""
    import faltung.engines.separable as sep

    used = []
    real = sep.correlate_framed

    def spy(center, *args):
        used.append(center.shape)
        return real(center, *args)

    monkeypatch.setattr(sep, "correlate_framed", spy)
    x = rng.standard_normal((207, 210)).astype(np.float32)
    # copies: from_array's chunks are views into x, not stored blocks
    xd = da.from_array(x, chunks=chunks).map_blocks(np.copy)
    for sigma, kw in ((2.5, {}), ((1.0, 3.0), {"truncate": 3.0}), (1.5, {"order": (0, 1)})):
        _same(fd.gaussian_filter(xd, sigma, mode=mode, cval=0.75, **kw).compute(),
              ndimage.gaussian_filter(x, sigma, mode=mode, cval=0.75, **kw))
    assert used
    w = rng.standard_normal((5, 1)) * rng.standard_normal((1, 7))
    _same(fd.correlate(xd, w, mode=mode).compute(), ndimage.correlate(x, w, mode=mode))


@pytest.mark.parametrize("shape, chunks", [((87, 15), ((62, 11, 14), (3, 5, 7))),
                                           ((9, 70, 40), ((4, 5), (30, 40), (25, 15)))])
def test_passes_along_the_last_axis(rng, shape, chunks):
    """faltung.ndimage runs a 1-D pass along the last axis as one tall image of
    all lines, so running sums and row pairs cross lines: chunks must follow."""
    x = rng.standard_normal(shape) * 50
    xd = da.from_array(x, chunks=chunks)
    modes = ["mirror", "nearest", "wrap"][:x.ndim]
    _same(fd.uniform_filter(xd, 33, mode=modes).compute(),
          ndimage.uniform_filter(x, 33, mode=modes))
    w = rng.standard_normal(12)
    _same(fd.correlate1d(xd, w, axis=-1, mode="wrap").compute(),
          ndimage.correlate1d(x, w, axis=-1, mode="wrap"))


# ---------------------------------------------------------------------------
# out of core
# ---------------------------------------------------------------------------

def test_memmap_out_of_core_memory_bound(tmp_path, rng):
    """A memmap 64 times the chunk size is filtered into a memmap while the
    Python heap (NumPy buffers included) holds only a few chunks."""
    n, chunk = 2048, 256
    src = np.lib.format.open_memmap(tmp_path / "in.npy", "w+", np.float32, (n, n))
    for r in range(0, n, 256):
        src[r:r + 256] = rng.random((256, n), dtype=np.float32)
    src.flush()
    dst = np.lib.format.open_memmap(tmp_path / "out.npy", "w+", np.float32, (n, n))
    fd.gaussian_filter(np.zeros((40, 40), np.float32), 3.0).compute()  # compile outside
    tracemalloc.start()
    try:
        fd.filter_chunked(src, dst, fd.gaussian_filter, 3.0, chunks=chunk,
                          scheduler="threads")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    chunk_bytes = chunk * chunk * 4
    # measured: about 7 chunks (two threads, each with a tile and its result,
    # plus the results being written); the image is 64 chunks
    assert peak < 16 * chunk_bytes, f"peak {peak / 2 ** 20:.1f} MiB"
    ref = ndimage.gaussian_filter(np.asarray(src), 3.0)
    np.testing.assert_array_equal(np.asarray(dst), ref)


@pytest.mark.parametrize("out", ["out.npy", "out.tif"])
def test_colour_file_out_of_core_memory_bound(tmp_path, rng, out):
    """An 8-bit RGB TIFF 64 chunks large, filtered into a .npy or a TIFF: every
    block reads its window from the file (converted to float there) and is
    written where it goes, so the heap holds a few chunks, not rows of them."""
    tifffile = pytest.importorskip("tifffile")
    n, chunk = 2048, 256
    image = rng.integers(0, 256, (n, n, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(128, 128))
    fd.filter_file(tmp_path / "in.tif", tmp_path / "warm.npy", "gaussian", {"sigma": 3.0},
                   chunks=chunk)  # compile and import outside the measurement
    tracemalloc.start()
    try:
        fd.filter_file(tmp_path / "in.tif", tmp_path / out, "gaussian", {"sigma": 3.0},
                       chunks=chunk, scheduler="threads")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    chunk_bytes = chunk * chunk * 3 * 4  # float32 work
    # measured: 8 chunks for either output (23 and 18 before windows were read
    # from the file and the TIFF written block by block); the image is 64
    assert peak < 12 * chunk_bytes, f"peak {peak / 2 ** 20:.1f} MiB"
    ref = filters.by_name("gaussian", image.astype(np.float32) / np.float32(255), sigma=3.0)
    res = np.load(tmp_path / out) if out.endswith(".npy") else tifffile.imread(tmp_path / out)
    if out.endswith(".npy"):
        np.testing.assert_array_equal(res, ref)
    else:
        np.testing.assert_array_equal(res, np.rint(np.clip(ref, 0, 1) * 255).astype(np.uint8))


def test_filter_chunked_zarr_and_names(tmp_path, rng):
    zarr = pytest.importorskip("zarr")
    x = rng.integers(0, 255, (130, 90)).astype(np.uint8)
    src = zarr.open(tmp_path / "in.zarr", mode="w", shape=x.shape, dtype=x.dtype,
                    chunks=(40, 40))
    src[:] = x
    dst = zarr.open(tmp_path / "out.zarr", mode="w", shape=x.shape, dtype=x.dtype,
                    chunks=(50, 30))
    fd.filter_chunked(src, dst, "median_filter", 5, chunks=33, mode="mirror")
    np.testing.assert_array_equal(dst[:], ndimage.median_filter(x, 5, mode="mirror"))
    with pytest.raises(ValueError, match="func must be a function or the name"):
        fd.filter_chunked(src, dst, "no_such_filter", chunks=33)
    with pytest.raises(ValueError, match="dst has shape"):
        fd.filter_chunked(src, np.empty((3, 3)), "median_filter", 5, chunks=33)


def test_filter_chunked_progress(tmp_path, capsys, rng):
    x = rng.random((64, 64))
    out = np.empty_like(x)
    fd.filter_chunked(x, out, "uniform_filter", 5, chunks=32, progress=True,
                      scheduler="synchronous")
    np.testing.assert_array_equal(out, ndimage.uniform_filter(x, 5))
    assert "100%" in capsys.readouterr().out


def test_mapped_array(tmp_path):
    m = fd.FileArray.create_npy(tmp_path / "a.npy", np.int16, (5, 4))
    m[1:3, 1:3] = [[1, 2], [3, 4]]
    assert m[0:5, 0:4].sum() == 10
    assert np.load(tmp_path / "a.npy")[2, 2] == 4
    r = pickle.loads(pickle.dumps(fd.FileArray.open_npy(tmp_path / "a.npy")))
    assert r[2:3, 1:3].tolist() == [[3, 4]]
    with pytest.raises(ValueError, match="read-only"):
        r[0:1] = 0


@pytest.mark.parametrize("name, params", [("gaussian", {"sigma": 2.0}), ("box", {"size": 7}),
                                          ("median", {"size": 3}),
                                          ("sobel", {"axis": "y"}),
                                          ("unsharp", {"sigma": 1.5, "amount": 0.7}),
                                          ("dog", {"sigma": 1.0})])
def test_filter_file_npy_matches_by_name(tmp_path, rng, name, params):
    image = rng.random((120, 90)).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    shape, dtype = fd.filter_file(tmp_path / "in.npy", tmp_path / "out.npy", name, params,
                                  chunks=40, boundary="symm")
    out = np.load(tmp_path / "out.npy")
    assert (shape, dtype) == (out.shape, out.dtype)
    np.testing.assert_array_equal(out, filters.by_name(name, image, "symm", **params))


def test_filter_file_tiff(tmp_path, rng):
    tifffile = pytest.importorskip("tifffile")
    image = rng.integers(0, 65535, (150, 110), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(32, 32))
    fd.filter_file(tmp_path / "in.tif", tmp_path / "out.tif", "gaussian", {"sigma": 1.5},
                   chunks=64, boundary="reflect")
    out = tifffile.imread(tmp_path / "out.tif")
    # what the CLI writes: float32 in [0, 1], filtered, back to 16 bits
    ref = filters.by_name("gaussian", image.astype(np.float32) / np.float32(65535),
                          "reflect", sigma=1.5)
    assert out.dtype == np.uint16
    np.testing.assert_array_equal(out, np.rint(np.clip(ref, 0, 1) * 65535).astype(np.uint16))
    rgb = rng.integers(0, 255, (70, 50, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb)
    fd.filter_file(tmp_path / "rgb.tif", tmp_path / "rgb.npy", "max", {"size": 3}, chunks=32)
    ref = filters.by_name("max", rgb.astype(np.float32) / np.float32(255), size=3)
    np.testing.assert_array_equal(np.load(tmp_path / "rgb.npy"), ref)
    with pytest.raises(ValueError, match="unknown filter"):
        fd.filter_file(tmp_path / "in.tif", tmp_path / "o.tif", "laplace")
    with pytest.raises(ValueError, match="does not take size"):
        fd.filter_file(tmp_path / "in.tif", tmp_path / "o.tif", "gaussian", {"size": 3})


@pytest.mark.parametrize("channels, name, params", [(4, "gaussian", {"sigma": 2.0}),
                                                    (4, "sobel", {"axis": "x"}),
                                                    (3, "sobel", {}),
                                                    (3, "prewitt", {"axis": "y"})])
def test_filter_file_npy_channels_apart(tmp_path, rng, channels, name, params):
    """Channels computed apart - alpha kept (2 or 4 channels), sobel/prewitt
    per channel - go into a .npy output whole (FileArray raised IndexError)."""
    image = rng.random((300, 200, channels)).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    shape, dtype = fd.filter_file(tmp_path / "in.npy", tmp_path / "out.npy", name, params,
                                  chunks=64, boundary="symm")
    out = np.load(tmp_path / "out.npy")
    assert (shape, dtype) == (out.shape, out.dtype) == (image.shape, np.float32)
    colour = image[..., :-1] if channels == 4 else image
    ref = filters.by_name(name, colour, "symm", **params)
    if channels == 4:
        ref = np.concatenate([ref, image[..., -1:]], axis=-1)
    np.testing.assert_array_equal(out, ref)


def test_filter_chunked_memmap_split_channels(tmp_path, rng):
    """A memmap destination takes blocks that hold some of the channels."""
    x = rng.random((130, 90, 3)).astype(np.float32)
    src = np.lib.format.open_memmap(tmp_path / "in.npy", "w+", np.float32, x.shape)
    src[:] = x
    src.flush()
    dst = np.lib.format.open_memmap(tmp_path / "out.npy", "w+", np.float32, x.shape)
    fd.filter_chunked(src, dst, "gaussian_filter", 1.5, chunks=(40, 40, 1), axes=(0, 1))
    np.testing.assert_array_equal(np.asarray(dst), ndimage.gaussian_filter(x, 1.5, axes=(0, 1)))


def test_filter_file_failure_leaves_no_output(tmp_path, rng, monkeypatch):
    tifffile = pytest.importorskip("tifffile")
    image = rng.random((120, 90)).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    tifffile.imwrite(tmp_path / "in.tif", (image * 255).astype(np.uint8))
    writes = []

    def full_disk(fd_, buf, offset):
        writes.append(offset)
        if len(writes) > 5:
            raise OSError(28, "No space left on device")
        os.pwrite(fd_, memoryview(buf), offset)

    with monkeypatch.context() as m:
        m.setattr(fd, "_pwrite_from", full_disk)
        with pytest.raises(OSError, match="No space left"):
            fd.filter_file(tmp_path / "in.npy", tmp_path / "out.npy", "gaussian", chunks=40)
    assert len(writes) > 5 and not (tmp_path / "out.npy").exists()

    writes.clear()
    with monkeypatch.context() as m:
        m.setattr(fd, "_pwrite_from", full_disk)
        with pytest.raises(OSError, match="No space left"):
            fd.filter_file(tmp_path / "in.tif", tmp_path / "out.tif", "gaussian", chunks=40)
    assert len(writes) > 5 and not (tmp_path / "out.tif").exists()

    def broken(*args):
        raise RuntimeError("worker lost")

    with monkeypatch.context() as m:
        m.setattr(fd, "_quantize", broken)
        with pytest.raises(RuntimeError, match="worker lost"):
            fd.filter_file(tmp_path / "in.tif", tmp_path / "out.tif", "gaussian", chunks=40)
    assert not (tmp_path / "out.tif").exists()
    # an error before anything is written leaves an existing file alone
    (tmp_path / "old.npy").write_bytes(b"keep")
    with pytest.raises(ValueError, match="does not take size"):
        fd.filter_file(tmp_path / "in.npy", tmp_path / "old.npy", "gaussian", {"size": 3})
    assert (tmp_path / "old.npy").read_bytes() == b"keep"
    # the output would be emptied before the input is read
    with pytest.raises(ValueError, match="must not be input_path"):
        fd.filter_file(tmp_path / "in.npy", tmp_path / "in.npy", "gaussian")
    np.testing.assert_array_equal(np.load(tmp_path / "in.npy"), image)


# ---------------------------------------------------------------------------
# a distributed cluster, and Dask as an optional extra
# ---------------------------------------------------------------------------

def _jit_loaded():
    return "faltung.engines._jit.separable" in sys.modules


def test_local_cluster(rng):
    """Two worker processes on loopback compute the in-memory result; tasks
    name faltung's functions and workers load the Numba kernels themselves."""
    distributed = pytest.importorskip("distributed")
    cloudpickle = pytest.importorskip("cloudpickle")
    x = rng.standard_normal((300, 260)).astype(np.float32)
    k = rng.standard_normal((7, 9)).astype(np.float32)
    lazy_g = fd.gaussian_filter(da.from_array(x, chunks=(100, 90)), 2.5, mode="wrap")
    lazy_c = fd.convolve2d(da.from_array(x, chunks=(120, 70)), k, "same", "symm")
    graph = dict(lazy_g.__dask_graph__()) | dict(lazy_c.__dask_graph__())
    blob = b"".join(cloudpickle.dumps(v) for v in graph.values())
    assert b"numba" not in blob and b"Dispatcher" not in blob
    t0 = time.perf_counter()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None,
                                  worker_dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        assert all(w.startswith("tcp://127.0.0.1:") for w in client.scheduler_info()["workers"])
        g, c = client.compute([lazy_g, lazy_c], sync=True)
        loaded = client.run(_jit_loaded)
    assert time.perf_counter() - t0 < 120
    assert len(loaded) == 2 and any(loaded.values())
    _same(g, ndimage.gaussian_filter(x, 2.5, mode="wrap"))
    _same(c, faltung.convolve2d(x, k, "same", "symm"))


def test_without_dask_everything_else_works():
    code = (
        "import sys\n"
        "for name in ('dask', 'dask.array', 'distributed'):\n"
        "    sys.modules[name] = None\n"
        "import numpy as np, faltung\n"
        "print(faltung.convolve2d(np.ones((3, 3)), np.ones((2, 2)), 'same').sum())\n"
        "print(faltung.ndimage.median_filter(np.ones((4, 4)), 3).sum())\n"
        "try:\n"
        "    import faltung.dask\n"
        "except ImportError as exc:\n"
        "    print('ImportError:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[:2] == ["25.0", "16.0"]
    assert "pip install 'faltung[dask]'" in lines[2]


def test_filter_file_box_keeps_chunks(tmp_path, rng):
    """An exact box filter would need whole-row chunks here; filter_file keeps
    the chunks asked for and agrees to rounding."""
    image = rng.random((512, 512)).astype(np.float32)
    np.save(tmp_path / "in.npy", image)
    fd.filter_file(tmp_path / "in.npy", tmp_path / "out.npy", "box", {"size": 31}, chunks=64)
    ref = filters.by_name("box", image, size=31)
    np.testing.assert_allclose(np.load(tmp_path / "out.npy"), ref, rtol=1e-6, atol=1e-6)
