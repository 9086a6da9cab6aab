#!/usr/bin/env python3
"""Side-by-side benchmark: skiptrain's trainer against plain PyTorch (what it is and is not).

Runs `skiptrain train` and benchmarks/pytorch_baseline.py (eager, channels-last: its best
configuration; and the same under torch.compile, whose compilation is excluded from train_s and
reported as warmup_s) on the same configuration (model, data, batch size, optimiser, thread count,
seed) in one run, rotating which goes first in each repeat,
takes the median of N repeats, and writes a markdown report (default
benchmarks/results/pytorch_vs_skiptrain.md) with one table per case, the ratios skiptrain/pytorch,
the targets of the issue and whether they are met, and the machine it ran on.

Cases:
  lenet5-mnist     LeNet-5 on MNIST, batch 64, one epoch, SGD lr 0.01 momentum 0.5.
                   Target: trainer epoch time <= 0.7x PyTorch's.
  resnet20-cifar10 CIFAR ResNet-20, batch 128, a fixed number of iterations (default 200), SGD
                   lr 0.1 momentum 0.9 wd 1e-4, pad-4 crop + flip.
                   Targets: trainer images/s >= 1.0x PyTorch's; peak RSS <= PyTorch's.

All processes get the same threading environment: OMP_NUM_THREADS=<threads> and OMP_WAIT_POLICY (default PASSIVE: on this shared 2-core machine libgomp's
spin-waiting makes any 2-thread run several times slower when other processes compete for the cores;
see the header of pytorch_baseline.py). Peak RSS is taken twice: as each program reports it, and
from the kernel's ru_maxrss of the child process (os.wait4), which measures both the same way.

It does not build the trainer, does not check accuracy parity beyond reporting test accuracy, and
its timings are only as quiet as the machine: read the load averages in the report.

Example:
  .venv/bin/python benchmarks/compare_pytorch.py --repeats 3
  .venv/bin/python benchmarks/compare_pytorch.py --pytorch-only --repeats 1   # no trainer needed
"""

import argparse
import datetime
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BASELINE = os.path.join(HERE, "pytorch_baseline.py")

CASES = {
    "lenet5-mnist": dict(
        title="LeNet-5 / MNIST, batch 64, 1 epoch",
        model="lenet5", dataset="mnist", batch_size=64, lr=0.01, momentum=0.5, weight_decay=0.0,
        budget=("epochs", 1), train_size=60000,
        targets=[("epoch_s", "<=", 0.7, "trainer epoch time <= 0.7x PyTorch")],
    ),
    "resnet20-cifar10": dict(
        title="ResNet-20 / CIFAR-10, batch 128, {iterations} iterations",
        model="resnet20", dataset="cifar10", batch_size=128, lr=0.1, momentum=0.9,
        weight_decay=1e-4, budget=("iterations", 200), train_size=50000,
        targets=[("images_per_s", ">=", 1.0, "trainer images/s >= 1.0x PyTorch"),
                 ("peak_rss_mb", "<=", 1.0, "trainer peak RSS <= PyTorch's (self-reported)"),
                 ("child_maxrss_mb", "<=", 1.0, "trainer peak RSS <= PyTorch's (wait4 ru_maxrss)")],
    ),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trainer", default=os.path.join(ROOT, "build", "trainer", "skiptrain"))
    p.add_argument("--python", default=sys.executable, help="the Python whose torch the baseline uses")
    p.add_argument("--no-compile", dest="compile", action="store_false",
                   help="skip the torch.compile side of the PyTorch baseline")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--cases", default="lenet5-mnist,resnet20-cifar10")
    p.add_argument("--out", default=os.path.join(HERE, "results", "pytorch_vs_skiptrain.md"))
    p.add_argument("--data-root", default="/work/shared/data")
    p.add_argument("--lenet-epochs", type=int, default=1)
    p.add_argument("--resnet-iterations", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--omp-wait-policy", default="PASSIVE",
                   help="OMP_WAIT_POLICY for both programs ('' leaves the environment's)")
    p.add_argument("--trainer-args", default="",
                   help="extra arguments appended to the trainer command line (quoted string)")
    p.add_argument("--pytorch-only", action="store_true",
                   help="run only the PyTorch half (to test the driver without the trainer)")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds per single run")
    p.add_argument("--json-out", default=None, help="also write all raw results as JSON here")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------ running
_LAST_MAXRSS = {}


class _Wait4Popen(subprocess.Popen):
    """Popen whose reaping goes through os.wait4, keeping the child's own ru_maxrss."""

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            pid, sts = self.pid, 0
            ru = None
        if pid == self.pid and ru is not None:
            _LAST_MAXRSS[self.pid] = ru.ru_maxrss / 1024.0  # KiB on Linux
        return (pid, sts)


def run_child(cmd, env, timeout):
    """Runs cmd; returns (last-line JSON or None, wall seconds, child ru_maxrss MB, rc, tail)."""
    t0 = time.perf_counter()
    proc = _Wait4Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    wall = time.perf_counter() - t0
    # RUSAGE_CHILDREN would give the max over all children so far; _Wait4Popen kept this one's.
    maxrss = _LAST_MAXRSS.pop(proc.pid, None)
    lines = [ln for ln in out.strip().splitlines() if ln.strip()]
    result = None
    if lines:
        try:
            result = json.loads(lines[-1])
        except json.JSONDecodeError:
            result = None
    tail = "\n".join((out.strip().splitlines() + err.strip().splitlines())[-15:])
    return result, wall, maxrss, proc.returncode, tail


def child_env(threads, wait_policy):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env["MKL_NUM_THREADS"] = str(threads)
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy
    return env


def commands(case, a):
    c = CASES[case]
    data_dir = os.path.join(a.data_root, c["dataset"])
    kind, n = c["budget"]
    if c["model"] == "lenet5":
        n = a.lenet_epochs
    else:
        n = a.resnet_iterations
    common = ["--model", c["model"], "--data-dir", data_dir, f"--{kind}", str(n),
              "--batch-size", str(c["batch_size"]), "--threads", str(a.threads),
              "--seed", str(a.seed)]
    trainer = ([a.trainer, "train", "--dataset", c["dataset"]] + common
               + ["--lr", str(c["lr"]), "--momentum", str(c["momentum"]), "--eval-every", "0"])
    if c["weight_decay"]:
        trainer += ["--weight-decay", str(c["weight_decay"])]
    trainer += shlex.split(a.trainer_args)
    pytorch = ([a.python, BASELINE, "--dataset", c["dataset"]] + common
               + ["--lr", str(c["lr"]), "--momentum", str(c["momentum"]),
                  "--weight-decay", str(c["weight_decay"])])
    if a.omp_wait_policy:
        pytorch += ["--omp-wait-policy", a.omp_wait_policy]
    sides = {"skiptrain": trainer, "pytorch": pytorch}
    if a.compile:
        sides["pytorch-compile"] = pytorch + ["--compile"]
    return sides


def normalise(side, res, wall, maxrss, train_size):
    """Common metrics from either program's JSON."""
    if res is None:
        return None
    inst = res.get("instances_trained")
    train_s = res.get("train_s")
    m = {
        "train_s": train_s,
        "instances_trained": inst,
        "images_per_s": (inst / train_s) if inst and train_s else None,
        "epoch_s": (train_s * train_size / inst) if inst and train_s else None,
        "test_acc": res.get("test_acc"),
        "peak_rss_mb": res.get("peak_rss_mb"),
        "child_maxrss_mb": maxrss,
        "process_wall_s": wall,
        "warmup_s": res.get("warmup_s"),
    }
    if side == "skiptrain":
        m["method"] = res.get("method")
    return m


def load_avg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def run_case(case, a, log):
    cmds = commands(case, a)
    env = child_env(a.threads, a.omp_wait_policy)
    sides = [s for s in cmds if not (a.pytorch_only and s == "skiptrain")]
    runs = {s: [] for s in sides}
    raw = {s: [] for s in sides}
    for rep in range(a.repeats):
        order = sides[rep % len(sides):] + sides[:rep % len(sides)]
        for side in order:
            log(f"[{case}] repeat {rep + 1}/{a.repeats} {side}: {' '.join(cmds[side])}")
            res, wall, maxrss, rc, tail = run_child(cmds[side], env, a.timeout)
            m = normalise(side, res, wall, maxrss, CASES[case]["train_size"])
            if rc != 0 or m is None or m["train_s"] is None:
                raise RuntimeError(f"{side} failed (rc={rc}) on {case}; last output:\n{tail}")
            log(f"    train_s={m['train_s']:.3f} images/s={m['images_per_s']:.1f} "
                f"test_acc={m['test_acc']} rss={m['peak_rss_mb']} MB wait4={fmt(maxrss, 1)} MB "
                f"load={load_avg()}")
            runs[side].append(m)
            raw[side].append(res)
    return cmds, runs, raw


def median(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


# ------------------------------------------------------------------------------------ report
def machine_info():
    info = {"cpu": "?", "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for ln in out.splitlines():
            k, _, v = ln.partition(":")
            if k.strip() == "Model name":
                info["cpu"] = v.strip()
            elif k.strip() == "CPU(s)":
                info["cores"] = v.strip()
    except OSError:
        pass
    info["kernel"] = platform.release()
    return info


def fmt(v, nd=3):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def case_table(case, a, cmds, runs):
    c = CASES[case]
    title = c["title"].format(iterations=a.resnet_iterations)
    have_st = "skiptrain" in runs
    med = {s: {k: median([r[k] for r in rs]) for k in rs[0] if k != "method"}
           for s, rs in runs.items()}
    rows = [("train_s (training loop, s)", "train_s", 3), ("epoch time (s, per 1 epoch)", "epoch_s", 3),
            ("images/s", "images_per_s", 1), ("peak RSS, self-reported (MB)", "peak_rss_mb", 1),
            ("peak RSS, wait4 ru_maxrss (MB)", "child_maxrss_mb", 1),
            ("test accuracy", "test_acc", 4), ("instances trained", "instances_trained", 0),
            ("process wall (s, incl. load + eval)", "process_wall_s", 1),
            ("untimed warm-up (s; torch.compile's compilation)", "warmup_s", 1)]
    sides = list(runs)
    baselines = [s for s in sides if s != "skiptrain"] if have_st else []
    L = [f"### {title}", ""]
    L += ["| metric (median) | " + " | ".join(sides) + "".join(f" | skiptrain/{b}" for b in baselines) + " |",
          "|---|" + "---:|" * (len(sides) + len(baselines))]
    for label, k, nd in rows:
        cells = [fmt(med[s].get(k), nd) for s in sides]
        for b in baselines:
            st, p = med["skiptrain"].get(k), med[b].get(k)
            cells.append(fmt((st / p) if (st is not None and p) else None, 3))
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    L.append("")
    L.append("Per-repeat train_s: " + "; ".join(
        f"{s}: " + ", ".join(fmt(r["train_s"], 2) for r in rs) for s, rs in runs.items()))
    if have_st:
        L.append(f"Trainer method reported: {runs['skiptrain'][0].get('method')}")
    L.append("")
    verdicts = []
    if have_st:
        L += ["Targets are against eager PyTorch (its best configuration); torch.compile is reported beside them.",
              "", "| target | ratio | met |", "|---|---:|:---:|"]
        for k, op, bound, text in c["targets"]:
            s, p = med["skiptrain"].get(k), med["pytorch"].get(k)
            ratio = (s / p) if (s is not None and p) else None
            ok = None if ratio is None else (ratio <= bound if op == "<=" else ratio >= bound)
            verdicts.append(ok)
            L.append(f"| {text} | {fmt(ratio, 3)} | {'yes' if ok else ('no' if ok is False else 'n/a')} |")
        L.append("")
    L += ["Commands:", "", "```"] + [" ".join(shlex.quote(x) for x in cmds[s]) for s in runs] + ["```", ""]
    return L, med, verdicts


def write_report(a, results, info, torch_version, t_start, load_start):
    L = ["# skiptrain trainer vs plain PyTorch", "",
         "Generated by `benchmarks/compare_pytorch.py`; do not edit by hand.", "",
         f"- date: {t_start.isoformat(timespec='seconds')}",
         f"- machine: {info['cpu']}, {info['cores']} CPU(s), kernel {info['kernel']}",
         f"- torch (PyTorch side, and the LibTorch the trainer links): {torch_version}",
         f"- threads: {a.threads} (OMP_NUM_THREADS={a.threads}, "
         f"OMP_WAIT_POLICY={a.omp_wait_policy or os.environ.get('OMP_WAIT_POLICY', 'unset')}) for both",
         f"- repeats: {a.repeats}, the order rotated each repeat, medians reported",
         f"- load average (1/5/15 min) at start: {load_start}; at end: {load_avg()}",
         "",
         "The machine is shared: other processes compete for the cores, so single timings are noisy "
         "(+-20% or worse); compare the medians and look at the per-repeat values.", ""]
    if a.pytorch_only:
        L += ["**PyTorch side only (`--pytorch-only`): no trainer numbers, no ratios.**", ""]
    for case, (cmds, runs) in results.items():
        tl, _, _ = case_table(case, a, cmds, runs)
        L += tl
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write("\n".join(L))
    return "\n".join(L)


def main():
    a = parse_args()
    cases = [c.strip() for c in a.cases.split(",") if c.strip()]
    for c in cases:
        if c not in CASES:
            sys.exit(f"error: unknown case {c!r}; known: {', '.join(CASES)}")
    if not a.pytorch_only and not (os.path.isfile(a.trainer) and os.access(a.trainer, os.X_OK)):
        sys.exit(f"error: trainer binary not found or not executable: {a.trainer}\n"
                 f"build it first (e.g. cmake --build build --target skiptrain), pass --trainer PATH, "
                 f"or use --pytorch-only to run just the PyTorch side")
    if not os.path.isfile(a.python):
        sys.exit(f"error: python not found: {a.python}")
    try:
        torch_version = subprocess.run([a.python, "-c", "import torch; print(torch.__version__)"],
                                       capture_output=True, text=True, timeout=120).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        torch_version = "?"
    if not torch_version:
        sys.exit(f"error: {a.python} cannot import torch")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t_start = datetime.datetime.now().astimezone()
    load_start = load_avg()
    info = machine_info()
    results, raw_all = {}, {}
    for case in cases:
        cmds, runs, raw = run_case(case, a, log)
        results[case] = (cmds, runs)
        raw_all[case] = {"commands": cmds, "runs": runs, "raw": raw}
    text = write_report(a, results, info, torch_version, t_start, load_start)
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(raw_all, f, indent=1)
    print(text)
    log(f"wrote {a.out}")


if __name__ == "__main__":
    main()
