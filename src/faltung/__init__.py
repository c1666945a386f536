"""faltung: 2-D convolution and correlation, every known way, the fastest one chosen.

The top level speaks scipy.signal's conventions.
"""

from ._core import Plan, convolve2d, correlate2d, explain, plan

__version__ = "0.1.0"

__all__ = ["Plan", "convolve2d", "correlate2d", "explain", "plan", "__version__"]
