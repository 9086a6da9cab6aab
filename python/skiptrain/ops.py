"""Functional ops, thin wrappers over ``torch.ops.skiptrain``: Error Map Pruning
(``emp_conv2d``, ``select_channels``, ``sample_channels``) and the quantizers of quantized training
(``quantize``, ``quantize_grad``).

``emp_conv2d`` is an ordinary convolution in the forward pass; its backward (C++,
``skiptrain::_emp_conv2d_backward``) computes gradients only for ``ceil(keep*C_out)`` output
channels, by default those with the highest score
``gamma1*||W_j||_1/mean_i||W_i||_1 + gamma2*||delta_j||_1/mean_i||delta_i||_1``; the other
filters get exactly zero gradient. With ``sample=True`` the kept channels are drawn at random in
proportion to their scores and their gradients scaled by 1 / their probability, so the pruned
gradients equal the dense ones in expectation.
"""
import numbers

import torch

from skiptrain import _checks, _core

DEFAULT_GAMMA1 = _core.EMP["gamma1"]
DEFAULT_GAMMA2 = _core.EMP["gamma2"]
DEFAULT_SAMPLE = _core.EMP["sample"]


def _pair(value, name):
    """An int or a pair of ints as a pair (the values are the op's to check)."""
    if isinstance(value, numbers.Integral):
        value = [value]
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"emp_conv2d: {name} must be an int or a pair of ints, got {type(value).__name__}")
    value = [_checks.integer("emp_conv2d", name, v) for v in value]
    if len(value) not in (1, 2):
        raise ValueError(f"emp_conv2d: {name} must be an int or a pair of ints, got {value}")
    return value * 2 if len(value) == 1 else value


def _padding(padding, weight, dilation, stride):
    if isinstance(padding, str):
        if padding == "valid":
            return [0, 0]
        if padding == "same":
            if stride != [1, 1]:
                raise ValueError("emp_conv2d: padding='same' needs stride 1")
            pads = []
            for d in range(2):
                total = dilation[d] * (weight.shape[2 + d] - 1)
                if total % 2:
                    raise ValueError("emp_conv2d: padding='same' with an even dilated kernel needs asymmetric "
                                     "padding, which is not supported; pass explicit padding")
                pads.append(total // 2)
            return pads
        raise ValueError(f"emp_conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
    return _pair(padding, "padding")


def _settings(where, keep, gamma1, gamma2, sample):
    """keep, gamma1 and gamma2 as floats, checked by the C++ rule (keep in (0, 1], gammas >= 0), and sample."""
    values = tuple(_checks.real(where, name, value) for name, value in
                   (("keep", keep), ("gamma1", gamma1), ("gamma2", gamma2)))
    _checks.by_core(where, torch.ops.skiptrain.check_emp_settings, *values)
    return (*values, _checks.boolean(where, "sample", sample))


def _tensors(where, **tensors):
    """Each of ``tensors`` (None skipped) is a torch.Tensor; shapes, dtypes and devices are the op's to check."""
    for name, value in tensors.items():
        if value is not None:
            _checks.tensor(where, name, value)


def emp_conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, keep=1.0,
               gamma1=DEFAULT_GAMMA1, gamma2=DEFAULT_GAMMA2, sample=DEFAULT_SAMPLE):
    """2-d convolution whose backward is Error Map Pruning.

    Args:
        input: ``[N, C_in, H, W]`` tensor.
        weight: ``[C_out, C_in/groups, kh, kw]`` tensor.
        bias: optional ``[C_out]`` tensor.
        stride, padding, dilation: int or pair (padding may also be ``'valid'`` or ``'same'``).
        groups: number of groups (depthwise: ``groups == C_in``).
        keep: fraction of output channels whose gradients are computed, in (0, 1]; 1 is dense.
        gamma1: weight of the filter-norm term of the channel score (>= 0).
        gamma2: weight of the error-map-norm term of the channel score (>= 0).
        sample: draw the kept channels in proportion to their scores and scale their gradients by
            1 / probability (unbiased) instead of keeping the best scorers.

    Returns:
        ``[N, C_out, H_out, W_out]``, equal to ``torch.nn.functional.conv2d``'s output.

    Raises:
        TypeError: a non-tensor, an integer dtype, dtypes that differ, a non-number setting.
        ValueError: shapes that do not fit, tensors on different devices, a setting out of range.

    Example:
        >>> x = torch.randn(8, 16, 32, 32, requires_grad=True)
        >>> w = torch.randn(32, 16, 3, 3, requires_grad=True)
        >>> emp_conv2d(x, w, padding=1, keep=0.25).sum().backward()  # 8 of 32 filters get gradients
    """
    _tensors("emp_conv2d", input=input, weight=weight, bias=bias)
    groups = _checks.integer("emp_conv2d", "groups", groups)
    keep, gamma1, gamma2 = (_checks.real("emp_conv2d", name, value) for name, value in
                            (("keep", keep), ("gamma1", gamma1), ("gamma2", gamma2)))
    sample = _checks.boolean("emp_conv2d", "sample", sample)
    stride = _pair(stride, "stride")
    dilation = _pair(dilation, "dilation")
    padding = _padding(padding, weight, dilation, stride)
    return torch.ops.skiptrain.emp_conv2d(input, weight, bias, stride, padding, dilation, groups,
                                          keep, gamma1, gamma2, sample)


def select_channels(grad_output, weight, keep, gamma1=DEFAULT_GAMMA1, gamma2=DEFAULT_GAMMA2):
    """Indices of the output channels Error Map Pruning keeps for this batch.

    Args:
        grad_output: the error map ``[N, C_out, H_out, W_out]``.
        weight: ``[C_out, ...]``.
        keep: kept fraction in (0, 1]; ``ceil(keep*C_out)`` channels (at least one) are kept.
        gamma1, gamma2: score weights (see the module docstring).

    Returns:
        int64 tensor of kept channel indices, ascending.

    Example:
        >>> select_channels(torch.randn(4, 8, 5, 5), torch.randn(8, 3, 3, 3), keep=0.5)
        tensor([...])
    """
    _tensors("select_channels", grad_output=grad_output, weight=weight)
    keep, gamma1, gamma2 = (_checks.real("select_channels", name, value) for name, value in
                            (("keep", keep), ("gamma1", gamma1), ("gamma2", gamma2)))
    return torch.ops.skiptrain.select_channels(grad_output, weight, keep, gamma1, gamma2)


def sample_channels(grad_output, weight, keep, gamma1=DEFAULT_GAMMA1, gamma2=DEFAULT_GAMMA2):
    """The output channels ``emp_conv2d(..., sample=True)`` keeps for this batch: ``ceil(keep*C_out)``
    channels drawn at random, each with a probability proportional to its score (capped at 1), from
    the default CPU generator whatever the device (``torch.manual_seed`` makes it repeatable).

    Args:
        grad_output: the error map ``[N, C_out, H_out, W_out]``.
        weight: ``[C_out, ...]``.
        keep: kept fraction in (0, 1].
        gamma1, gamma2: score weights (see the module docstring).

    Returns:
        ``(kept, scale)``: int64 kept channel indices, ascending, and each one's gradient scale,
        1 / its probability, in float64 for a double ``grad_output`` and float32 otherwise (half and
        bfloat16 gradients are scaled without rounding the scales).

    Example:
        >>> kept, scale = sample_channels(torch.randn(4, 8, 5, 5), torch.randn(8, 3, 3, 3), keep=0.5)
    """
    _tensors("sample_channels", grad_output=grad_output, weight=weight)
    keep, gamma1, gamma2 = (_checks.real("sample_channels", name, value) for name, value in
                            (("keep", keep), ("gamma1", gamma1), ("gamma2", gamma2)))
    return torch.ops.skiptrain.sample_channels(grad_output, weight, keep, gamma1, gamma2)


def quantize(x, bits, stochastic=False):
    """Range-based linear quantization (Banner et al. 2018): ``x`` rounded onto the ``2**bits``
    evenly spaced levels spanning ``[x.min(), x.max()]``, returned as float. Gradient: straight through.

    Args:
        x: floating-point tensor.
        bits: width, 2..16.
        stochastic: round up with probability equal to the fractional part (unbiased) instead of to
            the nearest level; the noise comes from torch's default generator.

    Returns:
        Tensor like ``x``.

    Example:
        >>> quantize(torch.tensor([0.0, 0.2, 1.0]), 2)
        tensor([0.0000, 0.3333, 1.0000])
    """
    _tensors("quantize", x=x)
    return torch.ops.skiptrain.quantize(x, _checks.integer("quantize", "bits", bits), bool(stochastic))


def quantize_grad(x, bits):
    """Identity in the forward pass; in backward the gradient is quantized to ``bits`` with
    stochastic rounding (the error-map quantizer of quantized training).

    Example:
        >>> y = quantize_grad(conv(x), 8)
    """
    _tensors("quantize_grad", x=x)
    return torch.ops.skiptrain.quantize_grad(x, _checks.integer("quantize_grad", "bits", bits))
