// CIFAR ResNets (He et al. 2016) with option-A shortcuts; see resnet_cifar.h.
#include "skiptrain/nn/resnet_cifar.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <string>

namespace skiptrain::nn {

BasicBlockImpl::BasicBlockImpl(int64_t in_channels_, int64_t out_channels_, int64_t stride_)
    : in_channels(in_channels_), out_channels(out_channels_), stride(stride_) {
  conv1 = register_module(
      "conv1", Conv2d(Conv2dOptions(in_channels, out_channels, 3).with_stride(stride).with_padding(1).with_bias(false)));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(out_channels));
  conv2 = register_module("conv2", Conv2d(Conv2dOptions(out_channels, out_channels, 3).with_padding(1).with_bias(false)));
  bn2 = register_module("bn2", torch::nn::BatchNorm2d(out_channels));
}

torch::Tensor BasicBlockImpl::forward(torch::Tensor x) {
  auto out = torch::relu(bn1->forward(conv1->forward(x)));
  out = bn2->forward(conv2->forward(out));
  auto shortcut = x;
  if (stride != 1) shortcut = shortcut.slice(2, 0, shortcut.size(2), stride).slice(3, 0, shortcut.size(3), stride);
  if (out_channels != in_channels) {
    // Option A: the new channels are zeros, split evenly before and after the old ones.
    const int64_t extra = out_channels - in_channels;
    shortcut = torch::constant_pad_nd(shortcut, {0, 0, 0, 0, extra / 2, extra - extra / 2}, 0);
  }
  return torch::relu(out + shortcut);
}

CifarResNetImpl::CifarResNetImpl(int64_t blocks_per_stage_, const ModelSpec& spec, int64_t base_width_,
                                 const std::string& name_)
    : blocks_per_stage(blocks_per_stage_), base_width(base_width_), model_name(name_) {
  if (blocks_per_stage < 1)
    throw InputError("CIFAR ResNet: blocks per stage must be >= 1, got " + std::to_string(blocks_per_stage));
  if (model_name.empty()) model_name = "resnet" + std::to_string(depth());
  if (base_width < 1) throw InputError(model_name + ": base width must be >= 1, got " + std::to_string(base_width));
  if (spec.in_channels < 1 || spec.num_classes < 1 || spec.image_size < 1)
    throw InputError(model_name + ": in_channels (" + std::to_string(spec.in_channels) + "), image_size (" +
                     std::to_string(spec.image_size) + ") and num_classes (" + std::to_string(spec.num_classes) +
                     ") must be positive");
  const int64_t w = base_width;
  conv1 = register_module("conv1", Conv2d(Conv2dOptions(spec.in_channels, w, 3).with_padding(1).with_bias(false)));
  bn1 = register_module("bn1", torch::nn::BatchNorm2d(w));
  auto stage = [&](int64_t in, int64_t out, int64_t stride) {
    torch::nn::Sequential blocks;
    for (int64_t i = 0; i < blocks_per_stage; ++i) blocks->push_back(BasicBlock(i == 0 ? in : out, out, i == 0 ? stride : 1));
    return blocks;
  };
  layer1 = register_module("layer1", stage(w, w, 1));
  layer2 = register_module("layer2", stage(w, 2 * w, 2));
  layer3 = register_module("layer3", stage(2 * w, 4 * w, 2));
  fc = register_module("fc", Linear(4 * w, spec.num_classes));

  // He et al. initialise as in "Delving deep into rectifiers"; we use the fan_out form
  // (torchvision's choice), which keeps the backward signal's variance steady.
  for (auto& module : modules(/*include_self=*/false)) {
    if (auto* conv = module->as<Conv2dImpl>()) {
      torch::NoGradGuard no_grad;
      torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    } else if (auto* bn = module->as<torch::nn::BatchNorm2dImpl>()) {
      torch::NoGradGuard no_grad;
      bn->weight.fill_(1.0);
      bn->bias.zero_();
    }
  }
}

torch::Tensor CifarResNetImpl::forward(torch::Tensor images) {
  // Shapes for 32x32 images, w = base_width.
  auto x = torch::relu(bn1->forward(conv1->forward(images)));  // [N, w, 32, 32]
  x = layer1->forward(x);                                      // [N, w, 32, 32]
  x = layer2->forward(x);                                      // [N, 2w, 16, 16]
  x = layer3->forward(x);                                      // [N, 4w, 8, 8]
  x = x.mean({2, 3});                                          // [N, 4w]
  return fc->forward(x);
}

}  // namespace skiptrain::nn
