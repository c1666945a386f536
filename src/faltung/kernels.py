"""Kernel factories.

Every factory returns a new float64 array meant as a **convolution** kernel,
for :func:`faltung.convolve2d` (which flips the kernel). For the symmetric
kernels (box, Gaussian, Laplacian, sharpen) convolution and correlation give
the same result; for the antisymmetric Sobel kernels correlation gives the
negated derivative, and for emboss it lights the relief from the opposite side.

:data:`NAMED` maps a name to a factory whose parameters all have defaults;
:func:`by_name` looks a kernel up by name.
"""

from __future__ import annotations

import inspect
import math
import operator
from collections.abc import Callable
from functools import partial

import numpy as np

__all__ = ["box", "gaussian", "sobel", "laplacian", "sharpen", "emboss", "NAMED", "by_name"]


def _positive_int(value: int, name: str) -> int:
    try:
        n = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an int, got {value!r}") from None
    if n < 1:
        raise ValueError(f"{name} must be at least 1, got {n}")
    return n


def box(size: int = 3) -> np.ndarray:
    """Box (moving-average) convolution kernel: ``size x size``, every weight ``1/size**2``.

    Parameters
    ----------
    size : int
        Side length, at least 1 (``box(1)`` is the identity).

    Returns
    -------
    ndarray
        float64, shape ``(size, size)``, summing to 1.

    Examples
    --------
    >>> from faltung.kernels import box
    >>> box(2)
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    n = _positive_int(size, "size")
    return np.full((n, n), 1.0 / (n * n))


def gaussian(sigma: float = 1.0, truncate: float = 4.0, radius: int | None = None) -> np.ndarray:
    """Normalised 2-D Gaussian convolution kernel, sampled as :mod:`scipy.ndimage` samples it.

    The kernel is the outer product of the 1-D kernel that
    :func:`scipy.ndimage.gaussian_filter` uses, ``exp(-x**2 / (2 sigma**2))``
    for ``x = -radius .. radius`` divided by its sum, so convolving with it
    reproduces ``gaussian_filter(image, sigma, truncate=truncate)`` (up to
    rounding, with matching boundaries).

    Parameters
    ----------
    sigma : float
        Standard deviation in pixels, > 0.
    truncate : float
        Cut the kernel off at this many standard deviations:
        ``radius = int(truncate * sigma + 0.5)``.
    radius : int, optional
        Explicit radius (>= 0); overrides ``truncate``.

    Returns
    -------
    ndarray
        float64, shape ``(2 * radius + 1,) * 2``, summing to 1 (to rounding).

    Examples
    --------
    >>> from faltung.kernels import gaussian
    >>> k = gaussian(1.0)
    >>> k.shape, round(float(k.sum()), 12)
    ((9, 9), 1.0)
    >>> gaussian(1.0, radius=1).round(3)
    array([[0.075, 0.124, 0.075],
           [0.124, 0.204, 0.124],
           [0.075, 0.124, 0.075]])
    """
    sigma = float(sigma)
    if not (sigma > 0 and math.isfinite(sigma)):
        raise ValueError(f"sigma must be a positive finite number, got {sigma}")
    if radius is None:
        truncate = float(truncate)
        if not (truncate >= 0 and math.isfinite(truncate)):
            raise ValueError(f"truncate must be a non-negative finite number, got {truncate}")
        r = int(truncate * sigma + 0.5)
    else:
        r = operator.index(radius)
        if r < 0:
            raise ValueError(f"radius must be >= 0, got {r}")
    # Same expression as scipy.ndimage's _gaussian_kernel1d, so the weights match.
    x = np.arange(-r, r + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x**2)
    phi = phi / phi.sum()
    return np.outer(phi, phi)


def sobel(axis: int = 1) -> np.ndarray:
    """3x3 Sobel derivative convolution kernel, as :func:`scipy.ndimage.sobel` defines it.

    A central difference ``[1, 0, -1]`` along ``axis`` (as a convolution:
    ``out[i] = x[i+1] - x[i-1]``, positive where the image increases with the
    index), smoothed by ``[1, 2, 1]`` along the other axis. With odd-sized
    images and kernels alike, ``convolve2d(img, sobel(a), 'same',
    boundary='symm')`` equals ``scipy.ndimage.sobel(img, axis=a,
    mode='reflect')``. As correlation weights (``cv2.filter2D``,
    ``ndimage.correlate``) the kernel gives the negated derivative.

    Parameters
    ----------
    axis : {0, 1, -2, -1}
        0 (or -2) differentiates along rows (y, downward), responding to
        horizontal edges; 1 (or -1) along columns (x, rightward), responding
        to vertical edges.

    Returns
    -------
    ndarray
        float64, shape (3, 3), summing to 0.

    Examples
    --------
    >>> from faltung.kernels import sobel
    >>> sobel(0)
    array([[ 1.,  2.,  1.],
           [ 0.,  0.,  0.],
           [-1., -2., -1.]])
    >>> sobel(1)
    array([[ 1.,  0., -1.],
           [ 2.,  0., -2.],
           [ 1.,  0., -1.]])
    """
    try:
        a = operator.index(axis)
    except TypeError:
        raise TypeError(f"axis must be an int, got {axis!r}") from None
    if a not in (0, 1, -1, -2):
        raise ValueError(f"axis must be 0 or 1 (or -2, -1), got {a}")
    k = np.outer([1.0, 0.0, -1.0], [1.0, 2.0, 1.0])
    return k if a % 2 == 0 else np.ascontiguousarray(k.T)


def laplacian() -> np.ndarray:
    """4-neighbour Laplacian convolution kernel (symmetric, so also a correlation kernel).

    Convolving with it equals :func:`scipy.ndimage.laplace` (with matching
    boundaries): the sum of the second differences along both axes.

    Returns
    -------
    ndarray
        float64, shape (3, 3), summing to 0.

    Examples
    --------
    >>> from faltung.kernels import laplacian
    >>> laplacian()
    array([[ 0.,  1.,  0.],
           [ 1., -4.,  1.],
           [ 0.,  1.,  0.]])
    """
    return np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def sharpen() -> np.ndarray:
    """3x3 sharpening convolution kernel: the identity minus the 4-neighbour Laplacian.

    Symmetric, so also a correlation kernel. It sums to 1, so flat regions
    are unchanged while edges and fine detail gain contrast.

    Returns
    -------
    ndarray
        float64, shape (3, 3), summing to 1.

    Examples
    --------
    >>> from faltung.kernels import sharpen
    >>> sharpen()
    array([[ 0., -1.,  0.],
           [-1.,  5., -1.],
           [ 0., -1.,  0.]])
    """
    return np.array([[0.0, -1.0, 0.0], [-1.0, 5.0, -1.0], [0.0, -1.0, 0.0]])


def emboss() -> np.ndarray:
    """3x3 emboss convolution kernel: the image plus a diagonal derivative.

    It sums to 1, so flat regions keep their value. As a convolution the
    output is ``x + 2*(x[i-1, j-1] - x[i+1, j+1]) + ...``: brighter where the
    image is brighter towards the upper left than towards the lower right.
    Used as correlation weights (``cv2.filter2D``) it lights the relief from
    the opposite side.

    Returns
    -------
    ndarray
        float64, shape (3, 3), summing to 1.

    Examples
    --------
    >>> from faltung.kernels import emboss
    >>> emboss()
    array([[-2., -1.,  0.],
           [-1.,  1.,  1.],
           [ 0.,  1.,  2.]])
    """
    return np.array([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])


#: Kernel name -> factory callable with no arguments (every parameter has a
#: default); keyword arguments override the defaults, e.g.
#: ``NAMED["gaussian"](sigma=3)``.
NAMED: dict[str, Callable[..., np.ndarray]] = {
    "box": partial(box, size=3),
    "gaussian": partial(gaussian, sigma=1.0),
    "sobel_x": partial(sobel, axis=1),
    "sobel_y": partial(sobel, axis=0),
    "laplacian": laplacian,
    "sharpen": sharpen,
    "emboss": emboss,
}


def by_name(name: str, **params: object) -> np.ndarray:
    """The kernel called ``name`` in :data:`NAMED`, with optional parameter overrides.

    Names are case-insensitive and ``-`` may stand for ``_``.

    Parameters
    ----------
    name : str
        A key of :data:`NAMED`.
    **params
        Keyword arguments for the factory, e.g. ``sigma=2`` for ``gaussian``.

    Returns
    -------
    ndarray
        The float64 convolution kernel.

    Raises
    ------
    ValueError
        For an unknown name (the message lists the known names).
    TypeError
        For a parameter the factory does not take (the message lists those it takes).

    Examples
    --------
    >>> from faltung.kernels import by_name
    >>> by_name("box", size=1)
    array([[1.]])
    >>> by_name("Sobel-Y")[0]
    array([1., 2., 1.])
    >>> by_name("blur")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown kernel 'blur'; known kernels: box, emboss, gaussian, ...
    """
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in NAMED:
        raise ValueError(f"unknown kernel {name!r}; known kernels: {', '.join(sorted(NAMED))}")
    factory = NAMED[key]
    sig = inspect.signature(factory)
    accepted = [p for p in sig.parameters
                if sig.parameters[p].kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                              inspect.Parameter.KEYWORD_ONLY)]
    unknown = [p for p in params if p not in accepted]
    if unknown:
        takes = ", ".join(accepted) if accepted else "no parameters"
        raise TypeError(f"kernel {key!r} does not take {', '.join(map(repr, unknown))} "
                        f"(it takes: {takes})")
    return factory(**params)
