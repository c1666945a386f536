"""Planner: which engine computes a ConvSpec, and why.

A first cost model with constants measured on the 2-core reference machine
(2026-11-22). Each candidate engine that can handle the spec gets a predicted
time; ``auto`` takes the cheapest. Engines that cannot handle a spec are
listed with the reason, and a forced ``method`` that cannot apply raises.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ._spec import ConvSpec

# Multiply-adds per second and per thread of the direct engine, by compute dtype.
_DIRECT_RATE = {"f4": 2.0e10, "f8": 1.0e10, "c8": 4.0e9, "c16": 2.5e9, "i8": 4.0e9}
# Seconds per element * log2(elements) of a real-to-complex 2-D FFT pass, per thread.
_FFT_COST = {"f4": 1.0e-9, "f8": 1.6e-9, "c8": 1.6e-9, "c16": 2.6e-9, "i8": 1.6e-9}
# Seconds per element touched once (copies, margins).
_TOUCH = 1.0e-9
_CALL_OVERHEAD = {"direct": 5e-6, "fft": 4e-5, "exact": 1e-3}

# An int64 accumulator is exact below this worst-case magnitude.
INT64_SAFE = 2 ** 62
# float64 FFT rounding error stays far below 0.5 below this magnitude.
FFT_INT_SAFE = 2 ** 38


@dataclass
class Choice:
    """The planner's decision and the ranking behind it."""

    engine: str
    reason: str
    costs: dict[str, float] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)

    def explain(self) -> str:
        lines = [f"engine: {self.engine} ({self.reason})"]
        for name, t in sorted(self.costs.items(), key=lambda kv: kv[1]):
            lines.append(f"  {name:<8} predicted {t * 1e3:9.3f} ms")
        for name, why in self.rejected.items():
            lines.append(f"  {name:<8} not applicable: {why}")
        return "\n".join(lines)


def _key(dt: np.dtype) -> str:
    return {"f": "f", "c": "c", "i": "i", "u": "i"}[dt.kind] + str(dt.itemsize if dt.kind != "u"
                                                                 else 8)


def predict(spec: ConvSpec, engine: str, threads: int) -> float:
    key = _key(spec.compute_dtype)
    he, we = spec.ext_shape
    touch = spec.batch * he * we * _TOUCH
    if engine == "direct":
        eff = 1 if spec.out_pixels * spec.taps < (1 << 21) else threads
        return _CALL_OVERHEAD["direct"] + touch + spec.out_pixels * spec.taps / (
            _DIRECT_RATE[key] * eff)
    if engine == "fft":
        n = spec.batch * he * we
        cost = _FFT_COST[key] * (1 if spec.compute_dtype.kind == "c" else 1)
        # forward of image and kernel, pointwise product, inverse
        return _CALL_OVERHEAD["fft"] + 3 * touch + 2.2 * cost * n * math.log2(max(he * we, 2)) / (
            0.6 * threads + 0.4)
    if engine == "exact":
        return _CALL_OVERHEAD["exact"] + spec.out_pixels * spec.taps * 1e-7
    raise ValueError(engine)


def choose(spec: ConvSpec, method: str, threads: int, int_bound: int | None) -> Choice:
    """Pick the engine for ``spec``.

    ``int_bound`` is the worst-case magnitude of an integer result (None for
    float and complex work); it decides which engines stay exact.
    """
    rejected: dict[str, str] = {}
    candidates = ["direct", "fft"]
    if int_bound is not None:
        if int_bound >= INT64_SAFE:
            rejected["direct"] = (f"worst-case magnitude {int_bound} may overflow the int64 "
                                  "accumulator; the exact engine sums in Python integers")
            rejected["fft"] = "float64 rounding cannot be exact at this magnitude"
            candidates = ["exact"]
        elif int_bound >= FFT_INT_SAFE:
            rejected["fft"] = (f"worst-case magnitude {int_bound} >= 2**38: float64 FFT "
                               "rounding could change an integer result")
            candidates = ["direct"]
    costs = {name: predict(spec, name, threads) for name in candidates}
    if method != "auto":
        if method in rejected:
            raise ValueError(f"method={method!r} cannot compute this exactly: "
                             f"{rejected[method]}; use method='auto' or 'direct'")
        if method == "direct" and "exact" in costs:
            return Choice("exact", "direct summation in Python integers (int64 could overflow)",
                          costs, rejected)
        return Choice(method, f"forced by method={method!r}", costs, rejected)
    best = min(costs, key=costs.get)
    if len(costs) == 1:
        reason = "only exact candidate"
    else:
        other = sorted(costs.values())[1]
        reason = f"cheapest predicted ({other / costs[best]:.1f}x ahead of the next)"
    return Choice(best, reason, costs, rejected)
