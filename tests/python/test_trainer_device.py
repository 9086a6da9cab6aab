"""The trainer's --device flag: rejected with the flag named where it cannot be honoured, and on a
GPU (skipped without one) a short run that learns, a checkpoint that resumes on the CPU, and
eif+emp with accumulate batching end to end."""
import pytest
import torch

from test_trainer import train

needs_gpu = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: trains with --device cuda")


@pytest.mark.parametrize("value", ["gpu", "cuda:x", "cuda:99", "cpu:0"])
def test_bad_device_is_rejected_naming_the_flag(trainer, tiny_mnist, value):
    proc, _ = train(trainer, tiny_mnist, "--device", value, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "--device" in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: --device cuda is valid here")
def test_cuda_without_a_gpu_says_so(trainer, tiny_mnist):
    proc, _ = train(trainer, tiny_mnist, "--device", "cuda", check=False)
    assert proc.returncode == 2 and "no CUDA GPU" in proc.stderr, proc.stderr


def test_auto_picks_a_gpu_only_when_one_is_visible(trainer, tiny_mnist):
    _, summary = train(trainer, tiny_mnist, "--epochs", "1", "--device", "auto")
    assert summary["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu")


@needs_gpu
@pytest.mark.parametrize("method", ["sgd", "emp", "eif+emp", "sb"])
def test_cuda_run_learns(trainer, tiny_mnist, method):
    extra = ["--eif-batching", "accumulate"] if method == "eif+emp" else []
    _, summary = train(trainer, tiny_mnist, "--device", "cuda", "--method", method, "--epochs", "3", *extra)
    assert summary["device"] == "cuda:0"
    assert summary["test_acc"] > 0.3, summary  # chance is 0.1


@needs_gpu
def test_checkpoint_written_on_cuda_resumes_on_the_cpu(trainer, tiny_mnist, tmp_path):
    ckpt = tmp_path / "run.pt"
    train(trainer, tiny_mnist, "--device", "cuda", "--method", "eif+emp", "--epochs", "1", "--checkpoint", ckpt)
    _, summary = train(trainer, tiny_mnist, "--device", "cpu", "--method", "eif+emp", "--epochs", "2",
                       "--checkpoint", ckpt, "--resume")
    assert summary["device"] == "cpu" and summary["iterations"] > 0
