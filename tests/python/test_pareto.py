"""benchmarks/pareto.py on the tiny dataset: every (method, budget) run lands in RUNS.jsonl with a
schedule scaled to its budget, the table and plot are written, an interrupted preset resumes
without rerunning what finished, --report-only redraws the same table, and a run on another machine
than dense's gets no wall-clock comparison; the equal-cost comparison reads a front only between
budgets that bracket the cost closely."""
import json
import math
import sys
from pathlib import Path

from conftest import run_benchmark

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from pareto import accuracy_at, ratio_to_dense  # noqa: E402


def pareto(*args):
    return run_benchmark("pareto.py", *args)


def test_budgets_runs_table_resume_and_report(trainer, tiny_mnist, tmp_path):
    # The demo's methods on the tiny MNIST files: budgets of 0.005 and 0.01 "epochs" of 60k (938
    # batches of 64) = 5 and 9 batches.
    common = ["--preset", "demo", "--trainer", trainer, "--dataset", "mnist", "--data-dir", tiny_mnist,
              "--threads", "1", "--out", tmp_path, "--evals-per-epoch", "200"]
    pareto(*common, "--budgets", "0.005")
    pareto(*common, "--budgets", "0.005", "0.01")  # resumes: only the new budget runs
    runs = [json.loads(line) for line in (tmp_path / "RUNS.jsonl").read_text().splitlines()]
    assert sorted((r["method"], r["budget"]) for r in runs) == [("eif+emp", 0.005), ("eif+emp", 0.01),
                                                                ("sgd", 0.005), ("sgd", 0.01)]
    for r in runs:
        iterations = r["summary"]["iterations"]
        assert iterations == round(r["budget"] * 938)
        flags = r["flags"]
        milestones = flags[flags.index("--lr-milestones") + 1:flags.index("--lr-gamma")]
        assert [int(m) for m in milestones] == [round(iterations * 0.5), round(iterations * 0.75)]
        assert r["metrics"], "time to target needs intermediate evaluations"
    table = (tmp_path / "README.md").read_text()
    # two budgets, then time to target; eif+emp's two budgets again against dense at equal cost
    assert table.count("| sgd |") == 3 and table.count("| eif+emp |") == 5
    assert "## Against dense at equal wall-clock" in table
    assert (tmp_path / "pareto.png").stat().st_size > 1000
    pareto(*common, "--report-only")
    assert (tmp_path / "README.md").read_text() == table
    # Each run names its machine; a run on another machine than dense's gets no wall-clock ratio.
    assert all(r["machine"] for r in runs)
    runs[0 if runs[0]["method"] == "eif+emp" else 1]["machine"] = "Another CPU"
    (tmp_path / "RUNS.jsonl").write_text("".join(json.dumps(r) + "\n" for r in runs))
    pareto(*common, "--report-only")
    report = (tmp_path / "README.md").read_text()
    assert "Another CPU" in report
    rows = [line for line in report.splitlines() if line.startswith("| ")]
    moved = [line for line in rows if line.startswith("| eif+emp | 0.005 |")]
    assert len(moved) == 2  # the table and the comparison with dense
    assert moved[0].split(" | ")[4:6] == ["0.0 s *", "-"]  # train_s marked, no ratio to dense
    assert moved[1].split(" | ")[4:7] == ["0.0 s *", "-", "-"]  # nor a comparison at equal time
    assert not any(" *" in line for line in rows if line not in moved)


def test_accuracy_at_interpolates_in_log_cost_only_between_close_budgets():
    points = [(10.0, 0.5, 1), (20.0, 0.6, 2), (100.0, 0.9, 8), (110.0, 0.92, 9)]
    assert accuracy_at(points, 10.0) == 0.5
    assert accuracy_at(points, 20.0) == 0.6
    assert accuracy_at(points, 100.0) == 0.9  # measured, though the gap before it is too wide to cross
    assert math.isclose(accuracy_at(points, math.sqrt(200.0)), 0.55)  # halfway in log cost
    assert math.isclose(accuracy_at(points, math.sqrt(11000.0)), 0.91)  # budgets 8 and 9 are close
    assert accuracy_at(points, 50.0) is None  # budgets 2 -> 8: the front may bend there
    assert accuracy_at(points, 5.0) is None and accuracy_at(points, 200.0) is None  # outside the front
    # budgets exactly 2x apart are close enough, however their costs drifted (here 2.1x)
    assert accuracy_at([(10.0, 0.5, 1), (21.0, 0.6, 2)], 15.0) is not None


def test_ratio_to_dense_is_a_dash_where_dense_has_no_run_at_that_budget():
    assert ratio_to_dense(50.0, 100.0) == "0.50x"
    assert ratio_to_dense(50.0, float("nan")) == "-"  # the mean over no dense runs
    assert ratio_to_dense(50.0, None) == "-"
