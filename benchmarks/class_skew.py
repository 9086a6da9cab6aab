#!/usr/bin/env python3
"""Which classes did each run train on, and which did it learn? Reads pareto.py's RUNS.jsonl
(runs of a trainer that counts instances per class) and writes a markdown report: each class's
trained share (instances trained / seen) over the run and in its most skewed evaluation window,
the class-mix distance of its steps (the total variation distance between the class mix of what
a step trained and of the batch it was chosen from, averaged over the run and over its worst
window), and each class's final test accuracy. A selection rule that ranks instances by loss can
starve classes over a run, or skew the class mix of each step while every class's share over the
run stays level; these tables tell the two apart.

Example:
    .venv/bin/python benchmarks/class_skew.py benchmarks/results/filter_class_skew/RUNS.jsonl \\
        --out benchmarks/results/filter_class_skew/class_skew.md
"""
import argparse
import json
import sys
from pathlib import Path

from trainer_runs import write_markdown

CLASS_NAMES = {"cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]}


def shares(trained, seen):
    """Per class trained / seen; None where a class was not seen."""
    return [t / s if s else None for t, s in zip(trained, seen)]


def spread(values):
    """(min, argmin, max, argmax) over the defined values."""
    known = [(v, c) for c, v in enumerate(values) if v is not None]
    low, high = min(known), max(known)
    return low[0], low[1], high[0], high[1]


def most_skewed_window(records):
    """The evaluation window (between consecutive records) whose per-class trained shares spread
    widest: (max - min, its shares, the window's first and last epoch)."""
    best = None
    previous = {"instances_seen_by_class": None, "instances_trained_by_class": None, "epoch": 0.0}
    for record in records:
        seen, trained = record["instances_seen_by_class"], record["instances_trained_by_class"]
        if previous["instances_seen_by_class"] is not None:
            seen = [a - b for a, b in zip(seen, previous["instances_seen_by_class"])]
            trained = [a - b for a, b in zip(trained, previous["instances_trained_by_class"])]
        window = shares(trained, seen)
        if any(v is not None for v in window):
            low, _, high, _ = spread(window)
            if best is None or high - low > best[0]:
                best = (high - low, window, previous["epoch"], record["epoch"])
        previous = record
    return best


def window_mix_distances(records):
    """The mean class-mix distance of each evaluation window, from the records' running means."""
    distances, before = [], (0.0, 0)
    for record in records:
        mean, batches = record["class_mix_distance"], record["selected_batches"]
        if batches > before[1]:
            distances.append((mean * batches - before[0] * before[1]) / (batches - before[1]))
        before = (mean, batches)
    return distances


def name(dataset, c):
    names = CLASS_NAMES.get(dataset)
    return names[c] if names else str(c)


def report(runs):
    lines = ["| method | budget | seed | test acc | trained share | per class: lowest | highest "
             "| most skewed window (epochs): lowest - highest | class-mix distance: run | worst window "
             "| test acc by class: lowest | highest |",
             "|---|---:|---:|---:|---:|---|---|---|---:|---:|---|---|"]
    details = []
    for run in runs:
        s, records = run["summary"], run["metrics"]
        if "instances_seen_by_class" not in s:
            continue  # a run of a trainer that did not count classes
        dataset = s["dataset"]
        per_class = shares(s["instances_trained_by_class"], s["instances_seen_by_class"])
        low, low_c, high, high_c = spread(per_class)
        if not records:
            continue  # no evaluation record: nothing per window or per class to show
        window = most_skewed_window(records)
        w_low, _, w_high, _ = spread(window[1])
        accuracy = records[-1]["test_acc_by_class"]  # None for a class without test instances
        a_low, a_low_c, a_high, a_high_c = spread(accuracy)
        lines.append(
            f"| {run['method']} | {run['budget']:g} | {run['seed']} | {100 * s['test_acc']:.2f}% "
            f"| {s['instances_trained'] / s['instances_seen']:.3f} "
            f"| {low:.3f} ({name(dataset, low_c)}) | {high:.3f} ({name(dataset, high_c)}) "
            f"| {w_low:.3f} - {w_high:.3f} ({window[2]:.1f}-{window[3]:.1f}) "
            f"| {s['class_mix_distance']:.3f} | {max(window_mix_distances(records), default=0.0):.3f} "
            f"| {100 * a_low:.1f}% ({name(dataset, a_low_c)}) | {100 * a_high:.1f}% ({name(dataset, a_high_c)}) |")
        details.append((run, dataset, per_class, accuracy))
    if not details:
        return lines
    dataset = details[0][1]
    classes = len(details[0][2])
    header = " | ".join(name(dataset, c) for c in range(classes))
    lines += ["", "Per class, over the whole run: trained share / final test accuracy.", "",
              f"| method | budget | seed | {header} |", "|---|---:|---:|" + "---|" * classes]
    for run, _, per_class, accuracy in details:
        cells = " | ".join(("-" if v is None else f"{v:.2f}") + " / " + ("-" if a is None else f"{100 * a:.0f}%")
                           for v, a in zip(per_class, accuracy))
        lines.append(f"| {run['method']} | {run['budget']:g} | {run['seed']} | {cells} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="RUNS.jsonl files of benchmarks/pareto.py")
    parser.add_argument("--out", required=True, help="markdown file to write")
    args = parser.parse_args()
    runs = []
    for path in args.runs:
        if not path.is_file():
            sys.exit(f"{path}: no such file; run benchmarks/pareto.py --out {path.parent} first")
        runs += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    lines = ["# Trained share and test accuracy by class", "",
             f"Generated by `benchmarks/class_skew.py` from {', '.join(f'`{p}`' for p in args.runs)}. The trained "
             "share is instances trained / instances seen (the full-stream tail included); a window runs from "
             "one evaluation record to the next, and one that holds the full-stream tail trains every instance "
             "in the tail (an evaluation where the tail starts shows the selection's windows alone). The "
             "class-mix distance counts selected steps only, not the tail's.", "", *report(runs)]
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
