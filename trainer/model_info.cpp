// Model description for `skiptrain model-info`.
#include "model_info.h"

#include "skiptrain/cost/table.h"
#include "skiptrain/nn/network.h"

#include <torch/torch.h>

namespace skiptrain::cli {

nlohmann::json model_info(const ModelInfoRequest& r) {
  auto model = nn::make_model(r.model, {r.in_channels, r.image_size, r.num_classes});
  const auto table = cost::count(*model, [&](const torch::Tensor& x) { return model->forward(x); },
                                 {1, r.in_channels, r.image_size, r.image_size});
  nlohmann::json parameters = nlohmann::json::object(), buffers = nlohmann::json::object(), layers = nlohmann::json::array();
  for (const auto& p : model->named_parameters()) parameters[p.key()] = p.value().sizes().vec();
  for (const auto& b : model->named_buffers()) buffers[b.key()] = b.value().sizes().vec();
  for (const auto& l : table.layers)
    layers.push_back({{"name", l.name},
                      {"kind", l.kind},
                      {"forward_macs", l.forward_macs},
                      {"backward_input_macs", l.backward_input_macs},
                      {"backward_weight_macs", l.backward_weight_macs}});
  return {{"model", r.model},
          {"parameters", parameters},
          {"buffers", buffers},
          {"forward_macs", table.forward_macs()},
          {"training_macs", table.training_macs()},
          {"layers", layers}};
}

}  // namespace skiptrain::cli
