"""benchmarks/reproduce.py: a --quick run of the lenet-mnist preset on the tiny dataset
writes the table, the JSON, the plots and the targets, and --from-json regenerates the
same table; the equal-MACs comparison reads each run's curve at the common budget."""
import json
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from conftest import run_benchmark  # noqa: E402
from reproduction.targets import AheadAtEqualMacs, SavingAtLeast  # noqa: E402


def reproduce(*args):
    return run_benchmark("reproduce.py", *args, timeout=120)


def test_quick_run_writes_table_json_plots_and_targets(trainer, tiny_mnist, tmp_path):
    out = reproduce("--preset", "lenet-mnist", "--quick", "--seeds", "0", "--threads", "1", "--trainer", trainer,
                    "--data-dir", tiny_mnist, "--out-dir", tmp_path / "a")
    doc = json.loads((tmp_path / "a/lenet-mnist.json").read_text())
    methods = {r["method"] for r in doc["runs"]}
    assert {"sgd", "smb", "smd", "ohem", "sb", "eif", "emp", "eif+emp"} <= methods
    assert all(r["summary"]["iterations"] == 30 and len(r["metrics"]) == 3 for r in doc["runs"])
    table = (tmp_path / "a/lenet-mnist.md").read_text()
    for name in methods:
        assert f"| {name} | `" in table
    assert "Quick run" in table and "eif+emp ahead of ohem" in table
    for plot in ("accuracy-vs-macs", "eif-filter", "emp-channels"):
        assert (tmp_path / f"a/lenet-mnist-{plot}.png").stat().st_size > 1000
    assert "target: eif+emp: counted MAC saving >= 78.60%" in out

    reproduce("--from-json", tmp_path / "a/lenet-mnist.json", "--out-dir", tmp_path / "b")
    assert (tmp_path / "b/lenet-mnist.md").read_text() == table


def run(method, seed, curve, final_spent):
    """A results-document run whose evaluations are (spent MACs, test accuracy) pairs."""
    return {"method": method, "seed": seed, "flags": [],
            "summary": {"spent_macs": final_spent, "test_acc": curve[-1][1], "train_s": 1.0, "saving": 0.5,
                        "saving_bitops": 0.5, "instances_trained": 1, "instances_seen": 2, "dense_macs": 100.0,
                        "spent_by_phase": {}},
            "metrics": [{"spent_macs": m, "test_acc": a} for m, a in curve]}


def test_equal_macs_comparison_reads_both_curves_at_the_smaller_total():
    doc = {"preset": "x", "runs": [
        run("sgd", 0, [(50, 0.5), (100, 0.9)], 100),
        run("eif+emp", 0, [(10, 0.6), (20, 0.8), (30, 0.85)], 30),
        run("ohem", 0, [(15, 0.7), (25, 0.82), (60, 0.95)], 60),  # at 30 MACs: 0.82 < 0.85
        run("smb", 0, [(10, 0.75), (20, 0.81)], 20),               # at 20 MACs: 0.81 > eif+emp's 0.80
    ]}
    ahead = AheadAtEqualMacs("eif+emp", "ohem")(doc)
    assert ahead.met is True and "+3.00 pt" in ahead.detail
    behind = AheadAtEqualMacs("eif+emp", "smb")(doc)
    assert behind.met is False and "-1.00 pt" in behind.detail
    assert AheadAtEqualMacs("eif+emp", "sb")(doc).met is None  # not run


@pytest.mark.parametrize("share, met", [(0.5, True), (0.51, False)])
def test_saving_target_compares_the_mean_saving(share, met):
    doc = {"preset": "x", "runs": [run("sgd", 0, [(1, 0.5)], 1), run("eif+emp", 0, [(1, 0.5)], 1)]}
    assert SavingAtLeast("eif+emp", share)(doc).met is met
