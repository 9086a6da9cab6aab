"""Turn Error Map Pruning on in any PyTorch model: ``convert`` swaps every ``nn.Conv2d``
for an ``EMPConv2d`` sharing its parameters; ``set_keep`` changes the kept fraction later."""
import torch

from skiptrain import _checks, _core, _modules, ops
from skiptrain.nn import EMPConv2d


def convert(model, keep=_core.EMP["keep"], gamma1=ops.DEFAULT_GAMMA1, gamma2=ops.DEFAULT_GAMMA2, skip_first=True,
            exclude=(), inplace=True, sample=ops.DEFAULT_SAMPLE):
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

    Returns:
        The converted model (``model`` itself when ``inplace``). Existing ``EMPConv2d`` get the new settings.

    Example:
        >>> net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Conv2d(8, 8, 3))
        >>> net = convert(net, keep=0.25)   # net[2] is EMPConv2d, net[0] stays dense
    """
    _checks.module("convert", "model", model)
    settings = ops._settings("convert", keep, gamma1, gamma2, sample)
    exclude = _modules.exclude_patterns("convert", exclude)

    def swap(conv):
        if isinstance(conv, EMPConv2d):
            conv.keep, conv.gamma1, conv.gamma2, conv.sample = settings
            return conv
        return EMPConv2d.from_conv(conv, *settings)

    return _modules.convert(model, torch.nn.Conv2d, swap, exclude, skip_first, inplace)


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
    keep, *_ = ops._settings("set_keep", keep, ops.DEFAULT_GAMMA1, ops.DEFAULT_GAMMA2, ops.DEFAULT_SAMPLE)
    count = 0
    for m in model.modules():
        if isinstance(m, EMPConv2d):
            m.keep = keep
            count += 1
    return count
