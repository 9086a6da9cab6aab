// The zoo's factory of network.h: make_model(), model_names() and default_emp_layer_keep() over
// the architectures of lenet.h, resnet_cifar.h and vgg.h. Names are the --model values of the
// trainer and of skiptrain.models.make_model in Python.
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

struct ZooEntry {
  std::string name;
  Factory make;
  std::vector<LayerKeep> emp_layer_keep;  // default_emp_layer_keep()
};

Factory resnet(int64_t blocks_per_stage) {
  return [blocks_per_stage](const ModelSpec& spec) -> Network {
    return std::make_shared<CifarResNetImpl>(blocks_per_stage, spec);
  };
}

// The main-model ResNets prune stage 1 only by default (network.h says why).
const std::vector<LayerKeep> kResNetStageOneOnly{{"layer2.*", 1.0}, {"layer3.*", 1.0}};

// In the order model_names() lists them.
const std::vector<ZooEntry>& registry() {
  static const std::vector<ZooEntry> models = {
      {"lenet5", [](const ModelSpec& s) -> Network { return std::make_shared<LeNet5Impl>(s); }, {}},
      {"lenet-filter", [](const ModelSpec& s) -> Network { return std::make_shared<LeNetFilterImpl>(s); }, {}},
      {"lenet-filter-slim",
       [](const ModelSpec& s) -> Network {
         return std::make_shared<LeNetFilterImpl>(s, LeNetFilterWidths{4, 8, 16}, "lenet-filter-slim");
       },
       {}},
      {"resnet8", resnet(1), {}},
      {"resnet8-slim",
       [](const ModelSpec& s) -> Network { return std::make_shared<CifarResNetImpl>(1, s, 8, "resnet8-slim"); },
       {}},
      {"resnet20", resnet(3), kResNetStageOneOnly},
      {"resnet32", resnet(5), kResNetStageOneOnly},
      {"resnet44", resnet(7), kResNetStageOneOnly},
      {"resnet56", resnet(9), kResNetStageOneOnly},
      {"resnet74", resnet(12), kResNetStageOneOnly},
      {"resnet110", resnet(18), kResNetStageOneOnly},
      {"vgg16", [](const ModelSpec& s) -> Network { return std::make_shared<VGG16Impl>(s); }, {}},
  };
  return models;
}

}  // namespace

Network make_model(const std::string& name, const ModelSpec& spec) {
  for (const auto& entry : registry())
    if (entry.name == name) return entry.make(spec);
  std::string valid;
  for (const auto& n : model_names()) valid += (valid.empty() ? "" : ", ") + n;
  throw InputError("unknown model '" + name + "' (--model); valid: " + valid);
}

std::vector<std::string> model_names() {
  std::vector<std::string> names;
  for (const auto& entry : registry()) names.push_back(entry.name);
  return names;
}

std::vector<LayerKeep> default_emp_layer_keep(const std::string& model) {
  for (const auto& entry : registry())
    if (entry.name == model) return entry.emp_layer_keep;
  return {};
}

}  // namespace skiptrain::nn
