#!/usr/bin/env python3
"""Plain-PyTorch baseline for skiptrain's trainer (what it is and is not).

This is the reference side of benchmarks/compare_pytorch.py: the same models (LeNet-5, CIFAR
ResNet-20 with option-A shortcuts), the same data (MNIST IDX .gz, CIFAR-10 binary .bin.gz, read here
and preloaded as tensors), the same batch size, optimiser and thread count as
`skiptrain train`, with plain SGD and no instance filtering or error-map pruning. It imports only
torch, numpy and the standard library, never skiptrain. It prints one JSON object as its last
stdout line (framework, model, dataset, batch_size, threads, iterations, instances_trained, train_s,
images_per_s, epoch_s, test_acc, peak_rss_mb, params).

train_s is the training loop only: per-batch slicing of the preloaded tensors, CIFAR augmentation,
forward, backward and the SGD step. Reading and decoding the files and the final evaluation are
outside it. The last partial batch of an epoch is kept (drop_last = False).

Best configuration on the 2-core development machine with pip torch 2.11 (MKL, oneDNN), and the
defaults below: OMP_NUM_THREADS=<threads>, OMP_WAIT_POLICY=PASSIVE, torch.set_num_threads(<threads>),
mkldnn enabled (torch default), channels_last model and inputs, flush-denormal on, manual
index_select slicing of preloaded normalised float tensors (no DataLoader), vectorised crop+flip as
one torch.gather on the batch, evaluation at the training batch size. Rechecked on torch 2.11
(AMD EPYC, 1 thread, train_cpu_s): ResNet-20 20 iterations 7.58 s channels-last against 9.84 s
NCHW; LeNet-5 300 iterations 1.62 s against 1.65 s (no difference).

What was tried on Debian's torch 1.13 (Intel Xeon, OpenBLAS; interleaved runs, 2-3 repeats each;
the 2 cores were shared with compilers and other jobs at load average 8-12 throughout, so wall times are noisy; for 1-thread runs the process
CPU time of the training loop, reported as train_cpu_s, is the steadier number):
  LeNet-5 / MNIST, batch 64, 300 iterations, threads 1 (train_cpu_s, s):
    default NCHW + mkldnn                 1.89 1.73 1.81
    channels_last                         1.39 1.46 1.51   <- best (about -20%)
    mkldnn disabled                       2.73 2.71 2.73   (+50%)
    flush_denormal off                    1.74 1.81 1.88   (no effect)
    DataLoader(TensorDataset) instead of manual index_select slicing  1.72 1.85 1.91 (no gain)
  ResNet-20 / CIFAR-10, batch 128, 20 iterations, threads 1 (train_cpu_s, s):
    default NCHW + mkldnn                 8.90 8.64
    channels_last                         7.34 7.24        <- best (about -17%)
    mkldnn disabled                       27.6 28.9        (3.2x slower)
    flush_denormal off                    8.38 8.81        (no effect)
  Threads 2 (wall, s) under contention: libgomp's default spin-wait is disastrous when the 2 cores
  are oversubscribed: LeNet 300 it.: 24.2 / 157.8 s active vs 6.7 / 5.2 s with
  OMP_WAIT_POLICY=PASSIVE; ResNet-20 20 it. channels_last: 126.7 / 161.7 s active, 24.7 / 26.5 s
  PASSIVE, 30.8 / 25.5 s GOMP_SPINCOUNT=10000. Hence OMP_WAIT_POLICY=PASSIVE by default (the
  driver gives the same environment to the trainer). On an idle machine active waiting may be a
  little faster; pass --omp-wait-policy ACTIVE to check.
  LeNet-5 1 epoch, best config: threads 1: 13.3 / 40.8 s wall (4.4 / 5.3 s CPU), test_acc 0.949;
  threads 2: 59.8 / 74.9 s wall (18.3 / 18.8 s CPU), test_acc 0.950 -- at load ~11 a second
  thread only adds synchronisation cost.
  Evaluation at batch 1000 raised ResNet-20's peak RSS by ~300 MB; it now uses the training batch.
"""

import argparse
import os
import sys


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", choices=["lenet5", "resnet20"], required=True)
    p.add_argument("--dataset", choices=["mnist", "cifar10"], default=None,
                   help="default: mnist for lenet5, cifar10 for resnet20")
    p.add_argument("--data-dir", default=None,
                   help="default: /work/shared/data/<dataset>")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--epochs", type=int, default=None)
    g.add_argument("--iterations", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="default: 64 lenet5, 128 resnet20")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--momentum", type=float, default=None)
    p.add_argument("--weight-decay", type=float, default=None)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--eval-batch-size", type=int, default=None,
                   help="default: the training batch size (bigger batches raise peak RSS)")
    p.add_argument("--no-eval", action="store_true", help="skip the final test evaluation")
    p.add_argument("--warmup", type=int, default=0,
                   help="untimed warm-up iterations before the timed loop (default 0: like the trainer)")
    # Exploration knobs; the defaults are the best configuration found (see the header).
    p.add_argument("--no-mkldnn", action="store_true")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false",
                   help="keep contiguous NCHW (default: channels_last, faster with oneDNN here)")
    p.add_argument("--omp-wait-policy", default=None,
                   help="OMP_WAIT_POLICY if not already in the environment (default PASSIVE)")
    p.add_argument("--no-flush-denormal", action="store_true")
    p.add_argument("--loader", choices=["manual", "dataloader"], default="manual")
    p.add_argument("--log-every", type=int, default=0, help="print loss every N iterations (stderr)")
    p.add_argument("--compile", action="store_true",
                   help="train torch.compile(model) (inductor); its compilation runs in --warmup iterations "
                        "(default 3 with --compile), timed apart as compile_s")
    a = p.parse_args(argv)
    if a.dataset is None:
        a.dataset = "mnist" if a.model == "lenet5" else "cifar10"
    if a.data_dir is None:
        a.data_dir = os.path.join("/work/shared/data", a.dataset)
    if a.epochs is None and a.iterations is None:
        a.epochs = 1
    if a.compile and a.warmup == 0:
        a.warmup = 3
    lenet = a.model == "lenet5"
    if a.batch_size is None:
        a.batch_size = 64 if lenet else 128
    if a.eval_batch_size is None:
        a.eval_batch_size = a.batch_size
    if a.lr is None:
        a.lr = 0.01 if lenet else 0.1
    if a.momentum is None:
        a.momentum = 0.5 if lenet else 0.9
    if a.weight_decay is None:
        a.weight_decay = 0.0 if lenet else 1e-4
    return a


ARGS = _parse_args()

# Threading must be fixed before torch (and its OpenMP) is loaded.
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)
os.environ["MKL_NUM_THREADS"] = str(ARGS.threads)
if ARGS.omp_wait_policy is not None:
    os.environ["OMP_WAIT_POLICY"] = ARGS.omp_wait_policy
else:
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import gzip  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


# ----------------------------------------------------------------------------------------- data
def _read_gz(path):
    with gzip.open(path, "rb") as f:
        return f.read()


def _idx(path, expect_magic):
    raw = _read_gz(path)
    magic = int.from_bytes(raw[0:4], "big")
    if magic != expect_magic:
        raise ValueError(f"{path}: bad IDX magic {magic:#x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _gz_size(path):
    """Uncompressed size from the gzip footer (ISIZE, exact below 4 GiB)."""
    with open(path, "rb") as f:
        f.seek(-4, 2)
        return int.from_bytes(f.read(4), "little")


def _normalise_into(dst, u8, mean, std):
    """dst[:] = (u8 / 255 - mean) / std, channel-wise, without full-size temporaries."""
    with warnings.catch_warnings():  # u8 views read-only bytes; it is only read
        warnings.simplefilter("ignore")
        dst.copy_(torch.from_numpy(u8))
    for c in range(dst.shape[1]):
        dst[:, c].mul_(1.0 / (255.0 * std[c])).sub_(mean[c] / std[c])


def load_mnist(d):
    def split(img, lbl):
        u8 = _idx(os.path.join(d, img), 0x803)
        x = torch.empty(u8.shape[0], 1, u8.shape[1], u8.shape[2])
        _normalise_into(x, u8.reshape(x.shape), (MNIST_MEAN,), (MNIST_STD,))
        y = torch.from_numpy(_idx(os.path.join(d, lbl), 0x801).astype(np.int64))
        return x, y
    return (split("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz")
            + split("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"))


def load_cifar10(d):
    def read(names):
        paths = [os.path.join(d, n) for n in names]
        counts = [_gz_size(p) // 3073 for p in paths]
        x = torch.empty(sum(counts), 3, 32, 32)  # filled file by file: no concatenation copy
        y = torch.empty(sum(counts), dtype=torch.int64)
        at = 0
        for p, c in zip(paths, counts):
            recs = np.frombuffer(_read_gz(p), dtype=np.uint8).reshape(c, 3073)
            _normalise_into(x[at:at + c], recs[:, 1:].reshape(c, 3, 32, 32), CIFAR_MEAN, CIFAR_STD)
            y[at:at + c] = torch.from_numpy(recs[:, 0].astype(np.int64))
            at += c
            del recs
        return x, y
    return (read([f"data_batch_{i}.bin.gz" for i in range(1, 6)]) + read(["test_batch.bin.gz"]))


class CropFlip:
    """Pad-4 random crop + random horizontal flip of a whole NCHW batch as one gather.

    Zero padding is applied to the normalised image (as torchvision's RandomCrop(32, padding=4) after
    Normalize would do). For each image an offset (oy, ox) in [0, 8]^2 and a flip bit are drawn; the
    output pixel (i, j) reads padded pixel (oy + i, ox + j), or (oy + i, ox + 31 - j) when flipped.
    """

    def __init__(self, size=32, pad=4):
        self.size, self.pad = size, pad
        self.ar = torch.arange(size)

    def __call__(self, x, gen):
        n, c, h, w = x.shape
        p, s = self.pad, self.size
        hp, wp = h + 2 * p, w + 2 * p
        xp = F.pad(x, (p, p, p, p))
        oy = torch.randint(0, 2 * p + 1, (n, 1), generator=gen)
        ox = torch.randint(0, 2 * p + 1, (n, 1), generator=gen)
        flip = torch.rand(n, 1, generator=gen) < 0.5
        rows = oy + self.ar                                  # (n, s)
        cols = torch.where(flip, ox + (s - 1) - self.ar, ox + self.ar)  # (n, s)
        lin = (rows.unsqueeze(2) * wp + cols.unsqueeze(1)).view(n, 1, s * s).expand(n, c, s * s)
        return torch.gather(xp.view(n, c, hp * wp), 2, lin).view(n, c, s, s)


# --------------------------------------------------------------------------------------- models
class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(400, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        # Option A: stride-2 subsample and zero-pad the new channels (no parameters).
        self.shortcut_pad = (cout - cin) // 2 if (stride != 1 or cin != cout) else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.shortcut_pad is None:
            sc = x
        else:
            q = self.shortcut_pad
            sc = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, q, q))
        return F.relu(out + sc)


class ResNet20(nn.Module):
    def __init__(self, num_classes=10, n=3):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        layers, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(n):
                layers.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layers(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


# ------------------------------------------------------------------------------------ training
def batches_manual(n, bs, gen):
    """Yields index tensors of one shuffled epoch (last partial batch kept)."""
    perm = torch.randperm(n, generator=gen)
    for s in range(0, n, bs):
        yield perm[s:s + bs]


def evaluate(model, x, y, bs, channels_last):
    model.eval()
    correct = 0
    with torch.no_grad():
        for s in range(0, x.shape[0], bs):
            xb = x[s:s + bs]
            if channels_last:
                xb = xb.contiguous(memory_format=torch.channels_last)
            correct += (model(xb).argmax(1) == y[s:s + bs]).sum().item()
    model.train()
    return correct / x.shape[0]


def main(a):
    torch.set_num_threads(a.threads)
    torch.backends.mkldnn.enabled = not a.no_mkldnn
    torch.set_flush_denormal(not a.no_flush_denormal)
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)

    t0 = time.perf_counter()
    if a.dataset == "mnist":
        xtr, ytr, xte, yte = load_mnist(a.data_dir)
        augment = None
    else:
        xtr, ytr, xte, yte = load_cifar10(a.data_dir)
        augment = CropFlip()
    load_s = time.perf_counter() - t0

    model = LeNet5() if a.model == "lenet5" else ResNet20()
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    params = sum(p.numel() for p in model.parameters())
    train_model = torch.compile(model) if a.compile else model
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum,
                          weight_decay=a.weight_decay)
    n = xtr.shape[0]
    bs = a.batch_size
    per_epoch = (n + bs - 1) // bs
    total_iters = a.iterations if a.iterations is not None else a.epochs * per_epoch

    if a.loader == "dataloader":
        ds = torch.utils.data.TensorDataset(xtr, ytr)
        dl = torch.utils.data.DataLoader(ds, batch_size=bs, shuffle=True, generator=gen,
                                         num_workers=0, drop_last=False)

        def epoch_iter():
            return iter(dl)
    else:
        def epoch_iter():
            for idx in batches_manual(n, bs, gen):
                yield xtr.index_select(0, idx), ytr.index_select(0, idx)

    def step(xb, yb):
        if augment is not None:
            xb = augment(xb, gen)
        if a.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(train_model(xb), yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    model.train()
    warmup_t0 = time.perf_counter()
    if a.warmup > 0:
        # Warm-up on a throw-away copy of model and optimiser state would change the trajectory;
        # instead warm up on the real model (it is a benchmark, the first steps are just training).
        it = epoch_iter()
        for _ in range(a.warmup):
            xb, yb = next(it)
            step(xb, yb)

    warmup_s = time.perf_counter() - warmup_t0
    it_done = 0
    seen = 0
    last_loss = float("nan")
    t0 = time.perf_counter()
    c0 = time.process_time()
    while it_done < total_iters:
        for xb, yb in epoch_iter():
            loss = step(xb, yb)
            it_done += 1
            seen += xb.shape[0]
            if a.log_every and it_done % a.log_every == 0:
                last_loss = loss.item()
                print(f"iter {it_done} loss {last_loss:.4f} "
                      f"{seen / (time.perf_counter() - t0):.1f} img/s", file=sys.stderr)
            if it_done >= total_iters:
                break
    train_s = time.perf_counter() - t0
    train_cpu_s = time.process_time() - c0

    test_acc = None if a.no_eval else evaluate(model, xte, yte, a.eval_batch_size, a.channels_last)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    out = {
        "framework": "pytorch-compile" if a.compile else "pytorch",
        "warmup_s": round(warmup_s, 3),
        "model": a.model,
        "dataset": a.dataset,
        "batch_size": bs,
        "threads": a.threads,
        "epochs": a.epochs if a.iterations is None else None,
        "iterations": it_done,
        "instances_trained": seen,
        "train_s": round(train_s, 4),
        "train_cpu_s": round(train_cpu_s, 4),
        "images_per_s": round(seen / train_s, 2),
        "epoch_s": round(train_s * n / seen, 4),
        "test_acc": test_acc,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "params": params,
        "load_s": round(load_s, 3),
        "torch_version": torch.__version__,
        "config": {
            "mkldnn": torch.backends.mkldnn.enabled,
            "channels_last": a.channels_last,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "flush_denormal": not a.no_flush_denormal,
            "loader": a.loader,
            "warmup": a.warmup,
            "compile": a.compile,
            "lr": a.lr, "momentum": a.momentum, "weight_decay": a.weight_decay, "seed": a.seed,
        },
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main(ARGS)
