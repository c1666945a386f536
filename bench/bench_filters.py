"""Benchmarks P2, P3, P4 (DESIGN.md section 4) and the filter targets of issue 4.

Every row times one faltung call and one peer call on the same input in this
process. The two are run alternately (faltung, peer, faltung, peer, ...) after a
warm-up call each, so that a noisy neighbour on the machine slows both alike;
the table shows the median of each and their ratio (faltung / peer; below 1
means faltung is faster) and the largest difference of the two results.

Workloads (2048 x 2048 unless ``--size``):

* P2  float32 Gaussian sigma 1, 3, 10 (truncate 4): faltung.cv.GaussianBlur vs
  cv2.GaussianBlur (ksize (0, 0), BORDER_REFLECT_101), and
  faltung.ndimage.gaussian_filter vs scipy.ndimage.gaussian_filter.
* P3  uint8 median 3, 5, 15: faltung.cv.medianBlur vs cv2.medianBlur; float32
  median 5: faltung.ndimage.median_filter vs scipy.ndimage.median_filter.
* P4  float32 box 3, 31, 127: faltung.cv.boxFilter vs cv2.boxFilter, and
  faltung.ndimage.uniform_filter vs scipy.ndimage.uniform_filter.
* extras: Sobel (float32, uint8 -> int16), min/max filters vs cv2.erode/dilate.

Run ``python bench/bench_filters.py`` (full) or ``--quick`` (tiny smoke run).
Writes JSON with ``--out``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
import scipy.ndimage as nd

from faltung import cv, ndimage

try:
    import cv2
except ImportError:  # optional peer
    cv2 = None


def _pair(f: Callable, g: Callable, repeats: int) -> tuple[float, float, object, object]:
    """Alternate f and g; return their median seconds and their results."""
    rf, rg = f(), g()  # warm-up (compilation, caches)
    tf, tg = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        t1 = time.perf_counter()
        g()
        t2 = time.perf_counter()
        tf.append(t1 - t0)
        tg.append(t2 - t1)
    return statistics.median(tf), statistics.median(tg), rf, rg


def _diff(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return float("nan")
    return float(np.abs(a - b).max())


def workloads(n: int, quick: bool):
    rng = np.random.default_rng(0)
    f32 = rng.random((n, n), dtype=np.float32)
    u8 = rng.integers(0, 256, (n, n), dtype=np.uint8)
    sig = (1.0, 3.0) if quick else (1.0, 3.0, 10.0)
    rows = []
    if cv2 is not None:
        for s in sig:
            rows.append((f"P2 gaussian s={s:g} cv", "cv2.GaussianBlur",
                         lambda s=s: cv.GaussianBlur(f32, (0, 0), s),
                         lambda s=s: cv2.GaussianBlur(f32, (0, 0), s), 1.0))
    for s in sig:
        rows.append((f"P2 gaussian s={s:g} ndimage", "nd.gaussian_filter",
                     lambda s=s: ndimage.gaussian_filter(f32, s),
                     lambda s=s: nd.gaussian_filter(f32, s), 0.1 if s == 10 else None))
        rows.append((f"   gaussian s={s:g} iir", "nd.gaussian_filter",
                     lambda s=s: ndimage.gaussian_filter(f32, s, method="iir"),
                     lambda s=s: nd.gaussian_filter(f32, s), None))
    if cv2 is not None:
        for k in (3, 5) if quick else (3, 5, 15):
            rows.append((f"P3 median u8 k={k}", "cv2.medianBlur",
                         lambda k=k: cv.medianBlur(u8, k), lambda k=k: cv2.medianBlur(u8, k),
                         1.5 if k < 15 else 1.0))
    # the whole image, as P3 defines it (scipy takes ~1.5 s a call here; a
    # smaller crop would mostly time faltung's fixed costs)
    rows.append(("P3 median f32 k=5", "nd.median_filter", lambda: ndimage.median_filter(f32, 5),
                 lambda: nd.median_filter(f32, 5), 1 / 50))
    if cv2 is not None:
        for k in (3, 31) if quick else (3, 31, 127):
            rows.append((f"P4 box k={k} cv", "cv2.boxFilter",
                         lambda k=k: cv.boxFilter(f32, -1, (k, k)),
                         lambda k=k: cv2.boxFilter(f32, -1, (k, k)), 1.0))
    for k in (3, 31) if quick else (3, 31, 127):
        rows.append((f"P4 box k={k} ndimage", "nd.uniform_filter",
                     lambda k=k: ndimage.uniform_filter(f32, k),
                     lambda k=k: nd.uniform_filter(f32, k), None))
    if cv2 is not None:
        rows.append(("sobel dx f32", "cv2.Sobel", lambda: cv.Sobel(f32, -1, 1, 0),
                     lambda: cv2.Sobel(f32, -1, 1, 0), None))
        rows.append(("sobel dx u8->16S", "cv2.Sobel", lambda: cv.Sobel(u8, cv.CV_16S, 1, 0),
                     lambda: cv2.Sobel(u8, cv2.CV_16S, 1, 0), None))
        for k in (3, 15) if quick else (3, 15, 63):
            ker = np.ones((k, k), np.uint8)
            rows.append((f"min u8 k={k}", "cv2.erode",
                         lambda k=k: ndimage.minimum_filter(u8, k, mode="nearest"),
                         lambda ker=ker: cv2.erode(u8, ker, borderType=cv2.BORDER_REPLICATE),
                         None))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=2048)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--threads", type=int, default=2, help="cv2.setNumThreads (default 2)")
    p.add_argument("--quick", action="store_true", help="tiny smoke run (256^2, 2 repeats)")
    p.add_argument("--only", default="", help="run rows whose name contains this text")
    p.add_argument("--out", help="write the results as JSON here")
    a = p.parse_args(argv)
    n, repeats = (256, 2) if a.quick else (a.size, a.repeats)
    if cv2 is not None:
        cv2.setNumThreads(a.threads)
    print(f"{n}x{n}, median of {repeats} alternating runs; ratio = faltung / peer")
    print(f"{'workload':<34}{'faltung ms':>11}{'peer':>20}{'peer ms':>9}{'ratio':>7}"
          f"{'target':>8}{'max|diff|':>11}")
    results = []
    for name, peer, f, g, target in workloads(n, a.quick):
        if a.only and a.only not in name:
            continue
        reps = max(3, repeats // 3) if "median f32" in name else repeats
        tf, tg, rf, rg = _pair(f, g, reps)
        ratio = tf / tg
        ok = "" if target is None else ("ok" if ratio <= target else "MISS")
        tgt = "" if target is None else f"<={target:.3g}"
        print(f"{name:<34}{tf * 1e3:>11.2f}{peer:>20}{tg * 1e3:>9.2f}{ratio:>7.2f}"
              f"{tgt:>6} {ok:<2}{_diff(rf, rg):>10.2e}")
        results.append({"workload": name, "peer": peer, "faltung_ms": tf * 1e3,
                         "peer_ms": tg * 1e3, "ratio": ratio, "target": target,
                         "max_abs_diff": _diff(rf, rg)})
    if a.out:
        with open(a.out, "w") as fh:
            json.dump({"size": n, "repeats": repeats, "python": sys.version,
                       "machine": platform.machine(), "results": results}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
