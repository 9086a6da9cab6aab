"""The peer methods (smb, smd, ohem, sb, infobatch) in the trainer on small generated data: what each
trains, what the ledger charges it phase by phase, exact resume, and its flags' checks."""
import json

import pytest

from test_trainer import train

FORWARD = 416520                 # LeNet-5 on 28x28, MACs per instance
TRAIN = 3 * FORWARD - 117600     # forward + backward; the first conv has no grad_input
EPOCH = ["--epochs", "2"]        # 32 incoming batches of 32 (512 instances per epoch)


def test_smb_trains_evenly_spaced_batches_and_spends_nothing_on_the_rest(trainer, tiny_mnist):
    _, s = train(trainer, tiny_mnist, *EPOCH, "--method", "smb", "--smb-fraction", "0.25")
    assert s["iterations"] == 32 and s["instances_seen"] == 1024
    assert s["instances_trained"] == 8 * 32  # batches 0, 4, ..., 28
    assert s["spent_macs"] == pytest.approx(8 * 32 * TRAIN)
    assert s["saving"] == pytest.approx(0.75)


def test_smd_trains_or_drops_whole_batches(trainer, tiny_mnist):
    _, s = train(trainer, tiny_mnist, *EPOCH, "--method", "smd", "--smd-p", "0.5")
    trained = s["instances_trained"]
    assert trained % 32 == 0 and 0 < trained < 1024
    assert set(s["spent_by_phase"]) <= {"main_forward", "main_backward"}
    assert s["spent_macs"] == pytest.approx(trained * TRAIN)


def test_ohem_pays_every_forward_then_trains_the_top_quarter(trainer, tiny_mnist):
    _, s = train(trainer, tiny_mnist, *EPOCH, "--method", "ohem", "--ohem-ratio", "0.25")
    assert s["instances_trained"] == 32 * 8
    phases = s["spent_by_phase"]
    assert phases["loss_only_forward"] == pytest.approx(1024 * FORWARD)
    assert phases["main_forward"] == pytest.approx(256 * FORWARD)
    assert phases["main_backward"] == pytest.approx(256 * (TRAIN - FORWARD))
    assert phases["selection"] == pytest.approx(32 * 32 * 5)  # m * ceil(log2 m) per batch
    assert s["saving"] == pytest.approx(1 - s["spent_macs"] / (1024 * TRAIN))


def test_sb_pays_every_forward_and_trains_by_percentile(trainer, tiny_mnist):
    # A window of one batch: percentiles k/32 within each batch, so the expected share is
    # mean((k/32)^3) = 0.266 whatever the loss does over training (standard deviation 0.014).
    _, s = train(trainer, tiny_mnist, *EPOCH, "--method", "sb", "--sb-beta", "3", "--sb-window", "32")
    trained = s["instances_trained"]
    assert 0.2 < trained / 1024 < 0.33
    phases = s["spent_by_phase"]
    assert phases["loss_only_forward"] == pytest.approx(1024 * FORWARD)
    assert phases["main_forward"] + phases["main_backward"] == pytest.approx(trained * TRAIN)
    assert phases["selection"] == pytest.approx(32 * 32 * 32)  # m * W per batch


def test_infobatch_trains_every_instance_once_then_drops_some_of_the_well_learned(trainer, tiny_mnist, tmp_path):
    metrics = tmp_path / "m.jsonl"
    _, s = train(trainer, tiny_mnist, *EPOCH, "--method", "infobatch", "--infobatch-prune", "0.5",
                 "--metrics", metrics)
    trained = s["instances_trained"]
    # Epoch 1: nothing has a score, all 512 train. Epoch 2: each below-mean instance drops with
    # probability 0.5, so at most about half of the 512 (all but one below the mean).
    assert 768 < trained < 1024
    phases = s["spent_by_phase"]
    assert phases["selection"] == pytest.approx(1024)  # one comparison per incoming instance
    assert phases["main_forward"] + phases["main_backward"] == pytest.approx(trained * TRAIN)
    record = json.loads(metrics.read_text().splitlines()[-1])["infobatch"]
    assert record["scored"] == 512 and 0 < record["threshold"] < 3


def test_infobatch_rests_in_the_full_stream_tail(trainer, tiny_mnist):
    _, s = train(trainer, tiny_mnist, *EPOCH, "--method", "infobatch", "--full-stream-tail", "0.5")
    assert s["instances_trained"] == 1024
    assert s["spent_by_phase"]["selection"] == pytest.approx(512)


def test_infobatch_with_emp_prunes_instances_and_error_maps(trainer, tiny_mnist):
    _, s = train(trainer, tiny_mnist, *EPOCH, "--method", "infobatch+emp", "--emp-keep", "0.5")
    trained = s["instances_trained"]
    assert 768 < trained < 1024
    phases = s["spent_by_phase"]
    assert phases["main_forward"] == pytest.approx(trained * FORWARD)
    assert phases["main_backward"] < 0.9 * trained * (TRAIN - FORWARD)  # the convs' pruned error maps
    assert phases["selection"] > 1024  # InfoBatch's comparisons and EMP's channel scores


@pytest.mark.parametrize("method", ["ohem", "sb", "infobatch"])
def test_loss_based_methods_learn(trainer, tiny_mnist, method):
    # lr 0.01: at the suite's 0.05 (momentum 0.9) training on the hardest instances only diverges here.
    _, s = train(trainer, tiny_mnist, "--epochs", "4", "--lr", "0.01", "--method", method)
    assert s["test_acc"] > 0.5  # chance is 0.1


@pytest.mark.parametrize("method", ["smb", "smd", "ohem", "sb", "infobatch"])
def test_resume_continues_exactly(trainer, tiny_mnist, tmp_path, method):
    flags = ["--method", method, "--eval-every", "8"]
    _, straight = train(trainer, tiny_mnist, *EPOCH, *flags, "--checkpoint", tmp_path / "straight.pt")
    train(trainer, tiny_mnist, "--epochs", "1", *flags, "--checkpoint", tmp_path / "split.pt")
    _, resumed = train(trainer, tiny_mnist, *EPOCH, *flags, "--checkpoint", tmp_path / "split.pt", "--resume")
    for key in ("test_acc", "test_loss", "instances_trained", "spent_macs"):
        assert resumed[key] == straight[key], key


@pytest.mark.parametrize(
    "flags, named",
    [
        (["--method", "smb", "--smb-fraction", "0"], "--smb-fraction"),
        (["--method", "smd", "--smd-p", "1"], "--smd-p"),
        (["--method", "ohem", "--ohem-ratio", "1.5"], "--ohem-ratio"),
        (["--method", "sb", "--sb-beta", "0"], "--sb-beta"),
        (["--method", "sb", "--sb-window", "0"], "--sb-window"),
        (["--method", "infobatch", "--infobatch-prune", "1"], "--infobatch-prune"),
        (["--method", "infobatch+emp", "--infobatch-prune", "0"], "--infobatch-prune"),
    ],
)
def test_bad_peer_flags_are_rejected_with_the_flag_named(trainer, tiny_mnist, flags, named):
    proc, _ = train(trainer, tiny_mnist, *flags, check=False)
    assert proc.returncode == 2
    assert named in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
