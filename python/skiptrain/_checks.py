"""Argument checks shared by the Python API. Each raises before any work is done:
TypeError for the wrong kind of value (not a tensor, an integer dtype, a str for a
number), ValueError for the wrong shape, device or range; the message names the
function and the argument, e.g. ``emp_conv2d: keep must be in (0, 1], got keep=1.5``.
"""
import math
import numbers

import torch


def tensor(where, name, value, shape=None, dims=None, floating=False):
    """``value`` as a tensor with ``dims`` dimensions (int or tuple) and, if asked, a floating dtype.

    Example:
        >>> tensor("f", "x", torch.zeros(2, 3), "[N, C]", dims=2, floating=True)
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(value).__name__}")
    if floating and not value.is_floating_point():
        raise TypeError(f"{where}: {name} must have a floating dtype, got {value.dtype}")
    if dims is not None and value.dim() not in (dims if isinstance(dims, tuple) else (dims,)):
        raise ValueError(f"{where}: {name} must have shape {shape}, got shape {list(value.shape)}")
    return value


def same_dtype_and_device(where, reference_name, reference, **others):
    """Every tensor of ``others`` (None skipped) has ``reference``'s dtype and device."""
    for name, value in others.items():
        if value is None:
            continue
        if value.device != reference.device:
            raise ValueError(f"{where}: {name} is on {value.device} but {reference_name} is on {reference.device}")
        if value.dtype != reference.dtype:
            raise TypeError(f"{where}: {name} has dtype {value.dtype} but {reference_name} has {reference.dtype}")


def real(where, name, value, low=None, high=None, low_open=False, high_open=False):
    """``value`` as a finite float in the interval given by low/high (open or closed ends).

    Example:
        >>> real("f", "keep", 0.5, 0.0, 1.0, low_open=True)
        0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    v = float(value)
    above = low is None or (v > low if low_open else v >= low)
    below = high is None or (v < high if high_open else v <= high)
    if not (math.isfinite(v) and above and below):
        left = "-inf" if low is None else f"{low:g}"
        right = "inf" if high is None else f"{high:g}"
        interval = f"{'(' if low_open or low is None else '['}{left}, {right}{')' if high_open or high is None else ']'}"
        raise ValueError(f"{where}: {name} must be a finite number in {interval}, got {name}={value}")
    return v


def integer(where, name, value, low=None):
    """``value`` as an int >= ``low`` (bools are refused, they are rarely meant as counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{where}: {name} must be >= {low}, got {name}={value}")
    return int(value)


def module(where, name, value):
    """``value`` when it is a ``torch.nn.Module``."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{where}: {name} must be a torch.nn.Module, got {type(value).__name__}")
    return value
