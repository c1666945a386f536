"""The five boundary kinds and their aliases.

References:

* a numpy.pad-based one (pad by the kernel size minus one on each side, then
  take a valid correlation), where numpy's modes are
  ``constant`` / ``symmetric`` / ``reflect`` (= mirror) / ``edge`` / ``wrap``;
  numpy reflects and wraps repeatedly, so kernels much larger than the image
  are covered;
* scipy.ndimage.correlate / convolve for odd kernels in ``same`` mode, where
  the centring conventions coincide and faltung accepts ndimage's mode names.
"""

import numpy as np
import pytest
import scipy.ndimage as ndi
import scipy.signal as ss
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.lib.stride_tricks import sliding_window_view

import faltung

KINDS = ("constant", "symmetric", "mirror", "nearest", "wrap")
NP_PAD = {"constant": "constant", "symmetric": "symmetric", "mirror": "reflect",
          "nearest": "edge", "wrap": "wrap"}

# Every name DESIGN.md section 2 and the convolve2d docstring promise at the top level.
ALIASES = {
    "constant": ("constant", "fill", "pad", "grid-constant", "BORDER_CONSTANT"),
    "symmetric": ("symmetric", "symm", "reflect", "grid-mirror", "BORDER_REFLECT"),
    "mirror": ("mirror", "BORDER_REFLECT_101"),
    "nearest": ("nearest", "edge", "replicate", "BORDER_REPLICATE"),
    "wrap": ("wrap", "circular", "grid-wrap", "BORDER_WRAP"),
}
ALL_NAMES = [(kind, name) for kind, names in ALIASES.items() for name in names]

OPS = {"convolve": faltung.convolve2d, "correlate": faltung.correlate2d}
MODES = ("full", "same", "valid")
METHODS = ("direct", "fft", "auto")


# --------------------------------------------------------------------------- reference

def _valid_correlation(xp, kernel):
    windows = sliding_window_view(xp, kernel.shape)
    return np.einsum("ijkl,kl->ij", windows, kernel)


def pad_reference(x, k, mode, kind, fill=0, flipped=True):
    """scipy.signal semantics for any boundary kind, built on numpy.pad."""
    h, w = x.shape
    kh, kw = k.shape
    if mode == "valid":
        if not (h >= kh and w >= kw):
            assert kh >= h and kw >= w
            # scipy swaps the inputs (and reverses a correlation afterwards)
            swapped = pad_reference(k, x, "valid", kind, fill, flipped)
            return swapped if flipped else swapped[::-1, ::-1]
        kc = k[::-1, ::-1] if flipped else np.conj(k)
        return _valid_correlation(x, kc)
    kc = k[::-1, ::-1] if flipped else np.conj(k)
    extra = {"constant_values": fill} if kind == "constant" else {}
    xp = np.pad(x, ((kh - 1, kh - 1), (kw - 1, kw - 1)), mode=NP_PAD[kind], **extra)
    full = _valid_correlation(xp, kc)
    if mode == "full":
        return full
    # 'same' is centred on 'full' as scipy.signal centres it
    r0, c0 = ((kh - 1) // 2, (kw - 1) // 2) if flipped else (kh // 2, kw // 2)
    return full[r0:r0 + h, c0:c0 + w]


def assert_same(actual, expected):
    assert actual.shape == expected.shape
    if actual.dtype.kind in "iu":
        np.testing.assert_array_equal(actual, expected)
    else:
        scale = max(1.0, float(np.abs(expected).max()))
        np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10 * scale)


@pytest.mark.parametrize("flipped", [True, False], ids=["convolve", "correlate"])
@pytest.mark.parametrize("scipy_name, kind", [("fill", "constant"), ("symm", "symmetric"),
                                              ("wrap", "wrap")])
@pytest.mark.parametrize("mode", MODES)
def test_reference_agrees_with_scipy(flipped, scipy_name, kind, mode, rng):
    """The numpy.pad reference is itself right where scipy.signal can judge it."""
    func = ss.convolve2d if flipped else ss.correlate2d
    for xs, ks in [((5, 7), (3, 3)), ((5, 7), (2, 4)), ((3, 4), (8, 11)), ((1, 1), (4, 5)),
                   ((6, 2), (1, 7))]:
        x = rng.standard_normal(xs) + 1j * rng.standard_normal(xs)
        k = rng.standard_normal(ks) + 1j * rng.standard_normal(ks)
        if mode == "valid" and not ((xs[0] >= ks[0] and xs[1] >= ks[1])
                                    or (ks[0] >= xs[0] and ks[1] >= xs[1])):
            continue
        expected = func(x, k, mode, scipy_name, fillvalue=1.5 - 0.5j)
        ref = pad_reference(x, k, mode, kind, 1.5 - 0.5j, flipped)
        assert_same(ref, expected)


# --------------------------------------------------------------------------- against numpy.pad

@st.composite
def boundary_problems(draw):
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kh, kw = draw(st.integers(1, 15)), draw(st.integers(1, 15))
    integer = draw(st.booleans())
    if integer:
        el = st.integers(-20, 20)
        dtype = np.int64
    else:
        el = st.floats(-100, 100, allow_subnormal=False)
        dtype = np.float64
    x = draw(hnp.arrays(dtype, (h, w), elements=el))
    k = draw(hnp.arrays(dtype, (kh, kw), elements=el))
    kind, name = draw(st.sampled_from(ALL_NAMES))
    mode = draw(st.sampled_from(("full", "same")))
    fill = draw(el)
    return x, k, kind, name, mode, fill


@given(boundary_problems(), st.sampled_from(sorted(OPS)), st.sampled_from(METHODS))
def test_every_kind_against_numpy_pad(problem, op, method):
    x, k, kind, name, mode, fill = problem
    expected = pad_reference(x, k, mode, kind, fill, op == "convolve")
    actual = OPS[op](x, k, mode, boundary=name, fillvalue=fill, method=method)
    assert actual.dtype == np.result_type(x, k)
    assert_same(actual, expected)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shapes", [((2, 3), (13, 17)), ((1, 4), (9, 2)), ((3, 1), (2, 12)),
                                    ((1, 1), (7, 7)), ((4, 5), (3, 3)), ((4, 5), (4, 6))],
                         ids=str)
def test_kernel_much_larger_than_image(kind, op, mode, method, shapes, rng):
    """Repeated reflection / repeated wrap when the kernel dwarfs the image."""
    xs, ks = shapes
    if mode == "valid" and not ((xs[0] >= ks[0] and xs[1] >= ks[1])
                                or (ks[0] >= xs[0] and ks[1] >= xs[1])):
        with pytest.raises(ValueError, match="valid"):
            OPS[op](np.ones(xs), np.ones(ks), mode, boundary=kind, method=method)
        return
    x = rng.integers(-9, 10, xs)
    k = rng.integers(-9, 10, ks)
    expected = pad_reference(x, k, mode, kind, 3, op == "convolve")
    assert_same(OPS[op](x, k, mode, boundary=kind, fillvalue=3, method=method), expected)
    xf, kf = x + 0.25, k - 0.5
    expected = pad_reference(xf, kf, mode, kind, -1.25, op == "convolve")
    assert_same(OPS[op](xf, kf, mode, boundary=kind, fillvalue=-1.25, method=method),
                expected)


@pytest.mark.parametrize("kind, name", ALL_NAMES)
def test_aliases_equal_canonical(kind, name, rng):
    x = rng.standard_normal((5, 6))
    k = rng.standard_normal((4, 3))
    for op in OPS.values():
        for mode in ("full", "same"):
            expected = op(x, k, mode, boundary=kind, fillvalue=2.5)
            np.testing.assert_array_equal(op(x, k, mode, boundary=name, fillvalue=2.5),
                                          expected)


def test_zeros_alias_is_zero_padding(rng):
    x = rng.standard_normal((5, 6))
    k = rng.standard_normal((3, 3))
    for op in OPS.values():
        np.testing.assert_array_equal(op(x, k, "same", boundary="zeros"),
                                      op(x, k, "same", boundary="fill"))


def test_reflect_means_symmetric_at_top_level():
    """DESIGN.md: at the top level the bare word 'reflect' is ndimage's reflect."""
    x = np.array([[1.0, 2.0, 3.0, 4.0]])
    k = np.zeros((1, 5))
    k[0, 0] = 1.0  # correlate: output[j] = ext[j - 2]
    out = faltung.correlate2d(x, k, "same", boundary="reflect")
    np.testing.assert_array_equal(out, [[2.0, 1.0, 1.0, 2.0]])  # ba|abcd (symmetric)
    out = faltung.correlate2d(x, k, "same", boundary="mirror")
    np.testing.assert_array_equal(out, [[3.0, 2.0, 1.0, 2.0]])  # cb|abcd (mirror)


@pytest.mark.parametrize("kind, picture", [
    ("constant", [9, 9, 9, 1, 2, 3, 4, 9, 9, 9]),
    ("symmetric", [3, 2, 1, 1, 2, 3, 4, 4, 3, 2]),
    ("mirror", [4, 3, 2, 1, 2, 3, 4, 3, 2, 1]),
    ("nearest", [1, 1, 1, 1, 2, 3, 4, 4, 4, 4]),
    ("wrap", [2, 3, 4, 1, 2, 3, 4, 1, 2, 3]),
])
def test_boundary_pictures(kind, picture):
    """The pictures of DESIGN.md's table, read back through one-tap kernels."""
    x = np.array([[1, 2, 3, 4]])
    first = np.zeros((1, 7), dtype=np.int64)
    first[0, 0] = 1
    last = np.zeros((1, 7), dtype=np.int64)
    last[0, -1] = 1
    # full correlation: out[j] = sum_b ext[j + b - 6] * k[b], j = 0 .. 9
    left = faltung.correlate2d(x, first, "full", boundary=kind, fillvalue=9)[0]  # ext[-6..3]
    right = faltung.correlate2d(x, last, "full", boundary=kind, fillvalue=9)[0]  # ext[0..9]
    ext = dict(zip(range(-6, 4), left.tolist(), strict=True))
    ext.update(zip(range(0, 10), right.tolist(), strict=True))
    assert [ext[i] for i in range(-3, 7)] == picture


# --------------------------------------------------------------------------- against ndimage

NDIMAGE_MODES = ("reflect", "grid-mirror", "mirror", "nearest", "wrap", "grid-wrap",
                 "constant", "grid-constant")


@st.composite
def odd_problems(draw):
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh = 2 * draw(st.integers(0, 5)) + 1
    kw = 2 * draw(st.integers(0, 5)) + 1
    el = st.floats(-10, 10, allow_subnormal=False)
    x = draw(hnp.arrays(np.float64, (h, w), elements=el))
    k = draw(hnp.arrays(np.float64, (kh, kw), elements=el))
    return x, k, draw(st.sampled_from(NDIMAGE_MODES)), draw(el)


@given(odd_problems(), st.sampled_from(METHODS))
def test_correlate_same_matches_ndimage(problem, method):
    x, k, mode, cval = problem
    expected = ndi.correlate(x, k, mode=mode, cval=cval)
    actual = faltung.correlate2d(x, k, "same", boundary=mode, fillvalue=cval, method=method)
    assert_same(actual, expected)


@given(odd_problems(), st.sampled_from(METHODS))
def test_convolve_same_matches_ndimage(problem, method):
    x, k, mode, cval = problem
    expected = ndi.convolve(x, k, mode=mode, cval=cval)
    actual = faltung.convolve2d(x, k, "same", boundary=mode, fillvalue=cval, method=method)
    assert_same(actual, expected)


@pytest.mark.parametrize("mode", NDIMAGE_MODES)
@pytest.mark.parametrize("op", sorted(OPS))
def test_ndimage_large_odd_kernel(mode, op, rng):
    x = rng.standard_normal((3, 4))
    k = rng.standard_normal((9, 11))
    nd = ndi.correlate if op == "correlate" else ndi.convolve
    for method in METHODS:
        assert_same(OPS[op](x, k, "same", boundary=mode, fillvalue=0.5, method=method),
                    nd(x, k, mode=mode, cval=0.5))


@pytest.mark.parametrize("kind", KINDS)
def test_fillvalue_ignored_unless_constant(kind, rng):
    x = rng.standard_normal((4, 5))
    k = rng.standard_normal((3, 4))
    a = faltung.convolve2d(x, k, "full", boundary=kind, fillvalue=0.0)
    b = faltung.convolve2d(x, k, "full", boundary=kind, fillvalue=7.0)
    if kind == "constant":
        assert not np.allclose(a, b)
    else:
        np.testing.assert_array_equal(a, b)


@given(kind=st.sampled_from(["constant", "symmetric", "mirror", "nearest", "wrap"]),
       h=st.integers(1, 9), w=st.integers(1, 9), start=st.tuples(st.integers(-15, 10),
                                                                 st.integers(-15, 10)),
       count=st.tuples(st.integers(1, 30), st.integers(1, 30)),
       piece=st.tuples(st.integers(0, 29), st.integers(0, 29)))
def test_extend_any_window_and_pieces_of_it(kind, h, w, start, count, piece):
    """Every window of the extended image, and every tile of one (as the FFT
    engine gathers its tiles), equals sampling through the index tables."""
    from faltung import _boundary

    x = np.arange(2 * h * w, dtype=np.float64).reshape(2, h, w)
    rows = _boundary.index_table(start[0], count[0], h, kind)
    cols = _boundary.index_table(start[1], count[1], w, kind)
    ref = x[:, np.maximum(rows, 0)[:, None], np.maximum(cols, 0)[None, :]]
    ref[:, rows < 0, :] = -7.5
    ref[:, :, cols < 0] = -7.5
    np.testing.assert_array_equal(_boundary.extend(x, rows, cols, -7.5, *start), ref)
    a, b = min(piece[0], count[0] - 1), min(piece[1], count[1] - 1)
    out = np.full((2, count[0] - a, count[1] - b), np.nan)
    _boundary.extend(x, rows[a:], cols[b:], -7.5, start[0] + a, start[1] + b, out=out)
    np.testing.assert_array_equal(out, ref[:, a:, b:])
