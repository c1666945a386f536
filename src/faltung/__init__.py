"""faltung: 2-D convolution and correlation, every known way, the fastest one chosen.

The top level speaks scipy.signal's conventions.
"""

from ._core import convolve2d, correlate2d

__version__ = "0.1.0"

__all__ = ["convolve2d", "correlate2d", "__version__"]
