// Helpers for the TensorState checkpoint convention.
#include "skiptrain/state.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <sstream>

namespace skiptrain {
namespace {
std::string shape_string(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}
}  // namespace

void merge_state(TensorState& into, const std::string& prefix, const TensorState& from) {
  for (const auto& [name, tensor] : from) into[prefix + "." + name] = tensor;
}

TensorState sub_state(const TensorState& state, const std::string& prefix) {
  TensorState out;
  const std::string head = prefix + ".";
  for (auto it = state.lower_bound(head); it != state.end() && it->first.compare(0, head.size(), head) == 0; ++it)
    out[it->first.substr(head.size())] = it->second;
  return out;
}

const torch::Tensor& require_entry(const TensorState& state, const std::string& key, const std::string& what) {
  auto it = state.find(key);
  if (it == state.end()) throw InputError(what + ": missing entry '" + key + "'");
  return it->second;
}

TensorState module_state(const torch::nn::Module& module) {
  TensorState out;
  for (const auto& p : module.named_parameters()) out[p.key()] = p.value().detach();
  for (const auto& b : module.named_buffers()) out[b.key()] = b.value().detach();
  return out;
}

void load_module_state(torch::nn::Module& module, const TensorState& state, const std::string& what) {
  torch::NoGradGuard no_grad;
  size_t expected = 0;
  auto copy_into = [&](const std::string& name, torch::Tensor& target) {
    ++expected;
    const auto& source = require_entry(state, name, what);
    if (source.sizes() != target.sizes())
      throw InputError(what + ": entry '" + name + "' has shape " + shape_string(source) + ", the model expects " +
                       shape_string(target));
    target.copy_(source);
  };
  for (auto& p : module.named_parameters()) copy_into(p.key(), p.value());
  for (auto& b : module.named_buffers()) copy_into(b.key(), b.value());
  if (state.size() != expected)
    throw InputError(what + ": has " + std::to_string(state.size()) + " entries, the model has " +
                     std::to_string(expected) + " parameters and buffers (a checkpoint of another model?)");
}

}  // namespace skiptrain
