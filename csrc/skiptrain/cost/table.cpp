// Cost tables built from recorded layer shapes.
#include "skiptrain/cost/table.h"

#include <torch/torch.h>

#include <numeric>
#include <unordered_map>

namespace skiptrain::cost {

double CostTable::forward_macs() const {
  double total = 0;
  for (const auto& l : layers) total += l.forward_macs;
  return total;
}

double CostTable::backward_macs() const {
  double total = 0;
  for (const auto& l : layers) total += l.backward_input_macs + l.backward_weight_macs;
  return total;
}

int CostTable::index_of(const torch::nn::Module* module) const {
  for (size_t i = 0; i < layers.size(); ++i)
    if (layers[i].module == module) return static_cast<int>(i);
  return -1;
}

double conv2d_macs(const std::vector<int64_t>& weight_shape, const std::vector<int64_t>& output_shape,
                   int64_t groups) {
  TORCH_CHECK_VALUE(weight_shape.size() == 4 && output_shape.size() == 4,
                    "conv2d_macs: expected 4-d weight and output");
  // weight [C_out, C_in/groups, kh, kw]; output [N, C_out, H_out, W_out]
  (void)groups;  // C_in/groups is already weight_shape[1]
  return static_cast<double>(output_shape[2]) * output_shape[3] * weight_shape[0] * weight_shape[1] *
         weight_shape[2] * weight_shape[3];
}

double linear_macs(int64_t in_features, int64_t out_features) {
  return static_cast<double>(in_features) * out_features;
}

LayerCost layer_cost(const LayerRecord& r, std::string name) {
  LayerCost c;
  c.name = std::move(name);
  c.kind = r.kind;
  c.module = r.module;
  c.out_channels = r.weight_shape[0];
  c.output_shape.assign(r.output_shape.begin() + 1, r.output_shape.end());
  c.forward_macs = r.kind == "conv2d" ? conv2d_macs(r.weight_shape, r.output_shape, r.groups)
                                      : linear_macs(r.weight_shape[1], r.weight_shape[0]);
  // A dense layer's two backward GEMMs each cost what its forward costs.
  c.backward_input_macs = r.input_requires_grad ? c.forward_macs : 0;
  c.backward_weight_macs = r.weight_requires_grad ? c.forward_macs : 0;
  c.activation_bits = c.weight_bits = static_cast<int>(r.operand_bits);
  c.error_bits = static_cast<int>(r.error_bits);
  return c;
}

CostTable table_from_records(const torch::nn::Module& root, const std::vector<LayerRecord>& records) {
  // include_self=false: the root may live on the stack; it is named by its kind below.
  std::unordered_map<const torch::nn::Module*, std::string> names;
  for (const auto& item : root.named_modules(std::string(), /*include_self=*/false))
    names[item.value().get()] = item.key();
  CostTable table;
  for (const auto& r : records) {
    auto it = names.find(r.module);
    table.layers.push_back(layer_cost(r, it != names.end() ? it->second : r.kind));
  }
  return table;
}

CostTable count(torch::nn::Module& model, const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                const std::vector<int64_t>& input_shape) {
  const bool was_training = model.is_training();
  model.eval();  // no BatchNorm statistics update from the probe
  ShapeRecorder recorder;
  {
    torch::AutoGradMode grad_mode(true);
    forward(torch::zeros(input_shape));
  }
  model.train(was_training);
  return table_from_records(model, recorder.records());
}

}  // namespace skiptrain::cost
