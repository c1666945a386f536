"""Benchmark for issue 7: faltung on Dask (2 worker processes) and out of core.

Part A - a float32 N x N image (default 16384^2, 1 GiB), Gaussian sigma = 3
(truncate 4, mode 'reflect'), three contenders, each in its own process so
that its peak resident memory (``ru_maxrss``: input, output, temporaries and
the interpreter with its imports) is its own:

* ``faltung``: ``faltung.ndimage.gaussian_filter`` in memory (2 threads);
* ``dask``: ``faltung.dask.gaussian_filter`` on a ``distributed.LocalCluster``
  of 2 worker processes x 1 thread (loopback; glibc told to keep freed
  buffers, ``MALLOC_TRIM_THRESHOLD_``/``MALLOC_MMAP_THRESHOLD_``), the image
  persisted on the workers first (not timed), the result persisted there (not
  gathered); the time includes the NaN/Inf scan ``check_finite`` does; peak
  memory is the sum of the client's (which holds the image it sent) and the
  workers' peaks;
* ``scipy``: ``scipy.ndimage.gaussian_filter``.

The Dask result is gathered once after timing and compared with faltung's in
memory (bit for bit) on three tiles.

Part B - out of core: a float32 memmap of ``--ooc-gib`` GiB (default 4) is
filtered (same Gaussian) into another memmap by ``faltung.dask.filter_chunked``
with a memory budget (default 1 GiB) that sets the chunk size; the child's
peak RSS is reported and three tiles (two corners and the centre) are compared
with faltung in memory on the tile plus its halo. The files live under a
temporary folder in /tmp and are deleted afterwards.

The machine is shared (2 cores, other jobs running): times are medians of
``--repeats`` runs (scipy: ``--scipy-repeats``) and vary by +-20 % between runs.

Run ``python bench/bench_dask.py`` (full, a few minutes) or ``--quick``
(2048^2, 256 MiB out of core); ``--out FILE`` writes the JSON.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

import numpy as np

SIGMA = 3.0
SEED = 20261122


def _image(n: int) -> np.ndarray:
    """The benchmark image, made the same way in every process (row strips)."""
    x = np.empty((n, n), dtype=np.float32)
    rng = np.random.default_rng(SEED)
    for r in range(0, n, 1024):
        x[r:r + 1024] = rng.random((min(1024, n - r), n), dtype=np.float32)
    return x


def _peak_mib() -> float:
    """This process's peak resident set (VmHWM; ``ru_maxrss`` would carry the
    parent's peak over ``exec``)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up: compilation / cache loading, first-touch of pages
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


TILES = 3


def _tiles(n: int, t: int) -> list[tuple[int, int]]:
    """Top-left corners of the checked tiles: two corners and the centre."""
    return [(0, 0), (n // 2 - t // 2, n // 2 - t // 2), (n - t, n - t)]


def _reference_tile(get, n: int, r0: int, c0: int, t: int) -> np.ndarray:
    """faltung in memory on a tile plus its halo (the image's own boundary where
    the tile touches it), cropped to the tile."""
    from faltung import ndimage

    halo = int(4 * SIGMA + 0.5)
    a0, a1 = max(0, r0 - halo), min(n, r0 + t + halo)
    b0, b1 = max(0, c0 - halo), min(n, c0 + t + halo)
    res = ndimage.gaussian_filter(np.asarray(get(slice(a0, a1), slice(b0, b1))), SIGMA)
    return res[r0 - a0:r0 - a0 + t, c0 - b0:c0 - b0 + t]


# --------------------------------------------------------------------------- children

def child_inmem(n: int, repeats: int) -> dict:
    from faltung import ndimage

    x = _image(n)
    times = _timed(lambda: ndimage.gaussian_filter(x, SIGMA), repeats)
    return {"times": times, "peak_rss_mib": _peak_mib()}


def child_scipy(n: int, repeats: int) -> dict:
    import scipy.ndimage

    x = _image(n)
    t0 = time.perf_counter()
    scipy.ndimage.gaussian_filter(x, SIGMA)  # no compilation: the first run counts
    times = [time.perf_counter() - t0]
    for _ in range(repeats - 1):
        t0 = time.perf_counter()
        scipy.ndimage.gaussian_filter(x, SIGMA)
        times.append(time.perf_counter() - t0)
    return {"times": times, "peak_rss_mib": _peak_mib()}


def _worker_peak() -> float:
    return _peak_mib()


def _placed(client, x: np.ndarray, chunk: int):
    """``x`` as a Dask array persisted on the workers in equal bands of block
    rows (worker i holds the i-th band), as a loader that balances its reads
    would leave it. Each output block is computed where its chunk lives, so
    the scheduler's own placement of ``from_array`` (9 + 7 of 16 blocks,
    measured) would time the busier worker, not the filter."""
    import dask.array as da
    from distributed import wait

    workers = sorted(client.scheduler_info()["workers"])
    grid = [[x[r:r + chunk, c:c + chunk] for c in range(0, x.shape[1], chunk)]
            for r in range(0, x.shape[0], chunk)]
    nblocks = sum(len(row) for row in grid)
    rows, k = [], 0
    for row in grid:
        parts = []
        for blk in row:
            w = workers[min(len(workers) - 1, k * len(workers) // nblocks)]
            fut = client.scatter(blk, workers=[w])
            parts.append(da.from_delayed(fut, blk.shape, dtype=blk.dtype))
            k += 1
        rows.append(parts)
    xd = client.persist(da.block(rows))
    wait(xd)
    return xd


def child_dask(n: int, repeats: int, chunk: int) -> dict:
    import dask
    from distributed import Client, LocalCluster, wait

    import faltung.dask as fd
    from faltung import ndimage

    # Workers keep freed chunk-sized buffers for reuse instead of returning
    # them to the OS: every window and result would otherwise be fresh pages,
    # page-faulted in again (distributed trims at 64 KiB by default).
    dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": str(2 ** 31),
                     "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": str(2 ** 30)})
    x = _image(n)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None, worker_dashboard_address=None,
                      memory_limit=0) as cluster, Client(cluster) as client:
        xd = _placed(client, x, chunk)
        # the workers hold the image now; the client's copy is needed for the check

        def run():
            res = fd.gaussian_filter(xd, SIGMA, workers=2).persist()
            wait(res)
            return res

        times = _timed(run, repeats)
        res = run()
        t = min(1024, n)
        ok = all(np.array_equal(res[r:r + t, c:c + t].compute(),
                                _reference_tile(lambda a, b: x[a, b], n, r, c, t))
                 for r, c in _tiles(n, t))
        whole = None
        if n <= 4096:
            whole = bool(np.array_equal(res.compute(), ndimage.gaussian_filter(x, SIGMA)))
        workers = client.run(_worker_peak)
        client_peak = _peak_mib()
    return {"times": times, "chunks": chunk, "tiles_equal": ok, "whole_equal": whole,
            "worker_peak_rss_mib": list(workers.values()), "client_peak_rss_mib": client_peak,
            "peak_rss_mib": client_peak + sum(workers.values())}


def child_ooc(folder: str, n: int, chunk: int) -> dict:
    import faltung.dask as fd

    src = np.load(Path(folder) / "in.npy", mmap_mode="r")
    dst = np.lib.format.open_memmap(Path(folder) / "out.npy", "w+", np.float32, (n, n))
    fd.gaussian_filter(np.zeros((64, 64), np.float32), SIGMA).compute()  # load the engine
    base = _peak_mib()
    t0 = time.perf_counter()
    fd.filter_chunked(src, dst, fd.gaussian_filter, SIGMA, chunks=chunk, scheduler="threads")
    seconds = time.perf_counter() - t0
    peak = _peak_mib()
    del dst
    out = fd.FileArray.open_npy(Path(folder) / "out.npy")
    inp = fd.FileArray.open_npy(Path(folder) / "in.npy")
    t = min(2048, n)
    ok = all(np.array_equal(out[r:r + t, c:c + t],
                            _reference_tile(lambda a, b: inp[a, b], n, r, c, t))
             for r, c in _tiles(n, t))
    return {"seconds": seconds, "chunks": chunk, "peak_rss_mib": peak,
            "baseline_rss_mib": base, "tiles_equal": ok}


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True,
                         text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- parent

def _write_image_file(path: Path, n: int) -> None:
    # plain writes (a memmap would leave the whole file resident in this process)
    header = {"descr": "<f4", "fortran_order": False, "shape": (n, n)}
    rng = np.random.default_rng(SEED)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for r in range(0, n, 1024):
            f.write(rng.random((min(1024, n - r), n), dtype=np.float32).tobytes())


def _ooc_chunk(budget_mib: float, n: int) -> int:
    # per thread: the window (chunk + halo), its result and the engine's row
    # buffers; two threads, and the results waiting to be written
    chunk = int(np.sqrt(budget_mib * 2 ** 20 / (12 * 4)))
    chunk = max(256, (chunk // 256) * 256)
    return min(chunk, n)


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for dist in ("numpy", "scipy", "numba", "dask", "distributed", "faltung"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small smoke run")
    p.add_argument("--size", type=int, help="image edge for part A (default 16384)")
    p.add_argument("--chunks", type=int, default=4096, help="Dask chunk edge for part A")
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--scipy-repeats", type=int, default=3)
    p.add_argument("--ooc-gib", type=float, help="out-of-core image size (default 4)")
    p.add_argument("--budget-mib", type=float, help="out-of-core memory budget (default 1024)")
    p.add_argument("--skip-ooc", action="store_true", help="part A only")
    p.add_argument("--skip-a", action="store_true", help="part B (out of core) only")
    p.add_argument("--out", help="write the results as JSON here")
    p.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        kind, *rest = a.child
        fn = {"inmem": child_inmem, "scipy": child_scipy, "dask": child_dask,
              "ooc": child_ooc}[kind]
        conv = [v if not v.lstrip("-").isdigit() else int(v) for v in rest]
        print(json.dumps(fn(*conv)))
        return 0

    n = a.size or (2048 if a.quick else 16384)
    repeats = 3 if a.quick else a.repeats
    chunk = min(a.chunks, max(256, n // 4)) if a.quick else a.chunks
    result = {"date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), **_versions()},
              "sigma": SIGMA, "size": n, "note": "medians; each contender in its own process"}
    if not a.skip_a:
        _part_a(a, n, repeats, chunk, result)
    if not a.skip_ooc:
        _part_b(a, result)
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(result, indent=1))
        print(f"wrote {a.out}")
    return 0


def _part_a(a, n: int, repeats: int, chunk: int, result: dict) -> None:
    print(f"Part A: {n}x{n} float32 ({n * n * 4 / 2 ** 30:.2f} GiB), Gaussian sigma={SIGMA}")
    a_res = {
        "faltung": _child(["inmem", str(n), str(repeats)]),
        "dask": _child(["dask", str(n), str(repeats), str(chunk)]),
        "scipy": _child(["scipy", str(n), str(1 if a.quick else a.scipy_repeats)]),
    }
    med = {k: statistics.median(v["times"]) for k, v in a_res.items()}
    for k, v in a_res.items():
        extra = ""
        if k == "dask":
            extra = (f"  chunks {v['chunks']}^2, tiles equal: {v['tiles_equal']}"
                     + (f", whole equal: {v['whole_equal']}" if v["whole_equal"] is not None
                        else "")
                     + ", workers " + " + ".join(f"{w:.0f}" for w in v["worker_peak_rss_mib"])
                     + " MiB")
        print(f"  {k:<8} {med[k]:8.3f} s (median of {len(v['times'])})  "
              f"peak RSS {v['peak_rss_mib']:7.0f} MiB{extra}")
    ratios = {"dask_over_inmem": med["dask"] / med["faltung"],
              "scipy_over_dask": med["scipy"] / med["dask"],
              "scipy_over_inmem": med["scipy"] / med["faltung"]}
    print(f"  dask / in memory = {ratios['dask_over_inmem']:.2f} (target <= 1.5); "
          f"scipy / dask = {ratios['scipy_over_dask']:.1f} (target >= 5); "
          f"scipy / in memory = {ratios['scipy_over_inmem']:.1f}")
    result["part_a"] = {"results": a_res, "medians_s": med, "ratios": ratios}


def _part_b(a, result: dict) -> None:
    gib = a.ooc_gib or (0.25 if a.quick else 4.0)
    budget = a.budget_mib or (64.0 if a.quick else 1024.0)
    m = int(np.sqrt(gib * 2 ** 30 / 4))
    ooc_chunk = _ooc_chunk(budget, m)
    folder = tempfile.mkdtemp(prefix="faltung-ooc-", dir="/tmp")
    try:
        t0 = time.perf_counter()
        _write_image_file(Path(folder) / "in.npy", m)
        made = time.perf_counter() - t0
        print(f"Part B: {m}x{m} float32 memmap ({m * m * 4 / 2 ** 30:.2f} GiB, written in "
              f"{made:.1f} s), budget {budget:.0f} MiB -> chunks {ooc_chunk}^2")
        b = _child(["ooc", folder, str(m), str(ooc_chunk)])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"  filter_chunked {b['seconds']:.1f} s, peak RSS {b['peak_rss_mib']:.0f} MiB "
          f"(process before the run {b['baseline_rss_mib']:.0f} MiB), tiles equal: "
          f"{b['tiles_equal']}")
    result["part_b"] = {"gib": m * m * 4 / 2 ** 30, "budget_mib": budget, **b}


if __name__ == "__main__":
    sys.exit(main())
