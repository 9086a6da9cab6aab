"""Shared fixtures: the trainer binary and small generated datasets in IDX format."""
import gzip
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def trainer():
    """Path of the `skiptrain` binary (SKIPTRAIN_TRAINER, or the build tree's)."""
    path = os.environ.get("SKIPTRAIN_TRAINER") or str(Path(__file__).resolve().parents[2] / "build/trainer/skiptrain")
    if not Path(path).is_file():
        pytest.fail(f"trainer binary not found at {path}: run `make build` or set SKIPTRAIN_TRAINER")
    return path


def write_idx(directory, prefix, images, labels):
    """Writes IDX image and label files (gzip) the way MNIST ships them."""
    n = len(labels)
    with gzip.open(directory / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + images.astype(np.uint8).tobytes())
    with gzip.open(directory / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes())


def make_learnable(n, seed):
    """Images whose class (0-9) is the position of a bright 7x7 block, plus noise."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.integers(0, 60, (n, 28, 28))
    for i, c in enumerate(labels):
        r, col = divmod(int(c), 4)
        images[i, 2 + 7 * r : 9 + 7 * r, 1 + 7 * col : 8 + 7 * col] = 255
    return images, labels


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """A 512/128-instance MNIST-format dataset a LeNet learns in one epoch."""
    directory = tmp_path_factory.mktemp("tiny-mnist")
    write_idx(directory, "train", *make_learnable(512, 0))
    write_idx(directory, "t10k", *make_learnable(128, 1))
    return directory


@pytest.fixture(scope="session")
def tiny_cifar(tmp_path_factory):
    """A CIFAR-10-format dataset (32x32 RGB): 5 training files of 32 random images, 32 test images."""
    directory = tmp_path_factory.mktemp("tiny-cifar")
    rng = np.random.default_rng(2)
    for name in [f"data_batch_{i}.bin" for i in range(1, 6)] + ["test_batch.bin"]:
        labels = rng.integers(0, 10, (32, 1), dtype=np.uint8)
        pixels = rng.integers(0, 256, (32, 3 * 32 * 32), dtype=np.uint8)
        (directory / name).write_bytes(np.concatenate([labels, pixels], axis=1).tobytes())
    return directory


def run_trainer(trainer, *args, check=True):
    """Runs the trainer; returns (completed process, parsed last stdout line or None). A `train`
    that names no --device runs on the CPU, where runs are exactly reproducible (the GPU runs of
    test_trainer_device.py ask for theirs)."""
    args = [str(a) for a in args]
    if args and args[0] == "train" and "--device" not in args:
        args += ["--device", "cpu"]
    proc = subprocess.run([trainer, *args], capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"trainer failed ({proc.returncode}): {proc.stderr}")
    lines = proc.stdout.strip().splitlines()
    summary = json.loads(lines[-1]) if proc.returncode in (0, 130) and lines else None
    return proc, summary


def run_benchmark(script, *args, timeout=300):
    """Runs benchmarks/SCRIPT with this interpreter; returns its stdout (fails the test on a non-zero exit)."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / script
    proc = subprocess.run([sys.executable, str(path), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout
