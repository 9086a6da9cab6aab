// The zoo's factory of network.h: make_model() and model_names() over the architectures
// of lenet.h, resnet_cifar.h and vgg.h. Names are the --model values of the trainer and of
// skiptrain.models.make_model in Python.
#include "skiptrain/nn/network.h"

#include "skiptrain/errors.h"
#include "skiptrain/nn/lenet.h"
#include "skiptrain/nn/resnet_cifar.h"
#include "skiptrain/nn/vgg.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace skiptrain::nn {
namespace {

using Factory = std::function<Network(const ModelSpec&)>;

Factory resnet(int64_t blocks_per_stage) {
  return [blocks_per_stage](const ModelSpec& spec) -> Network {
    return std::make_shared<CifarResNetImpl>(blocks_per_stage, spec);
  };
}

// In the order model_names() lists them.
const std::vector<std::pair<std::string, Factory>>& registry() {
  static const std::vector<std::pair<std::string, Factory>> models = {
      {"lenet5", [](const ModelSpec& s) -> Network { return std::make_shared<LeNet5Impl>(s); }},
      {"lenet-filter", [](const ModelSpec& s) -> Network { return std::make_shared<LeNetFilterImpl>(s); }},
      {"lenet-filter-slim",
       [](const ModelSpec& s) -> Network {
         return std::make_shared<LeNetFilterImpl>(s, LeNetFilterWidths{4, 8, 16}, "lenet-filter-slim");
       }},
      {"resnet8", resnet(1)},
      {"resnet8-slim",
       [](const ModelSpec& s) -> Network { return std::make_shared<CifarResNetImpl>(1, s, 8, "resnet8-slim"); }},
      {"resnet20", resnet(3)},
      {"resnet32", resnet(5)},
      {"resnet44", resnet(7)},
      {"resnet56", resnet(9)},
      {"resnet74", resnet(12)},
      {"resnet110", resnet(18)},
      {"vgg16", [](const ModelSpec& s) -> Network { return std::make_shared<VGG16Impl>(s); }},
  };
  return models;
}

}  // namespace

Network make_model(const std::string& name, const ModelSpec& spec) {
  for (const auto& [model_name, factory] : registry())
    if (model_name == name) return factory(spec);
  std::string valid;
  for (const auto& n : model_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw InputError("unknown model '" + name + "' (--model); valid: " + valid);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.first);
  return names;
}

}  // namespace skiptrain::nn
