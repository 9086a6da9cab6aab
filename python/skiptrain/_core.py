"""The C++ core's defaults and limits, read once from ``torch.ops.skiptrain.core_constants()``
(csrc/skiptrain/core_constants.cpp): the Python package writes none of them itself.

Example:
    >>> from skiptrain import _core
    >>> _core.EMP["gamma1"], _core.CHECKPOINT["version"]
    (1.0, 1)
"""
import json

import torch

_CONSTANTS = json.loads(torch.ops.skiptrain.core_constants())

#: Error Map Pruning: ``keep`` (the trainer's --emp-keep), ``gamma1``, ``gamma2``, ``sample``.
EMP = _CONSTANTS["emp"]
#: Quantized training: ``min_bits``, ``max_bits``, ``float_bits`` (32), ``float_grad_bits`` (0).
QUANT = _CONSTANTS["quant"]
#: Checkpoint files: ``format`` and ``version``.
CHECKPOINT = _CONSTANTS["checkpoint"]
#: The Early Instance Filter's options and their defaults (csrc/skiptrain/filter/options.h).
FILTER = _CONSTANTS["filter"]
