"""Kernel factories: sums, symmetry, and agreement with scipy.ndimage."""

import numpy as np
import pytest
from scipy import ndimage

import faltung
from faltung import kernels
from faltung.kernels import box, by_name, emboss, gaussian, laplacian, sharpen, sobel

IDENTITY = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]])


@pytest.mark.parametrize("factory", list(kernels.NAMED.values()), ids=list(kernels.NAMED))
def test_named_defaults_are_fresh_float64_2d(factory):
    k = factory()
    assert k.dtype == np.float64 and k.ndim == 2 and k.flags.c_contiguous
    assert np.isfinite(k).all()
    k[...] = 7  # a new array on every call: mutating one must not affect the next
    assert not (factory() == 7).all()


@pytest.mark.parametrize("size", [1, 2, 3, 9])
def test_box(size):
    k = box(size)
    assert k.shape == (size, size)
    assert np.all(k == k[0, 0])
    assert k.sum() == pytest.approx(1.0, abs=1e-15)


def test_box_one_is_identity():
    np.testing.assert_array_equal(box(1), [[1.0]])


@pytest.mark.parametrize("bad, exc", [(0, ValueError), (-3, ValueError), (2.5, TypeError)])
def test_box_rejects(bad, exc):
    with pytest.raises(exc, match="size"):
        box(bad)


@pytest.mark.parametrize("sigma, truncate", [(0.5, 4.0), (1.0, 4.0), (2.5, 4.0), (3.0, 2.0),
                                             (1.7, 3.3)])
def test_gaussian_shape_sum_symmetry(sigma, truncate):
    k = gaussian(sigma, truncate)
    r = int(truncate * sigma + 0.5)
    assert k.shape == (2 * r + 1, 2 * r + 1)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_array_equal(k, k.T)
    np.testing.assert_array_equal(k, k[::-1, :])
    np.testing.assert_array_equal(k, k[:, ::-1])
    assert k.argmax() == k.size // 2  # peak at the centre


@pytest.mark.parametrize("sigma, truncate", [(0.5, 4.0), (1.0, 4.0), (2.5, 4.0), (3.0, 2.0),
                                             (1.7, 3.3)])
def test_gaussian_matches_ndimage_on_impulse(sigma, truncate):
    k = gaussian(sigma, truncate)
    r = k.shape[0] // 2
    n = 2 * r + 7
    impulse = np.zeros((n, n))
    impulse[n // 2, n // 2] = 1.0
    ref = ndimage.gaussian_filter(impulse, sigma, truncate=truncate, mode="constant")
    c = n // 2
    np.testing.assert_allclose(ref[c - r:c + r + 1, c - r:c + r + 1], k, rtol=0, atol=1e-15)
    # Nothing outside the kernel's support.
    ref[c - r:c + r + 1, c - r:c + r + 1] = 0
    assert not ref.any()


def test_gaussian_radius_overrides_truncate():
    k = gaussian(2.0, truncate=100.0, radius=3)
    assert k.shape == (7, 7)
    impulse = np.zeros((9, 9))
    impulse[4, 4] = 1.0
    ref = ndimage.gaussian_filter(impulse, 2.0, radius=3, mode="constant")
    np.testing.assert_allclose(ref[1:8, 1:8], k, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(gaussian(5.0, radius=0), [[1.0]])


def test_gaussian_filter_equivalence_on_image(rng):
    img = rng.random((31, 40))
    got = faltung.convolve2d(img, gaussian(1.5), "same", boundary="symm")
    np.testing.assert_allclose(got, ndimage.gaussian_filter(img, 1.5, mode="reflect"),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("kwargs", [dict(sigma=0), dict(sigma=-1), dict(sigma=float("nan")),
                                    dict(sigma=1, truncate=-1), dict(sigma=1, radius=-1)])
def test_gaussian_rejects(kwargs):
    with pytest.raises(ValueError):
        gaussian(**kwargs)


def test_sobel_values_and_symmetry():
    np.testing.assert_array_equal(sobel(0), [[1, 2, 1], [0, 0, 0], [-1, -2, -1]])
    np.testing.assert_array_equal(sobel(1), sobel(0).T)
    np.testing.assert_array_equal(sobel(-2), sobel(0))
    np.testing.assert_array_equal(sobel(-1), sobel(1))
    for axis in (0, 1):
        k = sobel(axis)
        assert k.sum() == 0
        flipped = k[::-1, :] if axis == 0 else k[:, ::-1]
        np.testing.assert_array_equal(flipped, -k)  # antisymmetric along the derivative
    assert by_name("sobel_x").tolist() == sobel(1).tolist()
    assert by_name("sobel_y").tolist() == sobel(0).tolist()


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
@pytest.mark.parametrize("shape", [(17, 23), (16, 20), (3, 3), (5, 2)])
def test_sobel_matches_ndimage(axis, shape, rng):
    img = rng.standard_normal(shape)
    got = faltung.convolve2d(img, sobel(axis), "same", boundary="symm")
    ref = ndimage.sobel(img, axis=axis, mode="reflect")
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)


def test_sobel_sign_is_a_derivative():
    ramp = np.tile(np.arange(7.0), (5, 1))  # increases to the right
    gx = faltung.convolve2d(ramp, sobel(1), "valid")
    np.testing.assert_array_equal(gx, np.full((3, 5), 8.0))  # (1+2+1) * (x+1 - (x-1))
    gy = faltung.convolve2d(ramp.T, sobel(0), "valid")
    np.testing.assert_array_equal(gy, np.full((5, 3), 8.0))


@pytest.mark.parametrize("bad", [2, -3, 0.5])
def test_sobel_rejects(bad):
    with pytest.raises((ValueError, TypeError), match="axis"):
        sobel(bad)


def test_laplacian(rng):
    k = laplacian()
    assert k.sum() == 0
    np.testing.assert_array_equal(k, k[::-1, ::-1])
    np.testing.assert_array_equal(k, k.T)
    img = rng.standard_normal((19, 24))
    got = faltung.convolve2d(img, k, "same", boundary="symm")
    np.testing.assert_allclose(got, ndimage.laplace(img, mode="reflect"), rtol=0, atol=1e-12)


def test_sharpen():
    k = sharpen()
    assert k.sum() == 1
    np.testing.assert_array_equal(k, IDENTITY - laplacian())
    np.testing.assert_array_equal(k, k[::-1, ::-1])


def test_emboss():
    k = emboss()
    assert k.sum() == 1
    d = k - IDENTITY
    np.testing.assert_array_equal(d[::-1, ::-1], -d)  # identity + antisymmetric part
    np.testing.assert_array_equal(k, k.T)
    # As a convolution: brighter where the upper-left neighbour is brighter.
    img = np.zeros((5, 5))
    img[1, 1] = 1.0
    out = faltung.convolve2d(img, k, "same")
    assert out[2, 2] == 2.0 and out[0, 0] == -2.0


def test_by_name_case_and_hyphen():
    np.testing.assert_array_equal(by_name("Sobel-X"), sobel(1))
    np.testing.assert_array_equal(by_name(" GAUSSIAN ", sigma=2.0), gaussian(2.0))
    np.testing.assert_array_equal(by_name("box", size=5), box(5))
    np.testing.assert_array_equal(by_name("gaussian"), gaussian(1.0))


@pytest.mark.parametrize("bad", ["blur", "", "sobel", 3])
def test_by_name_unknown_lists_names(bad):
    with pytest.raises(ValueError, match="unknown kernel") as info:
        by_name(bad)
    for name in kernels.NAMED:
        assert name in str(info.value)


def test_by_name_bad_parameter():
    with pytest.raises(TypeError, match="sigma"):
        by_name("laplacian", sigma=2)
    with pytest.raises(TypeError, match="takes: size"):
        by_name("box", sigma=2)
