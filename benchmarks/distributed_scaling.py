#!/usr/bin/env python3
"""Data-parallel scaling of the skiptrain trainer: the same run (fixed global batch and iterations)
on 1, 2 and 4 processes (Gloo on loopback; NCCL with --device cuda, one GPU per rank), dense and
eif+emp side by side, and a markdown table of throughput, speed-up over one process and scaling
efficiency: the throughput per core used, relative to one process's.

Threads: --threads-per-process N gives every process its own N (a machine with the cores for it:
efficiency = speed-up / processes); --threads-total T splits T over the processes, at least one
each (a machine with T cores: the processes share them, and efficiency = speed-up). Cores used
are capped at the machine's. Runs are interleaved (every configuration once per round) and
figures are medians over --repeats rounds.

Example (the committed table):
    benchmarks/distributed_scaling.py --out benchmarks/results/distributed_scaling.md \\
        --common "--model resnet20 --dataset cifar10 --data-dir ../shared/data/cifar10 --batch-size 128 \\
                  --iterations 60 --eval-every 0 --lr 0.1" --threads-total 2 --repeats 2
"""
import argparse
import datetime
import json
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

from trainer_runs import cpu_model, start_ranks, write_markdown


def run_ranks(trainer, flags, processes, threads, device):
    """One run on `processes` ranks; returns (rank 0's summary, seconds from launch to the last exit)."""
    args = ["train", *flags, "--threads", threads, "--progress", "none"]
    start = time.perf_counter()
    procs = start_ranks(trainer, args, processes,
                        rank_args=lambda rank: ["--device", f"cuda:{rank}" if device == "cuda" else device])
    outputs = [p.communicate() for p in procs]
    wall = time.perf_counter() - start
    for rank, (p, (_, err)) in enumerate(zip(procs, outputs)):
        if p.returncode != 0:
            sys.exit(f"rank {rank} of {processes} failed ({p.returncode}): {shlex.join(map(str, args))}\n{err}")
    return json.loads(outputs[0][0].strip().splitlines()[-1]), wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trainer", default="build/trainer/skiptrain")
    parser.add_argument("--common", required=True, help="flags shared by every run")
    parser.add_argument("--methods", nargs="+", default=["sgd", "eif+emp"])
    parser.add_argument("--processes", nargs="+", type=int, default=[1, 2, 4])
    threads = parser.add_mutually_exclusive_group()
    threads.add_argument("--threads-total", type=int, help="CPU threads per configuration, split over its processes")
    threads.add_argument("--threads-per-process", type=int, help="CPU threads of each process")
    parser.add_argument("--device", default="cpu", help="cpu, or cuda (rank r on cuda:r)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", required=True, help="markdown file to write")
    args = parser.parse_args()
    if not Path(args.trainer).is_file():
        sys.exit(f"{args.trainer}: trainer not found; run `make build` or pass --trainer")
    common = shlex.split(args.common)
    if args.threads_per_process is None and args.threads_total is None:
        args.threads_total = os.cpu_count()

    def threads_each(processes):
        return args.threads_per_process or max(1, args.threads_total // processes)

    def cores_used(processes):
        return min(processes * threads_each(processes), os.cpu_count())

    configs = [(m, p) for m in args.methods for p in args.processes]
    results = {c: [] for c in configs}
    load_before = os.getloadavg()
    for _ in range(args.repeats):
        for method, processes in configs:
            summary, wall = run_ranks(args.trainer, [*common, "--method", method], processes, threads_each(processes),
                                      args.device)
            results[(method, processes)].append((summary, wall))
            print(f"{method:8s} x{processes}: train_s {summary['train_s']:.2f}  wall {wall:.2f}  "
                  f"acc {summary['test_acc']:.4f}", file=sys.stderr)
    load_after = os.getloadavg()

    def med(c, f):
        return statistics.median(f(s, w) for s, w in results[c])

    lines = ["# Data-parallel scaling of the trainer", "",
             f"{datetime.date.today()}, {cpu_model()}, {os.cpu_count()} cores, device {args.device}; "
             f"load average {load_before[0]:.2f} before, {load_after[0]:.2f} after.", "",
             f"Flags: `{args.common}`; "
             + (f"{args.threads_per_process} CPU threads per process" if args.threads_per_process else
                f"{args.threads_total} CPU threads per configuration, split over its processes (at least 1 each)")
             + f"; medians of {args.repeats} interleaved rounds.", "",
             "Throughput is the run's incoming instances over rank 0's `train_s` (training steps, without data "
             "loading and evaluation). Speed-up is over the same method on 1 process; efficiency is the "
             "throughput per core used relative to 1 process's (speed-up x cores of 1 process / cores used).", "",
             "| method | processes | threads each | cores used | train_s | images/s | speed-up | efficiency | wall_s | "
             "test acc | saving |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for method in args.methods:
        base = med((method, args.processes[0]), lambda s, w: s["images_per_s"])
        for processes in args.processes:
            c = (method, processes)
            ips = med(c, lambda s, w: s["images_per_s"])
            speedup = ips / base
            efficiency = speedup * cores_used(args.processes[0]) / cores_used(processes)
            lines.append(f"| {method} | {processes} | {threads_each(processes)} | {cores_used(processes)} | "
                         f"{med(c, lambda s, w: s['train_s']):.2f} | {ips:.0f} | {speedup:.2f}x | "
                         f"{efficiency:.2f} | {med(c, lambda s, w: w):.1f} | "
                         f"{med(c, lambda s, w: s['test_acc']):.4f} | {med(c, lambda s, w: s['saving']):.3f} |")
    write_markdown(args.out, lines)


if __name__ == "__main__":
    main()
