"""The `skiptrain` trainer end to end on small generated data: the JSON summary,
bad flags, determinism, exact resume, and checkpoints that Python can read."""
import json
import os
import time

import numpy as np
import pytest
import torch

import skiptrain
import skiptrain.checkpoint
from conftest import make_learnable, run_trainer, write_idx

REQUIRED_KEYS = {
    "model", "dataset", "method", "epochs", "iterations", "test_acc", "best_test_acc", "instances_seen",
    "instances_trained", "dense_macs", "spent_macs", "saving", "wall_s", "train_s", "peak_rss_mb",
}
BASE = ["--model", "lenet5", "--dataset", "mnist", "--batch-size", "32", "--lr", "0.05", "--threads", "1",
        "--progress", "none"]


def train(trainer, data_dir, *extra, check=True):
    return run_trainer(trainer, "train", *BASE, "--data-dir", data_dir, *extra, check=check)


def test_summary_is_the_last_stdout_line_and_learns(trainer, tiny_mnist):
    _, summary = train(trainer, tiny_mnist, "--epochs", "2")
    assert REQUIRED_KEYS <= summary.keys()
    assert summary["instances_seen"] == 2 * 512
    assert summary["instances_trained"] == 2 * 512
    assert summary["iterations"] == 2 * 16
    assert summary["saving"] == 0.0
    assert summary["dense_macs"] == pytest.approx(2 * 512 * 3 * 416520 - 2 * 512 * 117600)  # first conv: no grad_input
    assert summary["test_acc"] > 0.5  # chance is 0.1


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--epochs", "0"], "--epochs"),
        (["--epochs", "-3"], "--epochs"),
        (["--model", "resnet9000"], "--model"),
        (["--dataset", "imagenet"], "--dataset"),
        (["--lr", "-1"], "--lr"),
        (["--lr-warmup", "-5"], "--lr-warmup"),
        (["--method", "magic"], "--method"),
        (["--resume"], "--resume"),
        (["--threads", "-2"], "--threads"),
    ],
)
def test_bad_flags_are_rejected_with_the_flag_named(trainer, tiny_mnist, flags, named):
    proc, _ = train(trainer, tiny_mnist, *flags, check=False)
    assert proc.returncode == 2
    assert named in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr  # one line, no backtrace


def test_missing_data_directory_is_named(trainer, tmp_path):
    proc, _ = run_trainer(trainer, "train", *BASE, "--data-dir", tmp_path / "nowhere", check=False)
    assert proc.returncode == 2
    assert "nowhere" in proc.stderr


def test_truncated_dataset_file_is_named(trainer, tmp_path):
    write_idx(tmp_path, "train", *make_learnable(64, 0))
    write_idx(tmp_path, "t10k", *make_learnable(16, 1))
    import gzip

    path = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    proc, _ = run_trainer(trainer, "train", *BASE, "--data-dir", tmp_path, check=False)
    assert proc.returncode == 2
    assert "train-images-idx3-ubyte" in proc.stderr


def test_same_seed_one_thread_is_deterministic(trainer, tiny_mnist, tmp_path):
    _, a = train(trainer, tiny_mnist, "--epochs", "1", "--checkpoint", tmp_path / "a.pt")
    _, b = train(trainer, tiny_mnist, "--epochs", "1", "--checkpoint", tmp_path / "b.pt")
    assert a["test_acc"] == b["test_acc"] and a["test_loss"] == b["test_loss"]
    ta = skiptrain.checkpoint.load(tmp_path / "a.pt")["tensors"]
    tb = skiptrain.checkpoint.load(tmp_path / "b.pt")["tensors"]
    assert all(torch.equal(ta[k], tb[k]) for k in ta if k.startswith("model."))


def test_resume_continues_exactly(trainer, tiny_mnist, tmp_path):
    _, straight = train(trainer, tiny_mnist, "--epochs", "2", "--checkpoint", tmp_path / "straight.pt")
    train(trainer, tiny_mnist, "--epochs", "1", "--checkpoint", tmp_path / "split.pt")
    _, resumed = train(trainer, tiny_mnist, "--epochs", "2", "--checkpoint", tmp_path / "split.pt", "--resume")
    for key in ("test_acc", "test_loss", "instances_seen", "iterations", "spent_macs"):
        assert resumed[key] == straight[key], key
    a = skiptrain.checkpoint.load(tmp_path / "straight.pt")["tensors"]
    b = skiptrain.checkpoint.load(tmp_path / "split.pt")["tensors"]
    assert all(torch.equal(a[k], b[k]) for k in a if k.startswith(("model.", "optimizer.")))


def phases_within_train_s(summary):
    """The summary's train_s_by_phase, after checking that its phases fit inside train_s."""
    phases = summary["train_s_by_phase"]
    assert set(phases) == {"batch", "selector", "loss_only_forward", "main_step"}
    assert all(seconds >= 0 for seconds in phases.values())
    assert 0.8 * summary["train_s"] <= sum(phases.values()) <= summary["train_s"] + 1e-9  # 0.97+ seen
    return phases


def test_train_s_is_split_by_phase_and_the_split_survives_a_resume(trainer, tiny_mnist, tmp_path):
    _, sgd = train(trainer, tiny_mnist, "--epochs", "1")
    phases = phases_within_train_s(sgd)
    assert phases["loss_only_forward"] == 0  # sgd queries nothing
    assert phases["main_step"] > phases["selector"]

    eif = ["--method", "eif", "--eif-warmup", "4", "--checkpoint", tmp_path / "run.pt"]
    _, first = train(trainer, tiny_mnist, "--epochs", "1", *eif)
    before = phases_within_train_s(first)
    assert first["instances_loss_only"] > 0 and before["loss_only_forward"] > 0
    assert before["selector"] > 0  # the filter's forward and training
    _, resumed = train(trainer, tiny_mnist, "--epochs", "2", *eif, "--resume")
    after = phases_within_train_s(resumed)
    assert all(after[phase] > before[phase] for phase in ("selector", "loss_only_forward", "main_step"))


def test_resume_refuses_a_checkpoint_of_another_model(trainer, tiny_mnist, tmp_path):
    train(trainer, tiny_mnist, "--epochs", "1", "--checkpoint", tmp_path / "run.pt")
    proc, _ = run_trainer(trainer, "train", *BASE, "--data-dir", tiny_mnist, "--model", "lenet-filter",
                          "--checkpoint", tmp_path / "run.pt", "--resume", check=False)
    assert proc.returncode == 2
    assert "run.pt: checkpoint of --model lenet5" in proc.stderr and "asks for --model lenet-filter" in proc.stderr


@pytest.mark.parametrize("flag", ["--checkpoint", "--metrics"])
@pytest.mark.parametrize("where", ["missing-folder", "read-only-folder", "a-folder"])
def test_unwritable_output_paths_are_rejected_before_any_work(trainer, tiny_mnist, tmp_path, flag, where):
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    path = {"missing-folder": tmp_path / "nowhere" / "out", "read-only-folder": readonly / "out",
            "a-folder": tmp_path}[where]
    if where == "read-only-folder" and os.access(readonly, os.W_OK):
        pytest.skip("running as root, who may write into read-only folders")
    started = time.monotonic()
    proc, _ = train(trainer, tiny_mnist, flag, path, "--epochs", "50", check=False)
    assert proc.returncode == 2, proc.stderr
    assert flag in proc.stderr and str(path) in proc.stderr
    assert time.monotonic() - started < 20  # rejected at once, not after 50 epochs


def test_resume_from_missing_checkpoint_is_named(trainer, tiny_mnist, tmp_path):
    proc, _ = train(trainer, tiny_mnist, "--checkpoint", tmp_path / "absent.pt", "--resume", check=False)
    assert proc.returncode == 2 and "absent.pt" in proc.stderr


def test_checkpoint_loads_in_python_and_matches_eval(trainer, tiny_mnist, tmp_path):
    _, summary = train(trainer, tiny_mnist, "--epochs", "1", "--checkpoint", tmp_path / "run.pt")
    _, evaluation = run_trainer(trainer, "eval", "--checkpoint", tmp_path / "run.pt", "--threads", "1")
    assert evaluation["test_acc"] == summary["test_acc"]

    model = skiptrain.checkpoint.load_model(tmp_path / "run.pt")
    images, labels = make_learnable(128, 1)
    x = (torch.from_numpy(images).float().div(255).unsqueeze(1) - 0.1307) / 0.3081
    with torch.no_grad():
        predicted = model(x).argmax(1).numpy()
    assert np.mean(predicted == labels) == pytest.approx(summary["test_acc"], abs=1e-9)
    by_class = [np.mean(predicted[labels == c] == c) if (labels == c).any() else None for c in range(10)]
    assert evaluation["test_acc_by_class"] == pytest.approx(by_class, abs=1e-9)


def test_eval_refuses_a_foreign_file(trainer, tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    proc, _ = run_trainer(trainer, "eval", "--checkpoint", tmp_path / "junk.pt", check=False)
    assert proc.returncode == 2 and "junk.pt" in proc.stderr


def _eif_run(trainer, data, *flags, check=True):
    """The run's summary; with check=False, the completed process."""
    proc, summary = run_trainer(trainer, "train", "--model", "lenet5", "--dataset", "mnist", "--data-dir", data,
                                "--method", "eif", "--eif-ratio", "0.25", "--eif-warmup", "0", "--eif-min-query", "0",
                                "--iterations", "16", "--batch-size", "32", "--threads", "1", "--eval-every", "0",
                                "--progress", "none", *flags, check=check)
    return summary if check else proc


def test_instances_are_counted_per_class(trainer, tiny_mnist):
    # One epoch sees each training instance once; what trains adds up to instances_trained.
    _, train_labels = make_learnable(512, 0)
    seen = np.bincount(train_labels, minlength=10).tolist()
    _, sgd = train(trainer, tiny_mnist, "--epochs", "1")
    assert sgd["instances_seen_by_class"] == sgd["instances_trained_by_class"] == seen
    assert sgd["class_mix_distance"] == 0 and sgd["selected_batches"] == sgd["iterations"]
    eif = _eif_run(trainer, tiny_mnist, "--eif-rank-within", "class")  # 16 batches of 32: one epoch
    assert eif["instances_seen_by_class"] == seen
    trained = eif["instances_trained_by_class"]
    assert sum(trained) == eif["instances_trained"] == 16 * 8
    assert all(0 <= t <= s for t, s in zip(trained, seen))
    assert 0 < eif["class_mix_distance"] < 1 and eif["selected_batches"] == 16


def test_full_stream_tail_trains_every_instance_at_the_end(trainer, tiny_mnist):
    # 8 of 32 kept per batch; in the last half of the 16 iterations all 32 train.
    assert _eif_run(trainer, tiny_mnist)["instances_trained"] == 16 * 8
    tail = _eif_run(trainer, tiny_mnist, "--full-stream-tail", "0.5")
    assert tail["instances_trained"] == 8 * 8 + 8 * 32
    proc, _ = run_trainer(trainer, "train", "--data-dir", tiny_mnist, "--dataset", "mnist",
                          "--full-stream-tail", "1", check=False)
    assert proc.returncode != 0 and "--full-stream-tail" in proc.stderr


def test_random_share_keeps_the_budget_and_changes_the_pick(trainer, tiny_mnist):
    ranked = _eif_run(trainer, tiny_mnist)
    drawn = _eif_run(trainer, tiny_mnist, "--eif-random-share", "0.5")
    assert drawn["instances_trained"] == ranked["instances_trained"] == 16 * 8
    assert drawn["test_loss"] != ranked["test_loss"]
    proc, _ = run_trainer(trainer, "train", "--data-dir", tiny_mnist, "--dataset", "mnist", "--method", "eif",
                          "--eif-random-share", "1.5", check=False)
    assert proc.returncode != 0 and "--eif-random-share" in proc.stderr


def test_eif_sees_label_changes_the_pick_not_the_budget_and_resumes_only_with_its_head(trainer, tiny_mnist,
                                                                                       tmp_path):
    blind = _eif_run(trainer, tiny_mnist)
    sees = _eif_run(trainer, tiny_mnist, "--eif-sees-label")
    assert sees["instances_trained"] == blind["instances_trained"] == 16 * 8
    assert sees["test_loss"] != blind["test_loss"]
    # A run of 5 iterations checkpointed (40 labelled instances wait for the filter's step of 64),
    # resumed to 16 with the same head: the 16-iteration run exactly.
    checkpoint = tmp_path / "sees.pt"
    base = ["train", "--model", "lenet5", "--dataset", "mnist", "--data-dir", tiny_mnist, "--method", "eif",
            "--eif-ratio", "0.25", "--eif-warmup", "0", "--eif-min-query", "0", "--batch-size", "32",
            "--threads", "1", "--eval-every", "0", "--progress", "none", "--checkpoint", checkpoint]
    run_trainer(trainer, *base, "--eif-sees-label", "--iterations", "5")
    _, resumed = run_trainer(trainer, *base, "--eif-sees-label", "--iterations", "16", "--resume")
    assert resumed["test_loss"] == sees["test_loss"]
    proc, _ = run_trainer(trainer, *base, "--iterations", "16", "--resume", check=False)
    assert proc.returncode == 2 and "--eif-sees-label" in proc.stderr and "sees.pt" in proc.stderr


def test_eif_downsample_shows_the_filter_pooled_images_at_a_quarter_of_its_cost(trainer, tiny_cifar, tiny_mnist,
                                                                                tmp_path):
    checkpoint = tmp_path / "pooled.pt"
    base = ["train", "--model", "resnet8", "--dataset", "cifar10", "--data-dir", tiny_cifar, "--method", "eif",
            "--eif-ratio", "0.5", "--eif-warmup", "0", "--eif-min-query", "0", "--iterations", "6",
            "--batch-size", "16", "--threads", "1", "--eval-every", "0", "--progress", "none"]
    # A LeNet filter built for 16x16 refuses 32x32 images: it runs only on pooled ones.
    run_trainer(trainer, *base, "--eif-model", "lenet-filter", "--eif-downsample", "2")
    _, full = run_trainer(trainer, *base, "--eif-model", "resnet8-slim")
    _, pooled = run_trainer(trainer, *base, "--eif-model", "resnet8-slim", "--eif-downsample", "2",
                            "--checkpoint", checkpoint)
    assert pooled["instances_trained"] == full["instances_trained"] == 6 * 8
    ratio = pooled["spent_by_phase"]["filter_forward"] / full["spent_by_phase"]["filter_forward"]
    assert 0.24 < ratio < 0.26  # every conv's output a quarter the area; the head's MACs stay
    proc, _ = run_trainer(trainer, *base, "--eif-model", "resnet8-slim", "--iterations", "8", "--resume",
                          "--checkpoint", checkpoint, check=False)
    assert proc.returncode == 2 and "--eif-downsample 2" in proc.stderr and "pooled.pt" in proc.stderr
    for bad, message in [("3", "must divide the image size (32)"), ("0", "must be 1")]:
        proc, _ = run_trainer(trainer, *base, "--eif-downsample", bad, check=False)
        assert proc.returncode == 2 and "--eif-downsample" in proc.stderr and message in proc.stderr
    # MNIST's LeNet filter has no room for 14x14 images: the error names the flag and the size.
    proc = _eif_run(trainer, tiny_mnist, "--eif-downsample", "2", check=False)
    assert proc.returncode == 2 and "--eif-downsample 2: the filter would see 14x14 images" in proc.stderr


def test_eif_rank_within_class_keeps_the_budget_and_changes_the_pick(trainer, tiny_mnist):
    by_batch = _eif_run(trainer, tiny_mnist)
    by_class = _eif_run(trainer, tiny_mnist, "--eif-rank-within", "class")
    assert by_class["instances_trained"] == by_batch["instances_trained"] == 16 * 8
    assert by_class["test_loss"] != by_batch["test_loss"]
    for flags in (["--eif-rank-within", "label"], ["--eif-rank-within", "class", "--eif-control", "paper"]):
        proc, _ = run_trainer(trainer, "train", "--data-dir", tiny_mnist, "--dataset", "mnist", "--method", "eif",
                              *flags, check=False)
        assert proc.returncode == 2 and "--eif-rank-within" in proc.stderr


def test_emp_decay_pruned_false_spares_the_pruned_channels_from_weight_decay(trainer, tiny_mnist):
    # Same run with weight decay, pruned channels decayed (the default) or spared: the models differ;
    # without EMP the flag changes nothing.
    base = ["train", "--model", "lenet5", "--dataset", "mnist", "--data-dir", tiny_mnist, "--iterations", 12,
            "--threads", 1, "--weight-decay", 0.05, "--eval-every", 0]
    losses = {}
    for method in ("emp", "sgd"):
        for spare in ("true", "false"):
            _, summary = run_trainer(trainer, *base, "--method", method, "--emp-keep", 0.25,
                                     "--emp-decay-pruned", spare)
            losses[method, spare] = summary["test_loss"]
    assert losses["emp", "true"] != losses["emp", "false"]
    assert losses["sgd", "true"] == losses["sgd", "false"]


def test_emp_sample_draws_other_channels_repeatably(trainer, tiny_mnist):
    # Sampled channels train another model than the best-scoring ones, and the same one again under
    # the same seed (the draws come from the seeded generator, which checkpoints save).
    base = ["train", "--model", "lenet5", "--dataset", "mnist", "--data-dir", tiny_mnist, "--iterations", 12,
            "--threads", 1, "--eval-every", 0, "--method", "emp", "--emp-keep", 0.25]
    losses = [run_trainer(trainer, *base, "--emp-sample", sample)[1]["test_loss"]
              for sample in ("false", "true", "true")]
    assert losses[0] != losses[1]
    assert losses[1] == losses[2]
    proc, _ = train(trainer, tiny_mnist, "--emp-sample", "maybe", check=False)
    assert proc.returncode == 2 and "--emp-sample" in proc.stderr


def test_resnets_prune_stage_one_only_unless_emp_layer_keep_says_otherwise(trainer, tiny_mnist, tmp_path):
    base = ["--model", "resnet20", "--iterations", 2, "--batch-size", 8, "--eval-every", 0, "--method", "emp"]

    def pruned_convs(*flags):
        metrics = tmp_path / "metrics.jsonl"
        train(trainer, tiny_mnist, *base, "--metrics", metrics, *flags)
        record = [line for line in metrics.read_text().splitlines() if line][-1]
        return sorted(json.loads(record)["emp_kept_channels"])

    stage_one = [f"layer1.{block}.conv{i}" for block in range(3) for i in (1, 2)]
    assert pruned_convs() == stage_one
    assert pruned_convs("--emp-layer-keep", "auto") == stage_one
    papers = pruned_convs("--emp-layer-keep", "none")  # every conv but the first
    assert len(papers) == 18 and set(stage_one) < set(papers) and "conv1" not in papers
    # given rules replace auto's, they do not add to them: stage 3 dense, stages 1 and 2 pruned
    assert pruned_convs("--emp-layer-keep", "layer3.*=1") == sorted(c for c in papers if not c.startswith("layer3."))
    proc, _ = train(trainer, tiny_mnist, *base, "--emp-layer-keep", "auto,layer1.*=0.25", check=False)
    assert proc.returncode == 2 and "--emp-layer-keep" in proc.stderr and "stands alone" in proc.stderr, proc.stderr


def test_emp_layer_keep_gives_the_named_convs_their_own_fraction(trainer, tiny_mnist, tmp_path):
    base = ["--iterations", 4, "--eval-every", 0, "--method", "emp", "--emp-keep", 0.5, "--emp-skip-first", "false"]

    def kept_and_saving(*rules):
        metrics = tmp_path / "metrics.jsonl"
        _, summary = train(trainer, tiny_mnist, *base, "--metrics", metrics, *rules)
        record = [line for line in metrics.read_text().splitlines() if line][-1]
        return json.loads(record).get("emp_kept_channels"), summary["saving"]

    uniform, uniform_saving = kept_and_saving()
    assert uniform == {"conv1": [3, 6], "conv2": [8, 16]}
    ruled, ruled_saving = kept_and_saving("--emp-layer-keep", "conv2=0.25", "--emp-layer-keep", "conv*=1")
    assert ruled == {"conv2": [4, 16]}  # conv1 dense by the second rule
    assert ruled_saving != uniform_saving
    assert kept_and_saving("--emp-layer-keep", "conv2=0.25,conv*=1") == (ruled, ruled_saving)  # comma-separated
    for rule, says in (("conv2", "PATTERN=KEEP"), ("conv2=2", "(0, 1]"), ("fc*=0.5", "conv1, conv2")):
        proc, _ = train(trainer, tiny_mnist, *base, "--emp-layer-keep", rule, check=False)
        assert proc.returncode == 2 and "--emp-layer-keep" in proc.stderr and says in proc.stderr, proc.stderr
        assert proc.stderr.count("\n") == 1, proc.stderr
