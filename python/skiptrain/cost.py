"""Per-layer MAC counts of an arbitrary torch.nn model, with the C++ core's formulas.

Same conventions as the C++ ``skiptrain::cost::count`` (csrc/skiptrain/cost/table.h): one
instance, conv = H_out*W_out*C_out*(C_in/groups)*kh*kw, linear = in*out, BatchNorm, ReLU,
pooling and additions count zero; each backward part costs the forward, and the backward to
the input is zero where the layer's input needs no gradient (the first layer's input is data).
The numbers and their sums come from the C++ table (``torch.classes.skiptrain.CostTable``, which
``cost/table.cpp`` fills with the trainer's rules): no formula here.
"""
from dataclasses import dataclass
from typing import List

import torch
from torch import nn

__all__ = ["LayerCost", "CostTable", "count"]


@dataclass
class LayerCost:
    """Cost of one instance through one conv or linear layer.

    Attributes:
        name: module path in the model, e.g. ``"layer1.0.conv1"`` (the kind for the root).
        kind: ``"conv2d"`` or ``"linear"``.
        out_channels: C_out (conv) or out features (linear).
        forward_macs, backward_input_macs, backward_weight_macs: MACs per instance.
    """

    name: str
    kind: str
    out_channels: int
    forward_macs: float
    backward_input_macs: float
    backward_weight_macs: float


class CostTable:
    """MACs per instance of a whole model, layer by layer in forward order: a view of the C++
    ``CostTable`` that ``count`` fills.

    Example:
        >>> table = count(torch.nn.Linear(4, 3), (1, 4))
        >>> table.forward_macs, table.training_macs
        (12.0, 24.0)
    """

    def __init__(self, table):
        self._table = table

    @property
    def layers(self) -> List[LayerCost]:
        """The layers' costs, in forward order."""
        return [LayerCost(*layer) for layer in self._table.layers()]

    @property
    def forward_macs(self):
        """Sum of the layers' forward MACs."""
        return self._table.forward_macs()

    @property
    def backward_macs(self):
        """Sum of the layers' backward-to-input and backward-to-weight MACs."""
        return self._table.backward_macs()

    @property
    def training_macs(self):
        """forward + backward: what dense SGD spends on one instance."""
        return self._table.training_macs()


def count(model, input_shape, forward=None):
    """Counts the MACs of one forward pass of ``model`` on zeros of ``input_shape``.

    Hooks every ``nn.Conv2d`` and ``nn.Linear`` (subclasses included), runs the model in eval
    mode (no BatchNorm statistics change) with gradients enabled, and restores its mode.

    Args:
        model: any torch.nn.Module.
        input_shape: e.g. ``(1, 3, 32, 32)``; the batch dimension is divided out by the formulas.
        forward: optional callable ``forward(x)`` to run instead of ``model(x)``.

    Returns:
        CostTable.

    Example:
        >>> from skiptrain import models
        >>> count(models.make_model("lenet5"), (1, 1, 28, 28)).forward_macs
        416520.0
    """
    names = {m: n for n, m in model.named_modules()}
    table = torch.classes.skiptrain.CostTable()

    def hook(module, inputs, output):
        kind = "conv2d" if isinstance(module, nn.Conv2d) else "linear"
        table.add_layer(names.get(module) or kind, kind, list(module.weight.shape), list(output.shape),
                        getattr(module, "groups", 1), inputs[0].requires_grad, module.weight.requires_grad)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    first = next(model.parameters(), None)
    device = first.device if first is not None else None
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    try:
        model.eval()
        with torch.enable_grad():
            x = torch.zeros(tuple(input_shape), device=device, dtype=dtype)
            (forward or model)(x)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    return CostTable(table)
