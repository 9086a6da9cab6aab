"""Crash safety of the trainer on tiny data: a run killed with SIGKILL at a random
evaluation and resumed ends exactly like an uninterrupted one (weights and metrics);
SIGINT/SIGTERM save a checkpoint and exit 130; a checkpoint write killed half way never
replaces the last good file; a diverging run stops naming the step and keeps it."""
import json
import random
import signal
import subprocess
import time

import pytest
import torch

import skiptrain.checkpoint
from conftest import run_trainer

COMMON = ["--model", "lenet5", "--dataset", "mnist", "--batch-size", "32", "--lr", "0.05", "--threads", "1",
          "--progress", "none", "--seed", "3", "--epochs", "3", "--eval-every", "2", "--device", "cpu"]
METHODS = {"sgd": ["--method", "sgd"], "eif+emp": ["--method", "eif+emp", "--eif-warmup", "4"]}
RECORDS = 24  # 3 epochs of 16 batches, one evaluation every 2
TIMING = ("train_s", "train_s_by_phase")  # wall-clock figures: the only ones two identical runs may differ in
SUMMARY = ("iterations", "test_acc", "best_test_acc", "test_loss", "instances_seen", "instances_trained",
           "instances_loss_only", "dense_macs", "spent_macs", "saving")


def command(trainer, data, directory, method):
    return [trainer, "train", *COMMON, *METHODS[method], "--data-dir", str(data),
            "--checkpoint", str(directory / "run.pt"), "--metrics", str(directory / "metrics.jsonl")]


def records(directory):
    lines = (directory / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMING} for line in lines]


def state(directory):
    """The checkpoint's tensors, less "scores" (it holds the run's train_s)."""
    tensors = skiptrain.checkpoint.load(directory / "run.pt")["tensors"]
    return {k: v for k, v in tensors.items() if k != "scores"}


def start(cmd, *extra):
    return subprocess.Popen([*cmd, *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_records(proc, directory, count):
    """Returns once the run has written `count` metrics records (or has ended)."""
    path = directory / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if path.exists() and path.read_text().count("\n") >= count:
            return
        time.sleep(0.002)


@pytest.fixture(scope="module")
def uninterrupted(trainer, tiny_mnist, tmp_path_factory):
    """method -> (summary, metrics records, final checkpoint tensors) of a run left alone."""
    runs = {}

    def get(method):
        if method not in runs:
            directory = tmp_path_factory.mktemp("straight")
            proc = subprocess.run(command(trainer, tiny_mnist, directory, method), capture_output=True, text=True)
            assert proc.returncode == 0, proc.stderr
            runs[method] = (json.loads(proc.stdout.splitlines()[-1]), records(directory), state(directory))
        return runs[method]

    return get


def assert_same_run(directory, summary, expected):
    want_summary, want_records, want_state = expected
    assert {k: summary[k] for k in SUMMARY} == {k: want_summary[k] for k in SUMMARY}
    assert records(directory) == want_records
    got = state(directory)
    assert got.keys() == want_state.keys()
    different = [k for k in got if not torch.equal(got[k], want_state[k])]
    assert not different, f"tensors differ after resume: {different}"


@pytest.mark.parametrize("method", ["sgd", "eif+emp"])
def test_sigkill_at_a_random_evaluation_then_resume_equals_an_uninterrupted_run(
        trainer, tiny_mnist, tmp_path, uninterrupted, method):
    cmd = command(trainer, tiny_mnist, tmp_path, method)
    # From record 2 on, a checkpoint is on disk: the record of an evaluation is written before its
    # checkpoint, so a kill right after record 1 can leave nothing to resume from.
    kill_at = random.randint(2, RECORDS // 2)
    proc = start(cmd)
    wait_for_records(proc, tmp_path, kill_at)
    proc.kill()
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill after record {kill_at}"
    _, summary = run_trainer(*cmd, "--resume")
    assert_same_run(tmp_path, summary, uninterrupted(method))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_save_a_checkpoint_and_exit_130(trainer, tiny_mnist, tmp_path, uninterrupted, sig):
    cmd = command(trainer, tiny_mnist, tmp_path, "sgd")
    proc = start(cmd)
    wait_for_records(proc, tmp_path, 3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["interrupted"] is True
    # Saved where it stopped, usually between two evaluations, not at the last evaluation.
    assert skiptrain.checkpoint.load(tmp_path / "run.pt")["iteration"] == summary["iterations"]
    _, summary = run_trainer(*cmd, "--resume")
    assert_same_run(tmp_path, summary, uninterrupted("sgd"))


def test_checkpoint_writes_killed_at_random_never_replace_the_last_good_file(trainer, tiny_mnist, tmp_path):
    """A checkpoint at every step, and the run killed at random moments: after each kill the
    file on disk is a complete checkpoint, and partial temporary files left behind are ignored."""
    cmd = [*command(trainer, tiny_mnist, tmp_path, "sgd"), "--eval-every", "1"]
    (tmp_path / "run.pt.tmp-1").write_bytes(b"PK\x03\x04 half a checkpoint")  # a writer killed long ago
    rng = random.Random()
    last = 0
    for _ in range(6):
        proc = start(cmd, "--resume") if (tmp_path / "run.pt").exists() else start(cmd)
        # Two records on: an evaluation's record precedes its checkpoint, so only the second
        # record guarantees a checkpoint past `last` (the first run has none before that).
        wait_for_records(proc, tmp_path, last + 2)
        time.sleep(rng.uniform(0, 0.02))
        proc.kill()
        proc.wait()
        iteration = skiptrain.checkpoint.load(tmp_path / "run.pt")["iteration"]  # raises if partial
        assert iteration >= last
        last = iteration
    _, summary = run_trainer(*cmd, "--resume")
    assert summary["iterations"] == 48


def test_diverging_run_stops_naming_the_step(trainer, tiny_mnist, tmp_path):
    cmd = command(trainer, tiny_mnist, tmp_path, "sgd")
    proc, _ = run_trainer(*cmd, "--lr", "1e30", "--eval-every", "0", check=False)
    assert proc.returncode == 3
    assert "loss is nan at iteration 2" in proc.stderr and "lower --lr (now 1" in proc.stderr, proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "run.pt").exists()  # no evaluation reached: nothing written


def test_diverging_resumed_run_leaves_the_last_good_checkpoint_intact(trainer, tiny_mnist, tmp_path):
    cmd = command(trainer, tiny_mnist, tmp_path, "sgd")
    run_trainer(*cmd, "--epochs", "1")
    good = (tmp_path / "run.pt").read_bytes()
    # Evaluating after every step: the first update already makes the weights non-finite.
    proc, _ = run_trainer(*cmd, "--lr", "1e30", "--eval-every", "1", "--resume", check=False)
    assert proc.returncode == 3
    assert "after iteration 17" in proc.stderr and "lower --lr" in proc.stderr, proc.stderr
    assert (tmp_path / "run.pt").read_bytes() == good
