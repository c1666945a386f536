"""Exact engine: Python-integer arithmetic for integers too big for int64.

Used only when the worst-case sum could overflow an int64 accumulator (for
example uint64 images with large values). Slow, but never wrong.
"""

from __future__ import annotations

import numpy as np

from .._spec import ConvSpec


def correlate(xe: np.ndarray, k: np.ndarray, spec: ConvSpec) -> np.ndarray:
    """Canonical correlation of the extended window ``xe`` in object dtype."""
    kh, kw = spec.kernel_shape
    ho, wo = spec.out_shape
    xe = xe.astype(object)
    k = k.astype(object)
    out = np.zeros((spec.batch, ho, wo), dtype=object)
    for i in range(kh):
        for j in range(kw):
            out += k[:, i, j][:, None, None] * xe[:, i:i + ho, j:j + wo]
    return out
