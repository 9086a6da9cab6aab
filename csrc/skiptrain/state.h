// The one convention for state that goes into checkpoints: a map from names to
// tensors (scalars as 0-d tensors). Components save and load their own part;
// the checkpoint writer prefixes the names ("model.", "optimizer.", "filter.").
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <map>
#include <string>

namespace skiptrain {

using TensorState = std::map<std::string, torch::Tensor>;

// Copies `from`'s entries into `into` with `prefix` + "." in front of each name.
void merge_state(TensorState& into, const std::string& prefix, const TensorState& from);

// The entries of `state` under `prefix` + ".", with the prefix removed.
TensorState sub_state(const TensorState& state, const std::string& prefix);

// The named entry, or an InputError naming `what` (e.g. the checkpoint file) and the key.
const torch::Tensor& require_entry(const TensorState& state, const std::string& key, const std::string& what);

// Parameters and buffers of `module` by their dotted names, detached.
TensorState module_state(const torch::nn::Module& module);

// Copies `state` into `module`'s parameters and buffers; every name and shape must match,
// otherwise an InputError names `what`, the entry and both shapes.
void load_module_state(torch::nn::Module& module, const TensorState& state, const std::string& what);

}  // namespace skiptrain
