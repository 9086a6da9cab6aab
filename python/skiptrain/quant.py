"""Turn quantized training on in any PyTorch model: ``convert`` swaps every ``nn.Conv2d``
for a ``QuantConv2d`` and every ``nn.Linear`` for a ``QuantLinear`` sharing its parameters.
Composes with ``skiptrain.emp.convert`` in either order (a ``QuantConv2d`` is an ``EMPConv2d``)."""
import torch

from skiptrain import _checks, _modules
from skiptrain.nn import EMPConv2d, QuantConv2d, QuantLinear, _check_widths


def convert(model, bits=8, grad_bits=0, exclude=(), inplace=True):
    """Makes every conv and linear layer of ``model`` train quantized.

    Args:
        model: any ``torch.nn.Module`` (a bare ``Conv2d`` or ``Linear`` is converted too).
        bits: width of activations and weights in the forward pass, 2..16 (32: float).
        grad_bits: width of the error maps in backward, stochastic rounding, 2..16 (0: float, the default
            of E2-Train and of the paper's +Q runs).
        exclude: qualified module names (``fnmatch`` patterns) left float.
        inplace: modify ``model``; when False a deep copy is converted and returned.

    Returns:
        The converted model. Error Map Pruning settings of existing ``EMPConv2d`` are kept.

    Example:
        >>> net = skiptrain.emp.convert(net, keep=0.5)
        >>> net = skiptrain.quant.convert(net, bits=8)
    """
    _checks.module("quant.convert", "model", model)
    bits, grad_bits = _check_widths(bits, grad_bits, "quant.convert")
    exclude = _modules.exclude_patterns("quant.convert", exclude)

    def swap(layer, _name):
        if isinstance(layer, (QuantConv2d, QuantLinear)):
            layer.bits, layer.grad_bits = bits, grad_bits
            return layer
        if isinstance(layer, torch.nn.Linear):
            return QuantLinear.from_linear(layer, bits=bits, grad_bits=grad_bits)
        pruning = {}
        if isinstance(layer, EMPConv2d):
            pruning = dict(keep=layer.keep, gamma1=layer.gamma1, gamma2=layer.gamma2, sample=layer.sample)
        new = QuantConv2d.from_conv(layer, **pruning)
        new.bits, new.grad_bits = bits, grad_bits
        return new

    return _modules.convert(model, (torch.nn.Conv2d, torch.nn.Linear), swap, exclude, inplace=inplace)
