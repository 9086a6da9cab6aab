"""The Python model zoo and cost counter: forward shapes, MAC counts by hand and against the
paper's ResNet-20 figure, and parity with the C++ zoo through ``skiptrain model-info``
(same parameter and buffer names and shapes, same per-layer MACs, for every model).

Run: SKIPTRAIN_LIBRARY=build/libskiptrain.so PYTHONPATH=python python3 -m pytest -q tests/python
The parity test needs SKIPTRAIN_TRAINER (the built ``skiptrain`` executable); it skips without it.
"""
import json
import os
import subprocess

import pytest
import torch
from torch import nn

import skiptrain
from skiptrain import cost, models

NAMES = ["lenet5", "lenet-filter", "lenet-filter-slim", "resnet8", "resnet8-slim", "resnet20", "resnet32",
         "resnet44", "resnet56", "resnet74", "resnet110", "vgg16"]


def spec_for(name):
    """(in_channels, image_size, num_classes): MNIST-shaped for the LeNets, CIFAR-shaped otherwise."""
    if name.startswith("lenet"):
        return 1, 28, (2 if name.startswith("lenet-filter") else 10)
    return 3, 32, (2 if name in ("resnet8", "resnet8-slim") else 10)


def test_model_names_match_the_cpp_zoo():
    assert models.model_names() == NAMES


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("training", [True, False])
def test_forward_shapes(name, training):
    c, s, k = spec_for(name)
    model = models.make_model(name, in_channels=c, image_size=s, num_classes=k)
    model.train(training)
    for batch in (1, 2):
        logits = model(torch.randn(batch, c, s, s))
        assert logits.shape == (batch, k)
        if training:
            logits.logsumexp(1).sum().backward()


def test_unknown_model_names_the_valid_ones():
    with pytest.raises(ValueError, match=r"unknown model 'resnet19'.*lenet5.*vgg16"):
        models.make_model("resnet19")


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.grouped = nn.Conv2d(8, 8, 3, stride=2, groups=4)
        self.fc = nn.Linear(8 * 1 * 1, 5)

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        x = self.grouped(x)
        return self.fc(x.flatten(1))


def test_count_small_net_by_hand():
    model = SmallNet().train()
    table = cost.count(model, (1, 3, 4, 4))
    assert [(l.name, l.kind) for l in table.layers] == [("conv", "conv2d"), ("grouped", "conv2d"), ("fc", "linear")]
    conv = 4 * 4 * 8 * 3 * 3 * 3          # H_out*W_out*C_out*C_in*k*k
    grouped = 1 * 1 * 8 * (8 // 4) * 3 * 3  # 4x4 -> 1x1 (stride 2, no padding), C_in/groups = 2
    fc = 8 * 5
    assert [l.forward_macs for l in table.layers] == [conv, grouped, fc]
    # The first layer's input is data: no backward to it.
    assert [l.backward_input_macs for l in table.layers] == [0, grouped, fc]
    assert [l.backward_weight_macs for l in table.layers] == [conv, grouped, fc]
    assert table.forward_macs == conv + grouped + fc
    assert table.training_macs == 2 * conv + 3 * grouped + 3 * fc
    assert model.training, "count() must restore train mode"
    assert cost.count(model.eval(), (1, 3, 4, 4)).forward_macs == conv + grouped + fc
    assert not model.training, "count() must restore eval mode"
    # BatchNorm statistics are untouched by the probe.
    assert model.bn.num_batches_tracked.item() == 0


def test_count_frozen_weights_have_no_weight_backward():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[1].weight.requires_grad_(False)
    table = cost.count(model, (1, 4))
    assert [l.name for l in table.layers] == ["0", "1"]
    assert [l.backward_weight_macs for l in table.layers] == [12, 0]
    assert [l.backward_input_macs for l in table.layers] == [0, 6]


def test_cost_table_is_the_cpp_table():
    table = torch.classes.skiptrain.CostTable()
    table.add_layer("conv", "conv2d", [16, 8, 3, 3], [1, 16, 10, 10], 1, False, True)
    table.add_layer("fc", "linear", [120, 400], [1, 120], 1, True, True)
    conv, fc = 10 * 10 * 16 * 8 * 9, 400 * 120
    assert table.layers() == [("conv", "conv2d", 16, conv, 0.0, conv), ("fc", "linear", 120, fc, fc, fc)]
    assert (table.forward_macs(), table.backward_macs(), table.training_macs()) == (conv + fc, conv + 2 * fc,
                                                                                   2 * conv + 3 * fc)
    with pytest.raises(ValueError, match="kind must be"):
        table.add_layer("pool", "max_pool2d", [1], [1, 1], 1, True, True)
    with pytest.raises(ValueError, match="4-d weight"):
        table.add_layer("conv", "conv2d", [16, 8], [1, 16, 10, 10], 1, True, True)


def test_lenet5_and_resnet20_macs():
    assert cost.count(models.make_model("lenet5"), (1, 1, 28, 28)).forward_macs == 416520
    table = cost.count(models.make_model("resnet20", 3, 32, 10), (1, 3, 32, 32))
    assert len(table.layers) == 20
    assert table.forward_macs == pytest.approx(40.55e6, rel=0.01)
    assert table.forward_macs == 40551040


def test_filter_costs_are_small():
    lenet = cost.count(models.make_model("lenet5"), (1, 1, 28, 28)).forward_macs
    lenet_filter = cost.count(models.make_model("lenet-filter", 1, 28, 2), (1, 1, 28, 28)).forward_macs
    r110 = cost.count(models.make_model("resnet110", 3, 32, 10), (1, 3, 32, 32)).forward_macs
    r8 = cost.count(models.make_model("resnet8", 3, 32, 2), (1, 3, 32, 32)).forward_macs
    assert lenet_filter / lenet < 0.15
    slim = cost.count(models.make_model("lenet-filter-slim", 1, 28, 2), (1, 1, 28, 28)).forward_macs
    assert slim == 7056 + 7200 + 512 + 32
    assert r8 / r110 < 0.10
    # Half width: convs after conv1 cost a quarter of resnet8's, conv1 (3 input channels) and fc half.
    r8_slim = cost.count(models.make_model("resnet8-slim", 3, 32, 2), (1, 3, 32, 32)).forward_macs
    assert r8 == 12238976
    assert r8_slim == 221184 + 1179648 + 884736 + 884736 + 64 == 3170368


def _model_info(trainer, name, c, s, k):
    result = subprocess.run(
        [trainer, "model-info", "--model", name, "--in-channels", str(c), "--image-size", str(s),
         "--num-classes", str(k)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"model-info {name} failed ({result.returncode}): {result.stderr}"
    out = result.stdout.strip()
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        # Tolerate log lines around the one JSON object.
        return json.loads(out[out.index("{"): out.rindex("}") + 1])


@pytest.mark.parametrize("name", NAMES)
def test_parity_with_cpp_model_info(name):
    trainer = os.environ.get("SKIPTRAIN_TRAINER")
    if not trainer:
        pytest.skip("SKIPTRAIN_TRAINER is not set: point it at the built `skiptrain` executable for C++ parity")
    assert os.path.isfile(trainer), f"SKIPTRAIN_TRAINER={trainer} does not exist"
    c, s, k = spec_for(name)
    info = _model_info(trainer, name, c, s, k)
    assert info["model"] == name

    model = models.make_model(name, in_channels=c, image_size=s, num_classes=k)
    py_params = {n: list(p.shape) for n, p in model.named_parameters()}
    py_buffers = {n: list(b.shape) for n, b in model.named_buffers()}
    assert info["parameters"] == py_params
    assert info["buffers"] == py_buffers
    # Together these are the state_dict: a C++ checkpoint loads into the Python model.
    assert set(py_params) | set(py_buffers) == set(model.state_dict())

    table = cost.count(model, (1, c, s, s))
    cpp_layers = [(l["name"], l["kind"], l["forward_macs"], l["backward_input_macs"], l["backward_weight_macs"])
                  for l in info["layers"]]
    py_layers = [(l.name, l.kind, l.forward_macs, l.backward_input_macs, l.backward_weight_macs)
                 for l in table.layers]
    assert cpp_layers == py_layers
    assert info["forward_macs"] == pytest.approx(table.forward_macs, rel=1e-12)


def test_package_exposes_models_and_cost():
    assert skiptrain.models is models and skiptrain.cost is cost
