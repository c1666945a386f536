"""Benchmark P5 (DESIGN.md section 4) and the depthwise target of issue 6.

faltung.nn.functional against torch 2.13 CPU (``torch.set_num_threads(2)``),
both timed in this process on the same float32 input. Each row runs the
faltung call and the torch call alternately (faltung, torch, faltung, ...)
after two warm-up calls each, so that a noisy neighbour on the shared
machine slows both alike; the table shows the median of each, their ratio
(faltung / torch; below 1 means faltung is faster) and the largest
difference of the results relative to the largest torch value.

Rows (N=8, 56x56, padding 1, float32 unless ``--quick``):

* P5 forward         conv2d, C=K=64, 3x3, bias      vs torch.nn.functional.conv2d  (<= 1.0)
* P5 forward+backward conv2d and conv2d_backward (grad x, weight, bias)
                     vs torch conv2d + autograd backward                           (<= 1.5)
* depthwise forward  3x3, groups=C=K=64             vs torch conv2d                (<= 1.0)
* extras (no target): depthwise fwd+bwd, P5 forced through im2col, a 3x3 stride-2
  conv, a 1x1 conv, max_pool2d 3x3 stride 2, batch_norm (training).

Run ``python bench/bench_nn.py`` (full) or ``--quick`` (small shapes, smoke run).
``--out FILE`` writes every sample as JSON. ``--single-thread`` runs both
libraries on one thread and times CPU seconds of the process instead of wall
time: on a machine shared with other jobs that is far less noisy (torch's
OpenMP threads suffer badly from a busy neighbour), and it shows the work
each library does.

torch's OpenMP runtime (libgomp) lets its worker threads spin for a while
after each call. On a 2-core machine they then take the cores from whatever
runs next - in an alternating benchmark always faltung (P5 forward measured
8.2-9.4 ms right after torch, 6.3-6.6 ms otherwise). So this script sets
``OMP_WAIT_POLICY=PASSIVE`` (the threads sleep when idle) before it imports
torch; torch's own times do not change with it (6.6-6.9 ms both ways).
``--omp-active`` keeps libgomp's default.

The GEMMs are numpy's OpenBLAS, whose kernel family is printed: on the
reference machine the environment sets ``OPENBLAS_CORETYPE=Haswell`` (AVX2
kernels) although the CPU has AVX-512; ``OPENBLAS_CORETYPE=SkylakeX`` doubles
its sgemm speed (torch uses oneDNN and is unaffected).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

if "--omp-active" not in sys.argv:
    # before torch loads libgomp, which reads it once (see the module notes)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

from faltung.nn import functional as F  # noqa: E402


def _pair(f: Callable, g: Callable, repeats: int, clock: Callable = time.perf_counter):
    """Alternate f and g; return their samples (ms) and their last results."""
    for _ in range(2):  # warm-up: compilation, caches, thread pools
        rf, rg = f(), g()
    tf, tg = [], []
    for _ in range(repeats):
        t0 = clock()
        rf = f()
        t1 = clock()
        rg = g()
        t2 = clock()
        tf.append((t1 - t0) * 1e3)
        tg.append((t2 - t1) * 1e3)
    return tf, tg, rf, rg


def _as_list(r) -> list[np.ndarray]:
    items = r if isinstance(r, (tuple, list)) else [r]
    out = []
    for a in items:
        if isinstance(a, torch.Tensor):
            a = a.detach().numpy()
        out.append(np.asarray(a, np.float64))
    return out


def _rel_diff(a, b) -> float:
    """max |a - b| / max |b| over all returned arrays (outputs and gradients)."""
    worst = 0.0
    for x, y in zip(_as_list(a), _as_list(b)):
        if x.shape != y.shape:
            return float("nan")
        worst = max(worst, float(np.abs(x - y).max() / max(np.abs(y).max(), 1e-30)))
    return worst


def workloads(quick: bool):
    rng = np.random.default_rng(0)
    n, c, hw = (2, 32, 28) if quick else (8, 64, 56)
    x = rng.standard_normal((n, c, hw, hw), dtype=np.float32)
    w = (rng.standard_normal((c, c, 3, 3), dtype=np.float32) / np.sqrt(9 * c)).astype(
        np.float32)
    b = rng.standard_normal(c, dtype=np.float32)
    gy = rng.standard_normal((n, c, hw, hw), dtype=np.float32)
    wd = rng.standard_normal((c, 1, 3, 3), dtype=np.float32)
    xt, wt, bt, gyt, wdt = (torch.from_numpy(a) for a in (x, w, b, gy, wd))
    xg, wg, bg = (t.clone().requires_grad_(True) for t in (xt, wt, bt))
    wdg = wdt.clone().requires_grad_(True)

    def ours_fb():
        y = F.conv2d(x, w, b, padding=1)
        gx, gw, gb = F.conv2d_backward(gy, x, w, padding=1)
        return y, gx, gw, gb

    def torch_fb():
        for t in (xg, wg, bg):
            t.grad = None
        y = TF.conv2d(xg, wg, bg, padding=1)
        y.backward(gyt)
        return y, xg.grad, wg.grad, bg.grad

    def ours_dw_fb():
        y = F.conv2d(x, wd, padding=1, groups=c)
        gx, gw, _ = F.conv2d_backward(gy, x, wd, padding=1, groups=c, needs=(1, 1, 0))
        return y, gx, gw

    def torch_dw_fb():
        for t in (xg, wdg):
            t.grad = None
        y = TF.conv2d(xg, wdg, padding=1, groups=c)
        y.backward(gyt)
        return y, xg.grad, wdg.grad

    w2 = w[: 2 * c // 2]
    w1 = rng.standard_normal((c, c, 1, 1), dtype=np.float32)
    w1t = torch.from_numpy(w1)
    rm, rv = np.zeros(c, np.float32), np.ones(c, np.float32)
    rmt, rvt = torch.zeros(c), torch.ones(c)
    shape = f"N={n}, C=K={c}, {hw}x{hw}"
    return shape, [
        ("P5 forward", lambda: F.conv2d(x, w, b, padding=1),
         lambda: TF.conv2d(xt, wt, bt, padding=1), 1.0),
        ("P5 forward+backward", ours_fb, torch_fb, 1.5),
        ("depthwise 3x3 forward", lambda: F.conv2d(x, wd, padding=1, groups=c),
         lambda: TF.conv2d(xt, wdt, padding=1, groups=c), 1.0),
        ("depthwise 3x3 fwd+bwd", ours_dw_fb, torch_dw_fb, None),
        ("P5 forward, im2col forced", lambda: F.conv2d(x, w, b, padding=1, engine="im2col"),
         lambda: TF.conv2d(xt, wt, bt, padding=1), None),
        ("3x3 stride 2 forward", lambda: F.conv2d(x, w2, stride=2, padding=1),
         lambda: TF.conv2d(xt, torch.from_numpy(w2), stride=2, padding=1), None),
        ("1x1 forward", lambda: F.conv2d(x, w1), lambda: TF.conv2d(xt, w1t), None),
        ("max_pool2d 3x3 s2", lambda: F.max_pool2d(x, 3, 2, 1),
         lambda: TF.max_pool2d(xt, 3, 2, 1), None),
        ("batch_norm training", lambda: F.batch_norm(x, rm.copy(), rv.copy(), training=True)[0],
         lambda: TF.batch_norm(xt, rmt.clone(), rvt.clone(), training=True), None),
    ]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=15, help="alternating timed runs per row")
    p.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    p.add_argument("--quick", action="store_true", help="small shapes, 3 repeats")
    p.add_argument("--only", default="", help="run rows whose name contains this text")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--single-thread", action="store_true",
                   help="one thread each, CPU time of the process instead of wall time")
    p.add_argument("--omp-active", action="store_true",
                   help="leave OMP_WAIT_POLICY alone (torch's threads spin after each call)")
    a = p.parse_args(argv)
    clock = time.perf_counter
    if a.single_thread:
        from faltung.nn._engines import threads as _threads

        a.threads = 1
        _threads.WORKERS = 1
        clock = time.process_time
    torch.set_num_threads(a.threads)
    repeats = 3 if a.quick else a.repeats
    shape, rows = workloads(a.quick)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    what = "CPU time, 1 thread each" if a.single_thread else f"wall time, torch threads={a.threads}"
    print(f"{shape}, float32, padding 1; {what}; median of {repeats} "
          f"alternating runs; ratio = faltung / torch; load avg {load0}")
    from faltung.nn._engines.threads import openblas_cores

    cores = openblas_cores()
    print("numpy/scipy OpenBLAS kernels: " + ("; ".join(cores) or "unknown")
          + f"; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
          + f"; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}")
    print(f"{'workload':<28}{'faltung ms':>11}{'torch ms':>10}{'ratio':>7}{'target':>8}"
          f"{'':>6}{'rel diff':>10}  engine")
    results = []
    for name, f, g, target in rows:
        if a.only and a.only not in name:
            continue
        tf, tg, rf, rg = _pair(f, g, repeats, clock)
        mf, mg = statistics.median(tf), statistics.median(tg)
        ratio = mf / mg
        ok = "" if target is None else ("ok" if ratio <= target else "MISS")
        engine = ""
        if "forward" in name or "fwd" in name:
            if "depthwise" in name:
                engine = "depthwise"
            elif "im2col" in name:
                engine = "im2col (forced)"
            elif name.startswith("P5"):
                engine = F.explain_conv2d(
                    (8, 64, 56, 56) if not a.quick else (2, 32, 28, 28),
                    (64, 64, 3, 3) if not a.quick else (32, 32, 3, 3),
                    padding=1).split()[1]
        diff = _rel_diff(rf, rg)
        tgt = "" if target is None else f"<={target:g}"
        print(f"{name:<28}{mf:>11.2f}{mg:>10.2f}{ratio:>7.2f}{tgt:>8}{ok:>6}{diff:>10.1e}  "
              f"{engine}")
        results.append({"workload": name, "faltung_ms": tf, "torch_ms": tg,
                        "faltung_median_ms": mf, "torch_median_ms": mg, "ratio": ratio,
                        "target": target, "met": None if target is None else ratio <= target,
                        "max_rel_diff": diff, "engine": engine})
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"load avg at the end {load1}; the machine is shared: expect +-20 % between runs")
    if a.out:
        doc = {"benchmark": "P5 + depthwise (issue 6)", "shape": shape,
               "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               "platform": platform.platform(), "python": platform.python_version(),
               "cpu_count": os.cpu_count(), "loadavg": [load0, load1],
               "torch": torch.__version__, "numpy": np.__version__, "openblas": cores,
               "torch_threads": a.threads, "repeats": repeats,
               "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "quick": a.quick,
               "clock": "process_time, 1 thread each" if a.single_thread else "perf_counter",
               "rows": results}
        with open(a.out, "w") as fh:
            json.dump(doc, fh, indent=1)
        print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
