"""The reference values of DESIGN.md section 5, checked against scipy too."""

import numpy as np
import pytest
import scipy.signal as ss

import faltung

METHODS = ("direct", "fft", "auto")

IMAGE_7x7 = np.arange(1, 50).reshape(7, 7)
KERNEL_3x3 = np.array([[-1, 1, -1], [-2, 3, 1], [2, -4, 0]])
EXPECTED_7x7 = np.array([
    [-2, -8, -7, -6, -5, -4, 28],
    [5, -3, -4, -5, -6, -7, 28],
    [-2, -10, -11, -12, -13, -14, 28],
    [-9, -17, -18, -19, -20, -21, 28],
    [-16, -24, -25, -26, -27, -28, 28],
    [-23, -31, -32, -33, -34, -35, 28],
    [-29, 13, 13, 13, 13, 13, 27],
])

MERGE_INPUT = np.array([[4, 7, 2], [1, 5, 9], [8, 3, 6]])
K1 = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
K2 = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]])
EXPECTED_MERGE = np.array([[-1, 3, 31], [17, 0, -19], [-35, -13, -35]])


def test_expected_values_are_scipys():
    got = ss.convolve2d(IMAGE_7x7, KERNEL_3x3, mode="same", boundary="fill", fillvalue=0)
    np.testing.assert_array_equal(got, EXPECTED_7x7)
    merged = ss.convolve2d(MERGE_INPUT, K1, "same") + ss.convolve2d(MERGE_INPUT, K2, "same")
    np.testing.assert_array_equal(merged, EXPECTED_MERGE)
    np.testing.assert_array_equal(ss.convolve2d(MERGE_INPUT, K1 + K2, "same"), EXPECTED_MERGE)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.int16, np.float32, np.float64,
                                   np.complex128])
def test_7x7_same_fill(method, dtype):
    image = IMAGE_7x7.astype(dtype)
    kernel = KERNEL_3x3.astype(dtype)
    got = faltung.convolve2d(image, kernel, mode="same", boundary="fill", fillvalue=0,
                             method=method)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == (7, 7)
    if np.dtype(dtype).kind == "i":
        np.testing.assert_array_equal(got, EXPECTED_7x7)
    else:
        np.testing.assert_allclose(got, EXPECTED_7x7, rtol=0, atol=1e-4)
    np.testing.assert_allclose(got, ss.convolve2d(image, kernel, "same", "fill", 0),
                               rtol=0, atol=1e-4)


@pytest.mark.parametrize("method", METHODS)
def test_7x7_default_arguments(method):
    """Positional arguments as in DESIGN.md, and the default boundary/fillvalue."""
    got = faltung.convolve2d(IMAGE_7x7, KERNEL_3x3, "same", method=method)
    np.testing.assert_array_equal(got, EXPECTED_7x7)
    assert got.dtype == ss.convolve2d(IMAGE_7x7, KERNEL_3x3, "same").dtype


@pytest.mark.parametrize("method", METHODS)
def test_7x7_as_lists(method):
    got = faltung.convolve2d(IMAGE_7x7.tolist(), KERNEL_3x3.tolist(), mode="same",
                             boundary="fill", fillvalue=0, method=method)
    np.testing.assert_array_equal(got, EXPECTED_7x7)


@pytest.mark.parametrize("method", METHODS)
def test_7x7_correlate_is_convolve_with_flipped_kernel(method):
    got = faltung.correlate2d(IMAGE_7x7, KERNEL_3x3[::-1, ::-1], "same", method=method)
    np.testing.assert_array_equal(got, EXPECTED_7x7)
    np.testing.assert_array_equal(got, ss.correlate2d(IMAGE_7x7, KERNEL_3x3[::-1, ::-1], "same"))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.float32, np.float64])
def test_merge_example(method, dtype):
    """conv(x, k1) + conv(x, k2) == conv(x, k1 + k2), with the values DESIGN.md gives."""
    x = MERGE_INPUT.astype(dtype)
    k1, k2 = K1.astype(dtype), K2.astype(dtype)
    a = faltung.convolve2d(x, k1, "same", method=method)
    b = faltung.convolve2d(x, k2, "same", method=method)
    merged = faltung.convolve2d(x, k1 + k2, "same", method=method)
    for got in (a + b, merged):
        if np.dtype(dtype).kind == "i":
            np.testing.assert_array_equal(got, EXPECTED_MERGE)
        else:
            np.testing.assert_allclose(got, EXPECTED_MERGE, rtol=0, atol=1e-4)
    np.testing.assert_allclose(a, ss.convolve2d(x, k1, "same"), rtol=0, atol=1e-4)
    np.testing.assert_allclose(b, ss.convolve2d(x, k2, "same"), rtol=0, atol=1e-4)
    assert merged.dtype == ss.convolve2d(x, k1 + k2, "same").dtype == np.dtype(dtype)


def test_merge_example_batched():
    """The merge example through a kernel stack: one call per kernel, batch axis 0."""
    stack = np.stack([MERGE_INPUT, MERGE_INPUT])
    kernels = np.stack([K1, K2])
    got = faltung.convolve2d(stack, kernels, "same")
    np.testing.assert_array_equal(got.sum(axis=0), EXPECTED_MERGE)
