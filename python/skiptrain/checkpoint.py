"""Reads checkpoints written by the skiptrain trainer (C++), with plain ``torch.load``.

A checkpoint is a dict: ``format``, ``version``, ``model``, ``dataset``, ``method``,
``in_channels``, ``image_size``, ``num_classes``, ``iteration``, ``config`` (JSON text)
and ``tensors`` (``model.*``, ``optimizer.*``, ``selector.*``, ``ledger``, ...).

Example:
    >>> ckpt = skiptrain.checkpoint.load("run.pt")
    >>> model = skiptrain.checkpoint.load_model("run.pt")
"""
import json
import os

import torch
from torch.jit._pickle import restore_type_tag as _restore_type_tag

from skiptrain import _core

FORMAT = _core.CHECKPOINT["format"]
VERSION = _core.CHECKPOINT["version"]


def load(path):
    """Loads and validates a skiptrain checkpoint.

    Args:
        path: the checkpoint file.

    Returns:
        dict with the metadata, ``config`` parsed from JSON, and ``tensors``.

    Raises:
        TypeError: ``path`` is not a str or path-like.
        ValueError: the file is not a skiptrain checkpoint of a version this package reads.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"checkpoint.load: path must be a str or os.PathLike, got {type(path).__name__}")
    try:
        # The C++ trainer's pickler tags typed dicts with restore_type_tag, a plain function; allowing
        # it keeps torch.load's weights-only unpickler (no arbitrary code from the file).
        with torch.serialization.safe_globals([_restore_type_tag]):
            data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as error:  # torch raises several types for corrupt files
        raise ValueError(f"{path}: not a readable checkpoint ({error})") from error
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a skiptrain checkpoint")
    if data.get("version") != VERSION:
        raise ValueError(f"{path}: checkpoint format version {data.get('version')}, this package reads {VERSION}")
    data = dict(data)
    data["config"] = json.loads(data["config"])
    return data


def model_state_dict(checkpoint):
    """The model's ``state_dict`` from a loaded checkpoint (``model.`` prefix removed)."""
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("tensors"), dict):
        raise TypeError("checkpoint.model_state_dict: checkpoint must be a dict from checkpoint.load() with a "
                        f"'tensors' dict, got {type(checkpoint).__name__}")
    prefix = "model."
    return {k[len(prefix):]: v for k, v in checkpoint["tensors"].items() if k.startswith(prefix)}


def load_model(path):
    """Builds the checkpoint's model from :mod:`skiptrain.models` and loads its weights.

    Args:
        path: the checkpoint file.

    Returns:
        torch.nn.Module in eval mode.
    """
    from skiptrain import models

    ckpt = load(path)
    model = models.make_model(
        ckpt["model"], in_channels=ckpt["in_channels"], image_size=ckpt["image_size"], num_classes=ckpt["num_classes"]
    )
    model.load_state_dict(model_state_dict(ckpt))
    return model.eval()
