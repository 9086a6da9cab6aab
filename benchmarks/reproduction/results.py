"""Reading a reproduction's runs back: per-method figures over seeds (the table's row),
curves of the metrics records, and a run's test accuracy at a given MAC budget.

A results document (the JSON that --from-json reads) is a dict with the preset's name,
the machine and command, and "runs": [{method, seed, flags, summary, metrics}]."""
import statistics
from dataclasses import dataclass
from typing import Dict, List, Optional


@dataclass
class MethodFigures:
    name: str
    flags: List[str]
    seeds: int
    acc_mean: float          # final test accuracy (last evaluation), mean over seeds
    acc_std: float           # sample standard deviation over seeds (0 for one seed)
    saving: float            # counted MAC saving, mean
    saving_bitops: float     # counted bit-op saving, mean
    quantized: bool          # whether the bit-op figure differs from the MAC figure
    wallclock_saving: float  # 1 - train_s / dense train_s, per seed, mean
    train_s: float           # mean
    spent_macs: float        # mean
    trained_share: float     # instances that reached the main backward / incoming, mean
    phases: Dict[str, float]  # spent MACs per phase as a share of dense, mean


def runs_of(doc, method):
    """The runs of `method`, in seed order."""
    return sorted((r for r in doc["runs"] if r["method"] == method), key=lambda r: r["seed"])


def method_order(doc):
    """Method names in the order they were run (the dense reference first)."""
    names = []
    for r in doc["runs"]:
        if r["method"] not in names:
            names.append(r["method"])
    return names


def figures(doc, method, dense_method) -> MethodFigures:
    runs = runs_of(doc, method)
    dense_s = {r["seed"]: r["summary"]["train_s"] for r in runs_of(doc, dense_method)}
    s = [r["summary"] for r in runs]
    accs = [x["test_acc"] for x in s]
    ratios = [r["summary"]["train_s"] / dense_s[r["seed"]] for r in runs if dense_s.get(r["seed"], 0) > 0]
    phases = {}
    for x in s:
        for phase, macs in x["spent_by_phase"].items():
            phases[phase] = phases.get(phase, 0.0) + macs / x["dense_macs"] / len(s)
    return MethodFigures(
        name=method, flags=runs[0]["flags"], seeds=len(runs),
        acc_mean=statistics.mean(accs), acc_std=statistics.stdev(accs) if len(accs) > 1 else 0.0,
        saving=statistics.mean(x["saving"] for x in s),
        saving_bitops=statistics.mean(x["saving_bitops"] for x in s),
        quantized=any(abs(x["saving_bitops"] - x["saving"]) > 1e-12 for x in s),
        wallclock_saving=1 - statistics.mean(ratios) if ratios else float("nan"),
        train_s=statistics.mean(x["train_s"] for x in s),
        spent_macs=statistics.mean(x["spent_macs"] for x in s),
        trained_share=statistics.mean(x["instances_trained"] / max(1, x["instances_seen"]) for x in s),
        phases=phases)


def accuracy_at_budget(run, budget) -> Optional[float]:
    """Test accuracy of the last evaluation of `run` made with at most `budget` MACs spent."""
    within = [m for m in run["metrics"] if m["spent_macs"] <= budget * (1 + 1e-9)]
    return within[-1]["test_acc"] if within else None


def mean_curve(doc, method, key):
    """(mean spent MACs, mean `key`) per evaluation index, over the seeds that reached it."""
    runs = runs_of(doc, method)
    points = []
    for i in range(max(len(r["metrics"]) for r in runs)):
        at = [r["metrics"][i] for r in runs if i < len(r["metrics"])]
        points.append((statistics.mean(m["spent_macs"] for m in at), statistics.mean(m[key] for m in at)))
    return points
