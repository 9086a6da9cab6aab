"""Input hardening of the Python API, as one table: each bad call raises TypeError or
ValueError whose message names the function and the argument, before any work (a
refused wrap runs no filter forward, a refused observe leaves its batch waiting)."""
import pytest
import torch

import skiptrain
import skiptrain.checkpoint
from skiptrain import emp, models, ops
from skiptrain.filter import EarlyInstanceFilter
from skiptrain.nn import EMPConv2d

X, W = torch.randn(2, 4, 8, 8), torch.randn(8, 4, 3, 3)
G = torch.randn(2, 8, 6, 6)


def conv(**kwargs):
    return lambda: ops.emp_conv2d(**{"input": X, "weight": W, "keep": 0.5, **kwargs})


def eif(**kwargs):
    return lambda: EarlyInstanceFilter(torch.nn.Linear(4, 2), **kwargs)


CASES = [
    # ops.emp_conv2d: tensors, shapes, dtypes, devices, knobs
    ("emp_conv2d input not a tensor", conv(input=[[1.0]]), TypeError, ["emp_conv2d", "input", "torch.Tensor"]),
    ("emp_conv2d input 3-d", conv(input=X[0]), ValueError, ["input", "[N, C_in, H, W]", "[4, 8, 8]"]),
    ("emp_conv2d integer input", conv(input=X.int(), weight=W.int()), TypeError, ["input", "floating"]),
    ("emp_conv2d weight dtype", conv(weight=W.double()), TypeError, ["weight dtype", "Double", "input"]),
    ("emp_conv2d weight channels", conv(weight=torch.randn(8, 3, 3, 3)), ValueError, ["input has 4 channels", "weight expects C_in"]),
    ("emp_conv2d bias size", conv(bias=torch.randn(5)), ValueError, ["bias", "[C_out = 8]", "[5]"]),
    ("emp_conv2d bias device", conv(bias=torch.randn(8, device="meta")), ValueError, ["bias", "meta"]),
    ("emp_conv2d groups", conv(groups=3), ValueError, ["multiple of groups (3)"]),
    ("emp_conv2d groups type", conv(groups=1.0), TypeError, ["groups", "int"]),
    ("emp_conv2d stride 0", conv(stride=0), ValueError, ["stride", "positive"]),
    ("emp_conv2d padding -1", conv(padding=-1), ValueError, ["padding", "non-negative"]),
    ("emp_conv2d dilation triple", conv(dilation=(1, 1, 1)), ValueError, ["dilation", "pair"]),
    ("emp_conv2d input too small", conv(input=torch.randn(2, 4, 2, 2)), ValueError, ["smaller than", "kernel"]),
    ("emp_conv2d keep 0", conv(keep=0.0), ValueError, ["keep", "(0, 1]"]),
    ("emp_conv2d keep nan", conv(keep=float("nan")), ValueError, ["keep"]),
    ("emp_conv2d keep str", conv(keep="half"), TypeError, ["keep", "real number"]),
    ("emp_conv2d gamma1 < 0", conv(gamma1=-1.0), ValueError, ["gamma1"]),
    ("emp_conv2d gamma2 inf", conv(gamma2=float("inf")), ValueError, ["gamma2"]),
    # ops.select_channels
    ("select_channels grad_output 2-d", lambda: ops.select_channels(G[0, 0], W, 0.5), ValueError,
     ["select_channels", "grad_output"]),
    ("select_channels weight rows", lambda: ops.select_channels(G, torch.randn(7, 4, 3, 3), 0.5), ValueError,
     ["grad_output has 8 channels", "weight has C_out = 7"]),
    ("select_channels dtype", lambda: ops.select_channels(G, W.double(), 0.5), TypeError, ["weight", "dtype"]),
    ("select_channels keep", lambda: ops.select_channels(G, W, 2.0), ValueError, ["keep"]),
    # nn.EMPConv2d
    ("EMPConv2d keep", lambda: EMPConv2d(4, 8, 3, keep=1.5), ValueError, ["EMPConv2d", "keep"]),
    ("EMPConv2d keep None", lambda: EMPConv2d(4, 8, 3, keep=None), TypeError, ["EMPConv2d", "keep"]),
    ("EMPConv2d from a Linear", lambda: EMPConv2d.from_conv(torch.nn.Linear(2, 2)), TypeError,
     ["from_conv", "conv", "Conv2d"]),
    ("EMPConv2d input channels", lambda: EMPConv2d(4, 8, 3, keep=0.5)(torch.randn(2, 3, 8, 8)), ValueError,
     ["EMPConv2d", "input", "4 channels"]),
    ("EMPConv2d integer input", lambda: EMPConv2d(4, 8, 3)(X.long()), TypeError, ["input", "floating"]),
    ("EMPConv2d input device", lambda: EMPConv2d(4, 8, 3)(X.to("meta")), ValueError, ["input", "meta"]),
    # emp.convert / set_keep
    ("convert model", lambda: emp.convert("resnet20"), TypeError, ["convert", "model", "Module"]),
    ("convert keep", lambda: emp.convert(torch.nn.Conv2d(1, 1, 1), keep=0), ValueError, ["convert", "keep"]),
    ("convert gamma2", lambda: emp.convert(torch.nn.Conv2d(1, 1, 1), gamma2=-2), ValueError, ["gamma2"]),
    ("convert exclude", lambda: emp.convert(torch.nn.Conv2d(1, 1, 1), exclude=3), TypeError, ["exclude"]),
    ("set_keep keep", lambda: emp.set_keep(torch.nn.Conv2d(1, 1, 1), 0), ValueError, ["set_keep", "keep"]),
    ("set_keep model", lambda: emp.set_keep(None, 0.5), TypeError, ["set_keep", "model"]),
    # filter.EarlyInstanceFilter
    ("eif filter_model", lambda: EarlyInstanceFilter("lenet-filter"), TypeError, ["filter_model", "Module"]),
    ("eif ratio type", eif(ratio="0.25"), TypeError, ["ratio", "must be a number"]),
    ("eif ratio range", eif(ratio=0.0), ValueError, ["--eif-ratio"]),
    ("eif window type", eif(window=2.5), TypeError, ["window", "int"]),
    ("eif control type", eif(control=1), TypeError, ["control", "str"]),
    ("eif weight decay", eif(weight_decay=-0.1), ValueError, ["--eif-weight-decay", ">= 0"]),
    ("eif momentum", eif(momentum=1.0), ValueError, ["--eif-momentum", "[0, 1)"]),
    ("eif milestones", eif(lr_milestones=[50, 10]), ValueError, ["--eif-lr-milestones", "strictly increasing"]),
    ("eif optimizer", eif(optimizer="sgd"), TypeError, ["optimizer", "Optimizer"]),
    ("eif threshold max", eif(threshold_max=float("inf")), ValueError, ["threshold_max"]),
    # models
    ("make_model name", lambda: models.make_model(20), TypeError, ["make_model", "name", "str"]),
    ("make_model in_channels", lambda: models.make_model("lenet5", in_channels=1.5), TypeError,
     ["lenet5", "in_channels", "int"]),
    ("make_model classes", lambda: models.make_model("vgg16", 3, 32, num_classes=0), ValueError,
     ["vgg16", "num_classes"]),
    ("lenet5 images size", lambda: models.make_model("lenet5")(torch.zeros(2, 1, 32, 32)), ValueError,
     ["lenet5", "images", "[N, 1, 28, 28]"]),
    ("lenet-filter images dtype", lambda: models.make_model("lenet-filter", num_classes=2)(
        torch.zeros(2, 1, 28, 28, dtype=torch.uint8)), TypeError, ["lenet-filter", "images", "floating"]),
    ("resnet8 images channels", lambda: models.make_model("resnet8", 3, 32)(torch.zeros(2, 1, 32, 32)), ValueError,
     ["resnet8", "images", "[N, 3, H, W]"]),
    ("resnet blocks type", lambda: models.CifarResNet(2.0), TypeError, ["blocks_per_stage", "int"]),
    # checkpoint
    ("checkpoint.load path", lambda: skiptrain.checkpoint.load(3), TypeError, ["checkpoint.load", "path"]),
    ("checkpoint.model_state_dict", lambda: skiptrain.checkpoint.model_state_dict([]), TypeError,
     ["model_state_dict", "checkpoint"]),
]


@pytest.mark.parametrize("call, error, words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_arguments_raise_naming_the_argument(call, error, words):
    with pytest.raises(error) as raised:
        call()
    for word in words:
        assert word in str(raised.value), f"'{word}' missing from: {raised.value}"


def tiny_filter():
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))


def test_wrapper_checks_its_arguments_and_batches_before_any_filter_work():
    eif = EarlyInstanceFilter(tiny_filter())
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    with pytest.raises(TypeError, match="wrap: model"):
        next(eif.wrap([(torch.randn(8, 4), torch.zeros(8, dtype=torch.long))], "model"))
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        next(eif.wrap([(torch.randn(8, 4), torch.zeros(8, dtype=torch.long))], model, loss_fn="ce"))
    with pytest.raises(ValueError, match="same first dimension"):
        next(eif.wrap([(torch.randn(8, 4), torch.zeros(5, dtype=torch.long))], model))
    assert eif.filter_forward_instances == 0
    # A filter that does not output [m, 2] logits is named.
    bad = EarlyInstanceFilter(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3)))
    with pytest.raises(ValueError, match=r"filter_model must map a batch of 8 to logits of shape \[8, 2\]"):
        next(bad.wrap([(torch.randn(8, 4), torch.zeros(8, dtype=torch.long))], model))


def test_observe_checks_the_losses_and_keeps_the_batch_waiting():
    eif = EarlyInstanceFilter(tiny_filter())
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 3))
    x, _ = next(eif.wrap([(torch.randn(8, 4), torch.zeros(8, dtype=torch.long))], model))
    with pytest.raises(TypeError, match="per_instance_loss must be a torch.Tensor"):
        eif.observe([0.1] * len(x))
    with pytest.raises(TypeError, match="per_instance_loss must have a floating dtype"):
        eif.observe(torch.zeros(len(x), dtype=torch.long))
    with pytest.raises(ValueError, match=rf"per_instance_loss must hold {len(x)} per-instance losses"):
        eif.observe(torch.zeros(len(x), 1))
    eif.observe(torch.rand(len(x)))  # the batch was still waiting: the refused calls changed nothing
    assert eif.metrics["batches"] == 1


def test_load_state_dict_names_what_is_missing():
    eif = EarlyInstanceFilter(tiny_filter())
    with pytest.raises(TypeError, match="state must be a dict"):
        eif.load_state_dict([])
    with pytest.raises(ValueError, match=r"missing \['optimizer'\]"):
        eif.load_state_dict({"controller": {}, "filter": {}})
