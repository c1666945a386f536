"""Measure the planner's cost-model constants on this machine.

Each engine is timed single-threaded on a mid-sized problem (so the numbers
are per-thread rates, as the cost model wants them), the median of a few
runs is divided by the work done, and the constants are stored in
``calibration.json`` in the user cache directory. Takes a few seconds.
"""

from __future__ import annotations

import time

import numpy as np

from . import _plan
from ._core import plan


def _median_time(fn, repeats: int) -> float:
    fn()  # compile / warm caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def measure(size: int = 1024, repeats: int = 5, verbose: bool = False) -> dict[str, float]:
    """Measure the constants (seconds) without saving them."""
    rng = np.random.default_rng(0)
    img32 = rng.standard_normal((size, size)).astype(np.float32)
    img64 = img32.astype(np.float64)
    px = size * size
    found: dict[str, float] = {}

    def engine_time(image, kernel, method):
        p = plan(image.shape, kernel, dtype=image.dtype, mode="same", method=method, workers=1)
        return _median_time(lambda: p(image), repeats)

    def note(key, value):
        found[key] = value
        if verbose:
            print(f"  {key:<18} {value:.3e} s")

    buf = np.empty_like(img32)
    t = _median_time(lambda: np.copyto(buf, img32), repeats)
    note("touch", t / (2 * px))
    small = img32[:16, :16].copy()
    note("call", engine_time(small, np.ones((3, 3), np.float32) / 9 + np.eye(3, dtype=np.float32),
                             "direct"))

    full = rng.standard_normal((7, 7))
    touch = found["touch"] * 3 * px
    for key, image in (("direct_mac_f4", img32), ("direct_mac_f8", img64)):
        t = engine_time(image, full.astype(image.dtype), "direct")
        note(key, max(t - touch, t * 0.2) / (px * 49))
    gauss = np.outer(np.hanning(17)[1:-1], np.hanning(17)[1:-1])
    t = engine_time(img32, gauss.astype(np.float32), "separable")
    note("separable_mac_f4", max(t - touch, t * 0.2) / (px * 30))
    box = np.full((31, 31), 1 / 961, dtype=np.float32)
    t = engine_time(img32, box, "running")
    note("running_px", max(t - touch, t * 0.2) / px)
    big = rng.standard_normal((31, 31)).astype(np.float32)
    p = plan(img32.shape, big, dtype=np.float32, mode="same", method="fft", workers=1)
    t = _median_time(lambda: p(img32), repeats)
    from .engines import fft as _fft
    note("fft_unit_f4", max(t - 3 * touch, t * 0.2) / _fft.work(p._ep.spec, p._ep.tile))
    return found


def calibrate(verbose: bool = False) -> dict[str, float]:
    """Measure the constants, store them in the cache directory, and use them."""
    found = measure(verbose=verbose)
    path = _plan._save("calibration.json", found)
    _plan.reset()
    if verbose:
        print(f"saved to {path}")
    return found
