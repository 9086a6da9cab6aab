"""Behaviour check for refactors: the same short runs (every method on LeNet-5 / MNIST, EMP and
eif+emp on ResNet-20 / CIFAR-10, one thread, CPU) with two trainer binaries, and their JSON
summaries compared key by key, timings left out. Floats must agree to --rtol.

Build the old commit's trainer elsewhere first, e.g.:
    git worktree add /tmp/old HEAD~1 && cmake -S /tmp/old -B /tmp/old/build -G Ninja \\
        -DCMAKE_BUILD_TYPE=Release && cmake --build /tmp/old/build
    .venv/bin/python benchmarks/same_summaries.py --before /tmp/old/build/trainer/skiptrain
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from trainer_runs import run_trainer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TIMINGS = {"data_s", "eval_s", "train_s", "wall_s", "images_per_s", "peak_rss_mb"}


def runs(mnist, cifar):
    lenet = ["--model", "lenet5", "--dataset", "mnist", "--data-dir", mnist, "--eval-every", "0"]
    resnet = ["--model", "resnet20", "--dataset", "cifar10", "--data-dir", cifar, "--eval-every", "0",
              "--batch-size", "64", "--lr", "0.1"]
    return {
        "lenet sgd": [*lenet, "--iterations", "300"],
        "lenet eif+emp q8": [*lenet, "--method", "eif+emp", "--iterations", "300", "--quant-bits", "8",
                             "--quant-grad-bits", "8"],
        "lenet eif+emp accumulate": [*lenet, "--method", "eif+emp", "--eif-batching", "accumulate",
                                     "--eif-model", "lenet-filter-slim", "--iterations", "300"],
        "lenet ohem": [*lenet, "--method", "ohem", "--ohem-ratio", "0.55", "--iterations", "200"],
        "lenet sb": [*lenet, "--method", "sb", "--iterations", "200"],
        "lenet smb": [*lenet, "--method", "smb", "--iterations", "200"],
        "lenet smd": [*lenet, "--method", "smd", "--iterations", "200"],
        "resnet20 eif+emp": [*resnet, "--method", "eif+emp", "--iterations", "40", "--weight-decay", "1e-4",
                             "--lr-milestones", "20"],
        "resnet20 emp": [*resnet, "--method", "emp", "--iterations", "30"],  # stage 1 only (auto)
        "resnet20 emp paper": [*resnet, "--method", "emp", "--emp-layer-keep", "none", "--iterations", "30"],
    }


def differences(before, after, rtol):
    out = []
    for key in sorted(set(before) | set(after)):
        if key in TIMINGS:
            continue
        a, b = before.get(key), after.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += [(f"{key}.{k}", x, y) for k, x, y in differences(a, b, rtol)]
        elif isinstance(a, float) and isinstance(b, float):
            if abs(a - b) > rtol * max(1.0, abs(a)):
                out.append((key, a, b))
        elif a != b:
            out.append((key, a, b))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", required=True, help="the reference trainer binary")
    p.add_argument("--after", default=str(ROOT / "build/trainer/skiptrain"))
    p.add_argument("--mnist", default=str(ROOT.parent / "shared/data/mnist"))
    p.add_argument("--cifar", default=str(ROOT.parent / "shared/data/cifar10"))
    p.add_argument("--rtol", type=float, default=1e-6)
    args = p.parse_args()
    common = ["--threads", "1", "--device", "cpu", "--seed", "0"]
    failed = 0
    for name, flags in runs(args.mnist, args.cifar).items():
        before = run_trainer(args.before, [*flags, *common])
        after = run_trainer(args.after, [*flags, *common])
        diff = differences(before, after, args.rtol)
        failed += bool(diff)
        verdict = "same" if not diff else f"DIFFERS: {diff}"
        print(f"{name:26s} test_acc {before['test_acc']:.4f} -> {after['test_acc']:.4f}  "
              f"eval_s {before['eval_s']:.2f} -> {after['eval_s']:.2f}  {verdict}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
