"""One rank of test_distributed.py's filter test, run by torchrun: a plain PyTorch loop with a
DistributedSampler, a DistributedDataParallel main model and one EarlyInstanceFilter shared by the
ranks (Gloo). Each rank starts its filter from different weights on purpose; it saves the filter's
weights, T_l and figures, and what a non-budget control raises under a process group."""
import json
import os
import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from skiptrain import EarlyInstanceFilter


def dataset(n=2048):
    """Class c (0-3) is a bright 6x6 block in quadrant c, over noise whose level varies per image,
    so some instances are harder than others."""
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 4, (n,), generator=g)
    noise = torch.rand(n, 1, 1, 1, generator=g)
    images = torch.randn(n, 1, 12, 12, generator=g) * noise * 2
    for i, c in enumerate(labels.tolist()):
        r, col = divmod(c, 2)
        images[i, 0, 6 * r:6 * r + 6, 6 * col:6 * col + 6] += 1.0
    return TensorDataset(images, labels)


def small_cnn(outputs):
    return torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                               torch.nn.AdaptiveAvgPool2d(3), torch.nn.Flatten(), torch.nn.Linear(36, outputs))


def main(out_dir):
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    torch.manual_seed(0)
    model = small_cnn(4)
    ddp = DistributedDataParallel(model)
    optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    torch.manual_seed(1 + rank)  # each rank's filter starts elsewhere: the filter must take rank 0's
    eif = EarlyInstanceFilter(small_cnn(2), ratio=0.25, warmup_batches=4)
    try:
        EarlyInstanceFilter(small_cnn(2), ratio=0.25, control="paper")
        refused = ""
    except ValueError as error:
        refused = str(error)
    data = dataset()
    sampler = DistributedSampler(data, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=32, sampler=sampler)
    for epoch in range(2):
        sampler.set_epoch(epoch)
        for x, y in eif.wrap(loader, model):  # the loss-only forwards use the module, not the DDP wrapper
            losses = F.cross_entropy(ddp(x), y, reduction="none")
            eif.observe(losses)
            optimizer.zero_grad()
            losses.mean().backward()
            optimizer.step()
    torch.save({"filter": torch.cat([p.detach().reshape(-1) for p in eif.filter_model.parameters()]),
                "buffers": torch.cat([b.reshape(-1).float() for b in eif.filter_model.buffers()])},
               os.path.join(out_dir, f"filter{rank}.pt"))
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump({"threshold": eif.threshold, "metrics": eif.metrics, "refused": refused}, f)
    # Both ranks done with every collective before either tears its group down, and no interpreter
    # teardown after it: one fresh-clone run saw both ranks abort (SIGABRT, "terminate called without
    # an active exception"; where is unknown, 7 reruns passed); this removes the teardown races.
    dist.barrier()
    dist.destroy_process_group()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1])
