"""Bad arguments give the right exception and a message naming the argument;
inputs are never modified; memory layout and byte order never change an answer."""

import re

import numpy as np
import pytest

import faltung

FUNCS = pytest.mark.parametrize("func", [faltung.convolve2d, faltung.correlate2d],
                                ids=["convolve2d", "correlate2d"])
METHODS = ("direct", "fft", "auto")

X = np.arange(20.0).reshape(4, 5)
K = np.array([[1.0, -2.0], [0.5, 3.0]])


# --------------------------------------------------------------------------- array arguments

@FUNCS
@pytest.mark.parametrize("which", ["in1", "in2"])
@pytest.mark.parametrize("bad", [np.arange(3.0), np.float64(2.0), 5, [1, 2, 3]],
                         ids=["1-D", "0-D numpy", "python scalar", "1-D list"])
def test_too_few_dimensions(func, which, bad):
    args = (bad, K) if which == "in1" else (X, bad)
    with pytest.raises(ValueError, match=which):
        func(*args)


@FUNCS
@pytest.mark.parametrize("which", ["in1", "in2"])
@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (2, 0, 3), (0, 3, 3)], ids=str)
def test_empty_arrays(func, which, shape):
    empty = np.zeros(shape)
    args = (empty, K) if which == "in1" else (np.zeros((3, 3, 3)) if len(shape) == 3 else X,
                                               empty)
    with pytest.raises(ValueError, match=which):
        func(*args)


BAD_DTYPES = [
    np.array([[True, False], [False, True]]),
    np.array([[1, 2], [3, 4]], dtype=object),
    np.array([["a", "b"], ["c", "d"]]),
    np.array([[b"a", b"b"], [b"c", b"d"]]),
    np.zeros((2, 2), dtype="datetime64[s]"),
    np.zeros((2, 2), dtype="timedelta64[s]"),
    np.zeros((2, 2), dtype=[("a", "f8"), ("b", "f8")]),
]


@FUNCS
@pytest.mark.parametrize("which", ["in1", "in2"])
@pytest.mark.parametrize("bad", BAD_DTYPES, ids=lambda a: str(a.dtype))
def test_non_numeric_dtypes(func, which, bad):
    args = (bad, K) if which == "in1" else (X, bad)
    with pytest.raises(TypeError, match=which):
        func(*args)


@FUNCS
@pytest.mark.parametrize("which", ["in1", "in2"])
def test_string_argument(func, which):
    args = ("abc", K) if which == "in1" else (X, "abc")
    with pytest.raises(TypeError, match=which):
        func(*args)


@FUNCS
def test_ragged_list(func):
    with pytest.raises(ValueError, match="in1"):
        func([[1, 2], [3]], K)


@FUNCS
def test_bool_kernel_message_suggests_cast(func):
    with pytest.raises(TypeError, match="bool"):
        func(X, np.ones((2, 2), dtype=bool))


# --------------------------------------------------------------------------- string options

@FUNCS
@pytest.mark.parametrize("mode", ["fulll", "FULL", "Same", "", "valid ", 2])
def test_unknown_mode(func, mode):
    exc = ValueError if isinstance(mode, str) else (ValueError, TypeError)
    with pytest.raises(exc, match="mode") as info:
        func(X, K, mode)
    message = str(info.value)
    for name in ("full", "same", "valid"):
        assert name in message


@FUNCS
@pytest.mark.parametrize("mode", [None, 0, b"full"])
def test_non_string_mode(func, mode):
    with pytest.raises((ValueError, TypeError), match="mode"):
        func(X, K, mode)


@FUNCS
@pytest.mark.parametrize("boundary", ["fil", "reflection", "zero-pad", "", "BORDER_FOO"])
def test_unknown_boundary(func, boundary):
    with pytest.raises(ValueError, match="boundary") as info:
        func(X, K, "same", boundary)
    message = str(info.value)
    for name in ("fill", "wrap", "symm", "mirror", "nearest", "reflect"):
        assert name in message
    assert repr(boundary) in message


@FUNCS
@pytest.mark.parametrize("boundary", [None, 0, 1.5])
def test_non_string_boundary(func, boundary):
    with pytest.raises((ValueError, TypeError), match="boundary"):
        func(X, K, "same", boundary)


@FUNCS
@pytest.mark.parametrize("method", ["fastest", "FFT", "winograd", "", None, 1])
def test_unknown_method(func, method):
    with pytest.raises((ValueError, TypeError), match="method") as info:
        func(X, K, method=method)
    if isinstance(method, str):
        assert info.type is ValueError
        for name in ("auto", "direct", "fft"):
            assert name in str(info.value)


# --------------------------------------------------------------------------- fillvalue

@FUNCS
@pytest.mark.parametrize("fill", [[1.0, 2.0], np.ones((2, 2)), np.array([]), (1, 2)],
                         ids=["list", "2x2", "empty", "tuple"])
def test_non_scalar_fillvalue(func, fill):
    with pytest.raises(ValueError, match="fillvalue"):
        func(X, K, fillvalue=fill)


@FUNCS
@pytest.mark.parametrize("fill", ["1", "a", b"1", np.str_("1"), None, object()],
                         ids=["'1'", "'a'", "b'1'", "np.str_", "None", "object"])
def test_fillvalue_of_wrong_type(func, fill):
    with pytest.raises(TypeError, match="fillvalue"):
        func(X, K, fillvalue=fill)


@FUNCS
@pytest.mark.parametrize("fill", [float("nan"), float("inf"), -np.inf, np.float32("nan"),
                                  np.float16("inf")],
                         ids=["nan", "inf", "-inf", "float32 nan", "float16 inf"])
def test_non_finite_fillvalue_with_integers(func, fill):
    """An integer computation cannot take a NaN/Inf fill value: say so, naming it."""
    xi = np.arange(12).reshape(3, 4)
    with pytest.raises(ValueError, match="fillvalue"):
        func(xi, np.ones((2, 2), dtype=np.int64), fillvalue=fill)


@FUNCS
def test_one_element_fillvalue_accepted(func):
    expected = func(X, K, fillvalue=2.5)
    np.testing.assert_array_equal(func(X, K, fillvalue=np.array([2.5])), expected)
    np.testing.assert_array_equal(func(X, K, fillvalue=np.float32(2.5)), expected)


# --------------------------------------------------------------------------- axes

X3 = np.arange(60.0).reshape(3, 4, 5)


@FUNCS
@pytest.mark.parametrize("axes", [(0,), (0, 1, 2), ()], ids=str)
def test_axes_wrong_length(func, axes):
    with pytest.raises(ValueError, match="axes"):
        func(X3, K, axes=axes)


@FUNCS
@pytest.mark.parametrize("axes", [(0, 3), (3, 0), (-4, 1), (1, 100)], ids=str)
def test_axes_out_of_range(func, axes):
    with pytest.raises(ValueError, match="axes"):
        func(X3, K, axes=axes)


@FUNCS
@pytest.mark.parametrize("axes", [(1, 1), (0, -3), (-1, 2)], ids=str)
def test_axes_duplicate(func, axes):
    with pytest.raises(ValueError, match="axes"):
        func(X3, K, axes=axes)


@FUNCS
@pytest.mark.parametrize("axes", [(0, 1.0), ("a", 1), (None, 1), 1, None, 1.5],
                         ids=str)
def test_axes_not_ints(func, axes):
    with pytest.raises(TypeError, match="axes"):
        func(X3, K, axes=axes)


@FUNCS
def test_axes_numpy_ints_and_lists_accepted(func):
    expected = func(X3, K, axes=(1, 2))
    np.testing.assert_array_equal(func(X3, K, axes=[1, 2]), expected)
    np.testing.assert_array_equal(func(X3, K, axes=(np.int64(1), np.int32(2))), expected)
    np.testing.assert_array_equal(func(X3, K, axes=np.array([-2, -1])), expected)


# --------------------------------------------------------------------------- out

@FUNCS
@pytest.mark.parametrize("shape", [(6, 5), (4, 5), (5, 7), (1, 5, 6), (30,), ()], ids=str)
def test_out_wrong_shape(func, shape):
    # the full result of X (4x5) with K (2x2) is 5x6
    with pytest.raises(ValueError, match="out"):
        func(X, K, out=np.empty(shape))


@FUNCS
def test_forced_fft_refuses_integers_it_cannot_compute_exactly(func):
    """A forced engine that cannot be exact says so; 'auto' and 'direct' stay exact."""
    x = np.array([[2 ** 40, 3], [5, 7]], dtype=np.int64)
    k = np.array([[3, 1]], dtype=np.int64)
    with pytest.raises(ValueError, match="fft"):
        func(x, k, method="fft")
    expected = func(x, k, method="auto")
    np.testing.assert_array_equal(func(x, k, method="direct"), expected)
    assert expected[0, 0] == 2 ** 40 * (1 if func is faltung.correlate2d else 3)


@FUNCS
@pytest.mark.parametrize("x_dtype, out_dtype", [
    ("float64", "int64"), ("float32", "int32"), ("complex128", "float64"),
    ("complex64", "float32"), ("float64", "bool"), ("int64", "bool"),
    ("float64", "object"), ("int16", "U8"),
])
def test_out_dtype_cannot_hold_result(func, x_dtype, out_dtype):
    x = X.astype(x_dtype)
    with pytest.raises(TypeError, match="out"):
        func(x, K.astype(x_dtype), out=np.empty((5, 6), dtype=out_dtype))


@FUNCS
@pytest.mark.parametrize("out", [[[0.0] * 6] * 5, 3.0, "out"], ids=["list", "float", "str"])
def test_out_not_an_array(func, out):
    with pytest.raises(TypeError, match="out"):
        func(X, K, out=out)


@FUNCS
def test_out_read_only(func):
    out = np.zeros((5, 6))
    out.flags.writeable = False
    with pytest.raises(ValueError, match="out"):
        func(X, K, out=out)
    assert not out.any()


# --------------------------------------------------------------------------- workers

@FUNCS
@pytest.mark.parametrize("workers", [0])
def test_workers_zero(func, workers):
    with pytest.raises(ValueError, match="workers"):
        func(X, K, workers=workers)


@FUNCS
@pytest.mark.parametrize("workers", [1.0, 2.5, "2", [2]], ids=str)
def test_workers_not_int(func, workers):
    with pytest.raises(TypeError, match="workers"):
        func(X, K, workers=workers)


@FUNCS
def test_workers_too_negative(func):
    with pytest.raises(ValueError, match="workers"):
        func(X, K, workers=-10_000)


@FUNCS
@pytest.mark.parametrize("workers", [None, 1, 2, -1, np.int64(2)], ids=str)
def test_workers_accepted(func, workers):
    np.testing.assert_array_equal(func(X, K, workers=workers), func(X, K))


# --------------------------------------------------------------------------- batch / valid

@FUNCS
@pytest.mark.parametrize("kshape", [(3, 2, 2), (2, 3, 2, 2), (1, 2, 2), (3, 4, 2, 2)], ids=str)
def test_kernel_with_mismatched_batch_axes(func, kshape):
    x = np.ones((2, 4, 5))
    with pytest.raises(ValueError, match="in2"):
        func(x, np.ones(kshape))


@FUNCS
def test_batched_kernel_for_2d_image(func):
    with pytest.raises(ValueError, match="in2"):
        func(X, np.ones((3, 2, 2)))


@FUNCS
@pytest.mark.parametrize("kshape", [(5, 2), (2, 6), (1, 9)], ids=str)
def test_valid_mode_neither_larger(func, kshape):
    with pytest.raises(ValueError, match="valid"):
        func(X, np.ones(kshape), "valid")


@FUNCS
def test_valid_mode_neither_larger_batched(func):
    with pytest.raises(ValueError, match="valid"):
        func(np.ones((2, 4, 5)), np.ones((5, 2)), "valid")


# --------------------------------------------------------------------------- no side effects

@FUNCS
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("boundary", ["fill", "symm", "wrap", "mirror", "nearest"])
@pytest.mark.parametrize("mode", ["full", "same", "valid"])
def test_inputs_not_modified(func, method, boundary, mode, rng):
    cases = [
        (rng.standard_normal((6, 7)), rng.standard_normal((3, 4))),
        (rng.integers(-5, 5, (6, 7)).astype(np.int16), rng.integers(-5, 5, (3, 4))),
        (rng.standard_normal((2, 6, 7)).astype(np.complex64), rng.standard_normal((3, 4))),
        (rng.standard_normal((2, 6, 7)), rng.standard_normal((2, 3, 4))),
        (rng.standard_normal((3, 4)), rng.standard_normal((6, 7))),  # valid-mode swap
    ]
    for x, k in cases:
        x0, k0 = x.copy(), k.copy()
        func(x, k, mode, boundary, 1.5, method=method)
        np.testing.assert_array_equal(x, x0)
        np.testing.assert_array_equal(k, k0)
        assert x.dtype == x0.dtype and k.dtype == k0.dtype


def test_list_inputs_not_modified():
    x = [[1, 2, 3], [4, 5, 6]]
    k = [[1, 0], [0, -1]]
    faltung.convolve2d(x, k, "same", "symm")
    assert x == [[1, 2, 3], [4, 5, 6]] and k == [[1, 0], [0, -1]]


# --------------------------------------------------------------------------- layouts

def _layouts(base):
    """Views and copies of ``base`` (H, W) that hold the same values."""
    big = np.zeros((2 * base.shape[0], 3 * base.shape[1]), dtype=base.dtype)
    big[::2, ::3] = base
    flipped = np.ascontiguousarray(base[::-1, ::-1])
    ro = base.copy()
    ro.flags.writeable = False
    return {
        "strided": big[::2, ::3],
        "transposed": np.ascontiguousarray(base.T).T,
        "fortran": np.asfortranarray(base),
        "negative strides": flipped[::-1, ::-1],
        "read-only": ro,
        "broadcast": np.broadcast_to(base, base.shape),
        "big-endian": base.astype(base.dtype.newbyteorder(">")),
        "little-endian": base.astype(base.dtype.newbyteorder("<")),
    }


def _values(rng, shape, dtype):
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0 if dtype.kind == "u" else -9, 10, shape).astype(dtype)
    return (rng.standard_normal(shape) * 10).astype(dtype)


@FUNCS
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", ["f8", "i4", "f4", "c16", "u2"])
@pytest.mark.parametrize("mode, boundary", [("full", "fill"), ("same", "symm"),
                                            ("same", "wrap"), ("valid", "fill")])
def test_layouts_do_not_change_answer(func, method, dtype, mode, boundary, rng):
    x = _values(rng, (7, 9), dtype)
    k = _values(rng, (3, 4), dtype)
    expected = func(x, k, mode, boundary, method=method)
    xl, kl = _layouts(x), _layouts(k)
    pairs = [(name, "plain") for name in xl] + [("plain", name) for name in kl] + \
        [(name, name) for name in xl]
    xl["plain"], kl["plain"] = x, k
    for name, kname in pairs:
        got = func(xl[name], kl[kname], mode, boundary, method=method)
        assert got.dtype.newbyteorder("=") == expected.dtype.newbyteorder("="), (name, kname)
        np.testing.assert_array_equal(got, expected, err_msg=f"{name} / {kname}")


@FUNCS
@pytest.mark.parametrize("dtype", [">f8", ">i4", ">c8", ">u8"])
def test_big_endian_against_scipy(func, dtype, rng):
    import scipy.signal as ss

    x = _values(rng, (6, 5), dtype)
    k = _values(rng, (3, 3), dtype)
    sfunc = ss.convolve2d if func is faltung.convolve2d else ss.correlate2d
    expected = sfunc(x.astype(x.dtype.newbyteorder("=")), k.astype(k.dtype.newbyteorder("=")),
                     "same", "symm")
    for method in METHODS:
        got = func(x, k, "same", "symm", method=method)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


@FUNCS
def test_batched_layouts(func, rng):
    x = rng.standard_normal((3, 6, 7))
    k = rng.standard_normal((3, 3))
    expected = func(x, k, "same", "symm")
    for xv in (np.asfortranarray(x), x.transpose(2, 1, 0).copy().transpose(2, 1, 0),
               np.repeat(x, 2, axis=0)[::2], x.astype(">f8")):
        np.testing.assert_array_equal(func(xv, k, "same", "symm"), expected)


@FUNCS
def test_out_layouts(func, rng):
    """A non-contiguous or big-endian ``out`` is written correctly."""
    x = rng.standard_normal((6, 7))
    k = rng.standard_normal((3, 3))
    expected = func(x, k)
    for out in (np.zeros((8, 9), order="F"), np.zeros((16, 9))[::2], np.zeros((8, 9), ">f8")):
        res = func(x, k, out=out)
        assert res is out
        np.testing.assert_array_equal(out, expected)


def test_messages_show_the_bad_value():
    with pytest.raises(ValueError, match=re.escape("'fulll'")):
        faltung.convolve2d(X, K, "fulll")
    with pytest.raises(ValueError, match=re.escape("'nope'")):
        faltung.convolve2d(X, K, boundary="nope")
