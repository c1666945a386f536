"""The ``faltung`` command: filter images from the shell, and a demo contact sheet.

``faltung filter [INPUT] OUTPUT --kernel NAME|FILE.npy``
    Filter a PNG/TIFF image (8- or 16-bit, grey or RGB/RGBA), a ``.npy``
    array, or, with no INPUT, the built-in zone plate. Prints the engine the
    planner chose and the time.
``faltung filter [INPUT] OUTPUT --filter NAME [--sigma S] [--size N] ...``
    Apply a named image filter (gaussian, median, sobel, ...; see
    :data:`faltung.filters.NAMED`).
``faltung filter INPUT OUTPUT --filter NAME --chunks N|ROWSxCOLS [--progress]``
    The same out of core, chunk by chunk with Dask
    (:func:`faltung.dask.filter_file`; ``pip install 'faltung[dask]'``), for
    images larger than memory: ``.npy``, ``.tif``/``.tiff`` or ``.zarr`` in
    and out, the filters of :data:`faltung.dask.FILE_FILTERS`. The result is
    that of the same command without ``--chunks`` (bit for bit, except
    ``box`` on large images: equal to rounding; see ``filter_file``).
``faltung deblur [INPUT] OUTPUT --psf NAME|FILE.npy [--method wiener|rl|inverse]``
    Undo a known blur (:mod:`faltung.restore`); with no INPUT, blur the zone
    plate with noise, restore it and report the PSNRs.
``faltung train-digits [--epochs N] [--dataset digits|mnist] ...``
    Train a small CNN on handwritten digits with :mod:`faltung.nn`
    (:mod:`faltung.cli_train`).
``faltung demo OUTDIR``
    Write ``OUTDIR/contact_sheet.png``: the zone plate and its filtered
    versions side by side, with ``contact_sheet.txt`` naming the tiles.
``faltung --version``
    Print the version.

Errors (unknown kernel, unreadable file, bad option) print a one-line
message on stderr and exit with status 2. Pillow is needed only for image
files (``pip install faltung[image]``); ``.npy`` files work without it.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import __version__, cli_deblur, cli_train, filters, kernels
from ._core import _convolve
from ._validate import METHODS
from .images import zone_plate

PROG = "faltung"
ZONE_SIZE = 512
DEMO_TILE = 256
DEMO_GAP = 8
DEMO_COLUMNS = 4
# Colour of the gaps between contact-sheet tiles: not a grey, so it stands out
# against the mid-grey of low-pass tiles as well as against black and white.
DEMO_GAP_RGB = (40, 70, 120)
# `filter --chunks`: the file types faltung.dask.filter_file reads and writes, and
# the names of faltung.dask.FILE_FILTERS (for the help text, without importing Dask;
# the command checks the name against FILE_FILTERS itself).
CHUNKED_SUFFIXES = (".npy", ".tif", ".tiff", ".zarr")
CHUNKED_FILTERS = ("gaussian", "box", "median", "min", "max", "sobel", "prewitt", "dog",
                   "unsharp")
DASK_EXTRA = "pip install 'faltung[dask]'"


class CliError(Exception):
    """An error reported as one line on stderr, with exit status 2."""


@dataclass
class Picture:
    """An image or array in memory, with what is needed to write it back.

    ``data`` is float32 (float64 for float64 ``.npy`` input), shape (H, W)
    or (H, W, C). ``unit`` is the value written as full white, ``depth`` the
    bit depth (8 or 16) used when writing it as an image file.
    """

    data: np.ndarray
    alpha: bool
    depth: int
    unit: float
    description: str


# --------------------------------------------------------------------------- images


def _pil():
    """Pillow's Image module, imported on first use."""
    try:
        from PIL import Image
    except ImportError:
        raise CliError("reading and writing image files needs Pillow: "
                       "pip install faltung[image] (or pip install pillow); "
                       ".npy files work without it") from None
    return Image


def _layout(shape: tuple[int, ...], alpha: bool) -> str:
    channels = 1 if len(shape) == 2 else shape[2]
    names = {1: "grey", 2: "grey+alpha", 3: "RGB", 4: "RGBA"}
    name = names.get(channels, f"{channels} channels")
    if channels in (2, 4) and not alpha:
        name = f"{channels} channels"
    return f"{shape[1]}x{shape[0]} {name}"


def _file_bits(im) -> int | None:
    """Bits per sample stored in a PNG or TIFF file, when the header says."""
    try:
        if im.format == "PNG":
            with open(im.filename, "rb") as f:
                head = f.read(25)
            return head[24] if head[12:16] == b"IHDR" else None
        if im.format == "TIFF":
            bits = im.tag_v2.get(258)
            return int(bits[0] if isinstance(bits, tuple) else bits) if bits else None
    except (OSError, AttributeError, TypeError, ValueError, IndexError):
        return None
    return None


def _read_image(path: Path) -> Picture:
    Image = _pil()
    try:
        with Image.open(path) as im:
            im.load()
            mode = im.mode
            bits = _file_bits(im)
            if mode == "1":
                im = im.convert("L")
            elif mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif mode == "PA":
                im = im.convert("RGBA")
            arr = np.asarray(im)
    except OSError as exc:
        raise CliError(f"cannot read image {str(path)!r}: {exc}") from None
    mode = im.mode
    if mode in ("L", "LA", "RGB", "RGBA"):
        depth = 8
        if bits == 16 and mode != "L":
            print(f"{PROG}: warning: {path} has 16-bit colour samples, which Pillow reads "
                  "as 8-bit; the output is 8-bit", file=sys.stderr)
    elif mode.startswith("I;16") or (mode == "I" and arr.size and 0 <= arr.min()
                                     and arr.max() <= 65535):
        depth, arr = 16, arr.astype(np.uint16)
    else:
        raise CliError(f"cannot filter {str(path)!r}: image mode {mode!r} is not supported "
                       "(use 8- or 16-bit grey, RGB or RGBA, or a .npy array)")
    maxval = 255.0 if depth == 8 else 65535.0
    data = arr.astype(np.float32) / np.float32(maxval)
    alpha = mode in ("LA", "RGBA")
    desc = f"{path} ({_layout(arr.shape, alpha)}, {depth}-bit)"
    return Picture(data, alpha, depth, 1.0, desc)


def _read_npy(path: Path) -> Picture:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read array {str(path)!r}: {exc}") from None
    if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
        raise CliError(f"{path}: expected an integer or float array, got dtype "
                       f"{getattr(arr, 'dtype', type(arr).__name__)}")
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise CliError(f"{path}: expected a non-empty (H, W) or (H, W, C) array, got shape "
                       f"{arr.shape}")
    dtype = np.float64 if arr.dtype == np.float64 else np.float32
    unit, depth = {"uint8": (255.0, 8), "uint16": (65535.0, 16)}.get(arr.dtype.name, (1.0, 8))
    desc = f"{path} (array {'x'.join(map(str, arr.shape))} {arr.dtype})"
    return Picture(arr.astype(dtype), False, depth, unit, desc)


def _read(path: str | None) -> Picture:
    if path is None:
        return Picture(zone_plate(ZONE_SIZE), False, 8, 1.0,
                       f"zone plate ({ZONE_SIZE}x{ZONE_SIZE} grey, 8-bit)")
    p = Path(path)
    if p.suffix.lower() == ".npy":
        return _read_npy(p)
    return _read_image(p)


def _check_writable(path: Path) -> None:
    """Fail before computing if the output format or folder is unusable."""
    if not path.parent.is_dir():
        raise CliError(f"cannot write {str(path)!r}: folder {str(path.parent)!r} does not exist")
    if path.suffix.lower() == ".npy":
        return
    Image = _pil()
    Image.init()
    if path.suffix.lower() not in Image.registered_extensions():
        raise CliError(f"cannot tell the image format of {str(path)!r} from its extension; "
                       "use .png, .tif or .npy")


def _write(path: Path, data: np.ndarray, pic: Picture) -> str:
    """Write ``data`` (in the input's value scale) and describe what was written."""
    if path.suffix.lower() == ".npy":
        np.save(path, data)
        return f"{path} (array {'x'.join(map(str, data.shape))} {data.dtype})"
    if data.ndim == 3 and data.shape[2] == 1:
        data = data[:, :, 0]
    channels = 1 if data.ndim == 2 else data.shape[2]
    if channels > 4:
        raise CliError(f"cannot write a {channels}-channel result as an image; use .npy")
    if pic.depth == 16 and channels > 1:
        raise CliError("Pillow cannot write 16-bit colour images; write .npy instead")
    dtype, maxval = (np.uint8, 255) if pic.depth == 8 else (np.uint16, 65535)
    unit_values = np.nan_to_num(data / pic.unit, nan=0.0, posinf=1.0, neginf=0.0)
    q = np.rint(np.clip(unit_values, 0.0, 1.0) * maxval).astype(dtype)
    Image = _pil()
    try:
        Image.fromarray(q).save(path)
    except (OSError, ValueError, KeyError) as exc:
        raise CliError(f"cannot write {str(path)!r}: {exc}") from None
    return f"{path} ({_layout(q.shape, channels in (2, 4))}, {pic.depth}-bit)"


# --------------------------------------------------------------------------- filtering


def _kernel(spec: str, sigma: float | None, size: int | None) -> tuple[np.ndarray, str]:
    """The kernel named or stored in ``spec`` and a short description of it."""
    if spec.lower().endswith(".npy"):
        if sigma is not None or size is not None:
            raise CliError("--sigma and --size apply to named kernels, not to a .npy file")
        try:
            k = np.load(spec, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read kernel {spec!r}: {exc}") from None
        if not isinstance(k, np.ndarray) or k.ndim != 2 or k.size == 0 \
                or k.dtype.kind not in "iuf":
            raise CliError(f"kernel {spec!r} must be a non-empty 2-D real array, got "
                           f"{getattr(k, 'shape', '?')} {getattr(k, 'dtype', '')}")
        return k.astype(np.float64), f"{spec} {k.shape[0]}x{k.shape[1]}"
    name = spec.strip().lower().replace("-", "_")
    params: dict[str, object] = {}
    if sigma is not None:
        if name != "gaussian":
            raise CliError(f"--sigma applies only to the gaussian kernel, not {spec!r}")
        params["sigma"] = sigma
    if size is not None:
        if name == "box":
            params["size"] = size
        elif name == "gaussian":
            if size < 1 or size % 2 == 0:
                raise CliError(f"--size for gaussian must be a positive odd number, got {size}")
            params["radius"] = size // 2
        else:
            raise CliError(f"--size applies only to the box and gaussian kernels, not {spec!r}")
    k = kernels.by_name(spec, **params)
    shown = ", ".join(f"{key}={value}" for key, value in params.items())
    return k, f"{name}{f'({shown})' if shown else ''} {k.shape[0]}x{k.shape[1]}"


@dataclass
class Run:
    result: np.ndarray
    engine: str
    explain: str
    times: list[float]


def _apply(pic: Picture, kernel: np.ndarray, mode: str, boundary: str, method: str,
           correlate: bool, repeat: int = 1) -> Run:
    """Filter the colour channels of ``pic``; an alpha channel is carried along unfiltered."""
    data = pic.data
    colour = data[..., :-1] if pic.alpha else data
    axes = (0, 1)
    k = kernel.astype(data.dtype)
    times = []
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        res, choice = _convolve(colour, k, mode, boundary, 0, method, axes, None, None,
                                not correlate, return_choice=True)
        times.append(time.perf_counter() - t0)
    if pic.alpha:
        a = data[..., -1]
        if mode != "same":
            # Same geometry as the colour channels (crop for valid, boundary-extended
            # for full): filter alpha with a unit impulse at the kernel's centre tap.
            impulse = np.zeros(k.shape, dtype=k.dtype)
            impulse[(k.shape[0] - 1) // 2, (k.shape[1] - 1) // 2] = 1
            a = _convolve(a, impulse, mode, boundary, 0, "auto", axes, None, None,
                          not correlate)
        res = np.concatenate([res, a[..., None]], axis=-1)
    return Run(res, choice.engine, choice.explain(), times)


def _postprocess(res: np.ndarray, alpha: bool, unit: float, absolute: bool,
                 normalize: bool) -> np.ndarray:
    """``--abs`` and ``--normalize`` on the colour channels (alpha untouched)."""
    if not (absolute or normalize):
        return res
    res = res.copy()
    colour = res[..., :-1] if alpha else res
    if absolute:
        np.abs(colour, out=colour)
    if normalize:
        lo, hi = float(np.nanmin(colour)), float(np.nanmax(colour))
        if hi > lo:
            colour -= lo
            colour *= unit / (hi - lo)
        else:
            colour[...] = 0
    return res


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def _filter_params(args: argparse.Namespace) -> dict[str, object]:
    """The ``--filter`` parameters, as :func:`faltung.filters.by_name` takes them."""
    return {"sigma": args.sigma, "size": args.size, "axis": args.axis,
            "sigma2": args.sigma2, "amount": args.amount, "iir": args.iir}


def _filter_run(pic: Picture, args: argparse.Namespace) -> Run:
    """``--filter NAME``: a named image filter on the colour channels (alpha kept)."""
    data = pic.data
    colour = data[..., :-1] if pic.alpha else data
    params = _filter_params(args)
    times = []
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        res = filters.by_name(args.filter, colour, args.boundary, **params)
        times.append(time.perf_counter() - t0)
    res = np.asarray(res, dtype=colour.dtype)
    if pic.alpha:
        res = np.concatenate([res, data[..., -1:]], axis=-1)
    return Run(res, "filter", "", times)


def _cmd_filter(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise CliError(f"--repeat must be at least 1, got {args.repeat}")
    if (args.kernel is None) == (args.filter is None):
        raise CliError("give exactly one of --kernel and --filter")
    if args.chunks is None and args.progress is not None:
        raise CliError(f"--{'' if args.progress else 'no-'}progress applies to --chunks "
                       "(out-of-core filtering), which was not given")
    if args.chunks is not None and args.kernel is not None:
        raise CliError(f"--chunks works with --filter NAME only, not with --kernel "
                       f"{args.kernel!r}; out-of-core filters: {', '.join(CHUNKED_FILTERS)} "
                       "(or leave out --chunks to convolve in memory)")
    if args.filter is not None:
        return _cmd_named_filter(args)
    for opt in ("axis", "sigma2", "amount"):
        if getattr(args, opt) is not None:
            raise CliError(f"--{opt} applies to --filter, not to --kernel")
    if args.iir:
        raise CliError("--iir applies to --filter gaussian")
    out_path = Path(args.output)
    kernel, kdesc = _kernel(args.kernel, args.sigma, args.size)
    _check_writable(out_path)
    pic = _read(args.input)
    run = _apply(pic, kernel, args.mode, args.boundary, args.method, args.correlate,
                 args.repeat)
    res = _postprocess(run.result, pic.alpha, pic.unit, args.abs, args.normalize)
    written = _write(out_path, res, pic)

    op = "correlation" if args.correlate else "convolution"
    print(f"input:  {pic.description}")
    print(f"kernel: {kdesc} ({op}), mode={args.mode}, boundary={args.boundary}, "
          f"{res.dtype}")
    if args.explain:
        print(run.explain)
    else:
        print(f"engine: {run.engine}")
    first, best = run.times[0], min(run.times)
    if len(run.times) == 1:
        note = (" (first call: includes loading/compiling the Numba engine; "
                "--repeat 3 times warm runs)" if run.engine == "direct" else "")
        print(f"time:   {_ms(first)}{note}")
    else:
        print(f"time:   {_ms(best)} (best of {len(run.times)} runs; first run {_ms(first)})")
    print(f"output: {written}")
    return 0


def _cmd_named_filter(args: argparse.Namespace) -> int:
    if args.mode != "same":
        raise CliError(f"--filter results have the input's shape; --mode {args.mode} "
                       "applies to --kernel only")
    if args.method != "auto" or args.correlate or args.explain:
        raise CliError("--method, --correlate and --explain apply to --kernel only")
    name = args.filter.strip().lower().replace("-", "_")
    if name not in filters.NAMED:
        raise CliError(f"unknown filter {args.filter!r}; known filters: "
                       f"{', '.join(sorted(filters.NAMED))}")
    if args.chunks is not None:
        return _cmd_chunked_filter(args, name)
    out_path = Path(args.output)
    _check_writable(out_path)
    pic = _read(args.input)
    run = _filter_run(pic, args)
    res = _postprocess(run.result, pic.alpha, pic.unit, args.abs, args.normalize)
    written = _write(out_path, res, pic)
    shown = ", ".join(f"{k}={getattr(args, k)}" for k in filters.NAMED[name][1]
                      if getattr(args, k) not in (None, False))
    print(f"input:  {pic.description}")
    print(f"filter: {name}{f'({shown})' if shown else ''}, boundary={args.boundary}, "
          f"{res.dtype}")
    first, best = run.times[0], min(run.times)
    if len(run.times) == 1:
        print(f"time:   {_ms(first)}")
    else:
        print(f"time:   {_ms(best)} (best of {len(run.times)} runs; first run {_ms(first)})")
    print(f"output: {written}")
    return 0


def _chunks_arg(text: str) -> int | tuple[int, int]:
    """``--chunks``: ``N`` (N x N pixels) or ``ROWSxCOLS``."""
    parts = text.strip().lower().replace(",", "x").split("x")
    try:
        sizes = [int(n) for n in parts]
    except ValueError:
        sizes = []
    if len(sizes) not in (1, 2) or min(sizes) < 1:
        raise argparse.ArgumentTypeError(
            f"expected N or ROWSxCOLS (positive whole numbers of pixels, e.g. 4096 or "
            f"2048x4096), got {text!r}")
    return sizes[0] if len(sizes) == 1 else (sizes[0], sizes[1])


def _peek(path: Path) -> tuple[tuple[int, ...], np.dtype, str]:
    """(shape, dtype, kind) of a ``--chunks`` input, from its header only."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            with open(path, "rb") as f:
                version = np.lib.format.read_magic(f)
                read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                        else np.lib.format.read_array_header_2_0)
                shape, _, dtype = read(f)
            return tuple(shape), np.dtype(dtype), "array"
        if suffix in (".tif", ".tiff"):
            import tifffile

            with tifffile.TiffFile(path) as tif:
                series = tif.series[0]
                return tuple(series.shape), np.dtype(series.dtype), "TIFF"
        import zarr

        z = zarr.open(path, mode="r")
        return tuple(z.shape), np.dtype(z.dtype), "Zarr array"
    except ImportError as exc:
        raise CliError(f"reading {suffix} files with --chunks needs {exc.name or 'a package'}: "
                       f"{DASK_EXTRA}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
        raise CliError(f"cannot read {str(path)!r}: {exc}") from None


def _cmd_chunked_filter(args: argparse.Namespace, name: str) -> int:
    """``--filter NAME --chunks N``: out of core, by :func:`faltung.dask.filter_file`."""
    allowed = ", ".join(CHUNKED_SUFFIXES)
    if args.input is None:
        raise CliError(f"--chunks needs an INPUT file ({allowed}); only OUTPUT was given, "
                       "and the built-in zone plate is filtered in memory: leave out --chunks")
    for opt in ("abs", "normalize"):
        if getattr(args, opt):
            raise CliError(f"--{opt} cannot be combined with --chunks: the out-of-core result "
                           "is written as filtered; leave out one of them")
    if args.repeat != 1:
        raise CliError(f"--repeat {args.repeat} cannot be combined with --chunks "
                       "(it times in-memory runs)")
    if args.iir:
        raise CliError("--iir cannot be combined with --chunks: the recursive Gaussian "
                       "cannot be computed chunk by chunk; leave out one of them")
    in_path, out_path = Path(args.input), Path(args.output)
    for label, path in (("INPUT", in_path), ("OUTPUT", out_path)):
        if path.suffix.lower() not in CHUNKED_SUFFIXES:
            raise CliError(f"--chunks reads and writes {allowed} files; {label} "
                           f"{str(path)!r} is not one (leave out --chunks to use it in memory)")
    if not in_path.exists():
        raise CliError(f"cannot read {str(in_path)!r}: no such file")
    if not out_path.parent.is_dir():
        raise CliError(f"cannot write {str(out_path)!r}: folder {str(out_path.parent)!r} "
                       "does not exist")
    if out_path.exists() and os.path.samefile(in_path, out_path):
        raise CliError(f"with --chunks, OUTPUT must not be INPUT ({str(in_path)!r}): the input "
                       "is read while the output is written")
    try:
        fd = importlib.import_module("faltung.dask")
    except ImportError:
        raise CliError(f"--chunks (out-of-core filtering with Dask) needs {DASK_EXTRA}"
                       ) from None
    if name not in fd.FILE_FILTERS:
        raise CliError(f"--filter {name} cannot be computed chunk by chunk; with --chunks the "
                       f"filters are: {', '.join(sorted(fd.FILE_FILTERS))} (leave out --chunks "
                       "to filter in memory)")
    shape, dtype, kind = _peek(in_path)
    if kind == "array" and len(shape) == 3 and shape[2] in (2, 4):
        # filter_file keeps the last of 2 or 4 channels as alpha; the in-memory
        # command filters every channel of a .npy array
        raise CliError(f"{in_path}: a .npy array with {shape[2]} channels cannot be filtered "
                       "with --chunks (it would keep the last channel unfiltered, as alpha, "
                       "where the in-memory command filters every channel); leave out "
                       "--chunks or save the channels separately")
    chunks = args.chunks
    if isinstance(chunks, tuple) and len(shape) == 3:
        chunks = chunks + (-1,)
    rows, cols = (chunks, chunks) if isinstance(chunks, int) else chunks[:2]
    progress = args.progress
    if progress is None:
        isatty = getattr(sys.stdout, "isatty", None)
        progress = bool(isatty and isatty())
    params = _filter_params(args)
    t0 = time.perf_counter()
    try:
        out_shape, out_dtype = fd.filter_file(in_path, out_path, name, params, chunks,
                                              boundary=args.boundary, progress=progress)
    except ImportError as exc:
        raise CliError(f"--chunks with {in_path.suffix} or {out_path.suffix} files needs "
                       f"{exc.name or 'a package'}: {DASK_EXTRA}") from None
    seconds = time.perf_counter() - t0

    size = "x".join(map(str, shape))
    work = np.dtype(np.float64 if dtype == np.float64 else np.float32)
    n_rows, n_cols = -(-shape[0] // rows), -(-shape[1] // cols)
    alpha = len(out_shape) == 3 and out_shape[2] in (2, 4)
    if out_path.suffix.lower() in (".tif", ".tiff") and out_dtype in (np.uint8, np.uint16):
        written = f"{_layout(out_shape, alpha)}, {8 * out_dtype.itemsize}-bit"
    else:
        written = f"{'array' if out_path.suffix.lower() == '.npy' else 'Zarr array'} " \
                  f"{'x'.join(map(str, out_shape))} {out_dtype}"
    shown = ", ".join(f"{k}={getattr(args, k)}" for k in filters.NAMED[name][1]
                      if getattr(args, k) not in (None, False))
    print(f"input:  {in_path} ({kind} {size} {dtype})")
    print(f"filter: {name}{f'({shown})' if shown else ''}, boundary={args.boundary}, {work}")
    print(f"chunks: {rows}x{cols} read at a time ({n_rows}x{n_cols} = {n_rows * n_cols} "
          "chunks), out of core with Dask")
    print(f"time:   {_ms(seconds)}")
    print(f"output: {out_path} ({written})")
    return 0


# --------------------------------------------------------------------------- demo

# (tile name, kernel factory call, post-processing for display)
DEMO_TILES: list[tuple[str, str, dict[str, object], str]] = [
    ("zone plate", "", {}, "original"),
    ("box 9x9", "box", {"size": 9}, "clip"),
    ("gaussian sigma=3", "gaussian", {"sigma": 3.0}, "clip"),
    ("sobel_x", "sobel_x", {}, "abs+normalize"),
    ("sobel_y", "sobel_y", {}, "abs+normalize"),
    ("laplacian", "laplacian", {}, "abs+normalize"),
    ("sharpen", "sharpen", {}, "clip"),
    ("emboss", "emboss", {}, "clip"),
]


def _cmd_demo(args: argparse.Namespace) -> int:
    outdir = Path(args.outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create {str(outdir)!r}: {exc}") from None
    Image = _pil()
    size = DEMO_TILE
    plate = Picture(zone_plate(size), False, 8, 1.0, "zone plate")
    ncols = DEMO_COLUMNS
    nrows = -(-len(DEMO_TILES) // ncols)
    sheet = np.empty((nrows * size + (nrows - 1) * DEMO_GAP,
                      ncols * size + (ncols - 1) * DEMO_GAP, 3), dtype=np.uint8)
    sheet[...] = DEMO_GAP_RGB
    lines = [f"# faltung {__version__} demo: {nrows} rows x {ncols} columns of {size}x{size} "
             f"tiles, {DEMO_GAP} px gaps, row-major",
             "# zone plate convolved in float32, mode=same, boundary=symm",
             "# tile row col  name                kernel  engine  time_ms  display"]
    print(f"zone plate {size}x{size} float32, mode=same, boundary=symm; "
          "times: best of 3 runs after a warm-up run")
    for i, (title, name, params, display) in enumerate(DEMO_TILES):
        row, col = divmod(i, ncols)
        if name:
            kernel = kernels.by_name(name, **params)
            _apply(plate, kernel, "same", "symm", "auto", False)  # warm-up (JIT, caches)
            run = _apply(plate, kernel, "same", "symm", "auto", False, repeat=3)
            img = _postprocess(run.result, False, 1.0, display == "abs+normalize",
                               display == "abs+normalize")
            kshape = f"{kernel.shape[0]}x{kernel.shape[1]}"
            engine, ms = run.engine, f"{min(run.times) * 1e3:.3f}"
            print(f"  {title:<18} {kshape:>6}  engine {engine:<8} {ms:>9} ms")
        else:
            img, kshape, engine, ms = plate.data, "-", "-", "-"
        tile = np.rint(np.clip(img, 0.0, 1.0) * 255).astype(np.uint8)
        y, x = row * (size + DEMO_GAP), col * (size + DEMO_GAP)
        sheet[y:y + size, x:x + size] = tile[:, :, None]
        lines.append(f"{i + 1:<6} {row:>3} {col:>3}  {title:<18}  {kshape:>6}  {engine:<6}  "
                     f"{ms:>7}  {display}")
    png, txt = outdir / "contact_sheet.png", outdir / "contact_sheet.txt"
    try:
        Image.fromarray(sheet).save(png)
        txt.write_text("\n".join(lines) + "\n", encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot write the contact sheet: {exc}") from None
    print(f"wrote {png} ({sheet.shape[1]}x{sheet.shape[0]}) and {txt}")
    return 0


# --------------------------------------------------------------------------- planner


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(n) for n in text.lower().replace(",", "x").split("x"))
    except ValueError:
        raise CliError(f"SHAPE must look like 2048x2048 or 8x512x512, got {text!r}") from None
    if len(shape) < 2 or min(shape) < 1:
        raise CliError(f"SHAPE needs at least two positive sizes, got {text!r}")
    return shape


def _cmd_explain(args: argparse.Namespace) -> int:
    from ._core import explain

    kernel, desc = _kernel(args.kernel, args.sigma, args.size)
    dtype = np.dtype(args.dtype)
    print(f"kernel: {desc}")
    print(explain(_shape(args.shape), kernel.astype(np.result_type(dtype, np.float32)
                                                   if dtype.kind == "f" else kernel.dtype),
                  args.mode, args.boundary, method=args.method,
                  convolve=not args.correlate, workers=args.workers, dtype=dtype))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from . import _plan
    from ._calibrate import calibrate

    if args.show:
        for key, value in sorted(_plan.constants().items()):
            print(f"  {key:<18} {value:.3e} s")
        return 0
    print("measuring the cost model on this machine (single thread) ...")
    calibrate(verbose=True)
    return 0


# --------------------------------------------------------------------------- arguments


def _kernel_args(parser: argparse.ArgumentParser, names: str, required: bool = True) -> None:
    """The kernel options shared by the commands that take a kernel."""
    parser.add_argument("-k", "--kernel", required=required, metavar="NAME|FILE.npy",
                        help=f"kernel name ({names}) or a 2-D .npy array")
    parser.add_argument("--sigma", type=float, help="gaussian: standard deviation (default 1)")
    parser.add_argument("--size", type=int,
                        help="box: side length (default 3); gaussian: odd side length "
                             "(default: 4 sigma each side)")


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    parser = argparse.ArgumentParser(
        prog=PROG, description="2-D convolution from the command line.")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    names = ", ".join(sorted(kernels.NAMED))
    f = sub.add_parser(
        "filter", help="filter an image, a .npy array or the built-in zone plate",
        description="Filter an image (PNG/TIFF, 8- or 16-bit, grey, RGB or RGBA: each colour "
                    "channel is filtered, alpha is passed through), a .npy array (raw values, "
                    "no scaling), or with no INPUT the built-in 512x512 zone plate. Images "
                    "are computed in float32 on values scaled to [0, 1] and written with the "
                    "input's bit depth (8-bit for the zone plate), clipped to the range; a "
                    ".npy OUTPUT holds the unclipped result.",
        usage=f"{PROG} filter [INPUT] OUTPUT (--kernel NAME|FILE.npy | --filter NAME) "
              "[options]")
    f.add_argument("input", nargs="?", metavar="INPUT",
                   help="image file or .npy array (default: the zone plate)")
    f.add_argument("output", metavar="OUTPUT", help="output image file or .npy array")
    _kernel_args(f, names, required=False)
    fnames = "; ".join(f"{k}: {v[2]}" for k, v in sorted(filters.NAMED.items()))
    f.add_argument("-f", "--filter", metavar="NAME",
                   help=f"apply a named image filter instead of a kernel ({fnames})")
    f.add_argument("--axis", choices=("x", "y"), help="sobel/prewitt/scharr: direction")
    f.add_argument("--sigma2", type=float, help="dog: the larger sigma (default 1.6 sigma)")
    f.add_argument("--amount", type=float, help="unsharp: strength (default 1)")
    f.add_argument("--iir", action="store_true",
                   help="gaussian: recursive filter, O(1) in sigma (approximate)")
    f.add_argument("--mode", choices=("same", "full", "valid"), default="same",
                   help="output region, as scipy.signal (default: same)")
    f.add_argument("--boundary", default="symm", metavar="NAME",
                   help="fill, symm (= reflect), mirror, nearest, wrap or any alias "
                        "faltung.convolve2d accepts (default: symm)")
    f.add_argument("--method", choices=METHODS, default="auto",
                   help="engine (default: auto, the planner's choice)")
    f.add_argument("--correlate", action="store_true",
                   help="correlate (do not flip the kernel) instead of convolving")
    f.add_argument("--abs", action="store_true",
                   help="take absolute values (for edge kernels with signed output)")
    f.add_argument("--normalize", action="store_true",
                   help="stretch the result's range to the full output range")
    f.add_argument("--repeat", type=int, default=1, metavar="N",
                   help="time N runs and report the best (default: 1)")
    f.add_argument("--explain", action="store_true",
                   help="print the planner's ranking of the engines")
    f.add_argument("--chunks", type=_chunks_arg, metavar="N|ROWSxCOLS",
                   help="filter out of core, reading N x N (or ROWS x COLS) pixels at a time "
                        f"with Dask ({DASK_EXTRA}), for images larger than memory: INPUT and "
                        f"OUTPUT {', '.join(CHUNKED_SUFFIXES)}, --filter NAME only "
                        f"({', '.join(CHUNKED_FILTERS)}); the result is that of the same "
                        "command without --chunks (box on large images: to rounding)")
    f.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="with --chunks: show Dask's progress bar (default: when stdout is a "
                        "terminal)")
    f.set_defaults(func=_cmd_filter)

    d = sub.add_parser(
        "demo", help="write a contact sheet of the zone plate through several kernels",
        description="Write OUTDIR/contact_sheet.png (the 256x256 zone plate and its filtered "
                    "versions, 4 per row) and OUTDIR/contact_sheet.txt (the tiles in order), "
                    "printing the engine and time for each kernel.")
    d.add_argument("outdir", metavar="OUTDIR", help="output folder (created if needed)")
    d.set_defaults(func=_cmd_demo)

    e = sub.add_parser(
        "explain", help="show which engine the planner picks for a problem, and why",
        description="Print the planner's report for images of SHAPE (e.g. 2048x2048 or "
                    "8x512x512) and a kernel: every candidate engine with its predicted "
                    "time, the engines that cannot apply with the reason, and the choice.")
    e.add_argument("shape", metavar="SHAPE", help="image shape, e.g. 2048x2048")
    _kernel_args(e, names)
    e.add_argument("--mode", choices=("same", "full", "valid"), default="same")
    e.add_argument("--boundary", default="fill", metavar="NAME")
    e.add_argument("--method", choices=METHODS, default="auto")
    e.add_argument("--dtype", default="float32", help="image dtype (default: float32)")
    e.add_argument("--workers", type=int, default=None, help="threads (default: all cores)")
    e.add_argument("--correlate", action="store_true", help="plan a correlation")
    e.set_defaults(func=_cmd_explain)

    c = sub.add_parser(
        "calibrate", help="measure the planner's cost model on this machine",
        description="Time each engine on a 1024x1024 problem (a few seconds) and store the "
                    "constants in the user cache directory (FALTUNG_CACHE_DIR overrides).")
    c.add_argument("--show", action="store_true", help="print the constants in use and exit")
    c.set_defaults(func=_cmd_calibrate)
    commands = {"filter": f, "demo": d, "explain": e, "calibrate": c}
    commands["deblur"] = cli_deblur.add_parser(sub)
    commands["train-digits"] = cli_train.add_parser(sub)
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``faltung`` command with ``argv`` (default: ``sys.argv[1:]``).

    Returns the exit status: 0 on success, 2 on an error (reported on stderr).
    """
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser, commands = _parsers()
    try:
        if args_list and args_list[0] in commands:
            # Intermixed parsing lets options come between INPUT and OUTPUT.
            args = commands[args_list[0]].parse_intermixed_args(args_list[1:])
        else:
            args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, or an argparse error (status 2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if not getattr(args, "func", None):
        parser.print_usage(sys.stderr)
        print(f"{PROG}: error: a command is required (filter, deblur, train-digits, demo, "
              "explain or calibrate)",
              file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except (CliError, ValueError, TypeError, OverflowError, OSError, MemoryError) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
