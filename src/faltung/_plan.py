"""Planner: which engine computes a ConvSpec, how, and why.

For each engine that can handle a spec the planner predicts a time from a
cost model whose constants are measured on this machine (``faltung
calibrate``; defaults measured on the 2-core reference machine otherwise),
and ``auto`` takes the cheapest. ``measure`` times the candidates once on the
real data and remembers the winner for that signature (FFTW's "wisdom"),
stored next to the calibration in the user cache directory.

An :class:`EnginePlan` binds the chosen engine to precomputed kernel data
(SVD factors, box value, kernel spectrum) and is reused across calls.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import _boundary
from ._spec import ConvSpec
from .engines import direct as _direct
from .engines import exact as _exact
from .engines import fft as _fft
from .engines import running as _running
from .engines import separable as _separable

ENGINES = ("direct", "separable", "running", "fft")
METHODS = ("auto", "measure") + ENGINES

# An int64 accumulator is exact below this worst-case magnitude.
INT64_SAFE = 2 ** 62
# float64 FFT rounding error stays far below 0.5 below this magnitude.
FFT_INT_SAFE = 2 ** 38

# Cost-model constants (seconds), measured on the reference machine
# (2 cores, AVX-512, 2026-11-22). ``faltung calibrate`` replaces them.
DEFAULTS: dict[str, float] = {
    "direct_mac_f4": 4.0e-11,     # per multiply-add and thread, float32
    "direct_mac_f8": 6.4e-11,
    "separable_mac_f4": 5.9e-11,  # per multiply-add of a 1-D pass and thread
    "running_px": 1.2e-9,         # per output pixel and thread
    "fft_unit_f4": 2.6e-10,       # per element*log2(elements) of transform, per thread
    "touch": 6.0e-11,             # per element read or written once
    "call": 2.5e-5,               # fixed overhead of a call
}
_SCALE = {"f8": 2.0, "c8": 4.0, "c16": 8.0, "i8": 4.0, "f4": 1.0}


def cache_dir() -> Path:
    """Where calibration and wisdom live (``FALTUNG_CACHE_DIR`` overrides)."""
    env = os.environ.get("FALTUNG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "faltung"


_FORMAT = 1
_state: dict[str, object] = {}


def _load(name: str) -> dict:
    path = cache_dir() / name
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError("unknown format")
        body = data["data"]
        if not isinstance(body, dict):
            raise ValueError("bad body")
        return body
    except (OSError, ValueError, KeyError, TypeError) as exc:
        warnings.warn(f"ignoring unreadable faltung cache file {path}: {exc}", RuntimeWarning,
                      stacklevel=3)
        return {}


def _save(name: str, body: dict) -> Path:
    path = cache_dir() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"format": _FORMAT, "data": body}, indent=1, sort_keys=True))
    os.replace(tmp, path)
    return path


def constants() -> dict[str, float]:
    """The cost-model constants in use (calibrated ones over the defaults)."""
    if "constants" not in _state:
        merged = dict(DEFAULTS)
        for key, val in _load("calibration.json").items():
            if key in DEFAULTS and isinstance(val, (int, float)) and 0 < val < 1:
                merged[key] = float(val)
        _state["constants"] = merged
    return _state["constants"]  # type: ignore[return-value]


def _wisdom() -> dict:
    if "wisdom" not in _state:
        body = _load("wisdom.json")
        _state["wisdom"] = {k: v for k, v in body.items()
                            if isinstance(v, dict) and v.get("engine") in ENGINES}
    return _state["wisdom"]  # type: ignore[return-value]


def reset() -> None:
    """Forget loaded calibration, wisdom and recent plans (reread on next use)."""
    _state.clear()
    _PLANS.clear()


def _key(dt: np.dtype) -> str:
    if dt.kind in "iu":
        return "i8"
    return dt.kind + str(dt.itemsize)


@dataclass
class Candidate:
    engine: str
    seconds: float
    detail: str
    tile: tuple[int, int] | None = None


@dataclass
class EnginePlan:
    """A ConvSpec bound to an engine and its precomputed kernel data."""

    spec: ConvSpec
    engine: str
    reason: str
    kernel: np.ndarray                 # (Bk, kh, kw) correlation kernel, compute dtype
    rows: np.ndarray
    cols: np.ndarray
    threads: int
    candidates: list[Candidate] = field(default_factory=list)
    rejected: dict[str, str] = field(default_factory=dict)
    factors: _separable.Factors | None = None
    box: object = None
    tile: tuple[int, int] | None = None
    kspec: np.ndarray | None = None
    needs_finite: bool = False

    def explain(self) -> str:
        """A readable report: every candidate, its predicted time, the choice and why."""
        s = self.spec
        lines = [
            f"{s.batch} x {s.in_shape[0]}x{s.in_shape[1]} image(s), "
            f"{s.kernel_shape[0]}x{s.kernel_shape[1]} kernel, {s.compute_dtype}, "
            f"output {s.out_shape[0]}x{s.out_shape[1]}, boundary {s.boundary}, "
            f"{self.threads} thread(s)",
            f"chosen: {self.engine} - {self.reason}",
            "candidates (predicted):",
        ]
        for c in sorted(self.candidates, key=lambda c: c.seconds):
            mark = "*" if c.engine == self.engine and c.tile == self.tile else " "
            lines.append(f" {mark} {c.engine:<10} {c.seconds * 1e3:10.3f} ms  {c.detail}")
        for name, why in self.rejected.items():
            lines.append(f"   {name:<10} not applicable: {why}")
        if self.needs_finite:
            lines.append("   (falls back to direct if the input holds NaN or Inf)")
        return "\n".join(lines)

    def bind_spectrum(self) -> None:
        """Precompute the kernel spectrum an FFT plan multiplies by."""
        if self.engine == "fft":
            fdt = _fft_dtype(self.spec.compute_dtype)
            self.kspec = _fft.kernel_spectrum(self.kernel.astype(fdt, copy=False),
                                              self.tile or _fft.whole_shape(self.spec),
                                              self.threads)

    def execute(self, x3: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Run on (B, H, W) images; returns the compute dtype (object for 'exact').

        ``out``: a C-contiguous (B, Ho, Wo) array of the compute dtype that the
        row engines (direct, separable, running) write into; the others
        return a new array.
        """
        spec = self.spec
        cdt = spec.compute_dtype
        engine = self.engine
        # The FFT engine checks its own results instead (no extra pass).
        if self.needs_finite and engine != "fft" and not _all_finite(x3, self.threads):
            engine = "direct"
        if engine == "exact":
            xe = _boundary.extend(np.asarray(x3, dtype=object), self.rows, self.cols,
                                  spec.fillvalue, *spec.offset)
            return _exact.correlate(xe, self.kernel, spec)
        if engine == "fft":
            fdt = _fft_dtype(cdt)
            res = _fft.correlate(np.asarray(x3, dtype=fdt), self.kernel.astype(fdt, copy=False),
                                 spec, self.rows, self.cols, self.threads, self.tile,
                                 self.kspec, check_finite=self.needs_finite)
            if res is not None:
                return np.rint(res).astype(cdt) if cdt.kind in "iu" else res
            # NaN or Inf in the input: direct summation keeps them local.
            engine = "direct"
        if (engine in ("direct", "separable") and cdt.kind == "f" and x3.dtype.kind in "iu"
                and x3.dtype.itemsize <= 2 and x3.dtype.isnative):
            # 8/16-bit images go in as they are: the engines widen each row as
            # they copy it, instead of a converted copy of the whole image
            # (four times the memory traffic for uint8).
            x = np.ascontiguousarray(x3)
        else:
            x = np.ascontiguousarray(x3, dtype=cdt)
        interior = _boundary.interior(self.cols, spec.offset[1])
        if engine == "separable":
            return _separable.correlate(x, self.factors, spec, self.rows, self.cols, interior,
                                        self.threads, out)
        if engine == "running":
            return _running.correlate(x, self.box, spec, self.rows, self.cols, interior,
                                      self.threads, out)
        k = np.ascontiguousarray(self.kernel, dtype=cdt)
        return _direct.correlate(x, k, spec, self.rows, self.cols, interior, self.threads,
                                 out)


def _fft_dtype(cdt: np.dtype) -> np.dtype:
    """FFT working dtype: the compute dtype, or float64 for integers."""
    return cdt if cdt.kind in "fc" else np.dtype(np.float64)


def _all_finite(x: np.ndarray, threads: int = 1) -> bool:
    if x.dtype.kind in "iu":
        return True
    flat = x.reshape(-1)
    if flat.dtype.kind == "c":
        flat = np.ascontiguousarray(flat).view(flat.real.dtype)
    if flat.dtype in (np.float32, np.float64) and flat.size >= (1 << 15):
        from .engines._jit import scan

        chunks = max(1, min(threads, flat.size >> 18)) * 4
        return bool(scan.all_finite(flat, chunks))
    step = 1 << 20
    return all(np.isfinite(flat[i:i + step]).all() for i in range(0, flat.size, step))


def _candidates(spec: ConvSpec, k: np.ndarray, threads: int, int_bound: int | None,
                known: _separable.Factors | None = None):
    """(candidates, rejected, factors, box) for ``spec``.

    ``known``: exact separable factors supplied by the caller (no SVD needed).
    """
    c = constants()
    key = _key(spec.compute_dtype)
    scale = _SCALE[key]
    he, we = spec.ext_shape
    touch = c["touch"] * spec.batch * (spec.in_shape[0] * spec.in_shape[1] + he * we
                                       + spec.out_shape[0] * spec.out_shape[1])

    def par(work: float) -> int:
        return threads if work >= (1 << 21) else 1

    cands: list[Candidate] = []
    rejected: dict[str, str] = {}
    ints = int_bound is not None
    if ints and int_bound >= INT64_SAFE:
        for name in ENGINES:
            rejected[name] = (f"worst-case magnitude {int_bound} could overflow int64; "
                              "the exact engine sums in Python integers")
        cands.append(Candidate("exact", c["call"] + spec.out_pixels * spec.taps * 1e-7,
                               "Python-integer summation"))
        return cands, rejected, None, None

    macs = spec.out_pixels * spec.taps
    # complex and integer rates scale from the measured real ones
    mac = c.get(f"direct_mac_{key}", c["direct_mac_f4"] * scale)
    cands.append(Candidate("direct", c["call"] + touch + macs * mac / par(macs),
                           f"{spec.taps} multiply-adds per pixel"))

    factors = None
    if spec.kernel_batch != 1:
        rejected["separable"] = "one kernel per image (batched kernels)"
    else:
        factors = known or _separable.factorize(k[0], spec.compute_dtype)
        if factors is None:
            rejected["separable"] = ("not low-rank enough to save work" if not ints else
                                     "integer kernel without exact rank-1 integer factors")
        elif ints and int_bound * float(np.abs(factors.u).sum()) >= INT64_SAFE:
            rejected["separable"] = "intermediate sums could overflow int64"
            factors = None
        else:
            kh, kw = spec.kernel_shape
            w = spec.out_pixels * factors.rank * (kh + kw)
            # per-pass costs (temporary row, loop set-up) weigh more for short
            # kernels; measured: x2 at 3+3 taps, x0.75 at 127+127 (1 at 15+15)
            per_mac = c["separable_mac_f4"] * scale * (0.7 + 9 / (kh + kw))
            cands.append(Candidate("separable", c["call"] + touch + w * per_mac / par(w),
                                   f"rank {factors.rank} (residual {factors.residual:.1e}), "
                                   f"{factors.rank * (kh + kw)} multiply-adds per pixel"))

    box = None
    if spec.kernel_batch != 1:
        rejected["running"] = "one kernel per image (batched kernels)"
    else:
        box = _running.box_value(k[0])
        if box is None:
            rejected["running"] = "kernel entries are not all equal (not a box)"
        elif spec.taps == 1:
            rejected["running"] = "1x1 kernel"
            box = None
        else:
            w = spec.out_pixels * 8
            cands.append(Candidate("running", c["call"] + touch + spec.out_pixels * c[
                "running_px"] * (1 + 0.5 * (scale > 1)) / par(w), "box sums, O(1) in size"))

    if ints and int_bound >= FFT_INT_SAFE:
        rejected["fft"] = (f"worst-case magnitude {int_bound} >= 2**38: float64 FFT rounding "
                           "could change an integer result")
    else:
        fkey = "f8" if ints else key
        unit = c["fft_unit_f4"] * _SCALE[fkey] / 1.6
        eff = 0.7 * threads + 0.3
        best = None
        for tile in _fft.shapes(spec):
            n = _fft.tiles(spec, tile)
            # Threads take whole tiles: the busiest one sets the time.
            balance = 1.0 if tile is None else math.ceil(n / threads) * threads / n
            t = (c["call"] * 2 + touch * 2 + unit * _fft.work(spec, tile) * balance / eff
                 + 2e-5 * n)
            if best is None or t < best.seconds:
                shape = tile or _fft.whole_shape(spec)
                kind = "whole image" if tile is None else "overlap-save tiles"
                best = Candidate("fft", t, f"{kind} {shape[0]}x{shape[1]}", tile)
        cands.append(best)
    return cands, rejected, factors, box


def _signature(spec: ConvSpec, threads: int, factors, box) -> str:
    rank = factors.rank if factors is not None else 0
    return (f"{spec.batch}x{spec.in_shape}|{spec.kernel_shape}x{spec.kernel_batch}|"
            f"{spec.out_shape}|{spec.offset}|{spec.boundary}|{spec.compute_dtype}|r{rank}|"
            f"box{box is not None}|t{threads}")


# Recently made plans: a one-shot call that repeats an earlier call's
# signature (same spec, kernel, method and threads) skips the planning - the
# candidates, the SVD check and the kernel spectrum. Spectra of huge
# whole-image FFT plans are not kept.
_PLANS: dict = {}
_PLANS_MAX = 16
_PLAN_BYTES_MAX = 64 << 20


def make(spec: ConvSpec, k: np.ndarray, method: str, threads: int,
         int_bound: int | None, sample: np.ndarray | None = None,
         factors: _separable.Factors | None = None) -> EnginePlan:
    """Plan ``spec`` with correlation kernel ``k`` (Bk, kh, kw).

    ``int_bound`` is the worst-case |result| for integer work (None for float
    and complex). ``sample`` (B, H, W) is needed for ``method='measure'``.
    ``factors``: exact separable factors of ``k[0]`` when the caller knows them.
    """
    if method == "measure" or k.dtype == object:
        return _make(spec, k, method, threads, int_bound, sample, factors)
    fkey = None if factors is None else (factors.u.tobytes(), factors.v.tobytes(),
                                         factors.u.shape)
    key = (spec, k.shape, k.dtype.str, k.tobytes(), method, threads, int_bound, fkey)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _make(spec, k, method, threads, int_bound, sample, factors)
        if plan.kspec is None or plan.kspec.nbytes <= _PLAN_BYTES_MAX:
            if len(_PLANS) >= _PLANS_MAX:
                _PLANS.pop(next(iter(_PLANS)))
            _PLANS[key] = plan
    return plan


def _make(spec: ConvSpec, k: np.ndarray, method: str, threads: int,
          int_bound: int | None, sample: np.ndarray | None,
          factors: _separable.Factors | None) -> EnginePlan:
    rows = _boundary.index_table(spec.offset[0], spec.ext_shape[0], spec.in_shape[0],
                                 spec.boundary)
    cols = _boundary.index_table(spec.offset[1], spec.ext_shape[1], spec.in_shape[1],
                                 spec.boundary)
    cands, rejected, factors, box = _candidates(spec, k, threads, int_bound, factors)
    by_name = {}
    for cand in cands:
        by_name.setdefault(cand.engine, cand)

    if method in ENGINES:
        if method not in by_name:
            if "exact" in by_name and method == "direct":
                chosen, reason = by_name["exact"], "direct summation in Python integers"
            else:
                raise ValueError(f"method={method!r} cannot compute this case: "
                                 f"{rejected.get(method, 'not applicable')}; "
                                 f"use method='auto' or one of {sorted(by_name)}")
        else:
            chosen, reason = by_name[method], f"forced by method={method!r}"
    elif method == "measure":
        chosen, reason = _measured(spec, k, cands, rows, cols, threads, factors, box, sample)
    else:
        chosen = min(cands, key=lambda c: c.seconds)
        others = sorted(c.seconds for c in cands if c is not chosen)
        reason = ("cheapest predicted" + (f", {others[0] / chosen.seconds:.1f}x ahead of the "
                                          "next" if others else ", only candidate"))

    plan = EnginePlan(spec=spec, engine=chosen.engine, reason=reason, kernel=k, rows=rows,
                      cols=cols, threads=threads, candidates=cands, rejected=rejected,
                      factors=factors if chosen.engine == "separable" else None,
                      box=box if chosen.engine == "running" else None, tile=chosen.tile)
    plan.bind_spectrum()
    # IEEE propagation of NaN/Inf is only guaranteed by direct summation; the
    # other engines are used on finite data (one cheap check per call).
    plan.needs_finite = (spec.compute_dtype.kind in "fc" and chosen.engine != "direct"
                         and method in ("auto", "measure")
                         and not propagates_like_direct(k, plan.factors))
    return plan


def propagates_like_direct(k: np.ndarray, factors) -> bool:
    """Whether the separable engine spreads NaN and Inf exactly as direct does.

    True for one real rank-1 factor pair with no zero entry whose outer
    product has the kernel's signs. Both loops multiply every tap (none is
    skipped), so the result is NaN where some term is NaN, 0*Inf or meets an
    Inf of the other sign, else +-Inf where some term is infinite. A row of
    the first pass holds the terms of one kernel row scaled by one sign,
    so a clash of signs shows there or in the second pass, as it does in the
    direct sum: no scan of the input is needed.
    """
    if factors is None or factors.rank != 1 or k.shape[0] != 1 or k.dtype.kind != "f":
        return False
    u, v = factors.u[0], factors.v[0]
    if not (np.all(u != 0) and np.all(v != 0)):
        return False
    return bool(np.array_equal(np.sign(np.outer(u, v)), np.sign(k[0])))


def _measured(spec, k, cands, rows, cols, threads, factors, box, sample):
    sig = _signature(spec, threads, factors, box)
    wisdom = _wisdom()
    known = wisdom.get(sig)
    by_name = {c.engine: c for c in cands}
    if known and known["engine"] in by_name:
        cand = by_name[known["engine"]]
        if cand.engine != "fft" or tuple(known.get("tile") or ()) == tuple(cand.tile or ()):
            return cand, f"remembered from an earlier measurement ({known['ms']:.3f} ms)"
    if sample is None:
        chosen = min(cands, key=lambda c: c.seconds)
        return chosen, "cheapest predicted (no data to measure)"
    timings = {}
    for cand in cands:
        if cand.engine == "exact":
            return cand, "only exact candidate"
        trial = EnginePlan(spec=spec, engine=cand.engine, reason="", kernel=k, rows=rows,
                           cols=cols, threads=threads, factors=factors, box=box, tile=cand.tile)
        trial.bind_spectrum()
        trial.execute(sample)  # warm-up (compilation, caches)
        best = math.inf
        for _ in range(3):
            t0 = time.perf_counter()
            trial.execute(sample)
            best = min(best, time.perf_counter() - t0)
        timings[cand.engine] = best
    winner = min(timings, key=timings.get)
    cand = by_name[winner]
    wisdom[sig] = {"engine": winner, "ms": timings[winner] * 1e3,
                   "tile": list(cand.tile) if cand.tile else None}
    try:
        _save("wisdom.json", wisdom)
    except OSError as exc:
        warnings.warn(f"could not save faltung wisdom: {exc}", RuntimeWarning, stacklevel=3)
    ranking = ", ".join(f"{n} {t * 1e3:.3f} ms" for n, t in sorted(timings.items(),
                                                                   key=lambda kv: kv[1]))
    return cand, f"measured fastest ({ranking})"
