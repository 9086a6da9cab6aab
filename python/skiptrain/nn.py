"""Drop-in layers backed by skiptrain's ops: ``EMPConv2d`` (a ``torch.nn.Conv2d`` whose backward
is Error Map Pruning), and its quantized-training forms ``QuantConv2d`` and ``QuantLinear``."""
import torch

from skiptrain import _checks, _core, _modules, ops


class EMPConv2d(torch.nn.Conv2d):
    """``torch.nn.Conv2d`` (same parameters, same ``state_dict`` keys) whose backward, while
    training with ``keep < 1``, only computes gradients for ``ceil(keep*out_channels)`` output
    channels: the best-scoring ones, or with ``sample=True`` a draw in proportion to their scores
    with unbiased gradient scales (``skiptrain.ops.emp_conv2d``). In eval mode, under
    ``torch.no_grad()`` or with ``keep == 1`` it is exactly ``torch.nn.Conv2d``.

    Args:
        *args, **kwargs: as for ``torch.nn.Conv2d`` (``padding_mode`` must be ``'zeros'``).
        keep: kept fraction of output channels in (0, 1].
        gamma1: weight of the filter-norm term of the channel score.
        gamma2: weight of the error-map-norm term of the channel score.
        sample: draw the kept channels instead of keeping the best scorers.

    Returns:
        A module; ``forward(x)`` returns ``[N, C_out, H_out, W_out]``.

    Example:
        >>> conv = EMPConv2d(16, 32, 3, padding=1, keep=0.5)
        >>> conv(torch.randn(4, 16, 8, 8)).sum().backward()
    """

    # A class default too: an EMPConv2d pickled before ``sample`` existed loads with the paper's rule.
    sample = ops.DEFAULT_SAMPLE

    def __init__(self, *args, keep=1.0, gamma1=ops.DEFAULT_GAMMA1, gamma2=ops.DEFAULT_GAMMA2,
                 sample=ops.DEFAULT_SAMPLE, **kwargs):
        super().__init__(*args, **kwargs)
        if self.padding_mode != "zeros":
            raise ValueError(f"EMPConv2d: padding_mode={self.padding_mode!r} is not supported, only 'zeros'")
        self.keep, self.gamma1, self.gamma2, self.sample = ops._settings("EMPConv2d", keep, gamma1, gamma2, sample)

    @classmethod
    def from_conv(cls, conv, keep=1.0, gamma1=ops.DEFAULT_GAMMA1, gamma2=ops.DEFAULT_GAMMA2, sample=ops.DEFAULT_SAMPLE):
        """Builds an EMPConv2d that shares ``conv``'s parameters and buffers.

        Args:
            conv: a ``torch.nn.Conv2d``.
            keep, gamma1, gamma2, sample: EMP settings.

        Returns:
            EMPConv2d (``conv.weight`` and ``conv.bias`` are the same Parameter objects).

        Example:
            >>> emp = EMPConv2d.from_conv(torch.nn.Conv2d(3, 8, 3), keep=0.5)
        """
        if not isinstance(conv, torch.nn.Conv2d):
            raise TypeError(f"EMPConv2d.from_conv: conv must be a torch.nn.Conv2d, got {type(conv).__name__}")
        settings = ops._settings("EMPConv2d", keep, gamma1, gamma2, sample)
        if conv.padding_mode != "zeros":
            raise ValueError(f"EMPConv2d: padding_mode={conv.padding_mode!r} is not supported, only 'zeros'")
        if isinstance(conv.padding, str):
            raise ValueError(f"EMPConv2d: string padding {conv.padding!r} is not supported; use explicit padding")
        new = _modules.sharing(cls, conv)
        new.keep, new.gamma1, new.gamma2, new.sample = settings
        return new

    def forward(self, input):
        self._check_input(input)
        return self._emp_conv(input, self.weight)

    def _check_input(self, input):
        _checks.tensor("EMPConv2d", "input", input, "[N, C_in, H, W] or [C_in, H, W]", dims=(3, 4), floating=True)
        # The device only: under autocast the input's dtype differs from the weight's on purpose.
        if input.device != self.weight.device:
            raise ValueError(f"EMPConv2d: input is on {input.device} but the weight is on {self.weight.device}")
        if input.shape[-3] != self.in_channels:
            raise ValueError(f"EMPConv2d: input must have {self.in_channels} channels (dim -3), got shape "
                             f"{list(input.shape)}")

    def _emp_conv(self, input, weight):
        if self.keep < 1.0 and self.training and torch.is_grad_enabled():
            if isinstance(self.padding, str):
                raise ValueError("EMPConv2d: string padding is not supported while pruning")
            return torch.ops.skiptrain.emp_conv2d(
                input, weight, self.bias, list(self.stride), list(self.padding), list(self.dilation),
                self.groups, self.keep, self.gamma1, self.gamma2, self.sample)
        return self._conv_forward(input, weight, self.bias)

    def extra_repr(self):
        return super().extra_repr() + (f", keep={self.keep}, gamma1={self.gamma1}, gamma2={self.gamma2}"
                                     f"{', sample=True' if self.sample else ''}")


class QuantConv2d(EMPConv2d):
    """An ``EMPConv2d`` trained quantized (Banner et al. 2018): input and weight are rounded to
    ``bits`` (range-based, per tensor) in the forward pass with straight-through gradients, and with
    ``grad_bits > 0`` the error map flowing back into the layer is rounded stochastically to
    ``grad_bits``. ``bits == 32`` and ``grad_bits == 0`` are the float layer. Made by
    ``skiptrain.quant.convert``; combines with Error Map Pruning (``keep < 1``).

    Args:
        *args, **kwargs: as for ``EMPConv2d``.
        bits: operand width, 2..16, or 32 for float.
        grad_bits: error-map width, 2..16, or 0 for float.

    Example:
        >>> conv = QuantConv2d(16, 32, 3, padding=1, bits=8, keep=0.5)
    """

    def __init__(self, *args, bits=8, grad_bits=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.bits, self.grad_bits = _check_widths(bits, grad_bits)

    def forward(self, input):
        self._check_input(input)
        output = self._emp_conv(_quantize_operand(input, self.bits), _quantize_operand(self.weight, self.bits))
        return _quantize_error(output, self.grad_bits)

    def extra_repr(self):
        return super().extra_repr() + f", bits={self.bits}, grad_bits={self.grad_bits}"


class QuantLinear(torch.nn.Linear):
    """``torch.nn.Linear`` (same parameters and ``state_dict`` keys) trained quantized, as
    ``QuantConv2d``.

    Example:
        >>> fc = QuantLinear.from_linear(torch.nn.Linear(84, 10), bits=8)
    """

    def __init__(self, *args, bits=8, grad_bits=0, **kwargs):
        super().__init__(*args, **kwargs)
        self.bits, self.grad_bits = _check_widths(bits, grad_bits)

    @classmethod
    def from_linear(cls, linear, bits=8, grad_bits=0):
        """A QuantLinear sharing ``linear``'s parameters (the same Parameter objects)."""
        if not isinstance(linear, torch.nn.Linear):
            raise TypeError(f"QuantLinear.from_linear: linear must be a torch.nn.Linear, got {type(linear).__name__}")
        new = _modules.sharing(cls, linear)
        new.bits, new.grad_bits = _check_widths(bits, grad_bits)
        return new

    def forward(self, input):
        output = torch.nn.functional.linear(_quantize_operand(input, self.bits),
                                            _quantize_operand(self.weight, self.bits), self.bias)
        return _quantize_error(output, self.grad_bits)

    def extra_repr(self):
        return super().extra_repr() + f", bits={self.bits}, grad_bits={self.grad_bits}"


def _check_widths(bits, grad_bits, where="quant"):
    """bits and grad_bits as ints, checked by the C++ rule (2..16, or 32 / 0 for float)."""
    bits, grad_bits = _checks.integer(where, "bits", bits), _checks.integer(where, "grad_bits", grad_bits)
    _checks.by_core(where, torch.ops.skiptrain.check_quant_settings, bits, grad_bits)
    return bits, grad_bits


def _quantize_operand(x, bits):
    return x if bits == _core.QUANT["float_bits"] else torch.ops.skiptrain.quantize(x, bits, False)


def _quantize_error(output, grad_bits):
    if grad_bits == _core.QUANT["float_grad_bits"] or not (output.requires_grad and torch.is_grad_enabled()):
        return output
    return torch.ops.skiptrain.quantize_grad(output, grad_bits)
