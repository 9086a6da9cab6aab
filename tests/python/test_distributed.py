"""Error Map Pruning under torch.distributed (two processes, Gloo on loopback, torchrun): each rank
selects its kept channels from its own error map, and DistributedDataParallel averages the pruned
gradients, so every rank holds (1/W) * the sum of the ranks' local pruned gradients: a channel kept
on j of the W ranks gets the sum of those j ranks' gradients over W, one pruned everywhere zero."""
import subprocess
import sys
from pathlib import Path

import torch

import ddp_emp_worker as worker

WORLD = 2


def local_gradients(rank):
    net = worker.model()
    x, g = worker.batch(rank)
    (net(x) * g).sum().backward()
    return {name: p.grad for name, p in net.named_parameters()}


def test_ddp_averages_each_ranks_pruned_gradients(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD}",
                           str(Path(worker.__file__)), str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = [torch.load(tmp_path / f"rank{r}.pt") for r in range(WORLD)]
    local = [local_gradients(r) for r in range(WORLD)]
    for name in local[0]:
        expected = sum(grads[name] for grads in local) / WORLD
        for rank in range(WORLD):
            torch.testing.assert_close(ddp[rank][name], expected, rtol=1e-5, atol=1e-6, msg=name)
    # The pruned layer: each rank kept 4 of its 16 rows by its own error map; the averaged gradient's
    # non-zero rows are the union of the ranks' kept rows.
    kept = [set(torch.nonzero(grads["2.weight"].flatten(1).abs().sum(1)).flatten().tolist()) for grads in local]
    assert all(len(k) == 4 for k in kept)
    rows = set(torch.nonzero(ddp[0]["2.weight"].flatten(1).abs().sum(1)).flatten().tolist())
    assert rows == kept[0] | kept[1]
