// Per-layer cost tables: MACs of one instance through each conv and linear layer,
// for the forward pass, the backward pass to the input and to the weights.
// Convention (method.md section 2, THOP's): conv = H_out*W_out*C_out*(C_in/groups)*kh*kw,
// linear = in*out; BatchNorm, ReLU, pooling and additions count as zero.
#pragma once

#include "skiptrain/cost/recorder.h"

#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace skiptrain::cost {

// Cost of one instance through one layer.
struct LayerCost {
  std::string name;                 // module path in the model, e.g. "layer1.0.conv1"
  std::string kind;                 // "conv2d" or "linear"
  const torch::nn::Module* module = nullptr;
  int64_t out_channels = 0;         // C_out (conv) or out features (linear)
  std::vector<int64_t> output_shape;  // of one instance: [C_out, H_out, W_out] or [out]
  double forward_macs = 0;
  double backward_input_macs = 0;   // zero when the layer's input needs no gradient
  double backward_weight_macs = 0;
  int activation_bits = 32;         // operand widths for the bit-op figure: forward a x w,
  int weight_bits = 32;             // backward-to-input error x w, backward-to-weights error x a
  int error_bits = 32;
};

// MACs per instance of a whole model, layer by layer, in forward order.
struct CostTable {
  std::vector<LayerCost> layers;

  double forward_macs() const;
  double backward_macs() const;
  // forward + backward: what dense SGD spends on one instance.
  double training_macs() const { return forward_macs() + backward_macs(); }
  // Index of the layer owned by `module`, or -1.
  int index_of(const torch::nn::Module* module) const;
};

// MACs per instance of one conv2d / linear call (batch dimension removed).
double conv2d_macs(const std::vector<int64_t>& weight_shape, const std::vector<int64_t>& output_shape, int64_t groups);
double linear_macs(int64_t in_features, int64_t out_features);

// One layer's costs from what it recorded: forward by the formulas above, and each backward part
// (to the input, to the weights) costs the forward, or zero where that gradient is not needed.
LayerCost layer_cost(const LayerRecord& record, std::string name);

// Builds the table from recorded shapes; names come from `root`'s named_modules().
CostTable table_from_records(const torch::nn::Module& root, const std::vector<LayerRecord>& records);

// Runs one forward pass of `model` on zeros of `input_shape` ([1, C, H, W]) with
// gradients enabled and records every skiptrain layer. The model's mode is restored.
CostTable count(torch::nn::Module& model, const std::function<torch::Tensor(const torch::Tensor&)>& forward,
                const std::vector<int64_t>& input_shape);

}  // namespace skiptrain::cost
