"""skiptrain's CUDA kernels against its CPU kernels (the reference) on fresh random inputs:
select_channels picks the CPU's channels (ties and channels-last included), emp_conv2d's pruned
backward gives the CPU's gradients (keep = 1: torch's dense ones), quantize rounds as the CPU does
(stochastic rounding: unbiased), max_pool2x2 gives the CPU's values, codes and gradients, and the
channel selection can be captured in a CUDA graph. Skipped without a CUDA GPU."""
import math

import pytest
import torch
import torch.nn.functional as F

from skiptrain import nn, ops
from test_emp import CASES, sample_inputs
from test_torch2_ops import OPCHECK_NAMES, opcheck_cases

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU: compares skiptrain's CUDA kernels with its CPU kernels")

CL = torch.channels_last


@pytest.fixture(autouse=True)
def exact_float32_convolutions():
    """cuDNN's TF32 (the default on Ampere and later) rounds float32 convolutions to 10-bit mantissas."""
    saved = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32 = saved


def test_library_has_cuda_kernels():
    for op in ["select_channels", "quantize", "max_pool2x2_with_codes", "_max_pool2x2_backward"]:
        assert torch._C._dispatch_has_kernel_for_dispatch_key(f"skiptrain::{op}", "CUDA"), (
            f"skiptrain::{op} has no CUDA kernel: libskiptrain was built without its CUDA kernels "
            "(SKIPTRAIN_WITH_CUDA=ON needs nvcc)")


def error_map(shape, dtype, seed):
    """[N, C, H, W] with channel magnitudes spread over 0.5..2 (a clear ranking, as in training)."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.linspace(0.5, 2.0, shape[1], dtype=dtype)[torch.randperm(shape[1], generator=g)]
    return torch.randn(shape, generator=g, dtype=dtype) * scale.view(1, -1, 1, 1)


# (name, grad_output shape, weight shape[1:])
SELECT_CASES = [
    ("lenet", (8, 6, 24, 24), (1, 5, 5)),
    ("resnet", (16, 64, 8, 8), (64, 3, 3)),
    ("wide", (2, 300, 5, 5), (16, 3, 3)),
    ("big_plane", (1, 16, 70, 70), (3, 3, 3)),
    ("stage1_batch128", (128, 16, 32, 32), (16, 3, 3)),  # 128 partials per channel: the lanes' stride
    ("batch1_pointwise", (1, 40, 1, 1), (7, 1, 1)),
    ("many_channels", (2, 5000, 2, 2), (4, 1, 1)),  # more than the ranking block holds: ATen's sort
]


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("gammas", [(1.0, 1.0), (0.0, 1.0), (1.0, 0.0), (0.3, 2.0)])
@pytest.mark.parametrize("keep", [0.5, 0.25, 0.01])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", SELECT_CASES, ids=[c[0] for c in SELECT_CASES])
def test_select_channels_matches_cpu(case, dtype, keep, gammas, layout):
    _, shape, w_rest = case
    delta = error_map(shape, dtype, seed=shape[1])
    w = torch.randn((shape[1],) + w_rest, dtype=dtype)
    if layout == "channels_last":
        delta, w = delta.contiguous(memory_format=CL), w.contiguous(memory_format=CL)
    # The CUDA kernel sums in double whatever the dtype; the CPU kernel sums float32 partly in float32,
    # which could order two nearly equal channels differently: its float64 run is the reference.
    expected = ops.select_channels(delta.double(), w.double(), keep, *gammas)
    got = ops.select_channels(delta.cuda(), w.cuda(), keep, *gammas)
    assert got.device.type == "cuda" and got.dtype == torch.int64
    assert torch.equal(got.cpu(), expected)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_select_channels_half_types_match_the_cpu_in_double(dtype):
    # The CUDA kernel reads half types directly (and sums in double); the CPU kernel has none.
    delta = error_map((4, 32, 6, 6), torch.float32, seed=3).to(dtype)
    w = torch.randn(32, 8, 3, 3).to(dtype)
    expected = ops.select_channels(delta.double(), w.double(), 0.25)
    for layout in [torch.contiguous_format, CL]:
        got = ops.select_channels(delta.cuda().contiguous(memory_format=layout), w.cuda(), 0.25)
        assert torch.equal(got.cpu(), expected)


def test_select_channels_ties_go_to_the_lower_index():
    # Channel scores drawn from three values: most channels tie with others.
    level = torch.tensor([1.0, 3.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 3.0, 1.0])
    delta = torch.ones(3, 12, 4, 4) * level.view(1, -1, 1, 1)
    w = torch.ones(12, 2, 3, 3)
    for keep in [0.25, 0.5, 0.75]:
        for layout in [torch.contiguous_format, CL]:
            d = delta.contiguous(memory_format=layout)
            expected = ops.select_channels(d, w, keep)
            assert torch.equal(ops.select_channels(d.cuda(), w.cuda(), keep).cpu(), expected)
    assert ops.select_channels(delta.cuda(), w.cuda(), 0.25).tolist() == [1, 3, 6]
    # Everything equal (a zero error map and equal filters): the lowest indices.
    assert ops.select_channels(torch.zeros(2, 12, 3, 3).cuda(), w.cuda(), 0.5).tolist() == list(range(6))
    many = torch.ones(1, 6000, 1, 1).cuda()
    assert ops.select_channels(many, torch.ones(6000, 1, 1, 1).cuda(), 0.001).tolist() == list(range(6))


def test_select_channels_is_captured_by_a_cuda_graph():
    delta = error_map((8, 64, 6, 6), torch.float32, seed=4).cuda()
    w = torch.randn(64, 32, 3, 3).cuda()
    args = (0.25, 1.0, 1.0)
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up outside the capture, as torch.cuda.graphs asks
        torch.ops.skiptrain.select_channels(delta, w, *args)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        kept = torch.ops.skiptrain.select_channels(delta, w, *args)
    for seed in [5, 6]:
        fresh = error_map((8, 64, 6, 6), torch.float32, seed=seed)
        delta.copy_(fresh)
        graph.replay()
        torch.cuda.synchronize()
        assert torch.equal(kept.cpu(), ops.select_channels(fresh, w.cpu(), *args))


def emp_grads(x, w, b, conv_args, delta, keep, device, memory_format=torch.contiguous_format):
    """Output and (input, weight, bias) gradients of emp_conv2d on `device` for upstream `delta`;
    x, w and delta in `memory_format`."""
    x, w, delta = (t.to(device).contiguous(memory_format=memory_format) for t in (x, w, delta))
    leaves = [t.detach().to(device).requires_grad_(True) if t is not None else None for t in (x, w, b)]
    y = ops.emp_conv2d(*leaves, keep=keep, **conv_args)
    y.backward(delta)
    return y.detach(), [t.grad if t is not None else None for t in leaves]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_emp_conv2d_keep_one_is_dense_conv2d_on_cuda(case):
    x, w, b, a = sample_inputs(case, torch.float64, seed=7)
    delta = error_map(F.conv2d(x, w, b, **a).shape, torch.float64, seed=8)
    y, grads = emp_grads(x, w, b, a, delta, 1.0, "cuda")
    leaves = [t.cuda().requires_grad_(True) if t is not None else None for t in (x, w, b)]
    y_dense = F.conv2d(*leaves, **a)
    y_dense.backward(delta.cuda())
    torch.testing.assert_close(y, y_dense.detach(), rtol=1e-10, atol=1e-10)
    for got, leaf in zip(grads, leaves):
        if leaf is not None:
            torch.testing.assert_close(got, leaf.grad, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("keep", [0.5, 0.25])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_emp_conv2d_pruned_backward_matches_cpu(case, keep):
    x, w, b, a = sample_inputs(case, torch.float64, seed=9)
    delta = error_map(F.conv2d(x, w, b, **a).shape, torch.float64, seed=10)
    y_cpu, grads_cpu = emp_grads(x, w, b, a, delta, keep, "cpu")
    y_cuda, grads_cuda = emp_grads(x, w, b, a, delta, keep, "cuda")
    torch.testing.assert_close(y_cuda.cpu(), y_cpu, rtol=1e-10, atol=1e-10)
    kept = max(1, math.ceil(keep * w.shape[0] - 1e-9))
    assert int((grads_cuda[1].flatten(1).abs().sum(1) > 0).sum()) == kept
    for got, expected in zip(grads_cuda, grads_cpu):
        if expected is not None:
            torch.testing.assert_close(got.cpu(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("case", CASES[:3] + CASES[-1:], ids=lambda c: c[0])
def test_emp_conv2d_channels_last_stays_channels_last_on_cuda(case):
    x, w, b, a = sample_inputs(case, torch.float32, seed=11)
    delta = error_map(F.conv2d(x, w, b, **a).shape, torch.float32, seed=12)
    _, grads_cpu = emp_grads(x, w, b, a, delta, 0.5, "cpu")
    _, grads_cuda = emp_grads(x, w, b, a, delta, 0.5, "cuda", memory_format=CL)
    assert grads_cuda[0].is_contiguous(memory_format=CL)
    for got, expected in zip(grads_cuda, grads_cpu):
        if expected is not None:
            torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-4)


def test_empconv2d_module_trains_on_cuda():
    torch.manual_seed(13)
    conv = nn.EMPConv2d(16, 16, 3, 1, 1, keep=0.5).cuda()
    x = torch.randn(4, 16, 12, 12, device="cuda", requires_grad=True)
    y = conv(x)
    assert y.shape == (4, 16, 12, 12) and y.is_cuda
    y.pow(2).sum().backward()
    assert x.grad.is_cuda and torch.isfinite(x.grad).all()
    assert int((conv.weight.grad.flatten(1).abs().sum(1) > 0).sum()) == 8
    assert int((conv.bias.grad != 0).sum()) == 8


@pytest.mark.parametrize("bits", [2, 4, 8, 16])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_quantize_nearest_matches_cpu(dtype, bits):
    g = torch.Generator().manual_seed(bits)
    for x in [torch.randn(3, 5, 7, 11, generator=g, dtype=dtype) * 3 + 1,
              torch.randn(4, 8, 6, 6, generator=g, dtype=dtype).contiguous(memory_format=CL),
              torch.rand(100003, generator=g, dtype=dtype)]:
        expected = ops.quantize(x, bits)
        got = ops.quantize(x.cuda(), bits)
        assert got.is_contiguous(memory_format=torch.channels_last) == expected.is_contiguous(memory_format=CL)
        assert torch.equal(got.cpu(), expected)


def test_quantize_constant_and_non_finite_tensors_pass_unchanged():
    for x in [torch.full((4, 4), 2.5), torch.tensor([0.0, float("nan"), 1.0]), torch.tensor([0.0, float("inf")])]:
        for stochastic in [False, True]:
            got = ops.quantize(x.cuda(), 4, stochastic=stochastic).cpu()
            torch.testing.assert_close(got, x, rtol=0, atol=0, equal_nan=True)
    assert ops.quantize(torch.empty(0, 3).cuda(), 4).shape == (0, 3)


def test_quantize_stochastic_is_unbiased_and_seeded_on_cuda():
    x = torch.full((400000,), 0.3, device="cuda")
    x[0], x[1] = 0.0, 1.0  # range [0, 1]: 2 bits give levels 0, 1/3, 2/3, 1
    torch.cuda.manual_seed(0)
    q = ops.quantize(x, 2, stochastic=True)
    body = q[2:]
    assert body.mean().item() == pytest.approx(0.3, abs=2e-3)
    assert bool(((body == 0) | ((body - 1 / 3).abs() < 1e-6)).all())
    torch.cuda.manual_seed(0)
    assert torch.equal(ops.quantize(x, 2, stochastic=True), q)
    assert not torch.equal(ops.quantize(x, 2, stochastic=True), q)  # the generator moved on


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_quantize_half_types_stay_on_the_grid(dtype):
    x = (torch.rand(64, 64, device="cuda") * 4 - 1).to(dtype)
    lo, hi = x.min().float(), x.max().float()
    step = (hi - lo) / 255
    for stochastic in [False, True]:
        q = ops.quantize(x, 8, stochastic=stochastic)
        assert q.dtype == dtype
        # Within a level (nearest: half a level), plus the rounding of the level's value to `dtype`.
        assert float(((q.float() - x.float()).abs() / step).max()) <= (1.25 if stochastic else 0.75)


def test_quantize_grad_rounds_the_error_map_on_cuda():
    x = torch.randn(8, 16, device="cuda", requires_grad=True)
    y = ops.quantize_grad(x, 4)
    assert torch.equal(y, x)
    g = torch.randn(8, 16, device="cuda")
    y.backward(g)
    step = (g.max() - g.min()) / 15
    k = (x.grad - g.min()) / step
    assert float((k - k.round()).abs().max()) < 1e-3
    assert float((x.grad - g).abs().max()) <= float(step) * (1 + 1e-4)


def pool_cpu_and_cuda(x):
    """(output, codes, input gradient) of max_pool2x2_with_codes on the CPU and on CUDA."""
    upstream = torch.randn(x.shape[0], x.shape[1], x.shape[2] // 2, x.shape[3] // 2, dtype=x.dtype)
    results = []
    for device in ["cpu", "cuda"]:
        leaf = x.detach().to(device).requires_grad_(True)
        out, codes = torch.ops.skiptrain.max_pool2x2_with_codes(leaf)
        out.backward(upstream.to(device))
        results.append((out.detach(), codes, leaf.grad))
    return results


POOL_SHAPES = [(64, 6, 24, 24), (3, 5, 7, 9), (1, 2, 5, 4), (2, 3, 2, 2), (2, 7, 3, 6), (2, 16, 13, 13)]


@pytest.mark.parametrize("layout", ["nchw", "channels_last"])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", POOL_SHAPES, ids=str)
def test_max_pool2x2_matches_cpu(shape, dtype, layout):
    x = torch.randn(shape, dtype=dtype)
    if layout == "channels_last":
        x = x.contiguous(memory_format=CL)
    (out_cpu, codes_cpu, grad_cpu), (out, codes, grad) = pool_cpu_and_cuda(x)
    for got, expected in [(out, out_cpu), (codes, codes_cpu), (grad, grad_cpu)]:
        assert got.is_cuda and torch.equal(got.cpu(), expected)
        assert got.is_contiguous(memory_format=CL) == expected.is_contiguous(memory_format=CL)


def test_max_pool2x2_ties_and_nan_match_cpu():
    ties = torch.randint(0, 3, (8, 5, 9, 8)).double()  # most windows hold a tied maximum
    nan = torch.arange(2 * 4 * 4, dtype=torch.float64).reshape(2, 1, 4, 4)
    nan[0, 0, 0, 1] = nan[1, 0, 3, 3] = nan[1, 0, 0, 0] = float("nan")
    for x in [ties, ties.contiguous(memory_format=CL), nan]:
        (out_cpu, codes_cpu, grad_cpu), (out, codes, grad) = pool_cpu_and_cuda(x)
        assert torch.equal(codes.cpu(), codes_cpu)
        assert torch.equal(grad.cpu(), grad_cpu)
        torch.testing.assert_close(out.cpu(), out_cpu, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_max_pool2x2_equals_max_pool2d_on_cuda(dtype):
    for x in [torch.randn(4, 3, 7, 8, device="cuda", dtype=dtype),
              torch.randn(4, 32, 9, 10, device="cuda", dtype=dtype).contiguous(memory_format=CL)]:
        ours, theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
        out = torch.ops.skiptrain.max_pool2x2_with_codes(ours)[0]
        ref = F.max_pool2d(theirs, 2, 2)
        upstream = torch.randn_like(ref)
        out.backward(upstream)
        ref.backward(upstream)
        assert torch.equal(out, ref)
        assert torch.equal(ours.grad, theirs.grad)


def test_max_pool2x2_gradcheck_on_cuda():
    x = (torch.randperm(2 * 3 * 5 * 7, dtype=torch.float64) / 10).reshape(2, 3, 5, 7).cuda().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t: torch.ops.skiptrain.max_pool2x2_with_codes(t)[0], (x,))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_opcheck_of_sample_channels_on_cuda_in_half_precision(dtype):
    # The fake kernel against the CUDA one, whose scales stay float32 for half and bfloat16 gradients
    # (no output comparison: the draw differs between runs by design).
    delta = torch.randn(3, 12, 7, 7, device="cuda", dtype=dtype)
    w = torch.randn(12, 5, 3, 3, device="cuda", dtype=dtype)
    utils = ("test_schema", "test_autograd_registration", "test_faketensor")
    torch.library.opcheck(torch.ops.skiptrain.sample_channels, (delta, w, 0.5, 1.0, 1.0), test_utils=utils)
    assert torch.ops.skiptrain.sample_channels(delta, w, 0.5, 1.0, 1.0)[1].dtype == torch.float32


@pytest.mark.parametrize("index", range(len(OPCHECK_NAMES)), ids=OPCHECK_NAMES)
def test_opcheck_on_cuda(index):
    """test_torch2_ops.py's opcheck cases on CUDA: schema, autograd registration, the fake kernels
    (python/skiptrain/_fake.py) against the CUDA kernels, and AOT dispatch."""
    _, op, args = opcheck_cases("cuda")[index]
    torch.library.opcheck(op, args)
