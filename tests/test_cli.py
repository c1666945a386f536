"""The ``faltung`` command, run in-process through ``faltung.cli.main``."""

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import faltung
from faltung import kernels
from faltung.cli import main
from faltung.images import zone_plate

Image = pytest.importorskip("PIL.Image")

ZONE = zone_plate(512)


def run(capsys, *argv):
    """``main(argv)`` → (status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def reference(img, kernel, mode="same", boundary="symm", correlate=False):
    """What the CLI should compute: float32 throughout, channels via axes=(0, 1)."""
    fn = faltung.correlate2d if correlate else faltung.convolve2d
    return fn(img, kernel.astype(img.dtype), mode, boundary=boundary, axes=(0, 1))


def quantize(x, maxval=255, dtype=np.uint8):
    return np.rint(np.clip(x, 0, 1) * maxval).astype(dtype)


def read_png(path):
    with Image.open(path) as im:
        return im.mode, np.asarray(im)


CASES = [
    ("box", [], kernels.box(3)),
    ("box", ["--size", "9"], kernels.box(9)),
    ("gaussian", ["--sigma", "2"], kernels.gaussian(2.0)),
    ("gaussian", ["--sigma", "3", "--size", "7"], kernels.gaussian(3.0, radius=3)),
    ("sobel_x", [], kernels.by_name("sobel_x")),
    ("laplacian", [], kernels.laplacian()),
    ("sharpen", [], kernels.sharpen()),
    ("emboss", [], kernels.emboss()),
]


@pytest.mark.parametrize("name, extra, kernel", CASES, ids=[c[0] + "".join(c[1]) for c in CASES])
def test_zone_plate_to_npy_and_png(tmp_path, capsys, name, extra, kernel):
    status, out, err = run(capsys, "filter", tmp_path / "out.npy", "--kernel", name, *extra)
    assert status == 0, err
    ref = reference(ZONE, kernel)
    got = np.load(tmp_path / "out.npy")
    assert got.dtype == np.float32 and got.shape == (512, 512)
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6)  # raw: not clipped
    assert "engine:" in out and "ms" in out

    status, out, err = run(capsys, "filter", tmp_path / "out.png", "--kernel", name, *extra)
    assert status == 0, err
    mode, png = read_png(tmp_path / "out.png")
    assert mode == "L" and png.dtype == np.uint8
    expected = quantize(ref)
    # Identical up to a rounding tie of the last float32 bit.
    assert np.abs(png.astype(int) - expected).max() <= 1
    assert np.mean(png == expected) > 0.999


def test_method_direct_png_is_exact(tmp_path, capsys):
    status, out, _ = run(capsys, "filter", tmp_path / "o.png", "-k", "gaussian", "--sigma",
                         "1.5", "--method", "direct")
    assert status == 0
    ref = faltung.convolve2d(ZONE, kernels.gaussian(1.5).astype(np.float32), "same",
                             boundary="symm", method="direct")
    np.testing.assert_array_equal(read_png(tmp_path / "o.png")[1], quantize(ref))
    assert "engine: direct" in out


def test_abs_normalize(tmp_path, capsys):
    status, _, err = run(capsys, "filter", tmp_path / "e.npy", "-k", "sobel_y", "--abs",
                         "--normalize")
    assert status == 0, err
    ref = np.abs(reference(ZONE, kernels.by_name("sobel_y")))
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    got = np.load(tmp_path / "e.npy")
    assert got.min() == 0 and got.max() == pytest.approx(1, abs=1e-6)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)

    status, _, _ = run(capsys, "filter", tmp_path / "e.png", "-k", "sobel_y", "--abs")
    assert status == 0
    png = read_png(tmp_path / "e.png")[1]
    ref = quantize(np.abs(reference(ZONE, kernels.by_name("sobel_y"))))
    assert np.abs(png.astype(int) - ref).max() <= 1


def test_kernel_file_correlate_and_modes(tmp_path, capsys):
    k = np.array([[1.0, 2.0, 0.0, -1.0], [0.5, 0.0, 0.0, 0.0]])  # asymmetric, even width
    np.save(tmp_path / "k.npy", k)
    src = zone_plate(64, np.float64)
    np.save(tmp_path / "in.npy", src)
    for mode, shape in [("same", (64, 64)), ("full", (65, 67)), ("valid", (63, 61))]:
        for corr in (False, True):
            args = ["filter", tmp_path / "in.npy", tmp_path / "o.npy", "-k", tmp_path / "k.npy",
                    "--mode", mode, "--boundary", "wrap"] + (["--correlate"] if corr else [])
            status, out, err = run(capsys, *args)
            assert status == 0, err
            got = np.load(tmp_path / "o.npy")
            assert got.shape == shape and got.dtype == np.float64  # float64 .npy stays float64
            np.testing.assert_allclose(got, reference(src, k, mode, "wrap", corr), atol=1e-12)
            assert ("correlation" if corr else "convolution") in out


def test_options_between_input_and_output(tmp_path, capsys):
    np.save(tmp_path / "in.npy", np.ones((8, 8), np.float32))
    status, _, err = run(capsys, "filter", tmp_path / "in.npy", "-k", "box",
                         tmp_path / "o.npy")
    assert status == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "o.npy"), np.ones((8, 8)), atol=1e-6)


def test_uint8_npy_to_png_keeps_values(tmp_path, capsys):
    arr = np.random.default_rng(1).integers(0, 256, (20, 30)).astype(np.uint8)
    np.save(tmp_path / "in.npy", arr)
    status, _, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "o.png", "-k",
                         "box", "--size", "1")
    assert status == 0, err
    np.testing.assert_array_equal(read_png(tmp_path / "o.png")[1], arr)


def test_16bit_png_round_trip(tmp_path, capsys):
    rng = np.random.default_rng(7)
    img = rng.integers(0, 65536, (40, 50)).astype(np.uint16)
    img[0, 0], img[0, 1] = 0, 65535
    Image.fromarray(img).save(tmp_path / "in16.png")
    assert read_png(tmp_path / "in16.png")[0].startswith("I;16")

    status, out, err = run(capsys, "filter", tmp_path / "in16.png", tmp_path / "same.png",
                           "-k", "box", "--size", "1")
    assert status == 0, err
    mode, got = read_png(tmp_path / "same.png")
    assert mode.startswith("I;16") and got.dtype == np.uint16
    np.testing.assert_array_equal(got, img)  # identity kernel: exact round trip
    assert "16-bit" in out

    status, _, err = run(capsys, "filter", tmp_path / "in16.png", tmp_path / "g.tif",
                         "-k", "gaussian")
    assert status == 0, err
    mode, got = read_png(tmp_path / "g.tif")
    assert mode.startswith("I;16")
    ref = reference(img.astype(np.float32) / np.float32(65535), kernels.gaussian(1.0))
    assert np.abs(got.astype(int) - quantize(ref, 65535, np.uint16)).max() <= 1


def test_rgb_filtered_per_channel(tmp_path, capsys):
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (33, 47, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    status, _, err = run(capsys, "filter", tmp_path / "rgb.png", tmp_path / "o.png",
                         "-k", "gaussian", "--sigma", "1.5", "--boundary", "nearest")
    assert status == 0, err
    mode, got = read_png(tmp_path / "o.png")
    assert mode == "RGB" and got.shape == rgb.shape
    k = kernels.gaussian(1.5).astype(np.float32)
    for c in range(3):
        plane = rgb[:, :, c].astype(np.float32) / np.float32(255)
        ref = faltung.convolve2d(plane, k, "same", boundary="nearest")
        assert np.abs(got[:, :, c].astype(int) - quantize(ref)).max() <= 1


def test_rgba_alpha_passed_through(tmp_path, capsys):
    rng = np.random.default_rng(4)
    rgba = rng.integers(0, 256, (21, 25, 4)).astype(np.uint8)
    Image.fromarray(rgba).save(tmp_path / "rgba.png")
    status, _, err = run(capsys, "filter", tmp_path / "rgba.png", tmp_path / "o.png",
                         "-k", "sharpen")
    assert status == 0, err
    mode, got = read_png(tmp_path / "o.png")
    assert mode == "RGBA"
    np.testing.assert_array_equal(got[:, :, 3], rgba[:, :, 3])
    ref = reference(rgba[:, :, :3].astype(np.float32) / np.float32(255), kernels.sharpen())
    assert np.abs(got[:, :, :3].astype(int) - quantize(ref)).max() <= 1

    # In 'valid' mode alpha is cropped like the colour channels (centre tap of the kernel).
    status, _, err = run(capsys, "filter", tmp_path / "rgba.png", tmp_path / "v.png",
                         "-k", "box", "--mode", "valid")
    assert status == 0, err
    got = read_png(tmp_path / "v.png")[1]
    assert got.shape == (19, 23, 4)
    np.testing.assert_array_equal(got[:, :, 3], rgba[1:-1, 1:-1, 3])


def test_palette_and_grey_alpha_inputs(tmp_path, capsys):
    grey = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    la = np.stack([grey, 255 - grey], axis=-1)
    Image.fromarray(la).save(tmp_path / "la.png")
    Image.fromarray(grey).convert("P").save(tmp_path / "p.png")
    status, _, err = run(capsys, "filter", tmp_path / "la.png", tmp_path / "o.png", "-k", "box",
                         "--size", "1")
    assert status == 0, err
    mode, got = read_png(tmp_path / "o.png")
    assert mode == "LA"
    np.testing.assert_array_equal(got, la)
    status, _, err = run(capsys, "filter", tmp_path / "p.png", tmp_path / "o.png", "-k", "box",
                         "--size", "1")
    assert status == 0, err
    mode, got = read_png(tmp_path / "o.png")
    assert mode == "RGB"
    np.testing.assert_array_equal(got, np.repeat(grey[:, :, None], 3, axis=2))


def test_demo_contact_sheet(tmp_path, capsys):
    outdir = tmp_path / "new" / "demo"
    status, out, err = run(capsys, "demo", outdir)
    assert status == 0, err
    mode, sheet = read_png(outdir / "contact_sheet.png")
    # 8 tiles of 256x256 in 2 rows x 4 columns with 8-pixel gaps.
    assert sheet.shape[:2] == (2 * 256 + 8, 4 * 256 + 3 * 8)
    # The first tile is the zone plate itself.
    np.testing.assert_array_equal(sheet[:256, :256, 0], quantize(zone_plate(256)))
    lines = [ln for ln in (outdir / "contact_sheet.txt").read_text().splitlines()
             if ln and not ln.startswith("#")]
    assert len(lines) == 8
    assert "zone plate" in lines[0]
    for word, line in zip(["box", "gaussian", "sobel_x", "sobel_y", "laplacian", "sharpen",
                           "emboss"], lines[1:]):
        assert word in line
    for word in ["box", "gaussian", "sobel", "laplacian", "sharpen", "emboss"]:
        assert any(word in ln and "engine" in ln and "ms" in ln for ln in out.splitlines())


@pytest.mark.parametrize("argv, message", [
    (["filter", "@OUT.png", "--kernel", "blur"], "unknown kernel 'blur'; known kernels: box"),
    (["filter", "@OUT.png", "--kernel", "box", "--sigma", "2"], "--sigma applies only"),
    (["filter", "@OUT.png", "--kernel", "laplacian", "--size", "5"], "--size applies only"),
    (["filter", "@OUT.png", "--kernel", "gaussian", "--size", "4"], "positive odd"),
    (["filter", "@OUT.png", "--kernel", "gaussian", "--sigma", "-1"], "sigma"),
    (["filter", "@OUT.png", "--kernel", "box", "--boundary", "bogus"], "boundary"),
    (["filter", "@OUT.xyz", "--kernel", "box"], "extension"),
    (["filter", "@MISSING.png", "@OUT.png", "--kernel", "box"], "cannot read image"),
    (["filter", "@GARBAGE.png", "@OUT.png", "--kernel", "box"], "cannot read image"),
    (["filter", "@OUT.png", "--kernel", "@MISSING.npy"], "cannot read kernel"),
    (["filter", "@OUT.png", "--kernel", "box", "--mode", "middle"], "invalid choice"),
    (["filter", "@OUT.png"], "--kernel"),
    (["filter", "@A.png", "@B.png", "@C.png", "-k", "box"], "unrecognized arguments"),
    (["filter", "@NODIR/OUT.png", "-k", "box"], "does not exist"),
    (["frobnicate"], "invalid choice"),
    ([], "a command is required"),
])
def test_errors_exit_2_without_traceback(tmp_path, capsys, argv, message):
    (tmp_path / "GARBAGE.png").write_bytes(b"not a png at all")
    argv = [str(tmp_path / a[1:]) if a.startswith("@") else a for a in argv]  # @ = in tmp_path
    status, out, err = run(capsys, *argv)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "OUT.png").exists()


def test_help_exits_0(capsys):
    status, out, _ = run(capsys, "filter", "--help")
    assert status == 0 and "--kernel" in out and "gaussian" in out
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "demo" in out


def test_version_in_process(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"faltung {faltung.__version__}"


def test_without_pillow(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    status, _, err = run(capsys, "filter", tmp_path / "o.png", "-k", "box")
    assert status == 2 and "pip install faltung[image]" in err and "Traceback" not in err
    status, _, err = run(capsys, "demo", tmp_path / "d")
    assert status == 2 and "pip install faltung[image]" in err
    # .npy needs no Pillow.
    status, _, err = run(capsys, "filter", tmp_path / "o.npy", "-k", "box")
    assert status == 0, err


def test_console_script_version():
    exe = shutil.which("faltung")
    if exe is None:
        pytest.skip("the faltung console script is not on PATH")
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"faltung {faltung.__version__}"


# --------------------------------------------------------------------------- train-digits


def test_train_digits_command(capsys):
    pytest.importorskip("sklearn")
    status, out, err = run(capsys, "train-digits", "--epochs", "1", "--no-save",
                           "--no-progress")
    assert status == 0, err
    assert "epoch 1/1  loss" in out
    assert re.search(r"^held-out accuracy \d+\.\d\d% \(359 images\)", out, re.M), out


def test_train_digits_help(capsys):
    status, out, _ = run(capsys, "train-digits", "--help")
    assert status == 0 and "--epochs" in out and "--dataset" in out
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "train-digits" in out
    proc = subprocess.run([sys.executable, "-m", "faltung", "train-digits", "--help"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "usage: faltung train-digits" in proc.stdout


# --------------------------------------------------------------------------- filter --chunks

CHUNK_IMAGE = np.random.default_rng(7).random((300, 200), dtype=np.float32)

CHUNK_FILTERS = [
    ("gaussian", ["--sigma", "3"]),
    ("gaussian", ["--sigma", "1.5", "--boundary", "wrap"]),
    ("box", ["--size", "5"]),
    ("median", ["--size", "5", "--boundary", "nearest"]),
    ("min", []),
    ("max", ["--size", "4"]),
    ("sobel", ["--axis", "y"]),
    ("prewitt", ["--boundary", "mirror"]),
    ("dog", ["--sigma", "1", "--sigma2", "2"]),
    ("unsharp", ["--sigma", "2", "--amount", "1.5"]),
]


def assert_same_as_in_memory(name, got, ref):
    """filter_file's contract: bit for bit, except box (running sums), equal to rounding."""
    assert got.shape == ref.shape and got.dtype == ref.dtype
    if name == "box":
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
    else:
        np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("name, extra", CHUNK_FILTERS,
                         ids=[n + "".join(e) for n, e in CHUNK_FILTERS])
def test_chunks_npy_same_as_in_memory(tmp_path, capsys, name, extra):
    pytest.importorskip("dask.array")
    np.save(tmp_path / "in.npy", CHUNK_IMAGE)
    status, out, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "mem.npy",
                           "--filter", name, *extra)
    assert status == 0, err
    status, out, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "chunked.npy",
                           "--filter", name, *extra, "--chunks", "64")
    assert status == 0, err
    # 300x200 in 64x64 chunks: 5 rows x 4 columns of chunks
    assert "chunks: 64x64 read at a time (5x4 = 20 chunks)" in out
    assert_same_as_in_memory(name, np.load(tmp_path / "chunked.npy"),
                             np.load(tmp_path / "mem.npy"))


def test_chunks_routes_to_filter_file(tmp_path, capsys, monkeypatch):
    fd = pytest.importorskip("faltung.dask")
    calls = []
    real = fd.filter_file

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(fd, "filter_file", spy)
    np.save(tmp_path / "in.npy", CHUNK_IMAGE)
    status, out, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "o.npy",
                           "-f", "gaussian", "--sigma", "2.5", "--boundary", "wrap",
                           "--chunks", "64x50")
    assert status == 0, err
    (args, kwargs), = calls
    assert args[2:] == ("gaussian", {"sigma": 2.5, "size": None, "axis": None, "sigma2": None,
                                     "amount": None, "iir": False}, (64, 50))
    assert kwargs == {"boundary": "wrap", "progress": False}
    assert "chunks: 64x50 read at a time (5x4 = 20 chunks)" in out


def test_chunks_rows_cols_on_channels(tmp_path, capsys):
    pytest.importorskip("dask.array")
    rgb = np.random.default_rng(3).random((300, 200, 3)).astype(np.float32)
    np.save(tmp_path / "in.npy", rgb)
    assert run(capsys, "filter", tmp_path / "in.npy", tmp_path / "mem.npy",
               "--filter", "gaussian", "--sigma", "2")[0] == 0
    status, out, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "chunked.npy",
                           "--filter", "gaussian", "--sigma", "2", "--chunks", "100x64")
    assert status == 0, err
    assert "(3x4 = 12 chunks)" in out
    np.testing.assert_array_equal(np.load(tmp_path / "chunked.npy"),
                                  np.load(tmp_path / "mem.npy"))


@pytest.mark.parametrize("name", ["sobel", "prewitt"])
def test_chunks_channels_apart_into_npy(tmp_path, capsys, name):
    """sobel/prewitt filter the channels of an RGB array one by one; the .npy
    output gets them whole (this used to be refused, the writer raised IndexError)."""
    pytest.importorskip("dask.array")
    rgb = np.random.default_rng(4).random((300, 200, 3)).astype(np.float32)
    np.save(tmp_path / "in.npy", rgb)
    argv = ["--filter", name, "--axis", "y"]
    status, _, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "mem.npy", *argv)
    assert status == 0, err
    status, out, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "chunked.npy",
                           *argv, "--chunks", "64")
    assert status == 0, err
    assert "(5x4 = 20 chunks)" in out
    assert_same_as_in_memory(name, np.load(tmp_path / "chunked.npy"),
                             np.load(tmp_path / "mem.npy"))


@pytest.mark.parametrize("dtype, channels, out_ext, name", [
    (np.uint8, 0, ".tif", "gaussian"), (np.uint16, 0, ".tif", "gaussian"),
    (np.uint8, 3, ".tif", "gaussian"), (np.uint8, 4, ".tif", "gaussian"),
    (np.uint8, 0, ".npy", "gaussian"), (np.uint16, 0, ".npy", "gaussian"),
    # alpha kept, colour filtered: written to .npy as whole pixels
    (np.uint8, 4, ".npy", "gaussian"), (np.uint8, 4, ".npy", "sobel"),
])
def test_chunks_tiff_same_as_in_memory(tmp_path, capsys, dtype, channels, out_ext, name):
    pytest.importorskip("dask.array")
    tifffile = pytest.importorskip("tifffile")
    # (no 16-bit colour: in memory, Pillow reads it as 8-bit, filter_file as 16-bit)
    maxval = np.iinfo(dtype).max
    shape = (300, 200, channels) if channels else (300, 200)
    img = np.rint(np.random.default_rng(5).random(shape) * maxval).astype(dtype)
    tifffile.imwrite(tmp_path / "in.tif", img, photometric="rgb" if channels else "minisblack",
                     extrasamples=[2] if channels == 4 else None)
    argv = ["--filter", name] + (["--sigma", "2"] if name == "gaussian" else [])
    status, _, err = run(capsys, "filter", tmp_path / "in.tif", tmp_path / f"mem{out_ext}",
                         *argv)
    assert status == 0, err
    status, out, err = run(capsys, "filter", tmp_path / "in.tif",
                           tmp_path / f"chunked{out_ext}", *argv, "--chunks", "64")
    assert status == 0, err
    assert "(5x4 = 20 chunks)" in out
    read = tifffile.imread if out_ext == ".tif" else np.load
    got, ref = read(tmp_path / f"chunked{out_ext}"), read(tmp_path / f"mem{out_ext}")
    assert got.dtype == (dtype if out_ext == ".tif" else np.float32)
    np.testing.assert_array_equal(got, ref)


def test_chunks_progress(tmp_path, capsys, monkeypatch):
    pytest.importorskip("dask.array")
    np.save(tmp_path / "in.npy", CHUNK_IMAGE)
    argv = ["filter", tmp_path / "in.npy", tmp_path / "o.npy", "-f", "box", "--chunks", "128"]
    status, out, err = run(capsys, *argv)          # stdout is not a terminal: no bar
    assert status == 0, err
    assert "Completed" not in out
    status, out, err = run(capsys, *argv, "--progress")
    assert status == 0, err
    assert "100% Completed" in out
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)    # a terminal: a bar ...
    status, out, err = run(capsys, *argv)
    assert status == 0 and "100% Completed" in out
    status, out, err = run(capsys, *argv, "--no-progress")     # ... unless switched off
    assert status == 0 and "Completed" not in out


@pytest.mark.parametrize("argv, message", [
    (["@OUT.npy", "-f", "gaussian", "--chunks", "64"],
     "--chunks needs an INPUT file (.npy, .tif, .tiff, .zarr); only OUTPUT was given"),
    (["@IN.npy", "@OUT.npy", "-k", "box", "--chunks", "64"],
     "--chunks works with --filter NAME only, not with --kernel 'box'; out-of-core filters: "
     "gaussian, box"),
    (["@IN.npy", "@OUT.npy", "-f", "scharr", "--chunks", "64"],
     "--filter scharr cannot be computed chunk by chunk; with --chunks the filters are: box, "
     "dog, gaussian"),
    (["@IN.npy", "@OUT.png", "-f", "gaussian", "--chunks", "64"],
     "--chunks reads and writes .npy, .tif, .tiff, .zarr files; OUTPUT '@OUT.png' is not one"),
    (["@IN.png", "@OUT.npy", "-f", "gaussian", "--chunks", "64"],
     "INPUT '@IN.png' is not one"),
    (["@MISSING.npy", "@OUT.npy", "-f", "gaussian", "--chunks", "64"],
     "cannot read '@MISSING.npy': no such file"),
    (["@IN.npy", "@NODIR/OUT.npy", "-f", "gaussian", "--chunks", "64"], "does not exist"),
    (["@IN.npy", "@IN.npy", "-f", "gaussian", "--chunks", "64"], "OUTPUT must not be INPUT"),
    (["@IN.npy", "@OUT.npy", "-f", "gaussian", "--chunks", "0"],
     "argument --chunks: expected N or ROWSxCOLS"),
    (["@IN.npy", "@OUT.npy", "-f", "gaussian", "--chunks", "64x"], "got '64x'"),
    (["@IN.npy", "@OUT.npy", "-f", "gaussian", "--chunks", "8x8x8"], "got '8x8x8'"),
    (["@IN.npy", "@OUT.npy", "-f", "gaussian", "--iir", "--chunks", "64"],
     "--iir cannot be combined with --chunks"),
    (["@IN.npy", "@OUT.npy", "-f", "sobel", "--normalize", "--chunks", "64"],
     "--normalize cannot be combined with --chunks"),
    (["@IN.npy", "@OUT.npy", "-f", "sobel", "--abs", "--chunks", "64"],
     "--abs cannot be combined with --chunks"),
    (["@IN.npy", "@OUT.npy", "-f", "box", "--repeat", "3", "--chunks", "64"],
     "--repeat 3 cannot be combined with --chunks"),
    (["@IN.npy", "@OUT.npy", "-f", "box", "--progress"], "--progress applies to --chunks"),
    (["@IN.npy", "@OUT.npy", "-f", "box", "--sigma", "2", "--chunks", "64"],
     "filter 'box' does not take sigma"),
    (["@IN4.npy", "@OUT.npy", "-f", "box", "--chunks", "64"],
     "a .npy array with 4 channels cannot be filtered with --chunks"),
])
def test_chunks_errors(tmp_path, capsys, argv, message):
    pytest.importorskip("dask.array")
    np.save(tmp_path / "IN.npy", CHUNK_IMAGE[:40, :30])
    np.save(tmp_path / "IN4.npy", np.zeros((40, 30, 4), np.float32))
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(tmp_path / "IN.png")
    argv = [str(tmp_path / a[1:]) if a.startswith("@") else a for a in argv]  # @ = in tmp_path
    message = message.replace("'@", f"'{tmp_path}/")
    status, out, err = run(capsys, "filter", *argv)
    assert status == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "OUT.npy").exists()


def test_chunks_without_dask(tmp_path, capsys, monkeypatch):
    for name in ("dask", "dask.array", "dask.highlevelgraph"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "faltung.dask", raising=False)
    monkeypatch.delattr(faltung, "dask", raising=False)
    np.save(tmp_path / "in.npy", CHUNK_IMAGE[:40, :30])
    status, _, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "o.npy",
                         "-f", "gaussian", "--chunks", "16")
    assert status == 2 and "Traceback" not in err
    assert "--chunks (out-of-core filtering with Dask) needs pip install 'faltung[dask]'" in err
    assert not (tmp_path / "o.npy").exists()
    # everything else works without Dask
    status, _, err = run(capsys, "filter", tmp_path / "in.npy", tmp_path / "o.npy",
                         "-f", "gaussian")
    assert status == 0, err
    status, out, _ = run(capsys, "filter", "--help")
    assert status == 0 and "--chunks" in out


def test_chunked_filter_names_are_file_filters():
    fd = pytest.importorskip("faltung.dask")
    from faltung.cli import CHUNKED_FILTERS

    assert sorted(CHUNKED_FILTERS) == sorted(fd.FILE_FILTERS)
    assert set(CHUNKED_FILTERS) <= set(faltung.filters.NAMED)
