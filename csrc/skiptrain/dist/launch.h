// How the ranks of a data-parallel run find each other: torchrun's environment (RANK,
// WORLD_SIZE, MASTER_ADDR, MASTER_PORT) or the trainer's flags, and connect(), which joins
// the run through torch.distributed's c10d (a TCPStore rendezvous; Gloo on the CPU, NCCL
// for CUDA devices where skiptrain is built with CUDA). skiptrain has no transport of its own.
#pragma once

#include "skiptrain/dist/collective.h"

#include <c10/core/Device.h>

#include <cstdint>
#include <memory>
#include <string>

namespace skiptrain::dist {

struct LaunchOptions {
  // --world-size: processes in the run; 0 = $WORLD_SIZE, or 1 (a single process) when unset.
  int64_t world_size = 0;
  // --rank: this process's rank in [0, world size); -1 = $RANK, or 0 when unset.
  int64_t rank = -1;
  // $LOCAL_RANK (torchrun), else the rank: which of this host's GPUs --device cuda (or auto) means.
  int64_t local_rank = -1;
  // --master-addr: the host of rank 0, which hosts the rendezvous; empty = $MASTER_ADDR, or 127.0.0.1.
  std::string master_addr;
  // --master-port: the rendezvous port; 0 = $MASTER_PORT, or 29500.
  int64_t master_port = 0;
  // --dist-backend: "auto" (nccl for a CUDA device where built with CUDA, else gloo), "gloo", "nccl".
  std::string backend = "auto";
  // --dist-timeout: seconds a rank waits for the others (rendezvous, each collective) before it
  // stops with an error; a rank that dies is noticed at once by the others' next collective.
  double timeout_s = 300;

  // The options with the environment's values filled in where a flag left its default, checked:
  // InputError naming the flag (or variable) and what it must be.
  LaunchOptions resolved() const;
};

// Joins the run described by `resolved` (a resolved() LaunchOptions) for tensors on `device`:
// a plain Collective for one process, else one over a c10d process group. A rendezvous that
// fails or times out throws TrainingError naming the address, the flags and the fix.
std::unique_ptr<Collective> connect(const LaunchOptions& resolved, const c10::Device& device);

}  // namespace skiptrain::dist
