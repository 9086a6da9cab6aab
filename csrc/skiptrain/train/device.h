// Which device a run trains on: the --device flag ("auto", "cpu", "cuda", "cuda:N") resolved
// against the GPUs this process can see.
#pragma once

#include <c10/core/Device.h>

#include <string>

namespace skiptrain::train {

// "auto": the first CUDA GPU when one is visible, else the CPU; "cpu"; "cuda" or "cuda:N".
// Throws InputError naming --device when the value is malformed or names a GPU that is not there.
c10::Device resolve_device(const std::string& flag);

}  // namespace skiptrain::train
