"""Fake (meta) kernels of the ``torch.ops.skiptrain`` tensor ops, for torch.compile, FakeTensor and
``torch.library.opcheck``: each returns empty tensors of the shapes, dtypes, devices and memory
formats the real kernel returns, computing nothing. Shape rules that the C++ core owns (how many
channels Error Map Pruning keeps) are asked of the core, not restated here.
"""
import torch


def _like(x):
    """An empty tensor shaped, typed and laid out like ``x`` (channels-last stays channels-last)."""
    return torch.empty_like(x, memory_format=torch.preserve_format)


@torch.library.register_fake("skiptrain::emp_conv2d")
def _emp_conv2d(input, weight, bias, stride, padding, dilation, groups, keep, gamma1, gamma2, sample=False):
    torch.ops.skiptrain._check_emp_conv2d_args(input, weight, bias, stride, padding, dilation, groups, keep, gamma1,
                                               gamma2)
    return torch.ops.aten.convolution(input, weight, bias, stride, padding, dilation, False, [0, 0], groups)


@torch.library.register_fake("skiptrain::_emp_conv2d_backward")
def _emp_conv2d_backward(grad_output, input, weight, stride, padding, dilation, groups, keep, gamma1, gamma2,
                         sample, output_mask):
    grad_input = _like(input) if output_mask[0] else None
    grad_weight = _like(weight) if output_mask[1] else None
    grad_bias = weight.new_empty(weight.shape[0]) if output_mask[2] else None
    return grad_input, grad_weight, grad_bias


@torch.library.register_fake("skiptrain::select_channels")
def _select_channels(grad_output, weight, keep, gamma1, gamma2):
    kept = torch.ops.skiptrain.kept_channels(weight.shape[0], keep)
    return grad_output.new_empty(kept, dtype=torch.int64)


@torch.library.register_fake("skiptrain::sample_channels")
def _sample_channels(grad_output, weight, keep, gamma1, gamma2):
    kept = torch.ops.skiptrain.kept_channels(weight.shape[0], keep)
    scale_dtype = torch.float64 if grad_output.dtype == torch.float64 else torch.float32
    return grad_output.new_empty(kept, dtype=torch.int64), grad_output.new_empty(kept, dtype=scale_dtype)


@torch.library.register_fake("skiptrain::quantize")
def _quantize(x, bits, stochastic):
    return _like(x)


@torch.library.register_fake("skiptrain::quantize_grad")
def _quantize_grad(x, bits):
    return _like(x)


def _pooled(x, shape, dtype):
    """An empty [N, C, h, w] tensor in ``x``'s memory format."""
    channels_last = x.dim() == 4 and not x.is_contiguous() and x.is_contiguous(memory_format=torch.channels_last)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    return x.new_empty(shape, dtype=dtype).contiguous(memory_format=fmt)


@torch.library.register_fake("skiptrain::max_pool2x2_with_codes")
def _max_pool2x2_with_codes(x):
    shape = (x.shape[0], x.shape[1], x.shape[2] // 2, x.shape[3] // 2)
    return _pooled(x, shape, x.dtype), _pooled(x, shape, torch.int32)


@torch.library.register_fake("skiptrain::_max_pool2x2_backward")
def _max_pool2x2_backward(grad_output, codes, height, width):
    return _pooled(codes, (grad_output.shape[0], grad_output.shape[1], height, width), grad_output.dtype)
