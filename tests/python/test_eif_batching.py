"""The trainer's two ways of feeding the filter's kept instances to the main model:
`shrink` (the kept part of each incoming batch) and `accumulate` (gathered into full
batches across incoming batches): both keep R_set of the stream and count the same
phases; accumulate resumes exactly, since evaluations flush what is still gathering."""
import pytest
import torch

import skiptrain.checkpoint
from conftest import run_trainer

BASE = ["--model", "lenet5", "--dataset", "mnist", "--batch-size", "32", "--lr", "0.01", "--threads", "1",
        "--progress", "none", "--method", "eif", "--eif-ratio", "0.25", "--eif-warmup", "2"]


def train(trainer, data_dir, *extra, check=True):
    return run_trainer(trainer, "train", *BASE, "--data-dir", data_dir, *extra, check=check)


@pytest.mark.parametrize("batching", ["shrink", "accumulate"])
def test_both_batchings_keep_r_set_and_charge_every_phase(trainer, tiny_mnist, batching):
    _, s = train(trainer, tiny_mnist, "--epochs", "2", "--eif-batching", batching)
    seen = 2 * 512
    # Warm-up keeps 2 batches whole; afterwards ceil(0.25 * 32) = 8 of every 32.
    assert s["instances_trained"] == 2 * 32 + (seen // 32 - 2) * 8
    phases = s["spent_by_phase"]
    assert {"filter_forward", "filter_backward", "loss_only_forward", "main_forward", "main_backward"} <= phases.keys()
    assert phases["main_forward"] == pytest.approx(s["instances_trained"] * s["model_forward_macs"])
    assert 0.5 < s["saving"] < 0.75


def test_accumulate_resumes_exactly(trainer, tiny_mnist, tmp_path):
    flags = ["--eif-batching", "accumulate"]
    _, straight = train(trainer, tiny_mnist, *flags, "--epochs", "2", "--checkpoint", tmp_path / "straight.pt")
    train(trainer, tiny_mnist, *flags, "--epochs", "1", "--checkpoint", tmp_path / "split.pt")
    _, resumed = train(trainer, tiny_mnist, *flags, "--epochs", "2", "--checkpoint", tmp_path / "split.pt",
                       "--resume")
    for key in ("test_acc", "test_loss", "instances_trained", "spent_macs"):
        assert resumed[key] == straight[key], key
    a = skiptrain.checkpoint.load(tmp_path / "straight.pt")["tensors"]
    b = skiptrain.checkpoint.load(tmp_path / "split.pt")["tensors"]
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("model.", "selector.")))


def test_bad_batching_is_named(trainer, tiny_mnist):
    proc, _ = train(trainer, tiny_mnist, "--epochs", "1", "--eif-batching", "hoard", check=False)
    assert proc.returncode == 2 and "--eif-batching" in proc.stderr
