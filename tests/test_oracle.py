"""faltung against scipy.signal, the oracle of the top-level API.

For every input scipy.signal.convolve2d / correlate2d accepts, faltung must
give scipy's answer and scipy's dtype: exactly for integers, to a tolerance
scaled to the dtype otherwise. The one intended difference: where scipy's
integer result wraps around, faltung raises OverflowError. Whether it wraps
is decided against an exact (Python-integer) reference that is itself built
from scipy calls on small limbs, so scipy stays the only definition of the
semantics.
"""

import warnings

import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import event, given, note, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import faltung

OPS = {
    "convolve": (faltung.convolve2d, ss.convolve2d),
    "correlate": (faltung.correlate2d, ss.correlate2d),
}
MODES = ("full", "same", "valid")
# Every boundary name scipy.signal itself accepts.
SCIPY_BOUNDARIES = ("fill", "pad", "wrap", "circular", "symm", "symmetric")
FILL_NAMES = ("fill", "pad")
METHODS = ("direct", "fft", "auto")

INT_DTYPES = tuple(np.dtype(d) for d in
                   ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64"))
FLOAT_DTYPES = tuple(np.dtype(d) for d in ("float16", "float32", "float64"))
COMPLEX_DTYPES = tuple(np.dtype(d) for d in ("complex64", "complex128"))
ALL_DTYPES = INT_DTYPES + FLOAT_DTYPES + COMPLEX_DTYPES

# Tolerance relative to the largest possible magnitude of an output sample.
RTOL = {"float16": 4e-3, "float32": 1e-4, "float64": 1e-10,
        "complex64": 1e-4, "complex128": 1e-10}

# Worst-case magnitude above which a forced method='fft' may refuse integers
# (float64 rounding could no longer be exact); faltung says so with a ValueError.
FFT_EXACT_LIMIT = 2 ** 37


# --------------------------------------------------------------------------- helpers

def valid_ok(s1, s2):
    """scipy's valid-mode rule: one input must contain the other."""
    ok1 = all(a >= b for a, b in zip(s1, s2))
    ok2 = all(b >= a for a, b in zip(s1, s2))
    return ok1 or ok2


LIMB = 2 ** 16


def _split(values):
    """Split Python ints into base-2**16 limbs: sum(limb[i] * LIMB**i) == value.

    All limbs but the last are in [0, LIMB); the last is in [-LIMB, LIMB).
    """
    a = np.asarray(values, dtype=object)
    limbs = []
    while any(abs(v) >= LIMB for v in a.flat):
        limbs.append((a % LIMB).astype(np.int64))
        a = a // LIMB
    limbs.append(a.astype(np.int64))
    return limbs


def exact_reference(scipy_func, x, k, mode, boundary, fill):
    """The exact integer result of ``scipy_func`` as an object array.

    The image, fill value and kernel are split into 16-bit limbs; each pair
    is convolved by scipy in int64 (no overflow possible) and the partial
    results are recombined in Python integers. Convolution is bilinear in
    (image with its fill value) and kernel, so this is exact.
    """
    xs = np.append(np.asarray(x, dtype=object).ravel(), int(fill))
    x_limbs = [(limb[:-1].reshape(x.shape), int(limb[-1])) for limb in _split(xs)]
    k_limbs = _split(np.asarray(k, dtype=object))
    total = None
    for i, (xl, fl) in enumerate(x_limbs):
        for j, kl in enumerate(k_limbs):
            part = scipy_func(xl, kl, mode, boundary, fillvalue=fl).astype(object)
            part = part * (LIMB ** (i + j))
            total = part if total is None else total + part
    return total


def int_bound(x, k, fill, uses_fill):
    """Worst-case |result| of an integer convolution."""
    xmax = max(abs(int(v)) for v in np.asarray(x, dtype=object).flat)
    if uses_fill:
        xmax = max(xmax, abs(int(fill)))
    return xmax * sum(abs(int(v)) for v in np.asarray(k, dtype=object).flat)


def float_scale(x, k, fill, uses_fill):
    """Largest possible |output sample| (for either role assignment of x, k)."""
    ax = np.abs(np.asarray(x, dtype=np.complex128))
    ak = np.abs(np.asarray(k, dtype=np.complex128))
    xm = max(ax.max(), abs(complex(fill)) if uses_fill else 0.0)
    return max(xm * ak.sum(), ak.max() * (ax.sum() + (abs(complex(fill)) if uses_fill else 0)))


def scipy_call(func, x, k, mode, boundary, fill):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return func(x, k, mode, boundary, fill)


def check_float(actual, x, k, mode, boundary, fill, scipy_func):
    rt = np.result_type(x.dtype, k.dtype)
    if rt == np.float16:
        # scipy has no float16 loop; faltung computes float16 in float32 and rounds.
        expected = scipy_call(scipy_func, x.astype(np.float32), k.astype(np.float32), mode,
                              boundary, fill).astype(np.float16)
    else:
        expected = scipy_call(scipy_func, x, k, mode, boundary, fill)
    assert expected.dtype == rt
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape
    scale = float_scale(x, k, fill, boundary in FILL_NAMES)
    atol = RTOL[rt.name] * scale
    np.testing.assert_allclose(actual.astype(np.complex128), expected.astype(np.complex128),
                               rtol=0, atol=atol, err_msg=f"scale={scale!r} atol={atol!r}")


# --------------------------------------------------------------------------- strategies

def elements(dtype, small):
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if small:
            return st.integers(max(int(info.min), -4), min(int(info.max), 4))
        return st.integers(int(info.min), int(info.max))
    if dtype.kind == "f":
        bound = 8.0 if dtype == np.float16 else (4.0 if small else 1e3)
        return st.floats(-bound, bound, width=8 * dtype.itemsize, allow_subnormal=False)
    bound = 4.0 if small else 1e3
    return st.complex_numbers(max_magnitude=bound, width=8 * dtype.itemsize,
                              allow_nan=False, allow_infinity=False, allow_subnormal=False)


@st.composite
def problems(draw, dtypes=ALL_DTYPES, max_image=9, max_kernel=11):
    d1 = draw(st.sampled_from(dtypes))
    d2 = draw(st.one_of(st.just(d1), st.sampled_from(dtypes)))
    h, w = draw(st.integers(1, max_image)), draw(st.integers(1, max_image))
    kh, kw = draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel))
    small = draw(st.booleans())
    x = draw(hnp.arrays(d1, (h, w), elements=elements(d1, small)))
    k = draw(hnp.arrays(d2, (kh, kw), elements=elements(d2, small)))
    mode = draw(st.sampled_from(MODES))
    boundary = draw(st.sampled_from(SCIPY_BOUNDARIES))
    method = draw(st.sampled_from(METHODS))
    op = draw(st.sampled_from(sorted(OPS)))
    rt = np.result_type(d1, d2)
    if rt.kind in "iu":
        info = np.iinfo(rt)
        lo, hi = max(int(info.min), -(2 ** 53)), min(int(info.max), 2 ** 53)
        fill = draw(st.one_of(
            st.integers(max(lo, -5), min(hi, 5)),
            st.integers(lo, hi),
            # scipy truncates a float fill value toward zero for integer inputs
            st.floats(max(lo, -1000), min(hi, 1000), allow_subnormal=False),
        ))
    elif rt.kind == "f":
        fill = draw(st.floats(-8 if rt == np.float16 else -1e3, 8 if rt == np.float16 else 1e3,
                              allow_subnormal=False))
    else:
        fill = draw(st.complex_numbers(max_magnitude=1e3, allow_nan=False,
                                       allow_infinity=False, allow_subnormal=False))
    return x, k, mode, boundary, fill, method, op


# --------------------------------------------------------------------------- property tests

def _check(x, k, mode, boundary, fill, method, op):
    ours, theirs = OPS[op]
    note(f"x={x!r}\nk={k!r}\nmode={mode} boundary={boundary} fill={fill!r} method={method} "
         f"op={op}")
    if mode == "valid" and not valid_ok(x.shape, k.shape):
        event("valid mode, neither input larger")
        with pytest.raises(ValueError):
            scipy_call(theirs, x, k, mode, boundary, fill)
        with pytest.raises(ValueError, match="valid"):
            ours(x, k, mode, boundary, fill, method=method)
        return

    rt = np.result_type(x.dtype, k.dtype)
    event(f"result dtype {rt}")
    if rt.kind not in "iu":
        actual = ours(x, k, mode, boundary, fill, method=method)
        check_float(actual, x, k, mode, boundary, fill, theirs)
        return

    ifill = int(fill)  # truncation toward zero, as scipy
    exact = exact_reference(theirs, x, k, mode, boundary, ifill)
    info = np.iinfo(rt)
    fits = min(exact.flat) >= info.min and max(exact.flat) <= info.max
    bound = int_bound(x, k, ifill, boundary in FILL_NAMES)
    note(f"exact range [{min(exact.flat)}, {max(exact.flat)}], fits {rt}: {fits}")
    event("integer result fits" if fits else "integer overflow expected")
    try:
        if fits:
            actual = ours(x, k, mode, boundary, fill, method=method)
        else:
            with pytest.raises(OverflowError, match=str(rt)):
                ours(x, k, mode, boundary, fill, method=method)
    except ValueError as exc:
        # A forced FFT may refuse integers it cannot compute exactly; only then.
        assert method == "fft" and "fft" in str(exc), exc
        assert bound >= FFT_EXACT_LIMIT, (bound, exc)
        event("forced fft refused (not exact)")
        return
    if not fits:
        return
    expected = scipy_call(theirs, x, k, mode, boundary, fill)
    assert expected.dtype == rt
    # the reference agrees with scipy wherever scipy does not wrap around
    np.testing.assert_array_equal(expected, exact.astype(rt))
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    np.testing.assert_array_equal(actual, expected)


# These examples are cheap (a few ms): run more of them than the profile's default.
MORE = settings(max_examples=3 * settings.default.max_examples)


@MORE
@given(problems())
def test_matches_scipy(problem):
    _check(*problem)


@MORE
@given(problems(dtypes=INT_DTYPES))
def test_matches_scipy_integers(problem):
    _check(*problem)


@MORE
@given(problems(dtypes=FLOAT_DTYPES + COMPLEX_DTYPES))
def test_matches_scipy_inexact(problem):
    _check(*problem)


@given(problems(dtypes=(np.dtype(np.uint8), np.dtype(np.int8), np.dtype(np.int16)),
                max_image=6, max_kernel=6))
def test_small_integers_overflow_or_exact(problem):
    """Narrow integer types overflow often: each case is exact or an OverflowError."""
    _check(*problem)


# --------------------------------------------------------------------------- deterministic grid

IMAGE_SHAPES = [(1, 1), (1, 6), (6, 1), (5, 7), (4, 4)]
KERNEL_SHAPES = [(1, 1), (1, 3), (3, 1), (2, 2), (2, 4), (3, 3), (5, 7), (8, 9), (1, 9), (9, 1)]


@pytest.mark.parametrize("image_shape", IMAGE_SHAPES, ids=str)
@pytest.mark.parametrize("kernel_shape", KERNEL_SHAPES, ids=str)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("boundary", ("fill", "wrap", "symm"))
def test_shape_grid(image_shape, kernel_shape, mode, boundary):
    """Degenerate, even, and larger-than-image kernels, every op and method."""
    rng = np.random.default_rng(hash((image_shape, kernel_shape)) % 2 ** 32)
    xf = rng.standard_normal(image_shape)
    kf = rng.standard_normal(kernel_shape)
    xi = rng.integers(-50, 50, image_shape)
    ki = rng.integers(-50, 50, kernel_shape)
    xc = xf + 1j * rng.standard_normal(image_shape)
    kc = kf + 1j * rng.standard_normal(kernel_shape)
    for op, (ours, theirs) in OPS.items():
        for x, k, fill in ((xf, kf, 1.5), (xi, ki, -3), (xc, kc, 0.5 - 2j)):
            if mode == "valid" and not valid_ok(image_shape, kernel_shape):
                with pytest.raises(ValueError):
                    theirs(x, k, mode, boundary, fill)
                for method in METHODS:
                    with pytest.raises(ValueError, match="valid"):
                        ours(x, k, mode, boundary, fill, method=method)
                continue
            expected = theirs(x, k, mode, boundary, fill)
            for method in METHODS:
                actual = ours(x, k, mode, boundary, fill, method=method)
                assert actual.dtype == expected.dtype, (op, method)
                assert actual.shape == expected.shape, (op, method)
                if x.dtype.kind == "i":
                    np.testing.assert_array_equal(actual, expected, err_msg=f"{op} {method}")
                else:
                    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-10,
                                               err_msg=f"{op} {method}")


# --------------------------------------------------------------------------- valid-mode swap

@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shapes", [((3, 4), (5, 6)), ((2, 2), (2, 7)), ((1, 1), (4, 3)),
                                    ((3, 3), (3, 3))], ids=str)
def test_valid_swap(op, method, shapes, rng):
    """scipy swaps the inputs when in2 is at least as large in every dimension."""
    ours, theirs = OPS[op]
    x = rng.standard_normal(shapes[0]) + 1j * rng.standard_normal(shapes[0])
    k = rng.standard_normal(shapes[1]) + 1j * rng.standard_normal(shapes[1])
    expected = theirs(x, k, "valid")
    actual = ours(x, k, "valid", method=method)
    assert actual.shape == expected.shape
    np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-12)
    xi = rng.integers(-9, 9, shapes[0]).astype(np.int32)
    ki = rng.integers(-9, 9, shapes[1]).astype(np.int32)
    np.testing.assert_array_equal(ours(xi, ki, "valid", method=method), theirs(xi, ki, "valid"))


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("shapes", [((3, 6), (4, 2)), ((6, 3), (2, 4)), ((1, 5), (2, 1))],
                         ids=str)
def test_valid_neither_larger_raises(op, shapes):
    ours, theirs = OPS[op]
    x, k = np.ones(shapes[0]), np.ones(shapes[1])
    with pytest.raises(ValueError):
        theirs(x, k, "valid")
    for method in METHODS:
        with pytest.raises(ValueError, match="valid"):
            ours(x, k, "valid", method=method)


# --------------------------------------------------------------------------- array-likes

@pytest.mark.parametrize("op", sorted(OPS))
def test_nested_lists_like_scipy(op):
    ours, theirs = OPS[op]
    x = [[1, 2, 3], [4, 5, 6], [7, 8, 10]]
    k = [[1, -1], [2, 0]]
    for mode in MODES:
        expected = theirs(x, k, mode)
        actual = ours(x, k, mode)
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)
    xf = [[0.5, 1.5], [2.5, -1.0]]
    np.testing.assert_allclose(ours(xf, k, "same", "symm"), theirs(xf, k, "same", "symm"))


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("d1, d2", [("uint8", "int8"), ("uint16", "float32"), ("int8", "float32"),
                                    ("int32", "float32"), ("uint64", "int64"),
                                    ("float32", "complex64"), ("float64", "complex64"),
                                    ("int16", "complex64"), ("uint32", "int32")])
def test_mixed_dtypes_follow_result_type(op, d1, d2, rng):
    ours, theirs = OPS[op]
    x = rng.integers(0, 5, (6, 5)).astype(d1)
    k = rng.integers(0, 5, (3, 2)).astype(d2)
    for method in METHODS:
        for a, b in ((x, k), (k, x)):
            expected = theirs(a, b, "full")
            actual = ours(a, b, "full", method=method)
            rt = np.result_type(a, b)
            assert actual.dtype == expected.dtype == rt
            if rt.kind in "iu":
                np.testing.assert_array_equal(actual, expected)
            else:
                atol = RTOL[rt.name] * np.abs(expected).max()
                np.testing.assert_allclose(actual, expected, rtol=0, atol=atol)


# --------------------------------------------------------------------------- structured kernels

def structured_kernel(kind, kh, kw, rng, dtype):
    """Box, rank-1, rank-2, binomial (Gaussian-like) or full-rank kernels.

    The planner may route these to the separable or running-sum engines.
    """
    dtype = np.dtype(dtype)
    integer = dtype.kind in "iu"
    if kind == "box":
        k = np.ones((kh, kw))
    elif kind == "binomial":
        if integer:  # a rank-1 tent, small enough for every integer dtype
            def tent(n):
                return np.minimum(np.minimum(np.arange(1, n + 1), np.arange(n, 0, -1)), 8)

            k = np.outer(tent(kh), tent(kw))
        else:
            from scipy.special import comb

            k = np.outer(comb(kh - 1, np.arange(kh)), comb(kw - 1, np.arange(kw)))
            k = k / k.sum()
    else:
        lo = 0 if dtype.kind == "u" else -3

        def vec(n):
            return rng.integers(lo, 4, n) if integer else rng.standard_normal(n)

        if kind == "rank1":
            k = np.outer(vec(kh), vec(kw))
        elif kind == "rank2":
            k = np.outer(vec(kh), vec(kw)) + np.outer(vec(kh), vec(kw))
        else:
            k = rng.integers(lo, 4, (kh, kw)) if integer else rng.standard_normal((kh, kw))
    if dtype.kind == "c":
        k = k * (1 - 0.5j)
    return k.astype(dtype)


STRUCTURED_DTYPES = ("float32", "float64", "complex64", "complex128", "int16", "int32",
                     "uint8", "int64")


@settings(max_examples=max(10, settings.default.max_examples // 2))
@given(st.sampled_from(STRUCTURED_DTYPES), st.integers(8, 140), st.integers(8, 140),
       st.integers(1, 31), st.integers(1, 31),
       st.sampled_from(("box", "binomial", "rank1", "rank2", "random")),
       st.sampled_from(MODES), st.sampled_from(("fill", "symm", "wrap")),
       st.sampled_from(METHODS), st.sampled_from(sorted(OPS)), st.integers(0, 2 ** 32 - 1))
def test_structured_kernels_on_larger_images(dtype, h, w, kh, kw, kind, mode, boundary, method,
                                             op, seed):
    """Kernels the planner may give to the separable / running-sum / FFT engines."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    if mode == "valid" and not valid_ok((h, w), (kh, kw)):
        mode = "same"
    if dtype.kind in "iu":
        x = rng.integers(0 if dtype.kind == "u" else -20, 21, (h, w)).astype(dtype)
    else:
        x = (rng.standard_normal((h, w)) * 10).astype(dtype)
        if dtype.kind == "c":
            x = x + 1j * (rng.standard_normal((h, w)) * 10).astype(dtype)
    k = structured_kernel(kind, kh, kw, rng, dtype)
    fill = 2 if dtype.kind in "iu" else 1.5
    note(f"kernel kind {kind}, shapes {(h, w)} {(kh, kw)}, {mode} {boundary} {method} {op}")
    _check_structured(x, k, mode, boundary, fill, method, op)


def _check_structured(x, k, mode, boundary, fill, method, op):
    ours, theirs = OPS[op]
    rt = np.result_type(x, k)
    if rt.kind in "iu":
        exact = theirs(x.astype(np.int64), k.astype(np.int64), mode, boundary, fill)
        info = np.iinfo(rt)
        if exact.min() < info.min or exact.max() > info.max:
            with pytest.raises(OverflowError):
                ours(x, k, mode, boundary, fill, method=method)
            return
        expected = theirs(x, k, mode, boundary, fill)
        actual = ours(x, k, mode, boundary, fill, method=method)
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)
        return
    actual = ours(x, k, mode, boundary, fill, method=method)
    check_float(actual, x, k, mode, boundary, fill, theirs)


@pytest.mark.parametrize("kind", ["box", "binomial", "rank1", "rank2"])
@pytest.mark.parametrize("ksize", [(3, 3), (15, 15), (31, 31), (1, 21), (21, 2)], ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int16"])
@pytest.mark.parametrize("boundary", ["fill", "symm", "wrap"])
def test_structured_kernels_auto(kind, ksize, dtype, boundary):
    rng = np.random.default_rng(7)
    if dtype == "int16":
        x = rng.integers(-20, 21, (120, 130)).astype(dtype)
    else:
        x = (rng.standard_normal((120, 130)) * 10 + 100).astype(dtype)
    k = structured_kernel(kind, *ksize, rng, dtype)
    for op in sorted(OPS):
        for mode in MODES:
            _check_structured(x, k, mode, boundary, 3, "auto", op)
