"""Quantized training from Python and from the trainer: the quantizer ops, 32 bits equal to
the float path, composition with Error Map Pruning against a slow reference, bad widths,
and the trainer's bit-op figures beside its plain MAC figures."""
import pytest
import torch

import skiptrain
from conftest import run_trainer


def lenet():
    torch.manual_seed(0)
    return skiptrain.models.make_model("lenet5", in_channels=1, image_size=28, num_classes=10)


def grads(model, x, y):
    model.zero_grad()
    out = model(x)
    torch.nn.functional.cross_entropy(out, y).backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


def test_nearest_rounding_stays_within_half_a_level():
    x = torch.linspace(-1, 3, 1001)
    q = skiptrain.ops.quantize(x, 4)
    step = 4 / 15
    assert (q - x).abs().max() <= step / 2 + 1e-6
    assert len(torch.unique(q)) <= 16


def test_stochastic_rounding_is_unbiased():
    torch.manual_seed(0)
    x = torch.full((100000,), 0.3)
    x[0], x[1] = 0.0, 1.0
    assert skiptrain.ops.quantize(x, 2, stochastic=True)[2:].mean().item() == pytest.approx(0.3, abs=3e-3)


def test_thirty_two_bits_is_the_float_path():
    x, y = torch.randn(8, 1, 28, 28), torch.randint(0, 10, (8,))
    reference = grads(lenet(), x, y)
    converted = skiptrain.quant.convert(lenet(), bits=32)
    assert isinstance(converted.conv2, skiptrain.nn.QuantConv2d)
    out, g = grads(converted, x, y)
    assert torch.equal(out, reference[0])
    assert all(torch.equal(a, b) for a, b in zip(g, reference[1]))


def test_eight_bits_changes_values_but_not_the_state_dict():
    model = lenet()
    keys = list(model.state_dict())
    x = torch.randn(4, 1, 28, 28)
    float_out = model(x).detach()
    skiptrain.quant.convert(model, bits=8)
    assert list(model.state_dict()) == keys
    out = model(x).detach()
    assert not torch.equal(out, float_out)
    assert torch.allclose(out, float_out, atol=0.05)


@pytest.mark.parametrize("order", ["emp-then-quant", "quant-then-emp"])
def test_quantized_emp_conv_matches_slow_reference(order):
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(8, 12, 3, padding=1)
    w_float = conv.weight.detach().clone()
    if order == "emp-then-quant":
        layer = skiptrain.quant.convert(skiptrain.emp.convert(conv, keep=0.5, skip_first=False), bits=8)
    else:
        layer = skiptrain.emp.convert(skiptrain.quant.convert(conv, bits=8), keep=0.5, skip_first=False)
    assert isinstance(layer, skiptrain.nn.QuantConv2d) and layer.keep == 0.5 and layer.bits == 8
    x = torch.randn(4, 8, 9, 9, requires_grad=True)
    g = torch.randn(4, 12, 9, 9)
    layer(x).backward(g)

    xq = skiptrain.ops.quantize(x.detach(), 8).requires_grad_()
    wq = skiptrain.ops.quantize(w_float, 8).requires_grad_()
    kept = skiptrain.ops.select_channels(g, wq.detach(), 0.5)
    mask = torch.zeros(12)
    mask[kept] = 1
    torch.nn.functional.conv2d(xq, wq, conv.bias.detach(), padding=1).backward(g * mask.view(1, 12, 1, 1))
    assert torch.allclose(x.grad, xq.grad, atol=1e-4)
    assert torch.allclose(layer.weight.grad, wq.grad * mask.view(12, 1, 1, 1), atol=1e-4)


@pytest.mark.parametrize("kwargs, named", [({"bits": 1}, "bits"), ({"bits": 17}, "bits"),
                                           ({"grad_bits": 1}, "grad_bits"), ({"grad_bits": 32}, "grad_bits")])
def test_bad_widths_are_refused_naming_the_argument(kwargs, named):
    with pytest.raises(ValueError, match=named):
        skiptrain.quant.convert(lenet(), **kwargs)


BASE = ["--model", "lenet5", "--dataset", "mnist", "--batch-size", "32", "--lr", "0.05", "--threads", "1",
        "--progress", "none", "--epochs", "1"]


def test_convert_leaves_excluded_layers_float_and_checks_exclude():
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    skiptrain.quant.convert(net, bits=8, exclude=["2"])
    assert isinstance(net[0], skiptrain.nn.QuantConv2d) and type(net[2]) is torch.nn.Linear
    with pytest.raises(TypeError, match="exclude"):
        skiptrain.quant.convert(net, exclude=3)


def test_trainer_reports_bitops_beside_macs(trainer, tiny_mnist):
    _, dense = run_trainer(trainer, "train", *BASE, "--data-dir", tiny_mnist)
    _, q8 = run_trainer(trainer, "train", *BASE, "--data-dir", tiny_mnist, "--quant-bits", "8")
    _, q8g8 = run_trainer(trainer, "train", *BASE, "--data-dir", tiny_mnist, "--quant-bits", "8",
                          "--quant-grad-bits", "8")
    assert q8["quant_bits"] == 8 and q8["quant_grad_bits"] == 0
    # Same MACs as dense float SGD: quantization saves bit-ops, not operations.
    assert q8["spent_macs"] == pytest.approx(dense["spent_macs"]) and q8["saving"] == pytest.approx(0, abs=1e-12)
    assert dense["saving_bitops"] == pytest.approx(0, abs=1e-12)
    # LeNet-5 at 8x8-bit forward, 32x8-bit backward: (F/16 + (2F - C1)/4) / (3F - C1), C1 = conv1's grad_input.
    forward, conv1 = 416520, 117600
    expected = 1 - (forward / 16 + (2 * forward - conv1) / 4) / (3 * forward - conv1)
    assert q8["saving_bitops"] == pytest.approx(expected, rel=1e-9)
    assert q8g8["saving_bitops"] == pytest.approx(1 - 1 / 16, rel=1e-9)
    assert q8["test_acc"] > 0.5


@pytest.mark.parametrize("flags, named", [(["--quant-bits", "1"], "--quant-bits"),
                                          (["--quant-bits", "64"], "--quant-bits"),
                                          (["--quant-grad-bits", "40"], "--quant-grad-bits")])
def test_trainer_refuses_bad_widths(trainer, tiny_mnist, flags, named):
    proc, _ = run_trainer(trainer, "train", *BASE, "--data-dir", tiny_mnist, *flags, check=False)
    assert proc.returncode == 2 and named in proc.stderr
