"""Planner, engines beyond direct/fft, reusable plans, explain, wisdom and calibration."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import scipy.signal as ss
from hypothesis import given, settings
from hypothesis import strategies as st

import faltung
from faltung import _plan

ENGINES = ["direct", "separable", "running", "fft"]
BOUNDARIES = ["fill", "wrap", "symm"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Each test gets its own empty cache dir (no wisdom or calibration)."""
    monkeypatch.setenv("FALTUNG_CACHE_DIR", str(tmp_path / "cache"))
    _plan.reset()
    yield
    _plan.reset()


def _kernel(kind: str, kh: int, kw: int, rng, dtype):
    if kind == "box":
        k = np.full((kh, kw), 2.0)
    elif kind == "rank1":
        k = np.outer(rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)).astype(float)
    elif kind == "rank2":
        k = sum(np.outer(rng.integers(-3, 4, kh), rng.integers(-3, 4, kw)) for _ in range(2))
    else:
        k = rng.integers(-4, 5, (kh, kw))
    return np.asarray(k).astype(dtype)


def _tol(dtype):
    return 2e-3 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-9


@settings(max_examples=60)
@given(h=st.integers(1, 14), w=st.integers(1, 14), kh=st.integers(1, 17), kw=st.integers(1, 17),
       mode=st.sampled_from(["full", "same", "valid"]), boundary=st.sampled_from(BOUNDARIES),
       kind=st.sampled_from(["box", "rank1", "rank2", "full"]),
       dtype=st.sampled_from([np.float32, np.float64, np.int32, np.complex128]),
       flipped=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_every_engine_matches_scipy(h, w, kh, kw, mode, boundary, kind, dtype, flipped, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-5, 6, (h, w)).astype(dtype)
    k = _kernel(kind, kh, kw, rng, dtype)
    ref_fn = ss.convolve2d if flipped else ss.correlate2d
    fn = faltung.convolve2d if flipped else faltung.correlate2d
    try:
        ref = ref_fn(x, k, mode, boundary, 1)
    except ValueError:
        with pytest.raises(ValueError):
            fn(x, k, mode, boundary, 1)
        return
    for method in ENGINES + ["auto"]:
        try:
            got = fn(x, k, mode, boundary, 1, method=method)
        except ValueError as exc:
            assert method in ("separable", "running", "fft")
            assert "cannot compute" in str(exc)
            continue
        assert got.dtype == ref.dtype and got.shape == ref.shape
        if np.dtype(dtype).kind == "i":
            np.testing.assert_array_equal(got, ref, err_msg=method)
        else:
            np.testing.assert_allclose(got, ref, rtol=_tol(dtype), atol=_tol(dtype) * 10,
                                       err_msg=method)


@pytest.mark.parametrize("method", ENGINES)
@pytest.mark.parametrize("boundary", ["fill", "wrap", "symm", "mirror", "nearest"])
def test_engines_on_batches_and_big_kernels(method, boundary):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 2, 9, 7))
    kernels = {"separable": np.outer(np.arange(1, 14), np.arange(1, 12)) / 50.0,
               "running": np.full((13, 11), 0.1), "direct": rng.standard_normal((13, 11)),
               "fft": rng.standard_normal((13, 11))}
    k = kernels[method]
    got = faltung.convolve2d(x, k, "same", boundary, method=method)
    one = np.stack([faltung.convolve2d(x[i, j], k, "same", boundary, method="direct")
                    for i in range(3) for j in range(2)]).reshape(got.shape)
    np.testing.assert_allclose(got, one, rtol=1e-9, atol=1e-9)
    if boundary in ("fill", "wrap", "symm"):
        ref = ss.convolve2d(x[1, 1], k, "same", boundary)
        np.testing.assert_allclose(got[1, 1], ref, rtol=1e-9, atol=1e-9)


def test_large_images_use_parallel_paths_correctly():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((600, 700)).astype(np.float32)
    cases = {"separable": np.outer(np.hanning(9), np.hanning(11)),
             "running": np.full((15, 15), 1 / 225), "fft": rng.standard_normal((33, 33)),
             "direct": rng.standard_normal((5, 5))}
    for method, k in cases.items():
        k = k.astype(np.float32)
        got = faltung.convolve2d(x, k, "same", method=method, workers=2)
        ref = ss.fftconvolve(x.astype(np.float64), k.astype(np.float64), "same")
        scale = np.abs(k).sum() * np.abs(x).max()
        np.testing.assert_allclose(got, ref, atol=5e-6 * scale, err_msg=method)
        assert got.dtype == np.float32


def test_forced_method_that_cannot_apply_names_the_reason():
    x = np.ones((8, 8))
    with pytest.raises(ValueError, match="method='running'.*not all equal"):
        faltung.convolve2d(x, np.arange(9.0).reshape(3, 3), method="running")
    with pytest.raises(ValueError, match="method='separable'"):
        faltung.convolve2d(x, np.random.default_rng(0).standard_normal((5, 5)),
                           method="separable")
    big = np.full((6, 6), 2 ** 40, dtype=np.int64)
    with pytest.raises(ValueError, match="method='fft'.*2\\*\\*38"):
        faltung.convolve2d(big, np.ones((3, 3), np.int64), method="fft")


def test_planner_picks_expected_engines():
    rng = np.random.default_rng(3)
    gauss = np.outer(np.hanning(33)[1:-1], np.hanning(33)[1:-1]).astype(np.float32)
    assert faltung.plan((2048, 2048), gauss, mode="same").engine == "separable"
    box = np.full((127, 127), 1 / 127 ** 2, dtype=np.float32)
    assert faltung.plan((2048, 2048), box, mode="same").engine == "running"
    big = rng.standard_normal((63, 63)).astype(np.float32)
    assert faltung.plan((2048, 2048), big, mode="same").engine == "fft"
    small = rng.standard_normal((3, 3)).astype(np.float32)
    assert faltung.plan((2048, 2048), small, mode="same").engine == "direct"


def test_integer_separable_is_exact():
    rng = np.random.default_rng(4)
    sobel = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.int32)
    x = rng.integers(-1000, 1000, (40, 50)).astype(np.int32)
    ep = faltung._core._convolve(x, sobel, "same", "symm", 0, "auto", (-2, -1), None, None,
                                 True, return_choice=True)[1]
    got = faltung.convolve2d(x, sobel, "same", "symm", method="separable")
    np.testing.assert_array_equal(got, ss.convolve2d(x, sobel, "same", "symm"))
    assert ep.engine in ("separable", "direct")


def test_nan_and_inf_fall_back_to_direct_semantics():
    x = np.random.default_rng(5).standard_normal((64, 64))
    x[10, 10] = np.nan
    x[40, 50] = np.inf
    for k in (np.full((31, 31), 1.0), np.outer(np.hanning(31), np.hanning(31)),
              np.random.default_rng(6).standard_normal((41, 41))):
        got = faltung.convolve2d(x, k, "same")
        ref = ss.convolve2d(x, k, "same")
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-9, equal_nan=True)


_G = np.exp(-np.linspace(-2, 2, 17) ** 2)
_RANK1 = {
    "gaussian": np.outer(_G, _G),
    "mixed signs": np.outer(_G * np.linspace(-1.5, 1.3, 17), _G[::-1] + 0.1),
}


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(_RANK1)), boundary=st.sampled_from(["fill", "symm", "wrap"]),
       dtype=st.sampled_from([np.float32, np.float64]),
       bad=st.lists(st.tuples(st.integers(0, 99), st.integers(0, 119),
                              st.sampled_from([np.nan, np.inf, -np.inf])),
                    min_size=1, max_size=4))
def test_rank1_separable_spreads_nan_inf_like_direct(name, boundary, dtype, bad):
    """A rank-1 kernel without zeros runs separably with no NaN/Inf scan: the
    non-finite outputs (which, and of what kind) match direct summation, and
    the finite ones agree to rounding."""
    k = _RANK1[name].astype(dtype)
    p = faltung.plan((100, 120), k, dtype=dtype, mode="same", boundary=boundary)
    assert p.engine == "separable" and not p._ep.needs_finite
    x = np.random.default_rng(3).standard_normal((100, 120)).astype(dtype)
    for r, c, v in bad:
        x[r, c] = v
    with np.errstate(invalid="ignore", over="ignore"):
        got = p(x)
        ref = faltung.convolve2d(x, k, "same", boundary, method="direct")
    for kind in (np.isnan, np.isposinf, np.isneginf):
        np.testing.assert_array_equal(kind(got), kind(ref))
    ok = np.isfinite(ref)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got[ok], ref[ok], rtol=tol, atol=tol * np.abs(k).sum() * 4)


def test_scan_kept_where_factors_miss_a_zero_tap():
    """A zero tap the rank-1 factors round to a tiny non-zero keeps the scan:
    direct gives 0 * Inf = NaN there, the factored passes would give Inf."""
    g = np.exp(-np.linspace(-4.5, 4.5, 17) ** 2)
    k = np.outer(g, g)
    k[0, 0] = 0.0                # was 2.6e-18: still rank 1 to rounding
    p = faltung.plan((100, 120), k, dtype=np.float64, mode="same")
    assert p.engine == "separable" and p._ep.needs_finite
    x = np.zeros((100, 120))
    x[50, 60] = np.inf
    with np.errstate(invalid="ignore"):
        got = p(x)
        ref = faltung.convolve2d(x, k, "same", method="direct")
    assert np.isnan(ref).sum() == 1
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_nan_inf_in_one_overlap_save_tile_stay_local(dtype):
    """The FFT engine finds NaN/Inf in its own tile results and the call
    falls back to direct summation, so they spread only over their kernel's
    reach, as in scipy (one plan, several images, clean ones stay on FFT)."""
    rng = np.random.default_rng(11)
    k = rng.standard_normal((31, 31)).astype(dtype)
    p = faltung.plan((900, 900), k, dtype=dtype, mode="same")
    assert p.engine == "fft" and p._ep.tile is not None
    clean = rng.standard_normal((900, 900)).astype(dtype)
    for where, bad in (((100, 700), np.nan), ((850, 20), np.inf), ((450, 450), -np.inf)):
        x = clean.copy()
        x[where] = bad
        with np.errstate(invalid="ignore", over="ignore"):
            got = p(x)
            ref = faltung.convolve2d(x, k, "same", method="direct")
        np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(ref))
        assert np.isfinite(got).sum() == 900 * 900 - 31 * 31
        np.testing.assert_array_equal(got, ref)
    np.testing.assert_allclose(p(clean), faltung.convolve2d(clean, k, "same", method="direct"),
                               rtol=2e-3, atol=2e-3)


def test_plan_equals_one_shot_and_checks_its_input():
    rng = np.random.default_rng(7)
    for k in (rng.standard_normal((5, 5)), np.full((9, 9), 0.5),
              np.outer(np.hanning(7), np.hanning(9)), rng.standard_normal((40, 40))):
        x = rng.standard_normal((2, 100, 90))
        p = faltung.plan(x.shape, k, dtype=np.float64, mode="same", boundary="symm")
        np.testing.assert_array_equal(p(x), faltung.convolve2d(x, k, "same", "symm",
                                                                method=p.engine))
        np.testing.assert_array_equal(p(x), p(x))
        assert p.engine in p.explain()
    p = faltung.plan((10, 10), np.ones((3, 3)), dtype=np.float32)
    with pytest.raises(ValueError, match="shape"):
        p(np.ones((11, 10), np.float32))
    with pytest.raises(TypeError, match="dtype"):
        p(np.ones((10, 10), np.float64))
    out = np.empty(p.out_shape, np.float32)
    assert p(np.ones((10, 10), np.float32), out=out) is out


def test_plan_correlate_and_integer_plan():
    x = np.arange(64, dtype=np.uint8).reshape(8, 8)
    k = np.array([[1, 2], [3, 4]], dtype=np.int16)
    p = faltung.plan(x.shape, k, dtype=np.uint8, mode="same", convolve=False)
    np.testing.assert_array_equal(p(x), ss.correlate2d(x, k, "same"))


def test_explain_lists_candidates_and_reasons():
    text = faltung.explain((256, 256), np.ones((15, 15)), mode="same")
    for word in ("running", "separable", "direct", "fft", "chosen", "ms"):
        assert word in text
    text = faltung.explain(np.ones((32, 32)), np.arange(9.0).reshape(3, 3))
    assert "not all equal" in text


def test_measure_remembers_the_winner(tmp_path):
    x = np.random.default_rng(8).standard_normal((64, 64))
    k = np.full((5, 5), 0.04)
    a = faltung.convolve2d(x, k, "same", method="measure")
    wisdom = json.loads((tmp_path / "cache" / "wisdom.json").read_text())
    assert len(wisdom["data"]) == 1
    (entry,) = wisdom["data"].values()
    assert entry["engine"] in ENGINES
    _plan.reset()
    text = faltung.explain(x, k, "same", method="measure")
    assert "remembered" in text
    np.testing.assert_allclose(a, ss.convolve2d(x, k, "same"), atol=1e-12)


@pytest.mark.parametrize("content", ["{not json", '{"format": 99, "data": {}}', "[1, 2]",
                                     '{"format": 1, "data": {"direct_mac_f4": "fast"}}'])
def test_corrupt_cache_files_are_ignored_with_a_warning(tmp_path, content):
    d = tmp_path / "cache"
    d.mkdir()
    (d / "calibration.json").write_text(content)
    (d / "wisdom.json").write_text(content)
    x = np.ones((16, 16))
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        got = faltung.convolve2d(x, np.ones((3, 3)), "same", method="measure")
    np.testing.assert_allclose(got, ss.convolve2d(x, np.ones((3, 3)), "same"))
    # a bad value is dropped, defaults stay
    assert _plan.constants()["direct_mac_f4"] == _plan.DEFAULTS["direct_mac_f4"]


def test_calibrate_writes_usable_constants(tmp_path):
    from faltung._calibrate import calibrate
    found = calibrate()
    assert set(found) == set(_plan.DEFAULTS)
    assert all(0 < v < 1 for v in found.values())
    stored = json.loads((tmp_path / "cache" / "calibration.json").read_text())["data"]
    assert stored == pytest.approx(found)
    assert _plan.constants()["touch"] == pytest.approx(found["touch"])


@pytest.mark.parametrize("k", [3, 5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 3), (7, 9), (701, 603)])
def test_size_specialised_direct_path(k, dtype, shape):
    """3x3 and 5x5 float kernels take the specialised loop (interior read from
    the image, border columns apart); every mode and boundary must agree."""
    rng = np.random.default_rng(k)
    x = rng.standard_normal(shape).astype(dtype)
    ker = rng.standard_normal((k, k)).astype(dtype)
    for mode in ("full", "same", "valid"):
        for boundary in BOUNDARIES:
            for fn, ref_fn in ((faltung.convolve2d, ss.convolve2d),
                               (faltung.correlate2d, ss.correlate2d)):
                try:
                    ref = ref_fn(x, ker, mode, boundary, 0.5)
                except ValueError:
                    continue
                for workers in (1, 2):
                    got = fn(x, ker, mode, boundary, 0.5, method="direct", workers=workers)
                    np.testing.assert_allclose(got, ref, rtol=_tol(dtype), atol=_tol(dtype) * 10)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.complex64,
                                   np.complex128])
@pytest.mark.parametrize("shape", [(1, 5, 7), (2, 300, 301)])
def test_all_finite_scan_finds_every_nan_and_inf(dtype, shape):
    # the planner's finiteness scan decides whether fast engines may run
    x = np.random.default_rng(3).random(shape).astype(dtype)
    assert _plan._all_finite(x, 2) and _plan._all_finite(x[:, ::2, 1::3], 1)
    for bad in (np.nan, np.inf, -np.inf):
        for pos in ((0, 0, 0), tuple(s - 1 for s in shape), (0, shape[1] // 2, 3)):
            y = x.copy()
            y[pos] = bad
            assert not _plan._all_finite(y, 2)
            assert not _plan._all_finite(y[:, ::-1], 1)
            if np.dtype(dtype).kind == "c":
                y = x.copy()
                y[pos] = complex(1.0, bad)
                assert not _plan._all_finite(y, 2)
