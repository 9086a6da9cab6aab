"""Error Map Pruning from Python: skiptrain.ops.emp_conv2d, skiptrain.nn.EMPConv2d and
skiptrain.emp.convert against torch.nn.functional.conv2d and a slow sliced reference."""
import math
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import skiptrain
from skiptrain import emp, nn, ops

# (name, input shape, C_out, kernel, stride, padding, dilation, groups, bias)
CASES = [
    ("resnet3x3", (4, 16, 10, 10), 16, 3, 1, 1, 1, 1, False),
    ("lenet5x5pad2", (2, 1, 28, 28), 6, 5, 1, 2, 1, 1, True),
    ("lenet5x5", (2, 6, 14, 14), 16, 5, 1, 0, 1, 1, True),
    ("batch1", (1, 5, 7, 9), 8, 3, 1, 1, 1, 1, True),
    ("strided", (2, 4, 11, 9), 8, 3, 2, 1, 1, 1, True),
    ("dilated", (2, 4, 11, 9), 8, 3, 1, 2, 2, 1, True),
    ("grouped", (2, 8, 9, 9), 12, 3, 1, 1, 1, 4, True),
    ("depthwise", (2, 8, 9, 9), 8, 3, 1, 1, 1, 8, True),
    ("pointwise", (2, 8, 5, 6), 10, 1, 1, 0, 1, 1, True),
]
IDS = [c[0] for c in CASES]


def sample_inputs(case, dtype=torch.float32, seed=0):
    _, shape, cout, k, stride, pad, dil, groups, bias = case
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype)
    w = torch.randn(cout, shape[1] // groups, k, k, generator=g, dtype=dtype)
    b = torch.randn(cout, generator=g, dtype=dtype) if bias else None
    return x, w, b, dict(stride=stride, padding=pad, dilation=dil, groups=groups)


def reference_kept(delta, w, keep, g1=1.0, g2=1.0):
    dn = delta.double().abs().sum((0, 2, 3))
    wn = w.double().abs().flatten(1).sum(1)
    score = g1 * wn / wn.mean() + g2 * dn / dn.mean()
    k = max(1, math.ceil(keep * w.shape[0] - 1e-9))
    return score.topk(k).indices.sort().values


def reference_emp_grads(x, w, b, conv_args, delta, kept):
    """Slow, obviously right: backprop through the kept channels' conv only (per group)."""
    groups = conv_args["groups"]
    cout, cin_g = w.shape[0], w.shape[1]
    gi = torch.zeros_like(x)
    gw = torch.zeros_like(w)
    gb = torch.zeros_like(b) if b is not None else None
    per_group = cout // groups
    for j in kept.tolist():
        g = j // per_group
        xs = x[:, g * cin_g:(g + 1) * cin_g].detach().clone().requires_grad_(True)
        ws = w[j:j + 1].detach().clone().requires_grad_(True)
        bs = b[j:j + 1].detach().clone().requires_grad_(True) if b is not None else None
        y = F.conv2d(xs, ws, bs, conv_args["stride"], conv_args["padding"], conv_args["dilation"], 1)
        (y * delta[:, j:j + 1]).sum().backward()
        gi[:, g * cin_g:(g + 1) * cin_g] += xs.grad
        gw[j] = ws.grad[0]
        if b is not None:
            gb[j] = bs.grad[0]
    return gi, gw, gb


def test_library_loaded():
    assert skiptrain.__version__
    assert hasattr(torch.ops.skiptrain, "emp_conv2d")


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keep_one_equals_conv2d_float32(case):
    x, w, b, a = sample_inputs(case)
    x.requires_grad_(True)
    w.requires_grad_(True)
    params = [x, w] + ([b.requires_grad_(True)] if b is not None else [])
    y = ops.emp_conv2d(x, w, b, keep=1.0, **a)
    yd = F.conv2d(x, w, b, **a)
    torch.testing.assert_close(y, yd, rtol=1e-5, atol=1e-5)
    go = torch.randn_like(y)
    g = torch.autograd.grad(y, params, go)
    gd = torch.autograd.grad(yd, params, go)
    for a_, b_ in zip(g, gd):
        torch.testing.assert_close(a_, b_, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_keep_one_gradcheck_float64(case):
    x, w, b, a = sample_inputs(case, torch.float64)
    x = x[:1, :, :7, :7].clone() if case[0] != "lenet5x5pad2" else x[:1, :, :8, :8].clone()
    inputs = [x.requires_grad_(True), w.requires_grad_(True)]
    if b is not None:
        inputs.append(b.requires_grad_(True))

    def f(*t):
        return ops.emp_conv2d(t[0], t[1], t[2] if len(t) > 2 else None, keep=1.0, **a)

    assert torch.autograd.gradcheck(f, inputs)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("keep", [0.5, 0.25, 0.01])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_pruned_matches_sliced_reference(case, keep, dtype):
    x, w, b, a = sample_inputs(case, dtype, seed=1)
    y = F.conv2d(x, w, b, **a)
    scale = torch.linspace(0.5, 2.0, w.shape[0], dtype=dtype)[torch.randperm(w.shape[0])]
    delta = torch.randn(y.shape, dtype=dtype) * scale.view(1, -1, 1, 1)
    kept = ops.select_channels(delta, w, keep)
    assert torch.equal(kept, reference_kept(delta, w, keep))
    xg, wg = x.clone().requires_grad_(True), w.clone().requires_grad_(True)
    bg = b.clone().requires_grad_(True) if b is not None else None
    out = ops.emp_conv2d(xg, wg, bg, keep=keep, **a)
    out.backward(delta)
    ri, rw, rb = reference_emp_grads(x, w, b, a, delta, kept)
    tol = dict(rtol=1e-4, atol=1e-4) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(xg.grad, ri, **tol)
    torch.testing.assert_close(wg.grad, rw, **tol)
    pruned = torch.ones(w.shape[0], dtype=torch.bool)
    pruned[kept] = False
    assert kept.numel() == max(1, math.ceil(keep * w.shape[0] - 1e-9))
    assert torch.count_nonzero(wg.grad[pruned]) == 0
    if b is not None:
        torch.testing.assert_close(bg.grad, rb, **tol)
        assert torch.count_nonzero(bg.grad[pruned]) == 0


# Channels-last tensors (a channels-last model): C_in multiples of 16 take the NHWC kernels (3x3
# "same", 1x1, 5x5 with little padding, odd widths, batch 1); the strided case falls back.
CHANNELS_LAST_CASES = [
    ("cl3x3", (3, 16, 8, 8), 16, 3, 1, 1, 1, 1, True),
    ("cl3x3odd", (2, 32, 7, 9), 24, 3, 1, 1, 1, 1, False),
    ("cl3x3c64", (2, 64, 6, 6), 64, 3, 1, 1, 1, 1, False),
    ("cl3x3nopad", (2, 16, 9, 6), 8, 3, 1, 0, 1, 1, True),
    ("cl1x1", (2, 32, 5, 5), 16, 1, 1, 0, 1, 1, True),
    ("cl5x5", (2, 16, 9, 9), 16, 5, 1, 1, 1, 1, False),
    ("clbatch1", (1, 48, 4, 4), 10, 3, 1, 2, 1, 1, True),
    ("clstrided", (2, 16, 9, 9), 16, 3, 2, 1, 1, 1, False),
]


@pytest.mark.parametrize("keep", [0.5, 0.25])
@pytest.mark.parametrize("case", CHANNELS_LAST_CASES, ids=[c[0] for c in CHANNELS_LAST_CASES])
def test_channels_last_matches_sliced_reference(case, keep):
    cl = torch.channels_last
    x, w, b, a = sample_inputs(case, seed=2)
    y = F.conv2d(x, w, b, **a)
    delta = torch.randn(y.shape) * torch.linspace(0.5, 2.0, w.shape[0])[torch.randperm(w.shape[0])].view(1, -1, 1, 1)
    kept = reference_kept(delta, w, keep)
    assert torch.equal(ops.select_channels(delta.contiguous(memory_format=cl), w.contiguous(memory_format=cl), keep),
                       kept)
    xg = x.contiguous(memory_format=cl).requires_grad_(True)
    wg = w.contiguous(memory_format=cl).requires_grad_(True)
    bg = b.clone().requires_grad_(True) if b is not None else None
    ops.emp_conv2d(xg, wg, bg, keep=keep, **a).backward(delta.contiguous(memory_format=cl))
    ri, rw, rb = reference_emp_grads(x, w, b, a, delta, kept)
    torch.testing.assert_close(xg.grad, ri, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(wg.grad, rw, rtol=1e-4, atol=1e-4)
    if b is not None:
        torch.testing.assert_close(bg.grad, rb, rtol=1e-4, atol=1e-4)
    pruned = torch.ones(w.shape[0], dtype=torch.bool)
    pruned[kept] = False
    assert torch.count_nonzero(wg.grad[pruned]) == 0


@pytest.mark.parametrize("case", CHANNELS_LAST_CASES, ids=[c[0] for c in CHANNELS_LAST_CASES])
def test_sampled_channels_last_matches_sliced_reference(case):
    # The drawn channels' gradients, each scaled by 1/probability, through the channels-last kernels.
    cl = torch.channels_last
    x, w, b, a = sample_inputs(case, seed=3)
    delta = torch.randn(F.conv2d(x, w, b, **a).shape)
    torch.manual_seed(4)
    kept, scale = ops.sample_channels(delta, w, 0.5)
    xg = x.contiguous(memory_format=cl).requires_grad_(True)
    wg = w.contiguous(memory_format=cl).requires_grad_(True)
    bg = b.clone().requires_grad_(True) if b is not None else None
    torch.manual_seed(4)
    ops.emp_conv2d(xg, wg, bg, keep=0.5, sample=True, **a).backward(delta.contiguous(memory_format=cl))
    scaled = delta.clone()
    scaled[:, kept] *= scale.view(1, -1, 1, 1)
    ri, rw, rb = reference_emp_grads(x, w, b, a, scaled, kept)
    torch.testing.assert_close(xg.grad, ri, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(wg.grad, rw, rtol=1e-4, atol=1e-4)
    if b is not None:
        torch.testing.assert_close(bg.grad, rb, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("width", ["8", "0"], ids=["avx2", "aten-slice"])
def test_narrower_kernel_paths_match_the_reference(width):
    """The AVX2 kernels (8 floats per vector) and the ATen-on-the-kept-slice fallback (0), forced on
    this CPU through SKIPTRAIN_EMP_VECTOR_WIDTH: the reference tests again, in a fresh process."""
    env = dict(os.environ, SKIPTRAIN_EMP_VECTOR_WIDTH=width)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__,
                          "-k", "matches_sliced_reference"], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-3000:]
    assert " passed" in run.stdout


def test_selection_on_crafted_input():
    scale = torch.tensor([1.0, 5.0, 2.0, 7.0, 3.0, 0.5, 6.0, 4.0])
    delta = torch.ones(3, 8, 4, 4) * scale.view(1, -1, 1, 1)
    delta[0] = -delta[0]
    w = torch.ones(8, 2, 3, 3)
    assert ops.select_channels(delta, w, 0.5).tolist() == [1, 3, 6, 7]
    assert ops.select_channels(delta, w, 0.25, gamma1=0.0).tolist() == [3, 6]
    # Weight term decides when error maps are equal, despite a 1000x magnitude gap.
    w2 = torch.ones(8, 2, 3, 3) * torch.arange(1.0, 9.0).view(-1, 1, 1, 1)
    assert ops.select_channels(torch.full((2, 8, 3, 3), 1000.0), w2, 0.25).tolist() == [6, 7]


def test_non_contiguous_inputs():
    x = torch.randn(10, 6, 4, 8).permute(3, 1, 0, 2)
    w = torch.randn(3, 3, 6, 12).permute(3, 2, 0, 1)
    assert not x.is_contiguous() and not w.is_contiguous()
    xg, wg = x.detach().requires_grad_(True), w.detach().requires_grad_(True)
    xc, wc = x.contiguous().requires_grad_(True), w.contiguous().requires_grad_(True)
    y1 = ops.emp_conv2d(xg, wg, padding=1, keep=0.5)
    y2 = ops.emp_conv2d(xc, wc, padding=1, keep=0.5)
    delta = torch.randn(y1.shape[0], y1.shape[2], y1.shape[3], y1.shape[1]).permute(0, 3, 1, 2)
    y1.backward(delta)
    y2.backward(delta.contiguous())
    torch.testing.assert_close(xg.grad, xc.grad)
    torch.testing.assert_close(wg.grad, wc.grad)


def raw_emp_conv2d(x, w, bias=None, keep=0.5, gamma1=1.0, gamma2=1.0):
    """The registered op itself, past the Python checks: its own TORCH_CHECKs must hold too."""
    return torch.ops.skiptrain.emp_conv2d(x, w, bias, [1, 1], [0, 0], [1, 1], 1, keep, gamma1, gamma2)


@pytest.mark.parametrize("kwargs, word", [
    (dict(keep=0.0), "keep"),
    (dict(keep=1.5), "keep"),
    (dict(keep=-1.0), "keep"),
    (dict(keep=0.5, gamma1=-1.0), "gamma1"),
    (dict(keep=0.5, gamma2=-1.0), "gamma2"),
])
def test_op_boundary_rejects_bad_settings_naming_the_argument(kwargs, word):
    with pytest.raises(ValueError, match=word):
        raw_emp_conv2d(torch.randn(1, 2, 5, 5), torch.randn(4, 2, 3, 3), **kwargs)


def test_op_boundary_rejects_bad_shapes_and_dtypes_naming_the_argument():
    # The op itself raises Python's ValueError for a bad shape and TypeError for a bad dtype.
    x, w = torch.randn(2, 4, 8, 8), torch.randn(8, 4, 3, 3)
    with pytest.raises(ValueError, match="input"):
        raw_emp_conv2d(x[0], w)
    with pytest.raises(ValueError, match="weight"):
        raw_emp_conv2d(x, torch.randn(8, 3, 3, 3))
    with pytest.raises(TypeError, match="dtype"):
        raw_emp_conv2d(x, w.double())
    with pytest.raises(ValueError, match="bias"):
        raw_emp_conv2d(x, w, torch.randn(5))
    with pytest.raises(TypeError, match="input"):
        raw_emp_conv2d(x.int(), w.int())
    with pytest.raises(ValueError, match="grad_output"):
        torch.ops.skiptrain._emp_conv2d_backward(torch.randn(2, 7, 8, 8), x, w, [1, 1], [1, 1], [1, 1], 1,
                                                 0.5, 1.0, 1.0, False, [True, True, False])
    with pytest.raises(TypeError, match="floating"):
        torch.ops.skiptrain.quantize(torch.zeros(3, dtype=torch.int32), 8, False)
    with pytest.raises(ValueError, match="bits"):
        torch.ops.skiptrain.quantize(torch.zeros(3), 40, False)


class ScriptedNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w1 = torch.nn.Parameter(torch.randn(8, 3, 3, 3))
        self.w2 = torch.nn.Parameter(torch.randn(16, 8, 3, 3))
        self.b2 = torch.nn.Parameter(torch.randn(16))

    def forward(self, x):
        h = torch.relu(torch.ops.skiptrain.emp_conv2d(x, self.w1, None, [1, 1], [1, 1], [1, 1], 1, 1.0, 1.0, 1.0))
        return torch.ops.skiptrain.emp_conv2d(h, self.w2, self.b2, [1, 1], [1, 1], [1, 1], 1, 0.25, 1.0, 1.0)


def test_torchscript_matches_eager():
    torch.manual_seed(0)
    net = ScriptedNet()
    scripted = torch.jit.script(net)
    assert "skiptrain::emp_conv2d" in str(scripted.graph)
    x = torch.randn(2, 3, 8, 8)
    y_eager, y_script = net(x), scripted(x)
    torch.testing.assert_close(y_eager, y_script)
    delta = torch.randn_like(y_eager)
    g_eager = torch.autograd.grad(y_eager, list(net.parameters()), delta)
    g_script = torch.autograd.grad(y_script, list(scripted.parameters()), delta)
    for a, b in zip(g_eager, g_script):
        torch.testing.assert_close(a, b)
    assert int((g_script[1].flatten(1).abs().sum(1) > 0).sum()) == 4  # ceil(0.25 * 16)


def test_empconv2d_is_drop_in():
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(4, 8, 3, padding=1)
    conv = nn.EMPConv2d(4, 8, 3, padding=1, keep=0.25)
    assert isinstance(conv, torch.nn.Conv2d)
    assert list(conv.state_dict().keys()) == list(ref.state_dict().keys())
    conv.load_state_dict(ref.state_dict())
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(conv(x), ref(x))
    conv(x).pow(2).sum().backward()
    assert int((conv.weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 2
    conv.eval()
    conv.weight.grad = None
    conv(x).pow(2).sum().backward()
    assert int((conv.weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 8
    assert "keep=0.25" in repr(conv)
    with pytest.raises(ValueError, match="padding_mode"):
        nn.EMPConv2d(4, 8, 3, padding=1, padding_mode="reflect", keep=0.5)
    with pytest.raises(ValueError, match="keep"):
        nn.EMPConv2d(4, 8, 3, keep=0.0)


def test_sampled_empconv2d_gradients_average_to_the_dense_ones():
    torch.manual_seed(0)
    conv = nn.EMPConv2d(4, 8, 3, padding=1, keep=0.5, sample=True).double()
    x = torch.randn(2, 4, 6, 6, dtype=torch.float64)
    delta = torch.randn(2, 8, 6, 6, dtype=torch.float64) * torch.linspace(0.5, 2, 8, dtype=torch.float64).view(1, -1, 1, 1)
    dense = torch.autograd.grad(F.conv2d(x, conv.weight, conv.bias, padding=1), conv.weight, delta)[0]
    draws = [torch.autograd.grad(conv(x), conv.weight, delta)[0] for _ in range(2000)]
    assert all(int((g.flatten(1).abs().sum(1) > 0).sum()) == 4 for g in draws[:20])
    mean = torch.stack(draws).mean(0)
    assert float((mean - dense).norm() / dense.norm()) < 0.05
    assert "sample=True" in repr(conv)
    # The paper's rule (the default) keeps the same, best-scoring half: biased.
    conv.sample = False
    top = torch.autograd.grad(conv(x), conv.weight, delta)[0]
    assert float((top - dense).norm() / dense.norm()) > 0.2
    with pytest.raises(TypeError, match="sample"):
        nn.EMPConv2d(4, 8, 3, keep=0.5, sample=1)


def test_sample_channels_draws_the_kept_count_with_scales():
    # Error-map norms 1, 1, 10, 1, 1 (gamma1 = 0): channel 2 is sure (scale 1), the others share one draw (scale 4).
    torch.manual_seed(1)
    delta = torch.ones(2, 5, 3, 3) * torch.tensor([1.0, 1.0, 10.0, 1.0, 1.0]).view(1, -1, 1, 1)
    for _ in range(20):
        kept, scale = ops.sample_channels(delta, torch.ones(5, 2, 3, 3), keep=0.4, gamma1=0.0)
        assert kept.dtype == torch.int64 and kept.numel() == 2 and bool((kept.diff() > 0).all())
        assert 2 in kept.tolist() and scale.dtype == torch.float32
        torch.testing.assert_close(scale, torch.where(kept == 2, 1.0, 4.0))
    with pytest.raises(ValueError, match="keep"):
        ops.sample_channels(delta, torch.ones(5, 2, 3, 3), keep=0.0)


def test_convert_and_set_keep():
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
        torch.nn.Sequential(torch.nn.Conv2d(8, 8, 3, padding=1, groups=8), torch.nn.Conv2d(8, 16, 1)),
        torch.nn.Conv2d(16, 16, 3, stride=2, dilation=2, padding=2),
    )
    keys = list(model.state_dict().keys())
    x = torch.randn(2, 3, 8, 8)
    before = model(x)
    copy = emp.convert(model, keep=0.25, inplace=False, exclude=["2.1"])
    assert not any(isinstance(m, nn.EMPConv2d) for m in model.modules())  # original untouched
    assert type(copy[0]) is torch.nn.Conv2d  # skip_first
    assert isinstance(copy[2][0], nn.EMPConv2d) and isinstance(copy[3], nn.EMPConv2d)
    assert type(copy[2][1]) is torch.nn.Conv2d  # excluded
    converted = emp.convert(model, keep=0.25, gamma1=0.0, gamma2=1.0)
    assert converted is model
    assert list(model.state_dict().keys()) == keys
    assert model[3].gamma1 == 0.0
    torch.testing.assert_close(model(x), before)
    model(x).pow(2).sum().backward()
    assert int((model[3].weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 4
    assert int((model[2][0].weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 2
    assert emp.set_keep(model, 1.0) == 3
    model.zero_grad(set_to_none=True)
    model(x).pow(2).sum().backward()
    assert int((model[3].weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 16
    # Optimizers built before convert still see the same parameters.
    bare = emp.convert(torch.nn.Conv2d(3, 4, 3), keep=0.5, skip_first=False)
    assert isinstance(bare, nn.EMPConv2d) and not bare.sample
    assert emp.convert(model, keep=0.25, sample=True)[3].sample
    assert emp.set_keep(model, 0.5) == 3 and model[3].sample
    with pytest.raises(ValueError, match="keep"):
        emp.convert(model, keep=2.0)


def test_convert_layer_keep_gives_matching_convs_their_own_fraction():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 8, 3), torch.nn.Conv2d(8, 16, 3))
    emp.convert(model, keep=0.5, gamma1=0.0, layer_keep={"1": 0.25, "*": 1.0})
    assert type(model[0]) is torch.nn.Conv2d  # skip_first wins over the rules
    assert (model[1].keep, model[1].gamma1) == (0.25, 0.0)  # the first matching pattern
    assert model[2].keep == 1.0
    model(torch.randn(2, 3, 9, 9)).pow(2).sum().backward()
    assert int((model[1].weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 2
    assert int((model[2].weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 16
    with pytest.raises(ValueError, match=r"\['0', 'x'\].*convs: 0, 1, 2"):  # the first conv stays dense
        emp.convert(model, keep=0.5, layer_keep={"0": 0.5, "1": 0.75, "x": 0.5})
    assert (model[1].keep, model[2].keep) == (0.25, 1.0)  # the failed call changed nothing
    emp.convert(model, keep=0.5, layer_keep={"2": 0.75})  # converted convs get the new settings
    assert (model[1].keep, model[2].keep) == (0.5, 0.75)
    with pytest.raises(ValueError, match=r"layer_keep\['1'\].*keep"):
        emp.convert(model, keep=0.5, layer_keep={"1": 1.5})
    with pytest.raises(TypeError, match="layer_keep"):
        emp.convert(model, keep=0.5, layer_keep=[("1", 0.5)])
