"""skiptrain's Python pieces under torch.distributed (two processes, Gloo on loopback, torchrun).

Error Map Pruning: each rank selects its kept channels from its own error map, and
DistributedDataParallel averages the pruned gradients, so every rank holds (1/W) * the sum of the
ranks' local pruned gradients: a channel kept on j of the W ranks gets the sum of those j ranks'
gradients over W, one pruned everywhere zero.

The Early Instance Filter: with a DistributedSampler each rank filters its own shard, and the ranks
keep one filter (equal weights and T_l) whose kept share is R_set of the whole batch."""
import json
import subprocess
import sys
from pathlib import Path

import torch

import ddp_eif_worker
import ddp_emp_worker as worker

WORLD = 2


def local_gradients(rank):
    net = worker.model()
    x, g = worker.batch(rank)
    (net(x) * g).sum().backward()
    return {name: p.grad for name, p in net.named_parameters()}


def torchrun(script, out_dir):
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD}",
                           script, str(out_dir)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_ddp_averages_each_ranks_pruned_gradients(tmp_path):
    torchrun(worker.__file__, tmp_path)
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


def test_ranks_share_one_instance_filter(tmp_path):
    torchrun(ddp_eif_worker.__file__, tmp_path)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD)]
    filters = [torch.load(tmp_path / f"filter{r}.pt") for r in range(WORLD)]
    # One filter: rank 0's initial weights, the same averaged steps, the same T_l and counts.
    torch.testing.assert_close(filters[1]["filter"], filters[0]["filter"], rtol=0, atol=0)
    torch.testing.assert_close(filters[1]["buffers"], filters[0]["buffers"], rtol=0, atol=0)
    assert ranks[0]["threshold"] == ranks[1]["threshold"]
    assert ranks[0]["metrics"] == ranks[1]["metrics"]
    m = ranks[0]["metrics"]
    assert m["incoming"] == 2 * 2048  # the whole batch's counts, two epochs of both shards
    assert abs(m["kept_fraction_window"] - 0.25) <= 0.02
    assert m["filter_forward_instances"] == 2048  # this rank's own shard
    assert "control='budget'" in ranks[0]["refused"]

