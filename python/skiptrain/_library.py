"""Finds and loads libskiptrain, which registers the ``torch.ops.skiptrain`` operators.

Search order: ``$SKIPTRAIN_LIBRARY``; the copy installed inside this package
(``skiptrain/lib``); the build tree of a source checkout (``build/``).
"""
import os
from pathlib import Path

import torch

_LIBRARY_NAME = "libskiptrain.so"
_loaded_path = None


def _candidates():
    env = os.environ.get("SKIPTRAIN_LIBRARY")
    if env:
        yield Path(env)
    package_dir = Path(__file__).resolve().parent
    yield package_dir / "lib" / _LIBRARY_NAME
    yield package_dir.parent.parent / "build" / _LIBRARY_NAME


def load_library():
    """Loads libskiptrain once and returns its path.

    Returns:
        pathlib.Path of the loaded library.

    Raises:
        ImportError: when no built library is found, with the command that builds one.
    """
    global _loaded_path
    if _loaded_path is not None:
        return _loaded_path
    tried = []
    for path in _candidates():
        tried.append(str(path))
        if path.is_file():
            torch.ops.load_library(str(path))
            _loaded_path = path
            return path
    raise ImportError(
        "skiptrain: libskiptrain.so not found (looked in: " + ", ".join(tried) + "). "
        "Build it with `make build`, install with `pip install --no-build-isolation .`, "
        "or set SKIPTRAIN_LIBRARY to its path."
    )
