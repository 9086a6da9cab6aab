// The CIFAR ResNets of He et al. (2016, section 4.2): 6n+2 layers, three stages of 16/32/64
// channels with n basic blocks each, option-A (parameter-free) shortcuts, global average pool, FC.
// n = 1 is "resnet8", the paper's CIFAR Early Instance Filter; n = 3/5/7/9/12/18 give
// ResNet-20/32/44/56/74/110. Module names equal those of python/skiptrain/models.py.
#pragma once

#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/linear.h"
#include "skiptrain/nn/network.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>

namespace skiptrain::nn {

// Two 3x3 conv+BN with a ReLU between, added to the shortcut, then ReLU. When the block
// changes shape, the shortcut subsamples with the stride and zero-pads the new channels
// (option A: no parameters, so a block has exactly conv1, bn1, conv2, bn2).
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in_channels, int64_t out_channels, int64_t stride);
  // x [N, C_in, H, W] -> [N, C_out, H/stride, W/stride]
  torch::Tensor forward(torch::Tensor x);

  int64_t in_channels, out_channels, stride;
  Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
};
TORCH_MODULE(BasicBlock);

// conv1 (3x3, 16) - bn1 - relu - layer1 (n blocks, 16) - layer2 (n, 32, /2) - layer3 (n, 64, /2) -
// global average pool - fc (64, classes). Convs: Kaiming-normal (fan_out, ReLU gain), no bias;
// BN weight 1, bias 0; fc: torch.nn.Linear's default init.
class CifarResNetImpl : public NetworkImpl {
 public:
  // blocks_per_stage = n, depth 6n+2. Throws InputError for n < 1 or a bad spec.
  CifarResNetImpl(int64_t blocks_per_stage, const ModelSpec& spec);
  // images [N, C, H, W] -> logits [N, num_classes]
  torch::Tensor forward(torch::Tensor images) override;
  // 6n+2
  int64_t depth() const { return 6 * blocks_per_stage + 2; }

  int64_t blocks_per_stage;
  Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr};  // of BasicBlock
  Linear fc{nullptr};
};

}  // namespace skiptrain::nn
