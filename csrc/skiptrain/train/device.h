// Which device a run trains on: the --device flag ("auto", "cpu", "cuda", "cuda:N") resolved
// against the GPUs this process can see.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace skiptrain::train {

// "auto": a CUDA GPU when one is visible, else the CPU; "cpu"; "cuda" or "cuda:N". The GPU of "auto"
// and "cuda" is number `local_rank` (modulo the GPUs visible): the first for one process, each
// process of a data-parallel run on one host its own. Throws InputError naming --device when the
// value is malformed or names a GPU that is not there.
c10::Device resolve_device(const std::string& flag, int64_t local_rank = 0);

}  // namespace skiptrain::train
