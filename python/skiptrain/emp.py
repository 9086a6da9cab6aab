"""Turn Error Map Pruning on in any PyTorch model: ``convert`` swaps every ``nn.Conv2d``
for an ``EMPConv2d`` sharing its parameters; ``set_keep`` changes the kept fraction later."""
import fnmatch

import torch

from skiptrain import _checks, _core, _modules, ops
from skiptrain.nn import EMPConv2d


def convert(model, keep=_core.EMP["keep"], gamma1=ops.DEFAULT_GAMMA1, gamma2=ops.DEFAULT_GAMMA2, skip_first=True,
            exclude=(), inplace=True, sample=ops.DEFAULT_SAMPLE, layer_keep=None):
    """Replaces every ``torch.nn.Conv2d`` of ``model`` by an ``EMPConv2d`` (same parameters).

    Args:
        model: any ``torch.nn.Module`` (a bare ``Conv2d`` is converted too).
        keep: kept fraction of output channels in (0, 1].
        gamma1, gamma2: channel-score weights (see ``skiptrain.ops``).
        skip_first: leave the first convolution (in ``named_modules`` order) dense; its input is data,
            so its backward is only grad_weight.
        exclude: qualified module names (``fnmatch`` patterns, e.g. ``"layer1.*.shortcut"``) left dense.
        inplace: modify ``model``; when False a deep copy is converted and returned.
        sample: draw the kept channels in proportion to their scores, with unbiased gradient scales,
            instead of keeping the best scorers (see ``skiptrain.ops``).
        layer_keep: per-layer kept fractions, ``{pattern: keep}`` (``fnmatch`` patterns of qualified
            names, e.g. ``{"layer1.*": 1.0}``): a converted conv takes the keep of the first pattern
            that matches it instead of ``keep``; as the trainer's ``--emp-layer-keep``. Each pattern
            must match a converted conv. None prunes every converted conv at ``keep`` (the paper's
            rule); the trainer's default on the CIFAR ResNets is stage 1 only, which here is
            ``{"layer2.*": 1.0, "layer3.*": 1.0}`` on ``skiptrain.models``' ResNets.

    Returns:
        The converted model (``model`` itself when ``inplace``). Existing ``EMPConv2d`` get the new settings.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3))
        >>> net = convert(net, keep=0.25)   # net[2] is EMPConv2d, net[0] stays dense
    """
    _checks.module("convert", "model", model)
    settings = ops._settings("convert", keep, gamma1, gamma2, sample)
    exclude = _modules.exclude_patterns("convert", exclude)
    rules = _layer_keep_rules(layer_keep, settings)
    # Which rule each converted conv follows, checked before anything changes.
    rule_of = {name: next((p for p in rules if fnmatch.fnmatchcase(name, p)), None)
               for name, _ in _modules.targets(model, torch.nn.Conv2d, exclude, skip_first)}
    unused = [p for p in rules if p not in rule_of.values()]
    if unused:
        names = ", ".join(n for n, m in model.named_modules() if isinstance(m, torch.nn.Conv2d))
        raise ValueError(f"convert: layer_keep patterns {unused} match no conv this call converts (skip_first and "
                         f"exclude leave convs unchanged; a conv follows the first pattern that matches it); "
                         f"the model's convs: {names}")

    def swap(conv, name):
        pattern = rule_of[name]
        layer_settings = settings if pattern is None else (rules[pattern], *settings[1:])
        if isinstance(conv, EMPConv2d):
            conv.keep, conv.gamma1, conv.gamma2, conv.sample = layer_settings
            return conv
        return EMPConv2d.from_conv(conv, *layer_settings)

    return _modules.convert(model, torch.nn.Conv2d, swap, exclude, skip_first, inplace)


def _layer_keep_rules(layer_keep, settings):
    """``layer_keep`` as an ordered ``{pattern: keep}`` dict, each keep checked as ``keep`` is."""
    if layer_keep is None:
        return {}
    if not isinstance(layer_keep, dict) or not all(isinstance(p, str) for p in layer_keep):
        raise TypeError(f"convert: layer_keep must be a dict of str pattern -> keep, got {layer_keep!r}")
    return {pattern: ops._settings(f"convert: layer_keep[{pattern!r}]", value, *settings[1:])[0]
            for pattern, value in layer_keep.items()}


def set_keep(model, keep):
    """Sets the kept fraction of every ``EMPConv2d`` in ``model``, those ``convert``'s ``layer_keep``
    set otherwise included (convs left out of ``convert`` by ``skip_first`` or ``exclude`` stay dense).

    Args:
        model: a module converted with ``convert``.
        keep: new kept fraction in (0, 1] (1 turns pruning off).

    Returns:
        The number of layers changed.

    Example:
        >>> set_keep(net, 1.0)  # dense again
    """
    _checks.module("set_keep", "model", model)
    keep, *_ = ops._settings("set_keep", keep, ops.DEFAULT_GAMMA1, ops.DEFAULT_GAMMA2, ops.DEFAULT_SAMPLE)
    count = 0
    for m in model.modules():
        if isinstance(m, EMPConv2d):
            m.keep = keep
            count += 1
    return count
