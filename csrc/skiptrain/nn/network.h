// The interface every model of the zoo implements, and the zoo's factory.
// A Network maps images [N, C, H, W] (float, normalised) to logits [N, classes].
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <vector>

namespace skiptrain::nn {

// What the data looks like and how many outputs the head has (2 for a filter).
struct ModelSpec {
  int64_t in_channels = 1;
  int64_t image_size = 28;
  int64_t num_classes = 10;
};

class NetworkImpl : public torch::nn::Module {
 public:
  // images [N, C, H, W] -> logits [N, num_classes]
  virtual torch::Tensor forward(torch::Tensor images) = 0;
};
using Network = std::shared_ptr<NetworkImpl>;

// Builds a model by name: lenet5, resnet20/32/44/56/74/110, vgg16, and the filters lenet-filter,
// lenet-filter-slim, resnet8, resnet8-slim (model_names() lists them all).
// Throws InputError naming the model and listing the valid names.
Network make_model(const std::string& name, const ModelSpec& spec);

// The names make_model accepts.
std::vector<std::string> model_names();

}  // namespace skiptrain::nn
