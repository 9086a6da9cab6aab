// Memory layout of a run's tensors. oneDNN's dense convolutions are faster on
// channels-last (NHWC) tensors on this class of CPU (measured on the 2-core dev
// machine: ResNet-20 and LeNet-5 steps 4-20% faster), so runs keep conv weights and
// image batches channels-last unless most pruned convs lack a channels-last EMP kernel.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

namespace skiptrain::train {

// Converts every 4-d parameter of `model` (conv weights) to channels-last in place.
void use_channels_last(torch::nn::Module& model);

// `images` [N, C, H, W] in channels-last layout (a no-op when it already is).
torch::Tensor channels_last(const torch::Tensor& images);

}  // namespace skiptrain::train
