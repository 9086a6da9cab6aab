// VGG-16 with BatchNorm for CIFAR; see vgg.h.
#include "skiptrain/nn/vgg.h"

#include "skiptrain/errors.h"
#include "skiptrain/nn/conv2d.h"

#include <torch/torch.h>

#include <string>

namespace skiptrain::nn {

VGG16Impl::VGG16Impl(const ModelSpec& spec) {
  if (spec.in_channels < 1 || spec.num_classes < 1)
    throw InputError("vgg16: in_channels (" + std::to_string(spec.in_channels) + ") and num_classes (" +
                     std::to_string(spec.num_classes) + ") must be positive");
  if (spec.image_size < 32)
    throw InputError("vgg16: image_size " + std::to_string(spec.image_size) +
                     " (--image-size) is too small; five 2x2 pools need at least 32");
  // Configuration D: channel counts, 0 = 2x2 max pool.
  const int64_t config[] = {64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512, 0};
  features = torch::nn::Sequential();
  int64_t channels = spec.in_channels;
  int64_t side = spec.image_size;
  for (int64_t c : config) {
    if (c == 0) {
      features->push_back(torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(2).stride(2)));
      side /= 2;
      continue;
    }
    Conv2d conv(Conv2dOptions(channels, c, 3).with_padding(1).with_bias(false));
    torch::nn::init::kaiming_normal_(conv->weight, 0.0, torch::kFanOut, torch::kReLU);
    features->push_back(conv);
    features->push_back(torch::nn::BatchNorm2d(c));  // weight 1, bias 0 by default
    features->push_back(torch::nn::ReLU());
    channels = c;
  }
  register_module("features", features);
  classifier = register_module("classifier", Linear(channels * side * side, spec.num_classes));
}

torch::Tensor VGG16Impl::forward(torch::Tensor images) {
  auto x = features->forward(images);  // [N, 512, 1, 1] for 32x32
  return classifier->forward(x.flatten(1));
}

}  // namespace skiptrain::nn
