"""faltung.nn.functional convolutions against torch 2.13 (the oracle).

conv2d and conv_transpose2d, forward and every gradient, over random
configurations (hypothesis) of stride, padding (ints, pairs, 'same' with even
kernels, 'valid'), dilation, groups (depthwise included), padding modes and
odd sizes, on every engine that applies; the Winograd engine within its
documented error bound; finite-difference gradient checks in float64; the
planner's choices; argument errors; input hygiene.

Errors are measured relative to the largest reference value: float32 results
must satisfy ``|ours - torch| <= 1e-4 * (|torch| + max|torch|)`` elementwise
(relative error 1e-4, with sums whose terms cancel measured against the
scale of the output).
"""

from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import assume, given
from hypothesis import strategies as st

from faltung.nn import functional as F
from faltung.nn._engines import _jit_winograd, winograd

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same':UserWarning")

TOL = {np.float32: 1e-4, np.float64: 1e-10}


def close(got, want, tol):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else np.asarray(want)
    got = np.asarray(got)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    scale = float(np.abs(want).max(initial=0.0)) or 1.0
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


def rel_err(got, want) -> float:
    want = np.asarray(want, np.float64)
    return float(np.abs(np.asarray(got, np.float64) - want).max() / np.abs(want).max())


def T(a, grad=False):
    return torch.from_numpy(np.array(a)).requires_grad_(grad)


def torch_conv(x, w, b, stride, padding, dilation, groups, mode):
    """torch.nn.Conv2d's computation, as the module does it for each padding mode."""
    conv = torch.nn.Conv2d(x.shape[1], w.shape[0], w.shape[2:], stride, padding, dilation,
                           groups, b is not None, mode, dtype=w.dtype)
    with torch.no_grad():
        conv.weight.copy_(w)
        if b is not None:
            conv.bias.copy_(b)
    return conv._conv_forward(x, w, b)


def pads_of(padding, r, s, dilation):
    """(top, bottom, left, right) as torch pads, for the size constraints."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        th, tw = dilation[0] * (r - 1), dilation[1] * (s - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return ph, ph, pw, pw


@st.composite
def conv_cases(draw):
    depthwise = draw(st.booleans())
    if depthwise:
        cin = draw(st.integers(1, 5))
        groups, cg, kg = cin, 1, draw(st.integers(1, 2))
    else:
        groups = draw(st.sampled_from([1, 1, 2, 3]))
        cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    pair = st.tuples(st.integers(1, 3), st.integers(1, 3))
    stride = draw(st.one_of(st.integers(1, 3), pair))
    dilation = draw(st.one_of(st.integers(1, 3), pair))
    st2 = (stride, stride) if isinstance(stride, int) else stride
    dil2 = (dilation, dilation) if isinstance(dilation, int) else dilation
    paddings = [st.integers(0, 3), st.tuples(st.integers(0, 3), st.integers(0, 3)),
                st.just("valid")]
    if st2 == (1, 1):
        paddings.append(st.just("same"))
    padding = draw(st.one_of(*paddings))
    mode = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate", "circular"]))
    pt, pb, pl, pr = pads_of(padding, r, s, dil2)
    h = draw(st.integers(1, 12))
    w = draw(st.integers(1, 12))
    if mode == "reflect":
        assume(max(pt, pb) < h and max(pl, pr) < w)
    if mode == "circular":
        assume(max(pt, pb) <= h and max(pl, pr) <= w)
    assume(h + pt + pb >= dil2[0] * (r - 1) + 1 and w + pl + pr >= dil2[1] * (s - 1) + 1)
    n = draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float32, np.float32, np.float64]))
    bias = draw(st.booleans())
    engines = ["auto", "im2col"]
    if depthwise:
        engines.append("depthwise")
    if (r, s) == (3, 3) and st2 == (1, 1) and dil2 == (1, 1):
        engines.append("winograd")
    engine = draw(st.sampled_from(engines))
    return dict(shape=(n, cg * groups, h, w), wshape=(kg * groups, cg, r, s), bias=bias,
                stride=stride, padding=padding, dilation=dilation, groups=groups, mode=mode,
                dtype=dtype, engine=engine)


@given(case=conv_cases(), seed=st.integers(0, 2 ** 32 - 1))
def test_conv2d_forward_and_gradients_match_torch(case, seed):
    rng = np.random.default_rng(seed)
    dt = case["dtype"]
    x = rng.standard_normal(case["shape"]).astype(dt)
    w = rng.standard_normal(case["wshape"]).astype(dt)
    b = rng.standard_normal(case["wshape"][0]).astype(dt) if case["bias"] else None
    args = (case["stride"], case["padding"], case["dilation"], case["groups"], case["mode"])
    y = F.conv2d(x, w, b, *args, engine=case["engine"])
    xt, wt = T(x, True), T(w, True)
    bt = T(b, True) if b is not None else None
    yt = torch_conv(xt, wt, bt, *args)
    tol = TOL[dt] if case["engine"] != "winograd" else winograd.ERROR_BOUND[np.dtype(dt)]
    close(y, yt, tol)
    gy = rng.standard_normal(y.shape).astype(dt)
    yt.backward(T(gy))
    gx, gw, gb = F.conv2d_backward(gy, x, w, *args, engine=case["engine"])
    close(gx, xt.grad, tol)
    close(gw, wt.grad, tol)
    if b is not None:
        close(gb, bt.grad, tol)
    else:
        close(gb, gy.sum(axis=(0, 2, 3)), TOL[dt])


@st.composite
def transpose_cases(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cg, kg = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    r, s = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    oh = draw(st.integers(0, max(sh, dh) - 1))
    ow = draw(st.integers(0, max(sw, dw) - 1))
    ph, pw = draw(st.integers(0, 3)), draw(st.integers(0, 3))
    h, w = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    assume((h - 1) * sh - 2 * ph + dh * (r - 1) + oh + 1 >= 1)
    assume((w - 1) * sw - 2 * pw + dw * (s - 1) + ow + 1 >= 1)
    engines = ["auto", "im2col"]
    if kg == 1:
        engines.append("depthwise")  # the conv2d it is the adjoint of is depthwise
    if (r, s) == (3, 3) and (sh, sw) == (1, 1) and (dh, dw) == (1, 1):
        engines.append("winograd")
    return dict(shape=(draw(st.integers(1, 2)), cg * groups, h, w),
                wshape=(cg * groups, kg, r, s), bias=draw(st.booleans()),
                stride=(sh, sw), padding=(ph, pw), output_padding=(oh, ow), groups=groups,
                dilation=(dh, dw), dtype=draw(st.sampled_from([np.float32, np.float64])),
                engine=draw(st.sampled_from(engines)))


@given(case=transpose_cases(), seed=st.integers(0, 2 ** 32 - 1))
def test_conv_transpose2d_forward_and_gradients_match_torch(case, seed):
    rng = np.random.default_rng(seed)
    dt = case["dtype"]
    x = rng.standard_normal(case["shape"]).astype(dt)
    w = rng.standard_normal(case["wshape"]).astype(dt)
    k = case["wshape"][1] * case["groups"]
    b = rng.standard_normal(k).astype(dt) if case["bias"] else None
    args = (case["stride"], case["padding"], case["output_padding"], case["groups"],
            case["dilation"])
    y = F.conv_transpose2d(x, w, b, *args, engine=case["engine"])
    xt, wt = T(x, True), T(w, True)
    bt = T(b, True) if b is not None else None
    yt = TF.conv_transpose2d(xt, wt, bt, *args)
    tol = TOL[dt] if case["engine"] != "winograd" else winograd.ERROR_BOUND[np.dtype(dt)]
    close(y, yt, tol)
    gy = rng.standard_normal(y.shape).astype(dt)
    yt.backward(T(gy))
    gx, gw, gb = F.conv_transpose2d_backward(gy, x, w, *args, engine=case["engine"])
    close(gx, xt.grad, tol)
    close(gw, wt.grad, tol)
    if b is not None:
        close(gb, bt.grad, tol)


# --------------------------------------------------------------------------- engines


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape,wshape,padding,groups", [
    ((2, 64, 28, 28), (64, 64, 3, 3), 1, 1),        # P5's kind, smaller
    ((1, 32, 17, 23), (48, 32, 3, 3), 0, 1),        # odd sizes, tiles cut at both edges
    ((2, 32, 9, 14), (32, 16, 3, 3), 2, 2),         # groups, pad 2 (backward pad 0)
    ((1, 24, 10, 7), (24, 24, 3, 3), "same", 1),
    ((1, 16, 6, 5), (16, 16, 3, 3), (0, 2), 1),     # asymmetric; backward crops
])
def test_winograd_within_documented_bound(dtype, shape, wshape, padding, groups):
    """Forward and all gradients within ERROR_BOUND of float64 torch (relative to
    the largest value), and the float32 error is far below the bound."""
    rng = np.random.default_rng(7)
    x = rng.standard_normal(shape).astype(dtype)
    w = (rng.standard_normal(wshape) / np.sqrt(wshape[1] * 9)).astype(dtype)
    b = rng.standard_normal(wshape[0]).astype(dtype)
    assert "engine: winograd" in F.explain_conv2d(x, w, padding=padding, groups=groups)
    y = F.conv2d(x, w, b, padding=padding, groups=groups)
    gy = rng.standard_normal(y.shape).astype(dtype)
    gx, gw, gb = F.conv2d_backward(gy, x, w, padding=padding, groups=groups)
    xt, wt, bt = T(x.astype(np.float64), True), T(w.astype(np.float64), True), T(
        b.astype(np.float64), True)
    yt = TF.conv2d(xt, wt, bt, padding=padding, groups=groups)
    yt.backward(T(gy.astype(np.float64)))
    bound = winograd.ERROR_BOUND[np.dtype(dtype)]
    for got, want in ((y, yt), (gx, xt.grad), (gw, wt.grad), (gb, bt.grad)):
        err = rel_err(got, want.detach().numpy())
        assert err <= bound
        if dtype == np.float32:
            assert err <= 2e-5  # what the docstring reports as measured (~1e-5)


def test_winograd_matrices_are_exact():
    """A^T[(G g) * (B^T d)] is the correlation of d with g, in exact rationals,
    for several F(m, 3) and point sets."""
    rng = np.random.default_rng(3)
    for m, pts in [(2, (0, 1, -1)), (4, winograd.POINTS), (4, (0, 1, -1, Fraction(1, 2), -2)),
                   (6, (0, 1, -1, 2, -2, Fraction(1, 2), Fraction(-1, 2)))]:
        at, bt, g = winograd.matrices(m, 3, pts)
        n = m + 2
        for _ in range(3):
            gg = [Fraction(int(v)) for v in rng.integers(-9, 10, 3)]
            dd = [Fraction(int(v)) for v in rng.integers(-9, 10, n)]
            u = [sum(g[i][j] * gg[j] for j in range(3)) for i in range(n)]
            v = [sum(bt[i][j] * dd[j] for j in range(n)) for i in range(n)]
            y = [sum(at[i][j] * u[j] * v[j] for j in range(n)) for i in range(m)]
            assert y == [sum(dd[i + j] * gg[j] for j in range(3)) for i in range(m)]
    with pytest.raises(ValueError, match="distinct finite points"):
        winograd.matrices(4, 3, (0, 1, 1, 2, -2))


def test_winograd_kernels_hard_code_the_matrices():
    """The Numba kernels' written-out transforms equal matrices() for POINTS."""
    at, bt, g = (np.array(a, dtype=np.float64) for a in winograd.matrices())
    rng = np.random.default_rng(5)
    x = rng.standard_normal((1, 3, 6, 6))
    v = np.empty((36, 1, 3))
    _jit_winograd.input_tiles(x, 0, 0, 0, 0, 1, 1, v)
    want = np.einsum("ai,cij,bj->abc", bt, x[0], bt).reshape(36, 3)
    np.testing.assert_allclose(v[:, 0], want, rtol=1e-12, atol=1e-12)
    m = rng.standard_normal((36, 1, 2))
    y = np.empty((1, 2, 4, 4))
    _jit_winograd.output_tiles(m, 0, 0, 1, 1, np.array([0.5, -1.0]), y)
    want = np.einsum("pa,abk,qb->kpq", at, m[:, 0].reshape(6, 6, 2), at) + np.array(
        [0.5, -1.0])[:, None, None]
    np.testing.assert_allclose(y[0], want, rtol=1e-12, atol=1e-12)
    dy = rng.standard_normal((1, 2, 4, 4))
    d = np.empty((36, 1, 2))
    _jit_winograd.grad_tiles(dy, 0, 0, 1, 1, d)
    want = np.einsum("pa,kpq,qb->abk", at, dy[0], at).reshape(36, 2)
    np.testing.assert_allclose(d[:, 0], want, rtol=1e-12, atol=1e-12)
    u = winograd.transform_weight(rng.standard_normal((2, 3, 3, 3)))
    assert u.shape == (36, 3, 2)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_values_propagate_as_in_torch(bad):
    """A NaN or Inf reaches only the outputs (and gradients) whose window holds
    it, as in torch, also where the planner picks Winograd (it falls back to
    im2col); a forced Winograd spreads it over the 4x4 output tile."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 16, 12, 12)).astype(np.float32)
    x[0, 3, 5, 6] = bad
    w = rng.standard_normal((16, 16, 3, 3)).astype(np.float32)
    assert "engine: winograd" in F.explain_conv2d(x, w, padding=1)
    y = F.conv2d(x, w, padding=1)
    yt = TF.conv2d(T(x), T(w), padding=1).numpy()
    np.testing.assert_array_equal(np.isfinite(y), np.isfinite(yt))
    np.testing.assert_array_equal(np.isnan(y), np.isnan(yt))
    hit = np.zeros((12, 12), bool)
    hit[4:7, 5:8] = True
    assert not np.isfinite(y[0][:, hit]).any() and np.isfinite(y[0][:, ~hit]).all()
    close(np.where(np.isfinite(yt), y, 0), np.where(np.isfinite(yt), yt, 0), 1e-4)
    gy = rng.standard_normal(y.shape).astype(np.float32)
    gw = F.conv2d_backward(gy, x, w, padding=1, needs=(0, 1, 0))[1]
    assert not np.isfinite(gw[:, 3]).any() and np.isfinite(np.delete(gw, 3, axis=1)).all()
    forced = F.conv2d(x, w, padding=1, engine="winograd")
    tile = np.zeros((12, 12), bool)
    tile[4:8, 4:8] = True
    assert not np.isfinite(forced[0][:, tile]).any()
    assert np.isfinite(forced[0][:, ~tile]).all()


@pytest.mark.parametrize("engine", ["im2col", "winograd", "depthwise"])
def test_engines_agree(engine):
    rng = np.random.default_rng(11)
    groups = 8 if engine == "depthwise" else 1
    x = rng.standard_normal((2, 8, 15, 13)).astype(np.float32)
    w = rng.standard_normal((8, 8 // groups, 3, 3)).astype(np.float32)
    y = F.conv2d(x, w, padding=1, groups=groups, engine=engine)
    ref = F.conv2d(x.astype(np.float64), w.astype(np.float64), padding=1, groups=groups,
                   engine="im2col")
    assert rel_err(y, ref) <= winograd.ERROR_BOUND[np.dtype(np.float32)]


def test_depthwise_p5_shape_and_multiplier():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 64, 56, 56)).astype(np.float32)
    for k, stride in ((64, 1), (128, 2)):
        w = rng.standard_normal((k, 1, 3, 3)).astype(np.float32)
        b = rng.standard_normal(k).astype(np.float32)
        assert "engine: depthwise" in F.explain_conv2d(x, w, stride=stride, padding=1, groups=64)
        y = F.conv2d(x, w, b, stride, 1, 1, 64)
        xt, wt, bt = T(x, True), T(w, True), T(b, True)
        yt = TF.conv2d(xt, wt, bt, stride, 1, 1, 64)
        close(y, yt, 1e-4)
        gy = rng.standard_normal(y.shape).astype(np.float32)
        yt.backward(T(gy))
        gx, gw, gb = F.conv2d_backward(gy, x, w, stride, 1, 1, 64)
        close(gx, xt.grad, 1e-4)
        close(gw, wt.grad, 1e-4)
        close(gb, bt.grad, 1e-4)


def test_planner_choices_and_forced_engines():
    p5 = F.explain_conv2d((8, 64, 56, 56), (64, 64, 3, 3), padding=1)
    assert p5.startswith("engine: winograd")
    assert F.explain_conv2d((1, 8, 9, 9), (8, 8, 3, 3), padding=1).startswith("engine: im2col")
    assert "fewer than 16" in F.explain_conv2d((1, 8, 9, 9), (8, 8, 3, 3))
    assert F.explain_conv2d((1, 64, 9, 9), (64, 64, 3, 3), stride=2).startswith(
        "engine: im2col")
    assert F.explain_conv2d((1, 64, 9, 9), (64, 1, 5, 5), groups=64).startswith(
        "engine: depthwise")
    assert "forced" in F.explain_conv2d((1, 64, 9, 9), (64, 64, 3, 3), engine="im2col")
    x = np.zeros((1, 4, 8, 8), np.float32)
    with pytest.raises(ValueError, match="engine='winograd' cannot.*stride"):
        F.conv2d(x, np.zeros((4, 4, 3, 3), np.float32), stride=2, engine="winograd")
    with pytest.raises(ValueError, match="engine='depthwise' cannot"):
        F.conv2d(x, np.zeros((4, 4, 3, 3), np.float32), engine="depthwise")
    with pytest.raises(ValueError, match="engine must be"):
        F.conv2d(x, np.zeros((4, 4, 3, 3), np.float32), engine="fft")


# --------------------------------------------------------------------------- finite differences


def fd_check(f, inputs, grads, rng, eps=1e-6, tol=1e-6):
    """The directional derivative of sum(gy * f(inputs)) along a random direction
    of each input equals <grad, direction> (central differences, float64)."""
    for i, g in enumerate(grads):
        d = rng.standard_normal(inputs[i].shape)
        plus = [a.copy() for a in inputs]
        minus = [a.copy() for a in inputs]
        plus[i] += eps * d
        minus[i] -= eps * d
        num = (f(*plus) - f(*minus)) / (2 * eps)
        ana = float((g * d).sum())
        assert abs(num - ana) <= tol * max(1.0, abs(ana)), (i, num, ana)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_conv2d_gradients_by_finite_differences(mode):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 4, 7, 6))
    w = rng.standard_normal((6, 2, 3, 2))
    b = rng.standard_normal(6)
    args = dict(stride=(2, 1), padding=(2, 1), dilation=(1, 2), groups=2, padding_mode=mode)
    gy = rng.standard_normal(F.conv2d(x, w, b, **args).shape)
    grads = F.conv2d_backward(gy, x, w, **args)

    def loss(x_, w_, b_):
        return float((gy * F.conv2d(x_, w_, b_, **args)).sum())

    fd_check(loss, [x, w, b], grads, rng)


def test_conv_transpose2d_and_winograd_gradients_by_finite_differences():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 5, 4))
    w = rng.standard_normal((4, 3, 3, 3))
    b = rng.standard_normal(6)
    args = dict(stride=2, padding=1, output_padding=(1, 0), groups=2, dilation=1)
    gy = rng.standard_normal(F.conv_transpose2d(x, w, b, **args).shape)
    grads = F.conv_transpose2d_backward(gy, x, w, **args)
    fd_check(lambda x_, w_, b_: float((gy * F.conv_transpose2d(x_, w_, b_, **args)).sum()),
             [x, w, b], grads, rng)
    x = rng.standard_normal((1, 16, 6, 7))
    w = rng.standard_normal((16, 16, 3, 3))
    gy = rng.standard_normal((1, 16, 6, 7))
    grads = F.conv2d_backward(gy, x, w, padding=1, engine="winograd", needs=(1, 1, 0))[:2]
    fd_check(lambda x_, w_: float((gy * F.conv2d(x_, w_, padding=1, engine="winograd")).sum()),
             [x, w], grads, rng)


# --------------------------------------------------------------------------- semantics


def test_same_padding_with_even_kernels_is_torchs():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((1, 2, 7, 8)).astype(np.float32)
    for r, s, d in ((2, 4, 1), (4, 2, 3), (2, 2, 2)):
        w = rng.standard_normal((3, 2, r, s)).astype(np.float32)
        y = F.conv2d(x, w, padding="same", dilation=d)
        assert y.shape[2:] == x.shape[2:]
        close(y, TF.conv2d(T(x), T(w), padding="same", dilation=d), 1e-4)


def test_unbatched_and_degenerate_inputs():
    rng = np.random.default_rng(9)
    x = rng.standard_normal((3, 6, 5)).astype(np.float32)
    w = rng.standard_normal((4, 3, 3, 3)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    close(F.conv2d(x, w, b, padding=1), TF.conv2d(T(x), T(w), T(b), padding=1), 1e-4)
    gx, gw, gb = F.conv2d_backward(np.ones((4, 6, 5), np.float32), x, w, padding=1)
    assert gx.shape == x.shape and gw.shape == w.shape and gb.shape == (4,)
    wt = rng.standard_normal((3, 2, 2, 2)).astype(np.float32)
    close(F.conv_transpose2d(x, wt, stride=2), TF.conv_transpose2d(T(x), T(wt), stride=2), 1e-4)
    empty = np.zeros((0, 3, 6, 5), np.float32)
    assert F.conv2d(empty, w, b).shape == (0, 4, 4, 3)
    gx, gw, gb = F.conv2d_backward(np.zeros((0, 4, 4, 3), np.float32), empty, w)
    assert gx.shape == empty.shape and not gw.any() and not gb.any()
    # torch refuses K = 0 and returns a (N, 0, ...) result for C = 0: both are errors.
    for wshape in ((0, 3, 3, 3), (4, 0, 3, 3)):
        with pytest.raises(ValueError, match="at least one output channel"):
            F.conv2d(np.zeros((2, wshape[1], 5, 5), np.float32), np.zeros(wshape, np.float32))


def test_needs_selects_gradients():
    rng = np.random.default_rng(10)
    x = rng.standard_normal((1, 2, 5, 5)).astype(np.float32)
    w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    gy = np.ones((1, 3, 3, 3), np.float32)
    gx, gw, gb = F.conv2d_backward(gy, x, w, needs=(False, True, False))
    assert gx is None and gb is None and gw.shape == w.shape
    gx, gw, gb = F.conv_transpose2d_backward(np.ones((1, 2, 5, 5), np.float32), gy, np.ones(
        (3, 2, 3, 3), np.float32), needs=(True, False, True))
    assert gw is None and gx.shape == (1, 3, 3, 3) and gb.shape == (2,)


def test_input_hygiene():
    """Non-contiguous, read-only, big-endian inputs give the same results and
    are never modified."""
    rng = np.random.default_rng(12)
    base = rng.standard_normal((2, 3, 9, 16))
    x = base[:, :, :, ::2]                                    # non-contiguous float64
    w = rng.standard_normal((4, 3, 3, 3)).astype(">f8")       # big-endian
    w.flags.writeable = False
    b = rng.standard_normal(4)
    b.flags.writeable = False
    keep = (x.copy(), w.copy(), b.copy())
    args = dict(padding=1, padding_mode="reflect")
    y = F.conv2d(x, w, b, **args)
    ref = F.conv2d(np.ascontiguousarray(x), w.astype("<f8"), b.copy(), **args)
    np.testing.assert_array_equal(y, ref)
    gy = rng.standard_normal(y.shape)[..., ::-1]
    gy.flags.writeable = False
    g = F.conv2d_backward(gy, x, w, **args)
    g_ref = F.conv2d_backward(np.ascontiguousarray(gy), np.ascontiguousarray(x),
                              w.astype("<f8"), **args)
    for a, r in zip(g, g_ref):
        np.testing.assert_array_equal(a, r)
    for a, k in zip((x, w, b), keep):
        np.testing.assert_array_equal(a, k)
    assert y.dtype == np.float64 and y.flags.c_contiguous


def _raises_both(ours, theirs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ours()
    with pytest.raises(Exception):  # noqa: B017 - torch's exception classes vary
        theirs()


X = np.zeros((1, 4, 6, 6), np.float32)
W = np.zeros((4, 4, 3, 3), np.float32)
XT, WT = torch.zeros(1, 4, 6, 6), torch.zeros(4, 4, 3, 3)

CONV_ERRORS = [
    (lambda: F.conv2d(X, W, stride=0), lambda: TF.conv2d(XT, WT, stride=0), "stride"),
    (lambda: F.conv2d(X, W, padding=-1), lambda: TF.conv2d(XT, WT, padding=-1), "padding"),
    (lambda: F.conv2d(X, W, dilation=0), lambda: TF.conv2d(XT, WT, dilation=0), "dilation"),
    (lambda: F.conv2d(X, W, groups=0), lambda: TF.conv2d(XT, WT, groups=0), "groups"),
    (lambda: F.conv2d(X, W[:3], groups=2), lambda: TF.conv2d(XT, WT[:3], groups=2), "groups"),
    (lambda: F.conv2d(X, W[:, :3]), lambda: TF.conv2d(XT, WT[:, :3]), "channels"),
    (lambda: F.conv2d(X, W, np.zeros(3, np.float32)),
     lambda: TF.conv2d(XT, WT, torch.zeros(3)), "bias"),
    (lambda: F.conv2d(X, W, stride=2, padding="same"),
     lambda: TF.conv2d(XT, WT, stride=2, padding="same"), "same"),
    (lambda: F.conv2d(X, W, padding="full"), lambda: TF.conv2d(XT, WT, padding="full"),
     "padding"),
    (lambda: F.conv2d(X, np.zeros((4, 4, 7, 3), np.float32)),
     lambda: TF.conv2d(XT, torch.zeros(4, 4, 7, 3)), "kernel"),
    (lambda: F.conv2d(X, W.astype(np.float64)), lambda: TF.conv2d(XT, WT.double()), "dtype"),
    (lambda: F.conv2d(X.astype(np.int64), W), lambda: TF.conv2d(XT.long(), WT), "dtype"),
    (lambda: F.conv2d(X[0, 0], W), lambda: TF.conv2d(XT[0, 0], WT), "dimensions"),
    (lambda: F.conv2d(X, W, stride=(1, 1, 1)), lambda: TF.conv2d(XT, WT, stride=(1, 1, 1)),
     "stride"),
    (lambda: F.conv2d(X, W, padding=6, padding_mode="reflect"),
     lambda: TF.pad(XT, (6, 6, 6, 6), mode="reflect"), "reflect"),
    (lambda: F.conv2d(X, W, padding=7, padding_mode="circular"),
     lambda: TF.pad(XT, (7, 7, 7, 7), mode="circular"), "circular"),
    (lambda: F.conv2d(X, W, padding_mode="mirror-ish"),
     lambda: torch.nn.Conv2d(4, 4, 3, padding_mode="mirror-ish"), "padding_mode"),
    (lambda: F.conv_transpose2d(X, W, output_padding=1),
     lambda: TF.conv_transpose2d(XT, WT, output_padding=1), "output_padding"),
    (lambda: F.conv_transpose2d(X, W, padding=5),
     lambda: TF.conv_transpose2d(XT, WT, padding=5), "too small"),
    (lambda: F.conv_transpose2d(X, W, padding="same"),
     lambda: TF.conv_transpose2d(XT, WT, padding="same"), "padding"),
    (lambda: F.conv_transpose2d(X, W[:3]), lambda: TF.conv_transpose2d(XT, WT[:3]),
     "channels"),
]


@pytest.mark.parametrize("ours,theirs,match", CONV_ERRORS)
def test_argument_errors_as_torch(ours, theirs, match):
    _raises_both(ours, theirs, match)


def test_backward_argument_errors():
    with pytest.raises(ValueError, match="grad_y must have the output's shape"):
        F.conv2d_backward(np.zeros((1, 4, 5, 5), np.float32), X, W)
    with pytest.raises(TypeError, match="grad_y has dtype float64"):
        F.conv2d_backward(np.zeros((1, 4, 4, 4)), X, W)
    with pytest.raises(ValueError, match="needs must be three"):
        F.conv2d_backward(np.zeros((1, 4, 4, 4), np.float32), X, W, needs=(True, True))
    with pytest.raises(TypeError, match="needs must be a bool"):
        F.conv2d_backward(np.zeros((1, 4, 4, 4), np.float32), X, W, needs=(1, "yes", 0))
    with pytest.raises(TypeError, match="x must be a float32 or float64 array"):
        F.conv2d("image", W)
    with pytest.raises(TypeError, match="stride must be an int"):
        F.conv2d(X, W, stride=1.5)


@pytest.mark.parametrize("th, tw, channels, images", [
    (1, 1, 3, 1), (14, 14, 64, 8), (14, 14, 64, 1), (56, 56, 16, 2), (4, 4, 512, 1),
    (200, 3, 1, 1)])
def test_winograd_blocks_partition_tile_rows(th, tw, channels, images):
    from faltung.nn._engines import threads

    blocks = winograd._blocks(th, tw, channels, images, 4)
    assert blocks[0][0] == 0 and blocks[-1][1] == th
    assert all(a < b for a, b in blocks)
    assert all(b0[1] == b1[0] for b0, b1 in zip(blocks, blocks[1:]))
    # enough tasks for every thread while tile rows last
    assert len(blocks) * images >= min(th * images, 2 * threads.cpu_count())
