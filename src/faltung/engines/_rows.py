"""Python-side helpers shared by the row-streaming engines (not an engine)."""

from __future__ import annotations

import numpy as np

# Below this many multiply-adds the thread pool costs more than it saves.
PARALLEL_WORK = 1 << 21


def dispatch(run_serial, run_parallel, args: tuple, batch: int, out_rows: int, work: int,
             workers: int, tasks_per_thread: int = 4) -> None:
    """Run a row-block kernel serially, or in parallel blocks when worth it.

    ``run_parallel`` takes ``args`` plus the rows per block; blocks are sized
    for about ``tasks_per_thread`` tasks per thread so the threads stay
    balanced (engines whose blocks have a large start-up cost ask for fewer).
    """
    rows = block_rows(batch, out_rows, work, workers, tasks_per_thread)
    if rows is None:
        run_serial(*args)
        return
    import numba

    prev = numba.get_num_threads()
    numba.set_num_threads(min(workers, numba.config.NUMBA_NUM_THREADS))
    try:
        run_parallel(*args, rows)
    finally:
        numba.set_num_threads(prev)


def block_rows(batch: int, out_rows: int, work: int, workers: int,
               tasks_per_thread: int = 4) -> int | None:
    """Output rows per parallel block of :func:`dispatch` (None: serial).

    A multiple of four, so the row groups of direct summation (pairs and
    fours from the start of each block) fall where the serial loop puts
    them and the result does not depend on ``workers``.
    """
    if workers <= 1 or work < PARALLEL_WORK:
        return None
    tasks_per_image = max(1, -(-tasks_per_thread * workers // batch))
    rows = max(8, -(-out_rows // tasks_per_image))
    return -(-rows // 4) * 4


def setup(spec, interior: tuple[int, int], out: np.ndarray | None = None) -> tuple:
    """(out, fill, c0, c1, ox): the output array (``out`` if given: a C-contiguous
    (B, Ho, Wo) array of the compute dtype) and the row-fill arguments."""
    dt = spec.compute_dtype
    if out is None:
        out = np.empty((spec.batch,) + spec.out_shape, dtype=dt)
    return out, dt.type(spec.fillvalue), interior[0], interior[1], spec.offset[1]
