// LeNet-5, the paper's MNIST model, and "lenet-filter", the slim LeNet the paper uses as
// the MNIST Early Instance Filter (and "lenet-filter-slim", a narrower one). Both are built from
// skiptrain::nn::Conv2d / Linear so the cost ledger and Error Map Pruning see every layer; ReLU
// and max pooling are functional.
// Module names (conv1, conv2, fc1, ...) equal those of python/skiptrain/models.py.
#pragma once

#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/linear.h"
#include "skiptrain/nn/network.h"

namespace skiptrain::nn {

// LeNet-5: conv5x5(6, padding (32-image_size)/2) - relu - pool2 - conv5x5(16) - relu - pool2 -
// fc(16*s*s, 120) - relu - fc(120, 84) - relu - fc(84, classes); s = 5 for 28x28 and 32x32 inputs.
class LeNet5Impl : public NetworkImpl {
 public:
  // Throws InputError when the image is too small for two 5x5 convs and two pools.
  explicit LeNet5Impl(const ModelSpec& spec);
  // images [N, C, H, W] -> logits [N, num_classes]
  torch::Tensor forward(torch::Tensor images) override;

  Conv2d conv1{nullptr}, conv2{nullptr};
  Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};
};

// Channel widths of a LeNet filter: conv1 filters, conv2 filters, fc1 units.
struct LeNetFilterWidths {
  int64_t conv1 = 6, conv2 = 16, hidden = 32;
};

// The MNIST filter: conv3x3/2(conv1, padding 1) - relu - pool2 - conv3x3(conv2) - relu - pool2 -
// fc(conv2*s*s, hidden) - relu - fc(hidden, classes); s = 2 for 28x28 inputs.
//  "lenet-filter" (6/16/32, the paper's 6/16 filters): ~8% of LeNet-5's forward MACs (paper: 9.5%);
//    the stride-2 first conv keeps it there, with stride 1 and the same layers it would cost ~34%.
//  "lenet-filter-slim" (4/8/16, [ours]): 14.8k MACs, 3.6% of LeNet-5's forward; see
//    train/config.h (--eif-model) for the experiment that measured it.
class LeNetFilterImpl : public NetworkImpl {
 public:
  // Throws InputError when the image is too small for the two convs and pools.
  explicit LeNetFilterImpl(const ModelSpec& spec, LeNetFilterWidths widths = {}, const char* name = "lenet-filter");
  // images [N, C, H, W] -> logits [N, num_classes]
  torch::Tensor forward(torch::Tensor images) override;

  Conv2d conv1{nullptr}, conv2{nullptr};
  Linear fc1{nullptr}, fc2{nullptr};
};

}  // namespace skiptrain::nn
