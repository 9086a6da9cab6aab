// VGG-16 with BatchNorm for CIFAR: the 13 conv layers of configuration D (Simonyan & Zisserman),
// each 3x3 conv (no bias: BN follows) + BN + ReLU, five 2x2 max pools, and a single
// Linear(512, classes) classifier for 32x32 inputs (the usual CIFAR variant; no 4096-wide FCs).
// Module names (features.<i>, classifier) equal those of python/skiptrain/models.py.
#pragma once

#include "skiptrain/nn/linear.h"
#include "skiptrain/nn/network.h"

#include <torch/nn/modules/container/sequential.h>

namespace skiptrain::nn {

// features: [conv, bn, relu] x 13 with max pools after conv 2, 4, 7, 10, 13 (indices as in
// torchvision's vgg16_bn); classifier: Linear(512*s*s, classes), s = image_size/32 (1 for CIFAR).
// Convs: Kaiming-normal (fan_out, ReLU gain); BN weight 1, bias 0; classifier: default init.
class VGG16Impl : public NetworkImpl {
 public:
  // Throws InputError for image_size < 32 (five pools need at least 32 pixels).
  explicit VGG16Impl(const ModelSpec& spec);
  // images [N, C, H, W] -> logits [N, num_classes]
  torch::Tensor forward(torch::Tensor images) override;

  torch::nn::Sequential features{nullptr};
  Linear classifier{nullptr};
};

}  // namespace skiptrain::nn
