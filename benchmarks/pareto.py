"""Accuracy against cost: each method trained under several budgets, each budget with its own
complete schedule, and the final test accuracy plotted against measured wall-clock and against
counted MACs (one Pareto front per method), with the time and MACs each method needs to first
reach target accuracies.

A budget is a number of epochs of the incoming stream. Every run gets the step schedule scaled to
its budget (lr x0.1 at 50% and 75% of its iterations), so the dense baseline's learning rate is
fully decayed within the same budget as the methods'. Runs go one after another (never two at a
time: wall-clock is the measure) and are appended to RUNS.jsonl as they finish, so an interrupted
preset resumes where it stopped; --report-only rewrites the table and plots from that file.

Examples (ResNet-20 / CIFAR-10 on the 2-core CPU: a dense epoch takes about 80 s at 2 threads;
`make demo`: LeNet-5 on Fashion-MNIST, about a minute):
    .venv/bin/python benchmarks/pareto.py --budgets 1 2 --seeds 0 1 --methods sgd smb emp eif+emp "eif+emp v2"
    .venv/bin/python benchmarks/pareto.py --preset demo
"""
import argparse
import json
import math
import shlex
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_runs import cpu_model, read_metrics, run_trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

# ResNet-20 / CIFAR-10: every data-level method trains the main model on half of the stream; EMP
# keeps half the channels. "eif" and "eif+emp" are the paper's rules (ResNet-8 filter, the top
# R_set of each batch by rank); the "v2" rows add what the CIFAR experiments tried: the half-width
# ResNet-8 filter trained on half of its labels (its cost within ~5% of dense), half the kept share
# drawn at random with inverse-probability loss weights, and the last 12.5% on the full stream.
# The paper's EMP rule (every conv but the first at --emp-keep), which the trainer's ResNet default of
# stage 1 only (--emp-layer-keep auto) replaced after these experiments.
PAPER_EMP = ["--emp-layer-keep", "none"]
V2 = ["--eif-model", "resnet8-slim", "--eif-train-share", "0.5", "--eif-random-share", "0.5",
      "--full-stream-tail", "0.125"]
FILTERS_16X16 = {"r8@16": ["--eif-model", "resnet8", "--eif-downsample", "2"], "slim@16": ["--eif-downsample", "2"]}
INFOBATCH = ["--infobatch-prune", "0.5", "--full-stream-tail", "0.125"]
CIFAR_METHODS = {
    "sgd": ["--method", "sgd"],
    "smb": ["--method", "smb", "--smb-fraction", "0.5"],
    "smd": ["--method", "smd", "--smd-p", "0.5"],
    "ohem": ["--method", "ohem", "--ohem-ratio", "0.5"],
    "sb": ["--method", "sb", "--sb-beta", "1"],
    "emp": ["--method", "emp", "--emp-keep", "0.5", *PAPER_EMP],
    # Channels scored by their error map alone: does the weight-norm term starve small filters?
    "emp err-only": ["--method", "emp", "--emp-keep", "0.5", "--emp-gamma1", "0", *PAPER_EMP],
    # Does weight decay starve pruned channels? Spare a channel's weights in the steps that prune it.
    "emp no-decay-pruned": ["--method", "emp", "--emp-keep", "0.5", "--emp-decay-pruned", "false", *PAPER_EMP],
    # Unbiased EMP: the kept half drawn in proportion to the scores, gradients scaled by 1/probability.
    "emp sampled": ["--method", "emp", "--emp-keep", "0.5", "--emp-sample", "true", *PAPER_EMP],
    # Which stage's pruning costs the accuracy? EMP at keep 0.5 with one stage left dense.
    **{f"emp spare layer{s}": ["--method", "emp", "--emp-keep", "0.5", "--emp-layer-keep", f"layer{s}.*=1"]
       for s in (1, 2, 3)},
    # The same counted saving as keep 0.5 everywhere, moved off the most sensitive stage (3).
    "emp layer keep 0.25/0.25/1": ["--method", "emp", "--emp-keep", "0.25", "--emp-layer-keep", "layer3.*=1"],
    # Stage 1 only, where the pruned backward saves the most time per channel dropped.
    **{f"emp layer1 only keep {k}": ["--method", "emp", "--emp-keep", k, "--emp-layer-keep", "layer2.*=1,layer3.*=1"]
       for k in ("0.5", "0.25")},
    "eif": ["--method", "eif", "--eif-ratio", "0.5"],
    "eif+emp": ["--method", "eif+emp", "--eif-ratio", "0.5", "--emp-keep", "0.5", *PAPER_EMP],
    "eif v2": ["--method", "eif", "--eif-ratio", "0.5", *V2],
    "eif+emp v2": ["--method", "eif+emp", "--eif-ratio", "0.5", "--emp-keep", "0.5", *PAPER_EMP, *V2],
    # How much does the filter's ranking add? v2's kept half all by rank (rs0), or all drawn
    # uniformly (rs1: the filter only costs; the same budget, tail and weights otherwise).
    "eif v2 rs0": ["--method", "eif", "--eif-ratio", "0.5", *V2, "--eif-random-share", "0"],
    "eif v2 rs1": ["--method", "eif", "--eif-ratio", "0.5", *V2, "--eif-random-share", "1"],
    # eif+emp with the kept half all by rank: rs0 beat v2's half-random mix at budgets 1-2.
    "eif+emp v2 rs0": ["--method", "eif+emp", "--eif-ratio", "0.5", "--emp-keep", "0.5", *PAPER_EMP, *V2,
                       "--eif-random-share", "0"],
    # eif+emp with the trainer's EMP default (stage 1 only on the CIFAR ResNets), its kept half by
    # rank or drawn uniformly: does the ranking pay late in a long schedule, at equal MACs?
    **{f"eif+emp v2 rs{r} stage1": ["--method", "eif+emp", "--eif-ratio", "0.5", "--emp-keep", "0.5", *V2,
                                    "--eif-random-share", r] for r in ("0", "1")},
    # The same two by rank with a filter that sees the label (a High/Low pair per class): does a
    # filter that can tell a hard cat from an easy one rank better, and does better ranking pay?
    "eif v2 rs0 sees-label": ["--method", "eif", "--eif-ratio", "0.5", *V2, "--eif-random-share", "0",
                              "--eif-sees-label"],
    "eif+emp v2 rs0 stage1 sees-label": ["--method", "eif+emp", "--eif-ratio", "0.5", "--emp-keep", "0.5", *V2,
                                         "--eif-random-share", "0", "--eif-sees-label"],
    # Ranked within each class (the kept half keeps the batch's class mix): is class skew what the
    # ranking costs?
    "eif v2 rs0 by-class": ["--method", "eif", "--eif-ratio", "0.5", *V2, "--eif-random-share", "0",
                            "--eif-rank-within", "class"],
    "eif v2 rs0 sees-label by-class": ["--method", "eif", "--eif-ratio", "0.5", *V2, "--eif-random-share", "0",
                                       "--eif-sees-label", "--eif-rank-within", "class"],
    "eif+emp v2 rs0 stage1 by-class": ["--method", "eif+emp", "--eif-ratio", "0.5", "--emp-keep", "0.5", *V2,
                                       "--eif-random-share", "0", "--eif-rank-within", "class"],
    # The filter at 16x16 (--eif-downsample 2): ResNet-8 there has the half-width filter's MACs at
    # 32x32 in wider, cheaper-per-MAC layers; the half-width one there a quarter of its MACs.
    **{f"eif v2 rs{r} {name}": ["--method", "eif", "--eif-ratio", "0.5", *V2, "--eif-random-share", r, *flags]
       for r in ("0", "1") for name, flags in FILTERS_16X16.items()},
    **{f"eif+emp v2 rs0 stage1 {name}": ["--method", "eif+emp", "--eif-ratio", "0.5", "--emp-keep", "0.5", *V2,
                                         "--eif-random-share", "0", *flags] for name, flags in FILTERS_16X16.items()},
    # InfoBatch's proportions: the top half by rank kept whole, half of the rest drawn at random
    # and weighted 2x relative to the ranked (R_set 0.75, a third of the kept drawn).
    "eif v2 infobatch": ["--method", "eif", "--eif-ratio", "0.75", *V2, "--eif-random-share", "0.34"],
    # InfoBatch itself, the filter replaced by each instance's last training loss (no filter cost):
    # below-mean instances dropped with probability 0.5, kept ones weighted 2x, the last 12.5% full.
    "infobatch": ["--method", "infobatch", *INFOBATCH],
    # The same with the trainer's EMP default (stage 1 only on the CIFAR ResNets, keep 0.5).
    "infobatch+emp stage1": ["--method", "infobatch+emp", *INFOBATCH, "--emp-keep", "0.5"],
}
PRESETS = {
    "resnet20-cifar10": dict(
        model="resnet20", dataset="cifar10", data_dir=str(ROOT.parent / "shared/data/cifar10"), batch_size=128,
        lr=0.1, weight_decay=5e-4, budgets=[1, 2, 4], seeds=[0, 1], evals_per_epoch=2, targets=[0.80, 0.85, 0.88],
        methods=CIFAR_METHODS, out=str(ROOT / "benchmarks/results/pareto_resnet20_cifar10")),
    # make demo: LeNet-5 on Fashion-MNIST (Debian's files), dense against eif+emp in the streaming form
    # of the LeNet operating point (R_set 0.25, keep 0.5, slim filter stepping every batch, accumulate).
    "demo": dict(
        model="lenet5", dataset="fashion-mnist", data_dir="", batch_size=64, lr=0.01, weight_decay=0.0,
        budgets=[1, 2, 4], seeds=[0], evals_per_epoch=1, targets=[0.85, 0.88],
        methods={"sgd": ["--method", "sgd"],
                 "eif+emp": ["--method", "eif+emp", "--eif-batching", "accumulate", "--eif-model",
                             "lenet-filter-slim", "--eif-train-batch", "0"]},
        out=str(ROOT / "runs/demo")),
}
TRAIN_SIZES = {"cifar10": 50000, "cifar100": 50000, "mnist": 60000, "fashion-mnist": 60000}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="resnet20-cifar10", choices=sorted(PRESETS),
                   help="the defaults of every option below")
    p.add_argument("--trainer", default=str(ROOT / "build/trainer/skiptrain"))
    p.add_argument("--model")
    p.add_argument("--dataset", choices=sorted(TRAIN_SIZES))
    p.add_argument("--data-dir", help="the dataset's files ('' = the trainer's default)")
    p.add_argument("--methods", nargs="+", help="names of the preset's methods (default: all)")
    p.add_argument("--budgets", nargs="+", type=float, help="epochs of the incoming stream")
    p.add_argument("--seeds", nargs="+", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--evals-per-epoch", type=float, help="test evaluations per epoch (time to target)")
    p.add_argument("--targets", nargs="+", type=float)
    p.add_argument("--out")
    p.add_argument("--report-only", action="store_true")
    p.add_argument("extra", nargs="*", help="trainer flags after --, added to every run (last value wins; "
                   "--emp-layer-keep rules add to a method's own, so give methods without them)")
    args = p.parse_args(argv)
    preset = PRESETS[args.preset]
    for key, value in preset.items():
        if key != "methods" and getattr(args, key) is None:
            setattr(args, key, value)
    args.method_flags = preset["methods"]
    args.methods = args.methods or list(preset["methods"])
    unknown = [m for m in args.methods if m not in preset["methods"]]
    if unknown:
        p.error(f"--methods: {unknown} not in preset {args.preset}: {list(preset['methods'])}")
    if any(b <= 0 for b in args.budgets):
        p.error("--budgets: epochs must be > 0")
    return args


def run_flags(args, method, budget, seed):
    """The trainer flags of one run: the budget's iterations and its scaled step schedule."""
    per_epoch = math.ceil(TRAIN_SIZES[args.dataset] / args.batch_size)
    iterations = max(1, round(budget * per_epoch))
    milestones = sorted({max(1, round(iterations * f)) for f in (0.5, 0.75)})
    eval_every = max(1, round(per_epoch / args.evals_per_epoch))
    data_dir = ["--data-dir", args.data_dir] if args.data_dir else []
    return ["--model", args.model, "--dataset", args.dataset, *data_dir,
            "--iterations", iterations, "--batch-size", args.batch_size, "--lr", args.lr, "--momentum", 0.9,
            "--weight-decay", args.weight_decay, "--lr-milestones", *milestones, "--lr-gamma", 0.1,
            "--threads", args.threads, "--device", "cpu", "--seed", seed, "--eval-every", eval_every,
            *args.method_flags[method], *args.extra]


# RUNS.jsonl entries name the machine they ran on; those written before they did all ran on the 2-core
# AMD EPYC development machine. Wall-clock is compared only between runs of one machine.
EARLIER_MACHINE = "AMD EPYC"


def machine_of(run):
    return run.get("machine", EARLIER_MACHINE)


def load_runs(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []


def run_all(args, out):
    runs_path = out / "RUNS.jsonl"
    done = {(r["method"], r["budget"], r["seed"]) for r in load_runs(runs_path)}
    for budget in args.budgets:
        for seed in args.seeds:
            for method in args.methods:
                if (method, budget, seed) in done:
                    continue
                flags = [str(f) for f in run_flags(args, method, budget, seed)]
                metrics = out / "metrics" / f"{method.replace('+', '_').replace(' ', '_')}-b{budget:g}-s{seed}.jsonl"
                metrics.parent.mkdir(parents=True, exist_ok=True)
                metrics.unlink(missing_ok=True)
                start = time.time()
                summary = run_trainer(args.trainer, [*flags, "--metrics", metrics],
                                      log_path=metrics.with_suffix(".log"))
                record = {"method": method, "budget": budget, "seed": seed, "flags": flags, "summary": summary,
                          "metrics": read_metrics(metrics), "process_s": time.time() - start,
                          "machine": cpu_model()}
                with runs_path.open("a") as f:
                    f.write(json.dumps(record) + "\n")
                print(f"{method:8s} budget {budget:g} seed {seed}: acc {summary['test_acc']:.4f} "
                      f"train_s {summary['train_s']:.1f} saving {summary['saving']:.3f}", flush=True)


def mean(values):
    values = list(values)
    return statistics.mean(values) if values else float("nan")


def seconds(value):
    """A duration for the tables: tenths below 10 s (the demo's runs), whole seconds above."""
    return f"{value:.1f} s" if value < 10 else f"{value:.0f} s"


def first_reaching(run, target):
    """(train_s, spent_macs) at the first evaluation of `run` with test accuracy >= target, or None."""
    for m in run["metrics"]:
        if m["test_acc"] >= target:
            return m["train_s"], m["spent_macs"]
    return None


def front(cell, method, budgets, cost_key):
    """(cost, test accuracy, budget) of `method` at each of its budgets, means over seeds, cheapest first."""
    points = [(b, [r["summary"] for r in cell[method, b]]) for b in budgets if (method, b) in cell]
    return sorted((mean(s[cost_key] for s in p), mean(s["test_acc"] for s in p), b) for b, p in points)


def accuracy_at(points, cost, max_budget_ratio=2.0):
    """The accuracy of the front `points` ((cost, accuracy, budget), cheapest first) at `cost`: a
    measured point's own, else linear in log cost between the two points that bracket it, or None
    outside the front or between budgets more than max_budget_ratio apart (the front bends: a straight
    line across a wide gap would misstate it). Gated on budgets, not costs, so that timing drift
    cannot decide whether a comparison is made."""
    exact = [a for c, a, _ in points if c == cost]
    if exact:
        return exact[0]
    for (c0, a0, b0), (c1, a1, b1) in zip(points, points[1:]):
        if c0 < cost < c1 and max(b0, b1) <= max_budget_ratio * min(b0, b1):
            return a0 + (a1 - a0) * math.log(cost / c0) / math.log(c1 / c0)
    return None


def equal_cost_table(cell, methods, budgets, home):
    """Issue 18's first target, method by method: accuracy against dense's front at the same train_s
    (for runs on dense's machine, `home`) and against smb's at the same counted MACs."""
    dense = front(cell, "sgd", budgets, "train_s") if "sgd" in methods else []
    smb = front(cell, "smb", budgets, "spent_macs") if "smb" in methods else []
    lines = ["", "## Against dense at equal wall-clock, and smb at equal counted MACs",
             "Each method's point (means over its seeds) against the line through dense's budgets at the same "
             "train_s and smb's at the same spent MACs, read off linearly in log cost between the two budgets "
             "that bracket it; - where none do, or they are more than 2x apart (dense's and smb's seeds are "
             "the sgd and smb rows' above). train_s come from sequential runs, which drift by several "
             "percent: margins within that are ties. Runs on another machine than dense's (marked *) get no "
             "wall-clock comparison.", "",
             "| method | budget (epochs) | seeds | test acc | train_s | dense at that train_s | vs dense "
             "| smb at those MACs | vs smb |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]

    def versus(points, cost, acc):
        other = accuracy_at(points, cost)
        return ("-", "-") if other is None else (f"{other * 100:.2f}%", f"{(acc - other) * 100:+.2f} pt")

    for m in methods:
        if m == "sgd":
            continue
        for b in budgets:
            if (m, b) not in cell:
                continue
            s = [r["summary"] for r in cell[m, b]]
            acc, train_s = mean(x["test_acc"] for x in s), mean(x["train_s"] for x in s)
            row = [*(("-", "-") if elsewhere(cell[m, b], home) else versus(dense, train_s, acc)),
                   *(("-", "-") if m == "smb" else versus(smb, mean(x["spent_macs"] for x in s), acc))]
            lines.append(f"| {m} | {b:g} | {len(s)} | {acc * 100:.2f}% | {seconds(train_s)}{mark(cell[m, b], home)} | "
                         + " | ".join(row) + " |")
    return lines


def reproduce_command(args, runs, methods, budgets):
    """The command that runs `runs` again (the trainer and the output folder left at their defaults)."""
    words = [".venv/bin/python", "benchmarks/pareto.py", "--preset", args.preset, "--budgets",
             *[f"{b:g}" for b in budgets], "--seeds", *map(str, sorted({r["seed"] for r in runs})),
             "--methods", *methods, "--threads", str(runs[0]["summary"]["threads"])]
    return shlex.join(words)


def elsewhere(runs, home):
    """Whether any of `runs` ran on another machine than `home` (dense's)."""
    return any(machine_of(r) != home for r in runs)


def mark(runs, home):
    """The mark after the train_s of runs on another machine than dense's."""
    return " *" if elsewhere(runs, home) else ""


def ratio_to_dense(train_s, dense_train_s):
    """train_s over dense's at the same budget; - where dense has no run at that budget."""
    if dense_train_s is None or math.isnan(dense_train_s) or dense_train_s <= 0:
        return "-"
    return f"{train_s / dense_train_s:.2f}x"


def report(args, out):
    runs = load_runs(out / "RUNS.jsonl")
    if not runs:
        sys.exit(f"{out}/RUNS.jsonl: no runs yet")
    methods = [m for m in args.method_flags if any(r["method"] == m for r in runs)]
    budgets = sorted({r["budget"] for r in runs})
    cell = {}
    for m in methods:
        for b in budgets:
            rs = [r for r in runs if r["method"] == m and r["budget"] == b]
            if rs:
                cell[m, b] = rs
    dense = {b: mean(r["summary"]["train_s"] for r in cell.get(("sgd", b), [])) for b in budgets}
    dense_machines = {machine_of(r) for r in runs if r["method"] == "sgd"} or {machine_of(runs[0])}
    home = sorted(dense_machines)[0]
    others = sorted({machine_of(r) for r in runs} - {home})
    lines = [f"# Accuracy against cost: {args.model} on {args.dataset}", "",
             f"Machine: {home}" + (f" (* marks runs on {', '.join(others)}: their train_s is not comparable with "
                                   "dense's)" if others else "") +
             f", {runs[0]['summary']['threads']} threads, CPU. Each budget (epochs of the "
             "incoming stream) has its own step schedule (lr x0.1 at 50% and 75% of its iterations); runs one at "
             "a time. The train_s ratio divides such sequential runs, whose times drift with the machine: the "
             "wall-clock ratios to quote come from interleaved rounds (benchmarks/compare_methods.py, "
             "interleaved_wallclock*.md).",
             f"Reproduce: `{reproduce_command(args, runs, methods, budgets)}` (rows are the runs that "
             "exist, the seeds column says how many; the command runs any missing combination too)", "",
             "| method | budget (epochs) | seeds | test acc | train_s | x dense train_s (sequential) "
             "| counted saving | trained share |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for (m, b), rs in cell.items():
        s = [r["summary"] for r in rs]
        accs = [x["test_acc"] for x in s]
        sd = f" +- {statistics.stdev(accs) * 100:.2f}" if len(accs) > 1 else ""
        train_s = mean(x["train_s"] for x in s)
        lines.append(f"| {m} | {b:g} | {len(rs)} | {mean(accs) * 100:.2f}%{sd} | {seconds(train_s)}{mark(rs, home)} | "
                     f"{'-' if elsewhere(rs, home) else ratio_to_dense(train_s, dense.get(b))} | "
                     f"{mean(x['saving'] for x in s) * 100:.1f}% | "
                     f"{mean(x['instances_trained'] / max(1, x['instances_seen']) for x in s):.3f} |")
    lines += ["", "## Time and MACs to first reach a target test accuracy",
              "The least over budgets of the mean over seeds (every seed must reach it); - when no budget did.", "",
              "| method | " + " | ".join(f"{t * 100:g}%: train_s, MACs" for t in args.targets) + " |",
              "|---|" + "---:|" * len(args.targets)]
    for m in methods:
        row = []
        for t in args.targets:
            best = None
            for b in budgets:
                hits = [first_reaching(r, t) for r in cell.get((m, b), [])]
                if hits and all(hits):
                    point = (mean(h[0] for h in hits), mean(h[1] for h in hits), mark(cell[m, b], home))
                    best = point if best is None or point[0] < best[0] else best
            row.append("-" if best is None else f"{seconds(best[0])}{best[2]}, {best[1]:.3g}")
        lines.append(f"| {m} | " + " | ".join(row) + " |")
    lines += equal_cost_table(cell, methods, budgets, home)
    (out / "README.md").write_text("\n".join(lines) + "\n")
    plot(cell, methods, budgets, out, home)
    print("\n".join(lines))


def plot(cell, methods, budgets, out, home):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    # Up to 20 distinct colours, and markers changing every 10 methods: no two methods share a style.
    colours = plt.get_cmap("tab20").colors
    for i, m in enumerate(methods):
        points = [tuple(mean(r["summary"][key] for r in cell[m, b]) for key in ("train_s", "spent_macs", "test_acc"))
                  for b in budgets if (m, b) in cell]
        points = [(t, macs, acc * 100) for t, macs, acc in points]
        style = dict(color=colours[(2 * i) % 20 + (i // 10) % 2], marker="os^D"[(i // 10) % 4], label=m)
        # Wall-clock from dense's machine only.
        timed = [p for p, b in zip(points, [b for b in budgets if (m, b) in cell]) if not elsewhere(cell[m, b], home)]
        axes[0].plot([p[0] for p in timed], [p[2] for p in timed], "-", **style)
        axes[1].plot([p[1] for p in points], [p[2] for p in points], "-", **style)
    axes[0].set_xlabel(f"training wall-clock (s), {home}")
    axes[1].set_xlabel("counted MACs")
    for ax in axes:
        ax.set_xscale("log")
        ax.set_ylabel("final test accuracy (%)")
        ax.grid(True, alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=110)


def main():
    args = parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        run_all(args, out)
    report(args, out)


if __name__ == "__main__":
    main()
