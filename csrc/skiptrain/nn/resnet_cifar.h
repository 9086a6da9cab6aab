// The CIFAR ResNets of He et al. (2016, section 4.2): 6n+2 layers, three stages of 16/32/64
// channels with n basic blocks each, option-A (parameter-free) shortcuts, global average pool, FC.
// n = 1 is "resnet8", the paper's CIFAR Early Instance Filter; n = 3/5/7/9/12/18 give
// ResNet-20/32/44/56/74/110. "resnet8-slim" [ours] is ResNet-8 at half width (8/16/32), a cheaper
// filter. Module names equal those of python/skiptrain/models.py.
#pragma once

#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/linear.h"
#include "skiptrain/nn/network.h"

#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>

#include <string>

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

// conv1 (3x3, w) - bn1 - relu - layer1 (n blocks, w) - layer2 (n, 2w, /2) - layer3 (n, 4w, /2) -
// global average pool - fc (4w, classes), w = base_width: 16 in the paper, 8 for "resnet8-slim"
// (every conv after conv1 costs a quarter, conv1 and fc half: 3.17M forward MACs vs 12.24M for
// resnet8 with 2 classes). Convs: Kaiming-normal (fan_out, ReLU gain), no bias; BN weight 1, bias 0;
// fc: torch.nn.Linear's default init.
class CifarResNetImpl : public NetworkImpl {
 public:
  // blocks_per_stage = n, depth 6n+2; name is the zoo name for errors ("" gives "resnet<6n+2>").
  // Throws InputError for n < 1, base_width < 1 or a bad spec.
  CifarResNetImpl(int64_t blocks_per_stage, const ModelSpec& spec, int64_t base_width = 16,
                  const std::string& name = "");
  // images [N, C, H, W] -> logits [N, num_classes]
  torch::Tensor forward(torch::Tensor images) override;
  // 6n+2
  int64_t depth() const { return 6 * blocks_per_stage + 2; }

  int64_t blocks_per_stage, base_width;
  std::string model_name;  // not `name`: that would hide torch::nn::Module::name()
  Conv2d conv1{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr};
  torch::nn::Sequential layer1{nullptr}, layer2{nullptr}, layer3{nullptr};  // of BasicBlock
  Linear fc{nullptr};
};

}  // namespace skiptrain::nn
