"""Turn Error Map Pruning on in any PyTorch model: ``convert`` swaps every ``nn.Conv2d``
for an ``EMPConv2d`` sharing its parameters; ``set_keep`` changes the kept fraction later."""
import copy
import fnmatch

import torch

from skiptrain import _checks, _modules, ops
from skiptrain.nn import EMPConv2d


def convert(model, keep=0.5, gamma1=ops.DEFAULT_GAMMA1, gamma2=ops.DEFAULT_GAMMA2, skip_first=True, exclude=(),
            inplace=True):
    """Replaces every ``torch.nn.Conv2d`` of ``model`` by an ``EMPConv2d`` (same parameters).

    Args:
        model: any ``torch.nn.Module`` (a bare ``Conv2d`` is converted too).
        keep: kept fraction of output channels in (0, 1].
        gamma1, gamma2: channel-score weights (see ``skiptrain.ops``).
        skip_first: leave the first convolution (in ``named_modules`` order) dense; its input is data,
            so its backward is only grad_weight.
        exclude: qualified module names (``fnmatch`` patterns, e.g. ``"layer1.*.shortcut"``) left dense.
        inplace: modify ``model``; when False a deep copy is converted and returned.

    Returns:
        The converted model (``model`` itself when ``inplace``). Existing ``EMPConv2d`` get the new settings.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3))
        >>> net = convert(net, keep=0.25)   # net[2] is EMPConv2d, net[0] stays dense
    """
    _checks.module("convert", "model", model)
    keep, gamma1, gamma2 = ops._settings("convert", keep, gamma1, gamma2)
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, (list, tuple, set)) or not all(isinstance(p, str) for p in exclude):
        raise TypeError(f"convert: exclude must be a str or a sequence of str patterns, got {exclude!r}")
    if not inplace:
        model = copy.deepcopy(model)
    convs = [(name, m) for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]
    for position, (name, conv) in enumerate(convs):
        if (skip_first and position == 0) or any(fnmatch.fnmatchcase(name, p) for p in exclude):
            continue
        if isinstance(conv, EMPConv2d):
            conv.keep, conv.gamma1, conv.gamma2 = keep, gamma1, gamma2
            continue
        new = EMPConv2d.from_conv(conv, keep=keep, gamma1=gamma1, gamma2=gamma2)
        if name == "":
            return new
        _modules.replace(model, name, new)
    return model


def set_keep(model, keep):
    """Sets the kept fraction of every ``EMPConv2d`` in ``model``.

    Args:
        model: a module converted with ``convert``.
        keep: new kept fraction in (0, 1] (1 turns pruning off).

    Returns:
        The number of layers changed.

    Example:
        >>> set_keep(net, 1.0)  # dense again
    """
    _checks.module("set_keep", "model", model)
    keep = _checks.real("set_keep", "keep", keep, 0.0, 1.0, low_open=True)
    count = 0
    for m in model.modules():
        if isinstance(m, EMPConv2d):
            m.keep = keep
            count += 1
    return count
