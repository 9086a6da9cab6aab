"""What torch 2.x users expect of a custom op: every tensor op of ``torch.ops.skiptrain`` passes
``torch.library.opcheck`` (schema, autograd registration, fake kernel, AOT dispatch with dynamic
shapes), a bad argument at the op boundary raises a Python exception naming it (never a crash),
and a model converted with ``skiptrain.emp.convert`` trains under ``torch.compile`` with the
gradients of eager mode."""
import pytest
import torch

import skiptrain  # noqa: F401  (loads the ops and their fake kernels)
from skiptrain import emp

OPS = torch.ops.skiptrain


def _conv_inputs(seed=0, channels_last=False, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 8, 7, 7, generator=g, dtype=torch.float64).to(device)
    w = torch.randn(12, 8, 3, 3, generator=g, dtype=torch.float64).to(device).requires_grad_(True)
    b = torch.randn(12, generator=g, dtype=torch.float64).to(device).requires_grad_(True)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    return x.requires_grad_(True), w, b


def opcheck_cases(device="cpu"):
    """(name, op, arguments) for torch.library.opcheck: every tensor op of skiptrain, in float64 on
    `device` (test_cuda_ops.py runs the same cases on a GPU)."""
    x, w, b = _conv_inputs(device=device)
    xl, _, _ = _conv_inputs(channels_last=True, device=device)
    delta = torch.randn(3, 12, 7, 7, dtype=torch.float64).to(device)
    image = torch.randn(2, 3, 6, 8, dtype=torch.float64).to(device).requires_grad_(True)
    pooled, codes = OPS.max_pool2x2_with_codes(image.detach())
    return [
        ("emp_conv2d keep 0.5", OPS.emp_conv2d, (x, w, b, [1, 1], [1, 1], [1, 1], 1, 0.5, 1.0, 1.0)),
        ("emp_conv2d keep 1", OPS.emp_conv2d, (x, w, None, [2, 2], [1, 1], [1, 1], 1, 1.0, 1.0, 1.0)),
        ("emp_conv2d channels-last", OPS.emp_conv2d, (xl, w, b, [1, 1], [1, 1], [1, 1], 1, 0.25, 1.0, 1.0)),
        ("_emp_conv2d_backward", OPS._emp_conv2d_backward,
         (delta, x.detach(), w.detach(), [1, 1], [1, 1], [1, 1], 1, 0.5, 1.0, 1.0, False, [True, True, True])),
        ("select_channels", OPS.select_channels, (delta, w.detach(), 0.5, 1.0, 1.0)),
        ("select_channels channels-last", OPS.select_channels,
         (delta.contiguous(memory_format=torch.channels_last), w.detach(), 0.25, 1.0, 1.0)),
        ("quantize nearest", OPS.quantize, (x, 4, False)),
        ("max_pool2x2_with_codes", OPS.max_pool2x2_with_codes, (image,)),
        ("_max_pool2x2_backward", OPS._max_pool2x2_backward, (torch.randn_like(pooled), codes, 6, 8)),
    ]


OPCHECK_NAMES = [case[0] for case in opcheck_cases()]


@pytest.mark.parametrize("index", range(len(OPCHECK_NAMES)), ids=OPCHECK_NAMES)
def test_opcheck(index):
    _, op, args = opcheck_cases()[index]
    torch.library.opcheck(op, args)


def test_opcheck_of_the_random_quantizers_without_output_comparison():
    # Stochastic rounding draws fresh noise on every call, so eager and compiled outputs differ by
    # design: check everything but the comparison of values.
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    utils = ("test_schema", "test_autograd_registration", "test_faketensor")
    torch.library.opcheck(OPS.quantize, (x, 8, True), test_utils=utils)
    torch.library.opcheck(OPS.quantize_grad, (x, 8), test_utils=utils)


def test_opcheck_of_sampled_error_map_pruning_without_output_comparison():
    # sample_channels draws its channels from the generator, so eager and compiled runs differ by design.
    x, w, b = _conv_inputs()
    delta = torch.randn(3, 12, 7, 7, dtype=torch.float64)
    utils = ("test_schema", "test_autograd_registration", "test_faketensor")
    torch.library.opcheck(OPS.sample_channels, (delta, w.detach(), 0.5, 1.0, 1.0), test_utils=utils)
    # The fake kernel's scale dtype is float32 for half gradients (every channel kept: the CPU draws
    # in float and double only).
    torch.library.opcheck(OPS.sample_channels, (delta.half(), w.detach().half(), 1.0, 1.0, 1.0), test_utils=utils)
    torch.library.opcheck(OPS.emp_conv2d, (x, w, b, [1, 1], [1, 1], [1, 1], 1, 0.5, 1.0, 1.0, True), test_utils=utils)
    torch.library.opcheck(OPS._emp_conv2d_backward, (delta, x.detach(), w.detach(), [1, 1], [1, 1], [1, 1], 1, 0.5,
                                                     1.0, 1.0, True, [True, True, True]), test_utils=utils)


@pytest.mark.parametrize("keep", [0.0, 2.0, float("nan"), -0.5])
def test_bad_keep_at_the_op_boundary_raises_naming_keep(keep):
    x, w, b = _conv_inputs()
    with pytest.raises(ValueError, match="keep"):
        OPS.emp_conv2d(x, w, b, [1, 1], [0, 0], [1, 1], 1, keep, 1.0, 1.0)
    with pytest.raises(ValueError, match="keep"):
        OPS.select_channels(torch.randn(3, 12, 5, 5, dtype=torch.float64), w.detach(), keep, 1.0, 1.0)


def test_bad_keep_in_a_subprocess_does_not_kill_the_interpreter():
    # The crash this guards against (torch 2.x, SIGSEGV instead of an exception) killed the whole
    # process, so run it where a crash is observable as an exit code.
    import subprocess
    import sys

    code = ("import torch, skiptrain\n"
            "x = torch.randn(1, 2, 4, 4); w = torch.randn(2, 2, 3, 3)\n"
            "try:\n"
            "    torch.ops.skiptrain.emp_conv2d(x, w, None, [1, 1], [0, 0], [1, 1], 1, 2.0, 1.0, 1.0)\n"
            "except ValueError as e:\n"
            "    print('raised:', 'keep' in str(e))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "raised: True" in result.stdout


class _SmallNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, padding=1)
        self.conv3 = torch.nn.Conv2d(16, 16, 3, padding=1)
        self.fc = torch.nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.conv3(x))
        return self.fc(x.mean((2, 3)))


def _grads(model, x, y, run=None):
    """Gradients of ``model``'s parameters after one cross-entropy backward through ``run`` (default ``model``)."""
    model.zero_grad()
    torch.nn.functional.cross_entropy((model if run is None else run)(x), y).backward()
    return {name: p.grad.clone() for name, p in model.named_parameters()}


def test_converted_model_trains_under_torch_compile_with_eager_gradients():
    torch.manual_seed(0)
    model = emp.convert(_SmallNet(), keep=0.5)
    x, y = torch.randn(4, 3, 8, 8), torch.randint(0, 10, (4,))
    eager = _grads(model, x, y)
    compiled = torch.compile(model)
    got = _grads(model, x, y, run=compiled)
    assert eager.keys() == got.keys()
    for name in eager:
        torch.testing.assert_close(got[name], eager[name], rtol=1e-4, atol=1e-5, msg=name)
    # Pruning really happened inside the compiled step: half of conv2's filters have zero gradient.
    pruned = (got["conv2.weight"].flatten(1).abs().sum(1) == 0).sum().item()
    assert pruned == 8
    # A full training step (optimizer included) runs compiled.
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    before = model.conv3.weight.detach().clone()
    _grads(model, x, y, run=compiled)
    optimizer.step()
    assert not torch.equal(before, model.conv3.weight.detach())
