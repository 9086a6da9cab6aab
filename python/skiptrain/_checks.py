"""The Python side of argument checking: what only Python can see (a str where a number
belongs, a list where a tensor belongs, an integer dtype for a Python-side loss), raised as
TypeError or ValueError naming the function and the argument. Ranges, shapes, dtypes and
devices of the ops and settings are the C++ core's rules: its ops raise ValueError /
TypeError themselves, and ``by_core`` runs a C++ check ahead of the work it guards.
"""
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


def real(where, name, value):
    """``value`` as a float; bools and non-numbers are refused (the range is the C++ core's to check).

    Example:
        >>> real("f", "keep", 0.5)
        0.5
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where}: {name} must be a real number, got {type(value).__name__}")
    return float(value)


def boolean(where, name, value):
    """``value`` when it is a bool (0 and 1 are refused: a switch is meant as True or False).

    Example:
        >>> boolean("f", "sample", True)
        True
    """
    if not isinstance(value, bool):
        raise TypeError(f"{where}: {name} must be a bool, got {type(value).__name__}")
    return value


def integer(where, name, value, low=None):
    """``value`` as an int >= ``low`` (bools are refused, they are rarely meant as counts)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{where}: {name} must be an int, got {type(value).__name__}")
    if low is not None and value < low:
        raise ValueError(f"{where}: {name} must be >= {low}, got {name}={value}")
    return int(value)


def by_core(where, check, *args):
    """Runs the C++ core's ``check(*args)`` (an op that raises ValueError or TypeError naming the
    setting), re-raising its error with ``where`` in front so the message names the Python call."""
    try:
        check(*args)
    except (ValueError, TypeError) as error:
        raise type(error)(f"{where}: {str(error).strip().splitlines()[0]}") from None


def module(where, name, value):
    """``value`` when it is a ``torch.nn.Module``."""
    if not isinstance(value, torch.nn.Module):
        raise TypeError(f"{where}: {name} must be a torch.nn.Module, got {type(value).__name__}")
    return value
