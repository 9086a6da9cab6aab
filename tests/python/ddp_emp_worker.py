"""One rank of test_distributed.py, run by torchrun: a small EMP-converted model under
DistributedDataParallel (Gloo) takes one backward on this rank's own batch; the rank saves the
gradients DDP left and its own batch, so the test can recompute each rank's local gradient."""
import os
import sys

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import skiptrain


def model():
    """The same initial weights on every rank (DDP also broadcasts rank 0's at construction)."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, 16, 3, padding=1))
    return skiptrain.emp.convert(net, keep=0.25)  # the second conv keeps 4 of its 16 channels


def batch(rank):
    g = torch.Generator().manual_seed(100 + rank)
    return torch.randn(4, 3, 8, 8, generator=g), torch.randn(4, 16, 8, 8, generator=g)


def main(out_dir):
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    net = model()
    ddp = DistributedDataParallel(net)
    x, g = batch(rank)
    (ddp(x) * g).sum().backward()
    torch.save({name: p.grad for name, p in net.named_parameters()}, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
