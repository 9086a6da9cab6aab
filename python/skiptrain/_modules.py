"""Module-tree surgery shared by the layers and the converters (skiptrain.emp.convert,
skiptrain.quant.convert): one walker that swaps layers, one way to build a layer that
shares another's parameters."""
import copy
import fnmatch

import torch


def sharing(cls, module):
    """A new ``cls`` instance holding ``module``'s attributes and the very same Parameter,
    buffer and submodule objects (``state_dict`` keys unchanged); the caller sets its own settings."""
    new = cls.__new__(cls)
    torch.nn.Module.__init__(new)
    new.__dict__.update({k: v for k, v in module.__dict__.items()
                         if k not in ("_parameters", "_buffers", "_modules")})
    new._parameters, new._buffers, new._modules = module._parameters, module._buffers, module._modules
    return new


def exclude_patterns(where, exclude):
    """``exclude`` (a str or a sequence of str ``fnmatch`` patterns) as a list."""
    if isinstance(exclude, str):
        exclude = [exclude]
    if not isinstance(exclude, (list, tuple, set)) or not all(isinstance(p, str) for p in exclude):
        raise TypeError(f"{where}: exclude must be a str or a sequence of str patterns, got {exclude!r}")
    return list(exclude)


def targets(model, kinds, exclude=(), skip_first=False):
    """The ``(qualified name, module)`` pairs ``convert`` would swap: the submodules of ``model`` (itself
    included) that are instances of ``kinds``, less the first when ``skip_first`` and the ``exclude``d."""
    matches = [(name, m) for name, m in model.named_modules() if isinstance(m, kinds)]
    return [(name, m) for position, (name, m) in enumerate(matches)
            if not (skip_first and position == 0) and not any(fnmatch.fnmatchcase(name, p) for p in exclude)]


def convert(model, kinds, swap, exclude=(), skip_first=False, inplace=True):
    """Replaces each submodule of ``model`` that is an instance of ``kinds`` (see ``targets``) by
    ``swap(module, name)``.

    Args:
        model: the root module (itself converted, and returned, when it is of ``kinds``).
        kinds: a class or tuple of classes.
        swap: ``swap(module, name) -> module`` (``name``: its qualified name); it may return ``module``
            itself after changing it in place.
        exclude: qualified names (``fnmatch`` patterns, as checked by ``exclude_patterns``) left alone.
        skip_first: leave the first matching module (in ``named_modules`` order) alone.
        inplace: modify ``model``; when False a deep copy is converted and returned.

    Returns:
        The converted model.
    """
    if not inplace:
        model = copy.deepcopy(model)
    for name, module in targets(model, kinds, exclude, skip_first):
        new = swap(module, name)
        if new is module:
            continue
        if name == "":
            return new
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, new)
    return model
