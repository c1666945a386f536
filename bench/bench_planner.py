"""Planner benchmark (DESIGN.md sections 3-4): box (P4), Gaussian as an array, engine grid.

The grid checks that method='auto' picks (nearly) the fastest engine.

Every contender is timed in this one process and run: two warm-up calls, then the
median of ``--repeats`` (default 7) calls, more for fast calls (``--min-time``),
``--slow-repeats`` (3) for calls slower than 0.5 s. The contenders of one case
are timed interleaved (their calls spread evenly over rounds, in a random order
per round), so load changes and cache effects of the previous call hit them alike.
``--threads`` (default 2) is faltung's ``workers`` and ``cv2.setNumThreads``;
scipy.ndimage is single-threaded.

box    P4: float32 N x N (default 2048), 'same', zero fill, k in 3, 31, 127:
       faltung.convolve2d(img, full((k, k), 1/k^2)) (auto; the engine it picks is
       reported) vs cv2.boxFilter (normalize, BORDER_CONSTANT) and
       scipy.ndimage.uniform_filter (mode='constant'). Each output is checked once
       against a float64 reference (max error <= 1e-4 of the reference's max).
gauss  A 31x31 Gaussian (sigma 5) given as a plain 2-D array G = g g^T:
       faltung.convolve2d (auto; should pick 'separable') vs cv2.filter2D
       (BORDER_CONSTANT) and, for reference, cv2.GaussianBlur (BORDER_CONSTANT).
grid   Image sides {64, 256, 1024, 4096} x kernel sides {1, 3, ..., 127} x
       {rank-1, full-rank} random float32 kernels, 'same': auto and every forced
       engine that applies (ValueError -> n/a) are timed; a forced engine predicted
       (from the plan's candidates) to be > 30x the best prediction and > 2 s is
       skipped. A cell passes if auto's median <= 1.25 x the fastest forced
       engine's median; the target is >= 90% of the cells.

Run ``python bench/bench_planner.py --quick`` (smoke test) or
``python bench/bench_planner.py`` (full: a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import scipy.ndimage
import scipy.signal

import faltung

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_p1 import (  # noqa: E402  (shared helpers of the P1 benchmark)
    _fmt_ms,
    _int_list,
    _load,
    _ratio,
    machine_info,
)

try:
    import cv2
except ImportError:  # optional peer
    cv2 = None

SECTIONS = ("box", "gauss", "grid")
ENGINES = ("direct", "separable", "running", "fft")
INITIAL = {"direct": "d", "separable": "s", "running": "r", "fft": "F", "exact": "x"}

BOX_KERNELS = (3, 31, 127)
GAUSS_K, GAUSS_SIGMA = 31, 5.0
GRID_SIZES = (64, 256, 1024, 4096)
GRID_KERNELS = (1, 3, 5, 9, 15, 25, 41, 63, 127)
GRID_RANKS = ("rank1", "full")
QUICK_SIZE = 512
QUICK_GRID_SIZES = (64, 256)
QUICK_GRID_KERNELS = (1, 3, 9, 25)
QUICK_REPEATS = 3

AGREE_TOL = 1e-4        # max |result - float64 reference| / max |reference|
PASS_RATIO = 1.25       # auto's median <= PASS_RATIO x the fastest forced engine's
PASS_TARGET = 0.90      # fraction of grid cells that should pass
SKIP_FACTOR = 30.0      # skip a forced engine predicted > SKIP_FACTOR x the best ...
SKIP_SECONDS = 2.0      # ... and > SKIP_SECONDS
SLOW_FIRST_CALL = 0.5   # seconds: a slower (second) warm-up call -> --slow-repeats
MAX_REPEATS = 100       # cap of the --min-time rule


# --------------------------------------------------------------------------- helpers


def agreement(result, ref: np.ndarray) -> dict:
    """Right shape and float32, and max |result - ref| <= AGREE_TOL * max |ref|."""
    res = np.asarray(result)
    if res.shape != ref.shape:
        return {"ok": False, "max_rel_err": None, "dtype": str(res.dtype),
                "note": f"shape {res.shape} != {ref.shape}"}
    scale = float(np.abs(ref).max()) or 1.0
    err = float(np.abs(res.astype(np.float64) - ref).max()) / scale
    return {"ok": bool(err <= AGREE_TOL and res.dtype == np.float32), "max_rel_err": err,
            "dtype": str(res.dtype)}


def plan_info(shape, ker: np.ndarray, threads: int) -> dict:
    """The auto plan's engine, explanation and predicted time per candidate engine."""
    info: dict[str, object] = {"engine": None, "explain": None, "predicted_ms": {}}
    with contextlib.suppress(Exception):  # informational only
        p = faltung.plan(shape, ker, dtype=np.float32, mode="same", workers=threads)
        info["engine"] = p.engine
        info["explain"] = p.explain()
        ep = getattr(p, "_ep", None)
        if ep is not None:
            pred: dict[str, float] = {}
            for c in ep.candidates:
                ms = c.seconds * 1e3
                pred[c.engine] = min(ms, pred.get(c.engine, ms))
            info["predicted_ms"] = pred
    return info


def measure(fns: dict[str, Callable], args, label: str,
            check: Callable[[str, object], dict] | None = None,
            catch: tuple[type[BaseException], ...] = ()) -> dict[str, dict]:
    """Time the callables interleaved; returns one entry per name.

    Each callable gets two warm-up calls (the first may include Numba compilation
    or loading); ``check`` sees the warm-up result. Counts: ``--slow-repeats`` if
    the second warm-up took > SLOW_FIRST_CALL, else ``--repeats`` raised to fill
    ``--min-time`` (at most MAX_REPEATS). The timed calls then run in rounds, each
    callable's calls spread evenly over the rounds, in a new random order each
    round: drifting machine load, and a call slowing the next one (an FFT's buffers
    evicting the caches), then hit all callables alike.
    A warm-up raising one of ``catch`` marks that name n/a (``status`` "n/a").
    """
    out: dict[str, dict] = {}
    live: dict[str, Callable] = {}
    for name, fn in fns.items():
        warm: list[float] = []
        try:
            for _ in range(2):
                t0 = time.perf_counter()
                result = fn()
                warm.append(time.perf_counter() - t0)
                if len(warm) == 1 and check is not None:
                    extra = check(name, result)
                del result
        except catch as exc:
            out[name] = {"status": "n/a", "why": f"{type(exc).__name__}: {exc}"}
            continue
        w = warm[-1]
        if w > SLOW_FIRST_CALL:
            n = min(args.repeats, args.slow_repeats)
        else:
            n = max(args.repeats, min(MAX_REPEATS, math.ceil(args.min_time / max(w, 1e-6))))
        out[name] = {"status": "ok", "repeats": n, "warmup_ms": [x * 1e3 for x in warm],
                     "samples_ms": []}
        if check is not None:
            out[name].update(extra)
        live[name] = fn
    gc.collect()
    names = list(live)
    order = random.Random(args.seed)
    rounds = max((out[name]["repeats"] for name in names), default=0)
    for r in range(rounds):
        order.shuffle(names)  # a call slows the next one (caches, FFT buffers): vary who
        for name in names:
            n = out[name]["repeats"]
            if (r + 1) * n // rounds == r * n // rounds:  # n of the rounds, evenly spaced
                continue
            t0 = time.perf_counter()
            live[name]()
            out[name]["samples_ms"].append((time.perf_counter() - t0) * 1e3)
    for name, entry in out.items():
        if entry["status"] == "ok":
            entry["median_ms"] = statistics.median(entry["samples_ms"])
            ag = entry.get("agreement")
            bad = "  DISAGREES with reference" if ag is not None and not ag["ok"] else ""
            msg = f"{entry['median_ms']:10.3f} ms (x{entry['repeats']}){bad}"
        else:
            msg = entry["why"].splitlines()[0][:70]
        print(f"  {label} {name:<24} {msg}", file=sys.stderr, flush=True)
    return out


def check_against(ref: np.ndarray) -> Callable[[str, object], dict]:
    return lambda name, result: {"agreement": agreement(result, ref)}


# --------------------------------------------------------------------------- box (P4)


def box_contenders(img: np.ndarray, k: int, threads: int) -> tuple[dict, dict]:
    ker = np.full((k, k), 1.0 / (k * k), np.float32)
    fns: dict[str, Callable] = {
        "faltung.auto": lambda: faltung.convolve2d(img, ker, "same", workers=threads)}
    skipped = {}
    if cv2 is None:
        skipped["cv2.boxFilter"] = "opencv (cv2) not installed"
    else:
        fns["cv2.boxFilter"] = lambda: cv2.boxFilter(img, -1, (k, k), normalize=True,
                                                     borderType=cv2.BORDER_CONSTANT)
    fns["ndimage.uniform_filter"] = lambda: scipy.ndimage.uniform_filter(img, k,
                                                                         mode="constant")
    return fns, skipped


def bench_box(n: int, kernels: list[int], args, rng: np.random.Generator) -> dict:
    img = rng.random((n, n), dtype=np.float32)
    img64 = img.astype(np.float64)
    per_k = {}
    for k in kernels:
        ref = scipy.ndimage.uniform_filter(img64, k, mode="constant")
        fns, skipped = box_contenders(img, k, args.threads)
        info = plan_info(img.shape, np.full((k, k), 1.0 / (k * k), np.float32), args.threads)
        timings = measure(fns, args, f"box N={n} k={k:<3}", check_against(ref))
        per_k[str(k)] = {"auto_engine": info["engine"], "auto_explain": info["explain"],
                         "contenders": timings, "skipped": skipped}
    return {"size": n, "kernels": per_k}


# --------------------------------------------------------------------------- gauss


def gaussian_2d() -> np.ndarray:
    """G = g g^T with g = cv2.getGaussianKernel(31, 5, CV_32F) (same formula without cv2)."""
    if cv2 is not None:
        g = cv2.getGaussianKernel(GAUSS_K, GAUSS_SIGMA, cv2.CV_32F)
    else:
        x = np.arange(GAUSS_K) - GAUSS_K // 2
        g = np.exp(-(x * x) / (2 * GAUSS_SIGMA ** 2))
        g = (g / g.sum()).astype(np.float32).reshape(-1, 1)
    return g @ g.T


def bench_gauss(n: int, args, rng: np.random.Generator) -> dict:
    img = rng.random((n, n), dtype=np.float32)
    G = gaussian_2d()
    flipped = np.ascontiguousarray(G[::-1, ::-1])  # G is symmetric; flip for form's sake
    ref = scipy.signal.fftconvolve(img.astype(np.float64), G.astype(np.float64), "same")
    threads = args.threads
    fns: dict[str, Callable] = {
        "faltung.auto": lambda: faltung.convolve2d(img, G, "same", workers=threads)}
    skipped = {}
    if cv2 is None:
        skipped["cv2.filter2D"] = skipped["cv2.GaussianBlur"] = "opencv (cv2) not installed"
    else:
        fns["cv2.filter2D"] = lambda: cv2.filter2D(img, -1, flipped,
                                                   borderType=cv2.BORDER_CONSTANT)
        fns["cv2.GaussianBlur"] = lambda: cv2.GaussianBlur(
            img, (GAUSS_K, GAUSS_K), GAUSS_SIGMA, sigmaY=GAUSS_SIGMA,
            borderType=cv2.BORDER_CONSTANT)
    info = plan_info(img.shape, G, threads)
    return {"size": n, "ksize": GAUSS_K, "sigma": GAUSS_SIGMA, "auto_engine": info["engine"],
            "auto_explain": info["explain"], "auto_predicted_ms": info["predicted_ms"],
            "contenders": measure(fns, args, f"gauss N={n}", check_against(ref)),
            "skipped": skipped}


# --------------------------------------------------------------------------- grid


def grid_kernel(rng: np.random.Generator, k: int, rank: str) -> np.ndarray:
    if rank == "rank1":
        return (np.outer(rng.standard_normal(k), rng.standard_normal(k)) / k).astype(np.float32)
    return (rng.standard_normal((k, k)) / k).astype(np.float32)


def grid_callable(img: np.ndarray, ker: np.ndarray, method: str, threads: int, api: str):
    """A no-argument callable for ``method``; raises ValueError if the method cannot apply
    (at once for api 'plan', at the first call for 'convolve2d')."""
    if api == "plan":
        p = faltung.plan(img.shape, ker, dtype=img.dtype, mode="same", method=method,
                         workers=threads)
        return lambda: p(img)
    return lambda: faltung.convolve2d(img, ker, "same", method=method, workers=threads)


def grid_cell(img: np.ndarray, ker: np.ndarray, args, label: str) -> dict:
    info = plan_info(img.shape, ker, args.threads)
    pred = info["predicted_ms"]
    best_pred = min(pred.values()) if pred else None
    engines: dict[str, dict] = {}
    fns: dict[str, Callable] = {}
    for method in ("auto",) + ENGINES:
        p_ms = pred.get(method)
        if (method != "auto" and p_ms is not None and best_pred is not None
                and p_ms > SKIP_FACTOR * best_pred and p_ms > SKIP_SECONDS * 1e3):
            engines[method] = {"status": "skipped", "why": "predicted too slow",
                               "predicted_ms": p_ms}
            continue
        try:
            fns[method] = grid_callable(img, ker, method, args.threads, args.grid_api)
        except ValueError as exc:
            if method == "auto":
                raise
            engines[method] = {"status": "n/a", "why": f"ValueError: {exc}"}

    auto_out: list[np.ndarray] = []

    def vs_auto(name: str, result) -> dict:
        res = np.asarray(result)
        if name == "auto":  # measured first
            auto_out.append(res)
            return {}
        ref = auto_out[0]
        if res.shape != ref.shape:
            return {"max_rel_diff_vs_auto": float("inf")}
        scale = float(np.abs(ref).max()) or 1.0
        return {"max_rel_diff_vs_auto": float(np.abs(res - ref).max()) / scale}

    timed = measure(fns, args, f"grid N={img.shape[0]} {label}", vs_auto, catch=(ValueError,))
    auto_out.clear()
    if timed["auto"]["status"] != "ok":
        raise RuntimeError(f"method='auto' failed: {timed['auto']['why']}")
    engines.update(timed)
    engines = {m: engines[m] for m in ("auto",) + ENGINES if m in engines}
    forced = {m: e["median_ms"] for m, e in engines.items()
              if m != "auto" and e["status"] == "ok"}
    fastest = min(forced, key=forced.get)
    ratio = engines["auto"]["median_ms"] / forced[fastest]
    return {"auto_engine": info["engine"], "predicted_ms": pred, "engines": engines,
            "fastest": fastest, "ratio": ratio, "pass": ratio <= PASS_RATIO}


def bench_grid(sizes: list[int], kernels: list[int], args, rng: np.random.Generator) -> dict:
    cells: dict[str, dict] = {}
    t0 = time.perf_counter()
    for n in sizes:
        img = rng.random((n, n), dtype=np.float32)
        for rank in GRID_RANKS:
            for k in kernels:
                ker = grid_kernel(rng, k, rank)
                cells[f"{n}|{rank}|{k}"] = grid_cell(img, ker, args, f"{rank} k={k}")
        del img
        gc.collect()
    passed = sum(c["pass"] for c in cells.values())
    return {"sizes": sizes, "kernels": kernels, "ranks": list(GRID_RANKS),
            "api": args.grid_api, "cells": cells, "passed": passed, "total": len(cells),
            "pass_fraction": passed / len(cells) if cells else None,
            "elapsed_s": time.perf_counter() - t0}


# --------------------------------------------------------------------------- report


def _err(c: dict | None) -> str:
    if not c or "agreement" not in c:
        return "-"
    a = c["agreement"]
    e = a["max_rel_err"]
    return ("?" if e is None else f"{e:.0e}") + ("" if a["ok"] else "!")


def print_box(box: dict, cfg: dict) -> None:
    n = box["size"]
    print(f"\nP4 box: float32 {n}x{n}, 'same', zero fill; median ms of >= {cfg['repeats']}, "
          f"threads={cfg['threads']}")
    heads = ["engine", "f.auto", "cv2.box", "nd.unif", "auto/cv2", "auto/nd",
             "err f", "err cv2", "err nd"]
    print(f"{'k':>4} " + " ".join(f"{h:>9}" for h in heads))
    for k, e in box["kernels"].items():
        cons = e["contenders"]

        def med(key, cons=cons):
            return cons[key]["median_ms"] if key in cons else None

        a, c, s = med("faltung.auto"), med("cv2.boxFilter"), med("ndimage.uniform_filter")
        cells = [e["auto_engine"] or "?", _fmt_ms(a), _fmt_ms(c), _fmt_ms(s), _ratio(a, c),
                 _ratio(a, s), _err(cons.get("faltung.auto")), _err(cons.get("cv2.boxFilter")),
                 _err(cons.get("ndimage.uniform_filter"))]
        print(f"{k:>4} " + " ".join(f"{x:>9}" for x in cells))
    print(f"(err = max |out - float64 ref| / max |ref|; '!' = above {AGREE_TOL:g}; "
          "ratio < 1: faltung faster)")
    notes = {key: why for e in box["kernels"].values() for key, why in e["skipped"].items()}
    for key, why in notes.items():
        print(f"skipped {key}: {why}")


def print_gauss(gs: dict, cfg: dict) -> None:
    n = gs["size"]
    cons = gs["contenders"]

    def med(key):
        return cons[key]["median_ms"] if key in cons else None

    a, f2, gb = med("faltung.auto"), med("cv2.filter2D"), med("cv2.GaussianBlur")
    print(f"\nGaussian {gs['ksize']}x{gs['ksize']} (sigma {gs['sigma']:g}) as a plain array, "
          f"float32 {n}x{n}, 'same', zero fill; median ms of >= {cfg['repeats']}, "
          f"threads={cfg['threads']}")
    heads = ["engine", "f.auto", "filter2D", "GaussBlur", "auto/f2D", "auto/GB",
             "err f", "err f2D", "err GB"]
    print(" ".join(f"{h:>9}" for h in heads))
    cells = [gs["auto_engine"] or "?", _fmt_ms(a), _fmt_ms(f2), _fmt_ms(gb), _ratio(a, f2),
             _ratio(a, gb), _err(cons.get("faltung.auto")), _err(cons.get("cv2.filter2D")),
             _err(cons.get("cv2.GaussianBlur"))]
    print(" ".join(f"{x:>9}" for x in cells))
    if gs["auto_engine"] != "separable":
        print(f"NOTE: the planner chose {gs['auto_engine']!r}, expected 'separable'")
    for key, why in gs["skipped"].items():
        print(f"skipped {key}: {why}")



def _print_cells(grid: dict, ks: list[str], cell) -> None:
    """One row per size x rank, one column per kernel size, ``cell(c)`` in each."""
    print(f"{'size':>6} {'rank':>6} " + " ".join(f"{'k=' + k:>7}" for k in ks))
    for n in grid["sizes"]:
        for rank in grid["ranks"]:
            row = []
            for k in ks:
                c = grid["cells"].get(f"{n}|{rank}|{k}")
                row.append(f"{'-':>7}" if c is None else cell(c))
            print(f"{n:>6} {rank:>6} " + " ".join(row))

def print_grid(grid: dict) -> None:
    cells = grid["cells"]
    ks = [str(k) for k in grid["kernels"]]
    print(f"\nPlanner grid: float32, 'same', random kernels; call = {grid['api']}. Cell: "
          "auto's engine (d direct, s separable, r running, F fft) and auto / fastest forced "
          f"engine; '*' = above {PASS_RATIO:g}")
    def auto_cell(c):
        mark = "" if c["pass"] else "*"
        return f"{INITIAL.get(c['auto_engine'], '?')} {c['ratio']:.2f}{mark:1}".rjust(7)

    def fastest_cell(c):
        name = c["fastest"]
        return (name.upper() if name == c["auto_engine"] else name)[:7].rjust(7)

    _print_cells(grid, ks, auto_cell)
    print("\nfastest forced engine per cell (upper case: auto picked it):")
    _print_cells(grid, ks, fastest_cell)
    frac = grid["pass_fraction"]
    verdict = "meets" if frac is not None and frac >= PASS_TARGET else "BELOW"
    print(f"\npass: {grid['passed']}/{grid['total']} = {100 * (frac or 0):.1f}% "
          f"({verdict} the {100 * PASS_TARGET:.0f}% target); grid took "
          f"{grid['elapsed_s']:.0f} s")
    for key, c in cells.items():
        n, rank, k = key.split("|")
        eng = c["engines"]
        notes = []
        for m, e in eng.items():
            if e["status"] == "skipped":
                notes.append(f"{m} skipped (predicted {e['predicted_ms']:.0f} ms)")
            elif e.get("max_rel_diff_vs_auto", 0) > AGREE_TOL:
                notes.append(f"{m} differs from auto by {e['max_rel_diff_vs_auto']:.1e}")
        if not c["pass"]:
            meas = ", ".join(f"{m} {e['median_ms']:.2f}" for m, e in eng.items()
                             if e["status"] == "ok")
            pred = ", ".join(f"{m} {v:.2f}" for m, v in c["predicted_ms"].items())
            notes.insert(0, f"FAIL ratio {c['ratio']:.2f}: measured ms {meas}; "
                         f"predicted ms {pred}")
        if notes:
            print(f"  N={n} {rank} k={k}: " + "; ".join(notes))


def print_report(results: dict) -> None:
    info, cfg = results["machine"], results["config"]
    v = info["versions"]
    print(f"faltung planner benchmark; threads={cfg['threads']}; cpus={info['cpu_count']}; "
          f"load avg start/end {_load(info.get('loadavg_at_start'))}/"
          f"{_load(info.get('loadavg_at_end'))}")
    print("versions: " + ", ".join(f"{name} {ver}" for name, ver in v.items() if ver)
          + f"; faltung tree {info.get('faltung_git') or '?'}")
    if "box" in results:
        print_box(results["box"], cfg)
    if "gauss" in results:
        print_gauss(results["gauss"], cfg)
    if "grid" in results:
        print_grid(results["grid"])


# --------------------------------------------------------------------------- main


def _sections(text: str) -> list[str]:
    names = [s for s in text.replace(" ", "").split(",") if s]
    bad = [s for s in names if s not in SECTIONS]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"expected a comma-separated subset of "
                                         f"{','.join(SECTIONS)}, got {text!r}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", type=_sections, default=list(SECTIONS),
                   help="comma-separated sections to run: box,gauss,grid (default all)")
    p.add_argument("--repeats", type=int, default=None,
                   help="timed runs per contender after two warm-ups (default 7, --quick 3)")
    p.add_argument("--slow-repeats", type=int, default=3,
                   help=f"timed runs when a warm-up call took > {SLOW_FIRST_CALL} s "
                   "(default 3)")
    p.add_argument("--min-time", type=float, default=0.05,
                   help="seconds of timed calls to aim for per contender: fast calls are "
                   f"repeated more than --repeats (at most {MAX_REPEATS}; default 0.05)")
    p.add_argument("--threads", type=int, default=2,
                   help="faltung workers and cv2.setNumThreads (default 2)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: box/gauss at 512^2; grid sizes 64,256 and k 1,3,9,25; "
                   "3 repeats")
    p.add_argument("--size", type=int, default=None,
                   help="image side for box and gauss (default 2048, --quick 512)")
    p.add_argument("--box-kernels", type=_int_list, default=list(BOX_KERNELS),
                   help="box sides (default 3,31,127)")
    p.add_argument("--grid-sizes", type=_int_list, default=None,
                   help="grid image sides (default 64,256,1024,4096)")
    p.add_argument("--grid-kernels", type=_int_list, default=None,
                   help="grid kernel sides (default 1,3,5,9,15,25,41,63,127)")
    p.add_argument("--grid-api", choices=("convolve2d", "plan"), default="convolve2d",
                   help="grid: time one-shot convolve2d calls (default) or calls of a "
                   "faltung.plan made beforehand (kernel data precomputed)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--report", type=Path, default=None, metavar="JSON",
                   help="only print the tables of an earlier run's JSON; time nothing")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results"
                   / "planner.json", help="JSON output (default bench/results/planner.json)")
    args = p.parse_args(argv)
    if args.repeats is None:
        args.repeats = QUICK_REPEATS if args.quick else 7
    if args.size is None:
        args.size = QUICK_SIZE if args.quick else 2048
    if args.grid_sizes is None:
        args.grid_sizes = list(QUICK_GRID_SIZES) if args.quick else list(GRID_SIZES)
    if args.grid_kernels is None:
        args.grid_kernels = list(QUICK_GRID_KERNELS) if args.quick else list(GRID_KERNELS)
    if args.repeats < 1 or args.slow_repeats < 1 or args.threads < 1 or args.size < 1:
        p.error("--repeats, --slow-repeats, --threads and --size must be >= 1")
    if any(k % 2 == 0 for k in args.box_kernels + args.grid_kernels):
        p.error("kernel sides must be odd (cv2/ndimage centring matches only then)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        print_report(json.loads(args.report.read_text()))
        return 0
    if cv2 is not None:
        cv2.setNumThreads(args.threads)

    results: dict[str, object] = {
        "workload": "planner",
        "machine": machine_info(args.threads),
        "config": {"only": args.only, "repeats": args.repeats,
                   "slow_repeats": args.slow_repeats, "threads": args.threads,
                   "size": args.size, "box_kernels": args.box_kernels,
                   "grid_sizes": args.grid_sizes, "grid_kernels": args.grid_kernels,
                   "grid_api": args.grid_api, "seed": args.seed, "quick": args.quick,
                   "agree_tol": AGREE_TOL, "pass_ratio": PASS_RATIO,
                   "skip_factor": SKIP_FACTOR, "skip_seconds": SKIP_SECONDS,
                   "slow_first_call_s": SLOW_FIRST_CALL, "min_time_s": args.min_time,
                   "max_repeats": MAX_REPEATS, "argv": sys.argv[1:]},
    }
    rng = np.random.default_rng(args.seed)
    if "box" in args.only:
        results["box"] = bench_box(args.size, args.box_kernels, args, rng)
    if "gauss" in args.only:
        results["gauss"] = bench_gauss(args.size, args, rng)
    if "grid" in args.only:
        results["grid"] = bench_grid(args.grid_sizes, args.grid_kernels, args, rng)

    if hasattr(os, "getloadavg"):
        results["machine"]["loadavg_at_end"] = list(os.getloadavg())
    print_report(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
