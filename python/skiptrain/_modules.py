"""Module-tree surgery shared by the converters (skiptrain.emp.convert, skiptrain.quant.convert)."""


def replace(model, name, new):
    """Puts ``new`` where the submodule named ``name`` (as in ``named_modules()``, not "") sits in ``model``."""
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)
