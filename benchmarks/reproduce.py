#!/usr/bin/env python3
"""Reproduces the paper's results with the skiptrain trainer: every method of a preset
side by side, in one invocation, one run after another (alternating methods within each
seed so that machine load hits them alike). Writes <out-dir>/<preset>.json (every run's
summary and metrics records, saved after each run), <preset>.md (the table, the targets
of issue 6 met or missed and by how much, MACs by phase) and PNG plots; prints a short
table. --from-json regenerates the table and plots without rerunning.

Examples:
    benchmarks/reproduce.py --preset lenet-mnist                 # 39 runs of 18.7k iterations
    benchmarks/reproduce.py --preset lenet-mnist --quick         # a tiny schedule, to test the driver
    benchmarks/reproduce.py --from-json benchmarks/results/lenet-mnist.json
    benchmarks/reproduce.py --preset resnet110-cifar10 -- --device cuda   # after --: trainer flags
"""
import argparse
import datetime
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from reproduction import plots, report, targets
from reproduction.presets import PRESETS
from trainer_runs import cpu_model, read_metrics, run_trainer, trainer_has_flag

REPO = Path(__file__).resolve().parents[1]


def parse_args(argv):
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[:argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--preset", choices=sorted(PRESETS))
    source.add_argument("--from-json", type=Path, help="regenerate the table and plots of a saved results file")
    parser.add_argument("--seeds", help="comma-separated seeds (default: the preset's)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="trainer threads (default: all cores)")
    parser.add_argument("--quick", action="store_true", help="a tiny schedule (30 iterations) to test the driver")
    parser.add_argument("--out-dir", type=Path,
                        help="where results go (default: the preset's, runs/quick with --quick, "
                             "the JSON's folder with --from-json)")
    parser.add_argument("--trainer", type=Path, default=REPO / "build/trainer/skiptrain")
    parser.add_argument("--data-dir", type=Path, help="dataset directory (default: the preset's)")
    args = parser.parse_args(own)
    args.extra = extra
    return args


def run_preset(preset, args, out_dir, command):
    """Runs every method x seed of `preset`; returns the results document (also saved as JSON)."""
    if not args.trainer.is_file():
        sys.exit(f"{args.trainer}: trainer not found; run `make build` or pass --trainer")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else preset.seeds
    data_dir = args.data_dir or (REPO / preset.data_dir if preset.data_dir else None)
    methods, skipped = [], []
    for m in preset.methods:
        if m.needs_flag and not trainer_has_flag(args.trainer, m.needs_flag):
            skipped.append({"method": m.name, "why": f"this trainer has no {m.needs_flag}"})
        else:
            methods.append(m)
    doc = {"preset": preset.name, "title": preset.title, "schedule": preset.schedule, "common": preset.common,
           "data_dir": str(args.data_dir or preset.data_dir or "the dataset's default location"),
           "extra": args.extra, "seeds": seeds, "quick": args.quick, "command": command, "date": datetime.date.today().isoformat(),
           "machine": {"cpu": cpu_model(), "cores": os.cpu_count(), "threads": args.threads},
           "load": [os.getloadavg()[0], None], "skipped": skipped, "runs": []}
    json_path = out_dir / f"{preset.name}.json"
    total = len(seeds) * len(methods)
    with tempfile.TemporaryDirectory(prefix=f"reproduce-{preset.name}-") as work:
        for seed in seeds:
            for m in methods:
                metrics = Path(work) / f"{m.name}-seed{seed}.jsonl"
                flags = [*preset.common, *(["--data-dir", data_dir] if data_dir else []), *m.flags,
                         *(preset.quick if args.quick else []), "--seed", seed, "--threads", args.threads,
                         "--metrics", metrics, *args.extra]
                print(f"[{len(doc['runs']) + 1}/{total}] {m.name} seed {seed} ...", file=sys.stderr, flush=True)
                summary = run_trainer(args.trainer, flags)
                doc["runs"].append({"method": m.name, "seed": seed, "flags": m.flags, "summary": summary,
                                    "metrics": read_metrics(metrics)})
                print(f"    test_acc {summary['test_acc']:.4f}  saving {summary['saving']:.4f}  "
                      f"train_s {summary['train_s']:.1f}", file=sys.stderr, flush=True)
                doc["load"][1] = os.getloadavg()[0]
                json_path.write_text(json.dumps(doc, indent=1))
    return doc


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.from_json:
        doc = json.loads(args.from_json.read_text())
        out_dir = args.out_dir or args.from_json.parent
        out_dir.mkdir(parents=True, exist_ok=True)
    else:
        preset = PRESETS[args.preset]
        out_dir = args.out_dir or REPO / ("runs/quick" if args.quick else preset.out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        doc = run_preset(preset, args, out_dir, "benchmarks/reproduce.py " + shlex.join(argv))
    outcomes = targets.evaluate(doc)
    written = plots.write_all(doc, out_dir)
    md_path = out_dir / f"{doc['preset']}.md"
    md_path.write_text(report.markdown(doc, outcomes, written))
    print(report.console(doc, outcomes, [md_path, *written]))


if __name__ == "__main__":
    main()
