"""The trainer as a data-parallel run of two processes on loopback (Gloo): equal to one process on
the same global batch, the filter's kept share over the whole batch, a killed rank that stops the
other with a clear error (no hang) and a --resume that continues exactly, and torchrun's launch."""
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import run_trainer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import trainer_runs  # noqa: E402
from trainer_runs import free_port  # noqa: E402

WORLD = 2


def start_ranks(trainer, args, rank_args=lambda rank: []):
    """Starts the WORLD processes of one CPU run (benchmarks/trainer_runs.py launches them)."""
    return trainer_runs.start_ranks(trainer, [*args, "--device", "cpu", "--dist-timeout", 60], WORLD, rank_args)


def finish(ranks, timeout=300):
    """Waits for every rank; returns rank 0's summary. Fails the test on a non-zero exit."""
    outputs = [p.communicate(timeout=timeout) for p in ranks]
    for rank, (p, (out, err)) in enumerate(zip(ranks, outputs)):
        assert p.returncode == 0, f"rank {rank} exited {p.returncode}: {err[-2000:]}"
    assert outputs[1][0].strip() == "", "only rank 0 prints the summary"
    return json.loads(outputs[0][0].strip().splitlines()[-1])


def checkpointed_eif_args(data, checkpoint, epochs):
    """An eif run of `epochs` that writes `checkpoint` every epoch (8 iterations of tiny_mnist)."""
    return train_args(data, "--method", "eif", "--eif-warmup", 4, "--epochs", epochs, "--eval-every", 8,
                      "--checkpoint", checkpoint)


def start_until_checkpoint(trainer, args, checkpoint):
    """Starts the ranks of `args` and returns them once their first checkpoint is on disk."""
    ranks = start_ranks(trainer, args)
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert checkpoint.exists(), "no checkpoint was written"
    return ranks


def records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def train_args(data, *extra):
    return ["train", "--model", "lenet5", "--dataset", "mnist", "--data-dir", data, "--batch-size", 64,
            "--lr", 0.05, "--threads", 1, "--progress", "none", *extra]


def test_two_ranks_train_as_one_process_on_the_same_global_batch(trainer, tiny_mnist, tmp_path):
    args = train_args(tiny_mnist, "--epochs", 3, "--eval-every", 8)
    _, single = run_trainer(trainer, *args, "--metrics", tmp_path / "one.jsonl")
    both = finish(start_ranks(trainer, [*args, "--metrics", tmp_path / "two.jsonl"]))
    assert both["world_size"] == WORLD and single["world_size"] == 1
    for key in ("instances_seen", "instances_trained", "instances_seen_by_class", "instances_trained_by_class",
                "dense_macs", "spent_macs", "iterations"):
        assert both[key] == single[key], key
    one, two = records(tmp_path / "one.jsonl"), records(tmp_path / "two.jsonl")
    assert len(one) == len(two) == 3
    for a, b in zip(one, two):
        # The same gradients summed in another order: equal to float tolerance.
        assert b["test_loss"] == pytest.approx(a["test_loss"], rel=1e-4)
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-4)
        assert abs(b["test_acc"] - a["test_acc"]) <= 1 / 128 + 1e-9  # one test image at most
    assert single["test_acc"] > 0.5  # it learned: the comparison is not of two untrained models


@pytest.mark.parametrize("method", ["eif", "eif+emp"])
def test_the_filter_keeps_r_set_of_the_whole_batch(trainer, tiny_mnist, tmp_path, method):
    args = train_args(tiny_mnist, "--method", method, "--epochs", 6, "--eval-every", 16, "--eif-warmup", 4,
                      "--eif-ratio", 0.25, "--metrics", tmp_path / "m.jsonl")
    summary = finish(start_ranks(trainer, args))
    last = records(tmp_path / "m.jsonl")[-1]
    assert last["eif"]["kept_fraction"] == pytest.approx(0.25, abs=0.02)
    # The counts are the run's, not rank 0's: 6 epochs of 512, warm-up batches whole, then a quarter.
    assert summary["instances_seen"] == 6 * 512
    trained_share = summary["instances_trained"] / summary["instances_seen"]
    assert 0.25 < trained_share < 0.25 + 4 * 64 / (6 * 512) + 0.02
    assert sum(summary["instances_seen_by_class"]) == summary["instances_seen"]
    assert sum(summary["instances_trained_by_class"]) == summary["instances_trained"]
    assert summary["saving"] > 0.4


def test_a_killed_rank_stops_the_other_and_resume_continues(trainer, tiny_mnist, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    args = checkpointed_eif_args(tiny_mnist, checkpoint, 40)
    ranks = start_until_checkpoint(trainer, args, checkpoint)
    ranks[1].send_signal(signal.SIGKILL)
    t0 = time.time()
    out, err = ranks[0].communicate(timeout=60)
    assert time.time() - t0 < 30, "rank 0 took too long to notice"
    ranks[1].communicate()
    assert ranks[0].returncode == 3, err
    assert "lost the other ranks" in err and "--resume" in err, err
    resumed = finish(start_ranks(trainer, [*args, "--resume"]))
    assert resumed["iterations"] == 40 * 8
    # The same run uninterrupted ends where the resumed one does.
    straight = finish(start_ranks(trainer, [*args[:-1], tmp_path / "straight.ckpt"]))
    for key in ("test_loss", "test_acc", "instances_trained", "spent_macs"):
        assert resumed[key] == pytest.approx(straight[key], rel=1e-9), key


def test_torchrun_launches_the_trainer(trainer, tiny_mnist):
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD}",
                           "--no-python", trainer, *map(str, train_args(tiny_mnist, "--epochs", 1)), "--device", "cpu"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1 and summaries[0]["world_size"] == WORLD
    assert summaries[0]["instances_seen"] == 512


def test_bad_launches_name_the_flag(trainer, tiny_mnist):
    proc, _ = run_trainer(trainer, *train_args(tiny_mnist, "--epochs", 1), "--world-size", 2, "--rank", 2, check=False)
    assert proc.returncode == 2 and "--rank (or RANK) must be in [0, 2)" in proc.stderr
    proc, _ = run_trainer(trainer, *train_args(tiny_mnist, "--epochs", 1, "--method", "eif", "--eif-batching",
                                               "accumulate"), "--world-size", 2, "--rank", 0, check=False)
    assert proc.returncode == 2 and "--eif-batching accumulate" in proc.stderr
    # A rank whose peers never come: a clear error after --dist-timeout, not a hang.
    proc, _ = run_trainer(trainer, *train_args(tiny_mnist, "--epochs", 1), "--world-size", 2, "--rank", 1,
                          "--master-port", free_port(), "--dist-timeout", 2, check=False)
    assert proc.returncode == 3 and "could not join the run" in proc.stderr, proc.stderr


def test_a_signal_to_one_rank_stops_every_rank_after_the_same_step(trainer, tiny_mnist, tmp_path):
    checkpoint = tmp_path / "run.ckpt"
    args = checkpointed_eif_args(tiny_mnist, checkpoint, 200)
    ranks = start_until_checkpoint(trainer, args, checkpoint)
    ranks[1].send_signal(signal.SIGTERM)
    outputs = [p.communicate(timeout=60) for p in ranks]
    assert [p.returncode for p in ranks] == [130, 130], [err for _, err in outputs]
    summary = json.loads(outputs[0][0].strip().splitlines()[-1])
    assert summary["interrupted"] and 0 < summary["iterations"] < 200 * 8
    # The checkpoint is of the iteration both stopped after: resuming it runs to the end.
    epochs = 1 + summary["iterations"] // 8
    resumed = finish(start_ranks(trainer, [*checkpointed_eif_args(tiny_mnist, checkpoint, epochs), "--resume"]))
    assert resumed["iterations"] == 8 * epochs


def test_ranks_started_with_different_flags_all_stop_naming_it(trainer, tiny_mnist):
    ranks = start_ranks(trainer, train_args(tiny_mnist, "--epochs", 1), rank_args=lambda rank: ["--seed", rank])
    errors = [p.communicate(timeout=120)[1] for p in ranks]
    assert [p.returncode for p in ranks] == [2, 2], errors
    assert "this rank's differ from rank 0's" in errors[1] and "started with different training flags" in errors[0]
