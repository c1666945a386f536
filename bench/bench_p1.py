"""Benchmark P1 (DESIGN.md section 4): float32 N x N, mode 'same', zero fill, random k x k kernel.

Every contender is timed in this one process and run: one warm-up call, then the
median of ``--repeats`` calls (``--slow-repeats`` for scipy.signal.convolve2d at
k >= 7). Each contender's output is checked once per k against a float64
reference on two corner crops (top-left and bottom-right, so both borders count).

Contenders: faltung.convolve2d (direct, fft, auto), cv2.filter2D (flipped kernel,
BORDER_CONSTANT), scipy.signal.convolve2d (k <= --scipy-direct-max-k),
scipy.signal.fftconvolve, scipy.signal.oaconvolve, scipy.ndimage.convolve,
torch.nn.functional.conv2d; limits (P6): np.copyto of the image (memory) and an
N^3 float32 sgemm (FLOPs). Optional peers (cv2, torch) are skipped if missing.

Run ``python bench/bench_p1.py`` (full) or ``python bench/bench_p1.py --quick``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path

import numpy as np
import scipy
import scipy.fft
import scipy.ndimage
import scipy.signal

import faltung

try:
    import cv2
except ImportError:  # optional peer
    cv2 = None

try:
    import torch
    import torch.nn.functional as torch_f
except ImportError:  # optional peer
    torch = None
    torch_f = None

DEFAULT_KERNELS = (3, 5, 7, 11, 15, 31, 63)
QUICK_SIZES = (512,)
QUICK_KERNELS = (3, 7, 15)
QUICK_REPEATS = 3
CROP = 64  # side of the corner crops checked against the float64 reference

# Column order of the timing table: (key, header).
CONTENDERS = (
    ("faltung.direct", "f.direct"),
    ("faltung.fft", "f.fft"),
    ("faltung.auto", "f.auto"),
    ("cv2.filter2D", "cv2"),
    ("scipy.convolve2d", "sp.conv2d"),
    ("scipy.fftconvolve", "sp.fftconv"),
    ("scipy.oaconvolve", "sp.oaconv"),
    ("ndimage.convolve", "nd.conv"),
    ("torch.conv2d", "torch"),
)
SCIPY_KEYS = ("scipy.convolve2d", "scipy.fftconvolve", "scipy.oaconvolve", "ndimage.convolve")

STARTUP_CODE = (
    "import time; t=time.perf_counter(); import faltung, numpy as np; "
    "x=np.random.rand(512,512).astype(np.float32); "
    "faltung.convolve2d(x, np.ones((5,5),np.float32), 'same'); "
    "print(time.perf_counter()-t)"
)


# --------------------------------------------------------------------------- helpers


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.replace(" ", "").split(",") if v]
    except ValueError:
        msg = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def time_call(fn: Callable[[], object], repeats: int) -> tuple[list[float], object]:
    """One warm-up call, then ``repeats`` timed calls; returns (samples in ms, last result)."""
    result = fn()
    gc.collect()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return samples, result


def reference_crops(img: np.ndarray, ker: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """float64 'same' convolution of the top-left and bottom-right CROP x CROP corners."""
    n = img.shape[0]
    c = min(CROP, n)
    h = ker.shape[0] // 2
    m = min(c + h, n)
    x64, k64 = img.astype(np.float64), ker.astype(np.float64)
    top_left = scipy.signal.convolve2d(x64[:m, :m], k64, "same")[:c, :c]
    bottom_right = scipy.signal.convolve2d(x64[-m:, -m:], k64, "same")[-c:, -c:]
    return top_left, bottom_right


def agrees(result: np.ndarray, shape: tuple[int, int], refs: tuple[np.ndarray, np.ndarray],
           ker: np.ndarray) -> bool:
    """Right shape and dtype, and both corner crops close to the float64 reference."""
    if result.shape != shape or result.dtype != np.float32:
        return False
    c = refs[0].shape[0]
    # float32 accumulation (and float32 FFTs) vs a float64 reference; |img| < 1.
    atol = 1e-4 * float(np.abs(ker).sum())
    return bool(np.allclose(result[:c, :c], refs[0], rtol=1e-4, atol=atol)
                and np.allclose(result[-c:, -c:], refs[1], rtol=1e-4, atol=atol))


def auto_plan(img: np.ndarray, ker: np.ndarray, threads: int) -> tuple[str | None, str | None]:
    """The engine faltung's planner picks for method='auto', and its explanation (if exposed)."""
    engine = explanation = None
    with contextlib.suppress(Exception):  # informational only; API may be absent
        engine = faltung.plan(img.shape, ker, dtype=img.dtype, mode="same",
                              workers=threads).engine
    with contextlib.suppress(Exception):
        explanation = faltung.explain(img, ker, "same", workers=threads)
    if engine is None:
        with contextlib.suppress(Exception):  # older trees: private API
            from faltung import _core

            _, choice = _core._convolve(img, ker, "same", "fill", 0, "auto", (-2, -1), None,
                                        threads, True, return_choice=True)
            engine = choice.engine
    return engine, explanation


# --------------------------------------------------------------------------- contenders


def make_contenders(img: np.ndarray, ker: np.ndarray, threads: int, scipy_fft_workers,
                    scipy_direct_max_k: int, torch_max_k: int = 10 ** 9
                    ) -> tuple[dict[str, Callable], dict[str, str]]:
    """Callables per contender key, and a note per skipped contender."""
    k = ker.shape[0]
    flipped = np.ascontiguousarray(ker[::-1, ::-1])
    fns: dict[str, Callable] = {}
    skipped: dict[str, str] = {}

    for method in ("direct", "fft", "auto"):
        fns[f"faltung.{method}"] = (
            lambda m=method: faltung.convolve2d(img, ker, "same", method=m, workers=threads))

    if cv2 is None:
        skipped["cv2.filter2D"] = "opencv (cv2) not installed"
    else:
        fns["cv2.filter2D"] = lambda: cv2.filter2D(img, -1, flipped,
                                                   borderType=cv2.BORDER_CONSTANT)

    if k <= scipy_direct_max_k:
        fns["scipy.convolve2d"] = lambda: scipy.signal.convolve2d(img, ker, "same")
    else:
        skipped["scipy.convolve2d"] = f"k > {scipy_direct_max_k} (too slow)"

    def fft_ctx():
        if scipy_fft_workers is None:
            return contextlib.nullcontext()
        return scipy.fft.set_workers(scipy_fft_workers)

    def fftconvolve():
        with fft_ctx():
            return scipy.signal.fftconvolve(img, ker, "same")

    def oaconvolve():
        with fft_ctx():
            return scipy.signal.oaconvolve(img, ker, "same")

    fns["scipy.fftconvolve"] = fftconvolve
    fns["scipy.oaconvolve"] = oaconvolve
    fns["ndimage.convolve"] = lambda: scipy.ndimage.convolve(img, ker, mode="constant", cval=0.0)

    if torch is None:
        skipped["torch.conv2d"] = "torch not installed"
    elif k > torch_max_k:
        skipped["torch.conv2d"] = f"k > {torch_max_k} (one channel: torch is not a peer here)"
    else:
        weight = torch.from_numpy(flipped.copy()).reshape(1, 1, k, k)

        def torch_conv():
            with torch.no_grad():
                x = torch.from_numpy(img).reshape(1, 1, *img.shape)
                return torch_f.conv2d(x, weight, padding=k // 2)[0, 0].numpy()

        fns["torch.conv2d"] = torch_conv
    return fns, skipped


# --------------------------------------------------------------------------- runs


def bench_size(n: int, kernels: list[int], args, rng: np.random.Generator) -> dict:
    img = rng.random((n, n), dtype=np.float32)
    per_k: dict[str, dict] = {}
    for k in kernels:
        ker = (rng.standard_normal((k, k)) / k).astype(np.float32)
        refs = reference_crops(img, ker)
        fns, skipped = make_contenders(img, ker, args.threads, args.scipy_fft_workers,
                                       args.scipy_direct_max_k, args.torch_max_k)
        engine, explanation = auto_plan(img, ker, args.threads)
        entry: dict[str, object] = {"auto_engine": engine, "auto_explain": explanation,
                                    "contenders": {}, "skipped": skipped}
        for key, _ in CONTENDERS:
            if key not in fns:
                continue
            repeats = args.repeats
            if key == "scipy.convolve2d" and k >= 7:
                repeats = min(args.repeats, args.slow_repeats)
            samples, result = time_call(fns[key], repeats)
            ok = agrees(np.asarray(result), img.shape, refs, ker)
            entry["contenders"][key] = {"median_ms": statistics.median(samples),
                                        "samples_ms": samples, "repeats": repeats,
                                        "agrees": ok}
            print(f"  N={n} k={k:<3} {key:<18} {statistics.median(samples):10.3f} ms"
                  f"{'' if ok else '  DISAGREES with reference'}", file=sys.stderr, flush=True)
        per_k[str(k)] = entry
    return {"kernels": per_k, "limits": bench_limits(img, args)}


def bench_limits(img: np.ndarray, args) -> dict:
    n = img.shape[0]
    out = np.empty_like(img)
    samples, _ = time_call(lambda: np.copyto(out, img), args.repeats)
    med = statistics.median(samples)
    limits = {"copyto": {"median_ms": med, "samples_ms": samples, "repeats": args.repeats,
                         "GB_per_s": 2 * img.nbytes / (med * 1e-3) / 1e9}}
    if args.sgemm:
        rng = np.random.default_rng(1)
        a = rng.random((n, n), dtype=np.float32)
        b = rng.random((n, n), dtype=np.float32)
        c = np.empty((n, n), np.float32)
        samples, _ = time_call(lambda: np.dot(a, b, out=c), max(3, min(args.repeats, 5)))
        med = statistics.median(samples)
        limits["sgemm"] = {"shape": [n, n, n], "median_ms": med, "samples_ms": samples,
                           "repeats": len(samples),
                           "GFLOP_per_s": 2 * n ** 3 / (med * 1e-3) / 1e9,
                           "note": "BLAS thread count is the library default"}
    return limits


def bench_startup() -> dict:
    """First call in a new process, cold then warm Numba cache (same fresh dir)."""
    res: dict[str, object] = {"code": STARTUP_CODE}
    with tempfile.TemporaryDirectory(prefix="faltung-numba-cache-") as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        for label in ("cold_cache_s", "warm_cache_s"):
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-c", STARTUP_CODE], env=env,
                                  capture_output=True, text=True, check=False)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                res[label] = None
                res[label.replace("_s", "_error")] = proc.stderr.strip()[-2000:]
            else:
                res[label] = float(proc.stdout.strip().splitlines()[-1])
            res[label.replace("_s", "_process_wall_s")] = wall
    return res


def _git_describe() -> str | None:
    """Commit of the faltung tree being measured, '+dirty' if it has local changes."""
    src = Path(faltung.__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=src, text=True,
                              capture_output=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "."], cwd=src,
                               text=True, capture_output=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+dirty" if dirty else "")


def machine_info(threads: int) -> dict:
    return {
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_count": os.cpu_count(),
        "affinity_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else None,
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "threads": threads,
        "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "faltung_git": _git_describe(),
        "versions": {
            "faltung": faltung.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "numba": _version("numba"),
            "cv2": cv2.__version__ if cv2 is not None else None,
            "torch": torch.__version__ if torch is not None else None,
        },
    }


# --------------------------------------------------------------------------- report


def _fmt_ms(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.0f}" if x >= 1000 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"


def _load(avg: list[float] | None) -> str:
    return "-" if not avg else f"{avg[0]:.1f}"


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    r = a / b
    return f"{r:.2f}" if r >= 0.1 else f"{r:.4f}" if r >= 0.001 else f"{r:.1e}"


def print_report(results: dict) -> None:
    info, cfg = results["machine"], results["config"]
    v = info["versions"]
    print(f"P1: float32 NxN, 'same', zero fill; threads={cfg['threads']}; "
          f"median of {cfg['repeats']} (scipy.convolve2d k>=7: {cfg['slow_repeats']}); "
          f"cpus={info['cpu_count']}; load avg start/end "
          f"{_load(info.get('loadavg_at_start'))}/{_load(info.get('loadavg_at_end'))}")
    print("versions: " + ", ".join(f"{name} {ver}" for name, ver in v.items() if ver)
          + f"; faltung tree {info.get('faltung_git') or '?'}")
    for n, size_res in results["sizes"].items():
        print(f"\nN = {n}: median ms")
        cols = [header for _, header in CONTENDERS]
        print(f"{'k':>4} " + " ".join(f"{c:>10}" for c in cols))
        rows = size_res["kernels"]
        for k, entry in rows.items():
            cons = entry["contenders"]
            cells = []
            for key, _ in CONTENDERS:
                c = cons.get(key)
                cell = _fmt_ms(c["median_ms"]) if c else "-"
                if c and not c["agrees"]:
                    cell += "!"
                cells.append(f"{cell:>10}")
            print(f"{k:>4} " + " ".join(cells))
        print("('!' = disagrees with the float64 reference crop; '-' = skipped)")

        print(f"\nN = {n}: ratios (< 1 means faltung is faster, except scipy.c2d/f.auto "
              "which is faltung's speed-up)")
        heads = ["auto->", "direct/cv2", "auto/cv2", "sp.c2d/auto", "auto/bestsp", "best sp",
                 "auto/torch", "cv2 ok", "direct GMAC/s"]
        print(f"{'k':>4} " + " ".join(f"{h:>11}" for h in heads))
        for k, entry in rows.items():
            cons = entry["contenders"]

            def med(key, cons=cons):
                return cons[key]["median_ms"] if key in cons else None

            scipy_meds = {key: med(key) for key in SCIPY_KEYS if med(key) is not None}
            best_key = min(scipy_meds, key=scipy_meds.get) if scipy_meds else None
            best = scipy_meds.get(best_key) if best_key else None
            cv2_ok = cons["cv2.filter2D"]["agrees"] if "cv2.filter2D" in cons else None
            d = med("faltung.direct")
            gmacs = int(n) ** 2 * int(k) ** 2 / (d * 1e-3) / 1e9 if d else None
            cells = [entry["auto_engine"] or "?", _ratio(d, med("cv2.filter2D")),
                     _ratio(med("faltung.auto"), med("cv2.filter2D")),
                     _ratio(med("scipy.convolve2d"), med("faltung.auto")),
                     _ratio(med("faltung.auto"), best),
                     (best_key or "-").replace("scipy.", "").replace("ndimage.", "nd."),
                     _ratio(med("faltung.auto"), med("torch.conv2d")),
                     "-" if cv2_ok is None else str(cv2_ok),
                     "-" if gmacs is None else f"{gmacs:.1f}"]
            print(f"{k:>4} " + " ".join(f"{c:>11}" for c in cells))

        lim = size_res["limits"]
        line = (f"\nN = {n}: limits: np.copyto {_fmt_ms(lim['copyto']['median_ms'])} ms "
                f"({lim['copyto']['GB_per_s']:.1f} GB/s read+write)")
        if "sgemm" in lim:
            s = lim["sgemm"]
            line += (f"; sgemm {n}^3 {_fmt_ms(s['median_ms'])} ms "
                     f"({s['GFLOP_per_s']:.1f} GFLOP/s = {s['GFLOP_per_s'] / 2:.1f} GMAC/s)")
        print(line)
        notes = {}
        for entry in rows.values():
            notes.update(entry["skipped"])
        for key, why in notes.items():
            print(f"skipped {key}: {why}")

    st = results.get("startup")
    if st:
        def sec(x):
            return "failed" if x is None else f"{x:.2f} s"

        print(f"\nfirst call in a new process (import + 512^2 5x5 'same'): "
              f"cold Numba cache {sec(st['cold_cache_s'])}, warm cache {sec(st['warm_cache_s'])}")
        for label in ("cold_cache_error", "warm_cache_error"):
            if label in st:
                print(f"{label}: {st[label]}")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=_int_list, default=None,
                   help="comma-separated image sides (default 2048)")
    p.add_argument("--kernels", type=_int_list, default=None,
                   help="comma-separated odd kernel sides (default 3,5,7,11,15,31,63)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per contender "
                   "after one warm-up (default 7)")
    p.add_argument("--torch-max-k", type=int, default=31,
                   help="largest k timed with torch.conv2d (default 31; k=63 takes minutes)")
    p.add_argument("--slow-repeats", type=int, default=3,
                   help="timed runs of scipy.signal.convolve2d for k >= 7 (default 3)")
    p.add_argument("--scipy-direct-max-k", type=int, default=15,
                   help="largest k timed with scipy.signal.convolve2d (default 15)")
    p.add_argument("--scipy-fft-workers", type=int, default=None,
                   help="scipy.fft workers for fftconvolve/oaconvolve (default: scipy's "
                   "own default, 1)")
    p.add_argument("--threads", type=int, default=2,
                   help="faltung workers, cv2.setNumThreads, torch.set_num_threads (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 512^2, k in 3,7,15, 3 repeats, no startup, no sgemm")
    p.add_argument("--startup", action=argparse.BooleanOptionalAction, default=None,
                   help="time the first call in a new process (default on unless --quick)")
    p.add_argument("--sgemm", action=argparse.BooleanOptionalAction, default=None,
                   help="time an N^3 float32 sgemm as the FLOP limit (default on unless "
                   "--quick)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, default=None, metavar="JSON",
                   help="only print the tables of an earlier run's JSON; time nothing")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                   / "p1.json", help="JSON output (default bench/results/p1.json)")
    args = p.parse_args(argv)
    if args.sizes is None:
        args.sizes = list(QUICK_SIZES) if args.quick else [2048]
    if args.kernels is None:
        args.kernels = list(QUICK_KERNELS) if args.quick else list(DEFAULT_KERNELS)
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else 7
    if args.startup is None:
        args.startup = not args.quick
    if args.sgemm is None:
        args.sgemm = not args.quick
    if args.repeats < 1 or args.slow_repeats < 1 or args.threads < 1:
        p.error("--repeats, --slow-repeats and --threads must be >= 1")
    if any(k % 2 == 0 for k in args.kernels):
        p.error("kernel sides must be odd (filter2D/ndimage centring matches only then)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        print_report(json.loads(args.report.read_text()))
        return 0
    if cv2 is not None:
        cv2.setNumThreads(args.threads)
    if torch is not None:
        torch.set_num_threads(args.threads)

    results: dict[str, object] = {
        "workload": "P1",
        "machine": machine_info(args.threads),
        "config": {"sizes": args.sizes, "kernels": args.kernels, "repeats": args.repeats,
                   "slow_repeats": args.slow_repeats,
                   "scipy_direct_max_k": args.scipy_direct_max_k,
                   "torch_max_k": args.torch_max_k,
                   "scipy_fft_workers": args.scipy_fft_workers, "threads": args.threads,
                   "seed": args.seed, "quick": args.quick, "argv": sys.argv[1:]},
        "sizes": {},
    }
    rng = np.random.default_rng(args.seed)
    for n in args.sizes:
        results["sizes"][str(n)] = bench_size(n, args.kernels, args, rng)
    if args.startup:
        print("  timing first call in a new process ...", file=sys.stderr, flush=True)
        results["startup"] = bench_startup()

    if hasattr(os, "getloadavg"):
        results["machine"]["loadavg_at_end"] = list(os.getloadavg())
    print_report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
