"""faltung.cv against OpenCV (cv2 is the oracle)."""

import cv2
import numpy as np
import pytest

from faltung import cv, kernels

cv2.setNumThreads(1)

BORDERS = [cv2.BORDER_CONSTANT, cv2.BORDER_REPLICATE, cv2.BORDER_REFLECT,
           cv2.BORDER_REFLECT_101, cv2.BORDER_REFLECT_101 | cv2.BORDER_ISOLATED]
DTYPES = [np.uint8, np.uint16, np.int16, np.float32, np.float64]
SHAPES = [(23, 31), (17, 19, 3), (9, 12, 4)]


def _image(rng, dtype, shape):
    if np.dtype(dtype).kind == "f":
        return (rng.standard_normal(shape) * 50).astype(dtype)
    hi = 256 if dtype == np.uint8 else 3000
    lo = -3000 if np.dtype(dtype).kind == "i" else 0
    return rng.integers(lo, hi, shape).astype(dtype)


def _close(r, e, int_rounding=False):
    """Equal up to float rounding; integer outputs exactly, or (where both
    libraries round a float sum) off by one in under 1% of the pixels."""
    assert r.dtype == e.dtype and r.shape == e.shape
    if np.dtype(e.dtype).kind in "iu":
        diff = np.abs(r.astype(np.int64) - e.astype(np.int64))
        if int_rounding:
            assert diff.max() <= 1 and (diff > 0).mean() < 0.01
        else:
            np.testing.assert_array_equal(r, e)
    else:
        scale = max(1.0, float(np.abs(e).max()))
        tol = (2e-5 if e.dtype == np.float32 else 1e-10) * scale
        np.testing.assert_allclose(r, e, rtol=0, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("ksize", [(3, 3), (4, 5), (1, 7), (11, 11)])
def test_filter2d(rng, dtype, shape, ksize):
    x = _image(rng, dtype, shape)
    ints = np.dtype(dtype).kind != "f"
    for kkind in ("int", "float"):
        k = (rng.integers(-2, 3, ksize) if kkind == "int"
             else rng.standard_normal(ksize)).astype(np.float32)
        for border in BORDERS:
            depths = [-1, cv2.CV_64F] if dtype == np.float64 else [-1, cv2.CV_32F]
            if dtype in (np.uint8, np.uint16, np.int16):
                depths.append(cv2.CV_64F)
            for ddepth in depths:
                for anchor in [(-1, -1), (0, ksize[0] - 1)]:
                    e = cv2.filter2D(x, ddepth, k, anchor=anchor, delta=1.5, borderType=border)
                    r = cv.filter2D(x, ddepth, k, anchor=anchor, delta=1.5, borderType=border)
                    _close(r, e, int_rounding=ints and kkind == "float" or ints)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ksize", [(3, 3), (5, 1), (31, 31), (4, 6)])
def test_box_filter_and_blur(rng, dtype, ksize):
    x = _image(rng, dtype, (29, 37, 3))
    for border in BORDERS:
        for normalize in (True, False):
            ddepth = -1 if normalize else (cv2.CV_64F if dtype == np.float64 else cv2.CV_32F)
            e = cv2.boxFilter(x, ddepth, ksize, normalize=normalize, borderType=border)
            r = cv.boxFilter(x, ddepth, ksize, normalize=normalize, borderType=border)
            # cv2's 8-bit normalised box scales in fixed point: +-1 documented
            _close(r, e, int_rounding=dtype == np.uint8 and normalize)
    _close(cv.blur(x, ksize), cv2.blur(x, ksize), int_rounding=dtype == np.uint8)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_sep_filter2d(rng, dtype):
    x = _image(rng, dtype, (25, 33, 3))
    kx = rng.standard_normal(5).astype(np.float32)
    ky = rng.standard_normal(3).astype(np.float32)
    dd = cv2.CV_64F if dtype == np.float64 else cv2.CV_32F
    for border in BORDERS:
        for anchor in [(-1, -1), (4, 0)]:
            e = cv2.sepFilter2D(x, dd, kx, ky, anchor=anchor, delta=0.25, borderType=border)
            r = cv.sepFilter2D(x, dd, kx, ky, anchor=anchor, delta=0.25, borderType=border)
            _close(r, e)


def test_saturation_and_rounding():
    x = np.array([[250, 10, 0], [5, 255, 3], [0, 1, 2]], np.uint8)
    k = np.array([[0, 0, 0], [0, 2, 0], [0, 0, -1]], np.float32)
    for border in BORDERS:
        np.testing.assert_array_equal(cv.filter2D(x, -1, k, borderType=border),
                                      cv2.filter2D(x, -1, k, borderType=border))
        np.testing.assert_array_equal(cv.filter2D(x, cv2.CV_16S, k, borderType=border),
                                      cv2.filter2D(x, cv2.CV_16S, k, borderType=border))


def test_wrap_border_works_where_cv2_refuses(rng):
    x = _image(rng, np.float32, (12, 14))
    k = rng.standard_normal((3, 5)).astype(np.float32)
    with pytest.raises(cv2.error):
        cv2.filter2D(x, -1, k, borderType=cv2.BORDER_WRAP)
    # the wrap result is the same correlation on a periodically tiled image
    tiled = np.tile(x, (3, 3))
    ref = cv2.filter2D(tiled, -1, k, borderType=cv2.BORDER_CONSTANT)[12:24, 14:28]
    _close(cv.filter2D(x, -1, k, borderType=cv.BORDER_WRAP), ref)
    _close(cv.filter2D(x, -1, k, borderType="wrap"), ref)


def test_names_and_constants_match_cv2():
    for name in ("CV_8U", "CV_8S", "CV_16U", "CV_16S", "CV_32S", "CV_32F", "CV_64F",
                 "BORDER_CONSTANT", "BORDER_REPLICATE", "BORDER_REFLECT", "BORDER_WRAP",
                 "BORDER_REFLECT_101", "BORDER_REFLECT101", "BORDER_DEFAULT",
                 "BORDER_ISOLATED"):
        assert getattr(cv, name) == getattr(cv2, name), name


def test_inputs_not_mutated_and_layouts(rng):
    base = _image(rng, np.float64, (20, 24))
    k = rng.standard_normal((3, 3))
    ref = cv2.filter2D(np.ascontiguousarray(base), -1, k)
    view = np.asfortranarray(base)
    ro = base.copy()
    ro.flags.writeable = False
    be = base.astype(">f8")
    for x in (view, ro, be, base[:, ::1]):
        before = x.copy()
        _close(cv.filter2D(x, -1, k), ref)
        np.testing.assert_array_equal(x, before)


def test_dst_argument(rng):
    x = _image(rng, np.float32, (10, 11))
    dst = np.empty_like(x)
    r = cv.blur(x, (3, 3), dst=dst)
    assert r is dst
    _close(dst, cv2.blur(x, (3, 3)))
    with pytest.raises(ValueError, match="dst"):
        cv.blur(x, (3, 3), dst=np.empty((2, 2), np.float32))


@pytest.mark.parametrize("call, exc, match", [
    (lambda x: cv.filter2D(x, -1, np.ones(3)), ValueError, "kernel"),
    (lambda x: cv.filter2D(x, 99, np.ones((3, 3))), ValueError, "ddepth"),
    (lambda x: cv.filter2D(x, -1, np.ones((3, 3)), anchor=(3, 0)), ValueError, "anchor"),
    (lambda x: cv.filter2D(x, -1, np.ones((3, 3)), borderType=5), ValueError, "borderType"),
    (lambda x: cv.filter2D(x, -1, np.ones((3, 3)), borderType="fancy"), ValueError,
     "borderType"),
    (lambda x: cv.boxFilter(x, -1, (0, 3)), ValueError, "ksize"),
    (lambda x: cv.boxFilter(x, -1, "3"), TypeError, "ksize"),
    (lambda x: cv.filter2D(x[..., None, None], -1, np.ones((3, 3))), ValueError, "src"),
    (lambda x: cv.filter2D(x.astype(bool), -1, np.ones((3, 3))), TypeError, "src"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call(np.zeros((6, 7), np.float32))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ksize, sigma, sigma_y", [((0, 0), 1.0, 0), ((0, 0), 2.5, 1.5),
                                                   ((5, 5), 0, 0), ((3, 7), 1.2, 0),
                                                   ((7, 3), 0, 0), ((1, 1), 0, 0)])
def test_gaussian_blur(rng, dtype, ksize, sigma, sigma_y):
    x = _image(rng, dtype, (41, 37, 3))
    for border in BORDERS:
        e = cv2.GaussianBlur(x, ksize, sigma, sigmaY=sigma_y, borderType=border)
        r = cv.GaussianBlur(x, ksize, sigma, sigmaY=sigma_y, borderType=border)
        if dtype in (np.uint16, np.int16):
            # cv2 rounds its 16-bit fixed-point sums differently: +-1 (documented)
            assert r.dtype == e.dtype
            diff = np.abs(r.astype(np.int64) - e)
            assert diff.max() <= 1 and (diff > 0).mean() < 0.05
        elif dtype == np.uint8 and max(_gauss_sizes(ksize, sigma, sigma_y)) > 11:
            diff = np.abs(r.astype(np.int64) - e)  # float sums: within 2 (documented)
            assert r.dtype == e.dtype and diff.max() <= 2 and diff.mean() < 0.5
        else:
            # uint8 (kernels up to 11 taps) reproduces cv2's fixed point exactly
            _close(r, e)


def _gauss_sizes(ksize, sigma, sigma_y):
    sy = sigma_y or sigma
    return [k or kernels.gaussian_ksize(s, np.uint8) for k, s in zip(ksize, (sigma, sy))]


@pytest.mark.parametrize("sigma", [2.0, 3.0])
def test_gaussian_blur_uint8_large_kernels(rng, sigma):
    # beyond 11 taps faltung sums in float: within 2 of cv2's fixed point
    x = _image(rng, np.uint8, (64, 60))
    e = cv2.GaussianBlur(x, (0, 0), sigma)
    r = cv.GaussianBlur(x, (0, 0), sigma)
    diff = np.abs(r.astype(np.int64) - e)
    assert r.dtype == np.uint8 and diff.max() <= 2 and diff.mean() < 0.5


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dx, dy, ksize", [(1, 0, 3), (0, 1, 3), (1, 1, 3), (2, 0, 5),
                                           (1, 0, 1), (0, 2, 7), (1, 0, -1), (0, 1, -1),
                                           (3, 1, 5)])
def test_sobel(rng, dtype, dx, dy, ksize):
    x = _image(rng, dtype, (29, 23, 3))
    depths = {np.uint8: [cv2.CV_16S, cv2.CV_32F, -1], np.float64: [-1]}.get(
        dtype, [-1, cv2.CV_32F])
    for ddepth in depths:
        for border in BORDERS:
            e = cv2.Sobel(x, ddepth, dx, dy, ksize=ksize, scale=0.5, delta=3, borderType=border)
            r = cv.Sobel(x, ddepth, dx, dy, ksize=ksize, scale=0.5, delta=3, borderType=border)
            _close(r, e)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_scharr(rng, dtype):
    x = _image(rng, dtype, (19, 21))
    dd = cv2.CV_16S if dtype == np.uint8 else -1
    for dx, dy in [(1, 0), (0, 1)]:
        _close(cv.Scharr(x, dd, dx, dy), cv2.Scharr(x, dd, dx, dy))
    with pytest.raises(ValueError, match="Scharr"):
        cv.Scharr(x, dd, 1, 1)


@pytest.mark.parametrize("dtype, sizes", [(np.uint8, [1, 3, 5, 7, 9, 15]),
                                          (np.uint16, [3, 5]), (np.float32, [3, 5])])
def test_median_blur(rng, dtype, sizes):
    x = rng.integers(0, 40, (33, 27, 3)).astype(dtype)  # many ties
    for k in sizes:
        _close(cv.medianBlur(x, k), cv2.medianBlur(x, k))
        _close(cv.medianBlur(x[..., 0], k), cv2.medianBlur(np.ascontiguousarray(x[..., 0]), k))


def test_median_blur_beyond_cv2(rng):
    from scipy import ndimage as nd

    x = rng.random((30, 26)).astype(np.float32)
    with pytest.raises(cv2.error):
        cv2.medianBlur(x, 7)
    np.testing.assert_array_equal(cv.medianBlur(x, 7), nd.median_filter(x, 7, mode="nearest"))
    with pytest.raises(ValueError, match="odd"):
        cv.medianBlur(x, 4)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ksize", [1, 3, 5, 7])
def test_laplacian(rng, dtype, ksize):
    x = _image(rng, dtype, (31, 29, 3))
    depths = [cv2.CV_16S, cv2.CV_32F] if dtype == np.uint8 else [-1]
    for ddepth in depths:
        for border in BORDERS:
            e = cv2.Laplacian(x, ddepth, ksize=ksize, scale=0.5, delta=1, borderType=border)
            r = cv.Laplacian(x, ddepth, ksize=ksize, scale=0.5, delta=1, borderType=border)
            _close(r, e)


def _exact_correlation(x, k):
    """int64 reference: reflect-101 border, kernel centred (cv2's default)."""
    kh, kw = k.shape
    ext = np.pad(x.astype(np.int64), ((kh // 2, kh // 2), (kw // 2, kw // 2)), mode="reflect")
    win = np.lib.stride_tricks.sliding_window_view(ext, (kh, kw))
    return np.einsum("yxij,ij->yx", win, k.astype(np.int64))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
@pytest.mark.parametrize("kmax", [2, 2**10, 2**31, 2**40])
def test_integer_kernels_exact_at_full_range(rng, dtype, kmax):
    # Integer images with integer kernels are summed in float32, float64 or
    # int64 depending on the worst-case sum; every choice must be exact.
    info = np.iinfo(dtype)
    x = rng.integers(info.min, int(info.max) + 1, (37, 41)).astype(dtype)
    x[0, :5] = info.max
    x[-1, -5:] = info.min
    k = rng.integers(-kmax, kmax + 1, (5, 5))
    want = _exact_correlation(x, k)
    got = cv.filter2D(x, cv.CV_64F, k.astype(np.float64))
    np.testing.assert_array_equal(got, want.astype(np.float64))
    sat = cv.filter2D(x, cv.CV_16S, k.astype(np.float64))
    np.testing.assert_array_equal(sat, np.clip(want, -32768, 32767).astype(np.int16))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int16])
@pytest.mark.parametrize("ksize", [3, 5, 7])
@pytest.mark.parametrize("ddepth", [cv2.CV_16S, cv2.CV_32F, cv2.CV_64F])
def test_sobel_full_range_matches_cv2(rng, dtype, ksize, ddepth):
    if dtype == np.uint16 and ddepth == cv2.CV_16S:
        pytest.skip("cv2 has no 16U -> 16S Sobel")
    info = np.iinfo(dtype)
    x = rng.integers(info.min, int(info.max) + 1, (29, 33)).astype(dtype)
    for dx, dy in ((1, 0), (0, 1), (1, 1)):
        want = cv2.Sobel(x, ddepth, dx, dy, ksize=ksize)
        got = cv.Sobel(x, ddepth, dx, dy, ksize=ksize)
        if ddepth == cv2.CV_32F:
            _close(got, want)  # sums beyond 2**24: cv2 rounds them in float32, faltung once
        else:
            np.testing.assert_array_equal(got, want)
        if dtype == np.uint8:
            # (cv2's 16S -> 16S path for dy=1, ksize 3/5 saturates before scaling,
            # unlike its other paths; faltung scales the exact sum everywhere)
            want = cv2.Sobel(x, ddepth, dx, dy, ksize=ksize, scale=0.5, delta=3)
            _close(cv.Sobel(x, ddepth, dx, dy, ksize=ksize, scale=0.5, delta=3), want)
