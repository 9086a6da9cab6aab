"""benchmarks/class_skew.py on a hand-made RUNS.jsonl: each class's trained share over the run and
in its most skewed window, and its final test accuracy, land in the report with the right class."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_benchmark

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))
from class_skew import most_skewed_window, window_mix_distances  # noqa: E402


def record(epoch, seen, trained, accuracy, distance, batches):
    return {"epoch": epoch, "instances_seen_by_class": seen, "instances_trained_by_class": trained,
            "test_acc_by_class": accuracy, "class_mix_distance": distance, "selected_batches": batches}


# Three classes; the first window trains them alike, the second starves class 1. The steps' class-mix
# distance averages 0.1 over the first window's 4 batches and 0.4 over the second's 2.
RECORDS = [record(0.5, [10, 10, 10], [5, 5, 5], [0.5, 0.5, 0.5], 0.1, 4),
           record(1.0, [20, 20, 20], [10, 5, 15], [0.6, 0.2, 0.9], 0.2, 6)]


def test_the_most_skewed_window_is_the_one_that_starved_a_class():
    width, window, first, last = most_skewed_window(RECORDS)
    assert (first, last) == (0.5, 1.0)
    assert window == [0.5, 0.0, 1.0] and width == 1.0
    assert window_mix_distances(RECORDS) == pytest.approx([0.1, 0.4])


def test_report_names_the_starved_class_and_skips_runs_without_counts(tmp_path):
    summary = {"dataset": "cifar10", "test_acc": 0.5667, "instances_seen": 60, "instances_trained": 30,
               "instances_seen_by_class": [20, 20, 20], "instances_trained_by_class": [10, 5, 15],
               "class_mix_distance": 0.2, "selected_batches": 6}
    unevaluated = {**summary, "dataset": "cifar10"}
    # A class without test instances has no accuracy (null in the record).
    records = [RECORDS[0], {**RECORDS[1], "test_acc_by_class": [0.6, 0.2, None]}]
    runs = [{"method": "ranked", "budget": 1.0, "seed": 0, "summary": summary, "metrics": records},
            {"method": "old", "budget": 1.0, "seed": 0, "summary": {"test_acc": 0.1}, "metrics": []},
            {"method": "unevaluated", "budget": 1.0, "seed": 0, "summary": unevaluated, "metrics": []}]
    path = tmp_path / "RUNS.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in runs))
    run_benchmark("class_skew.py", path, "--out", tmp_path / "skew.md")
    report = (tmp_path / "skew.md").read_text()
    assert "| ranked | 1 | 0 | 56.67% | 0.500 | 0.250 (automobile) | 0.750 (bird) | 0.000 - 1.000 (0.5-1.0) " \
           "| 0.200 | 0.400 | 20.0% (automobile) | 60.0% (airplane) |" in report
    assert "| ranked | 1 | 0 | 0.50 / 60% | 0.25 / 20% | 0.75 / - |" in report
    assert "| old |" not in report and "| unevaluated |" not in report


def test_a_missing_runs_file_is_named(tmp_path):
    proc = subprocess.run([sys.executable, BENCHMARKS / "class_skew.py", tmp_path / "absent.jsonl", "--out",
                           tmp_path / "skew.md"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "absent.jsonl" in proc.stderr
