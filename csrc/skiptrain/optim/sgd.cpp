// SGD with momentum and weight decay, matching torch.optim.SGD.
#include "skiptrain/optim/sgd.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

namespace skiptrain::optim {

Sgd::Sgd(std::vector<torch::Tensor> parameters, SgdOptions options)
    : parameters_(std::move(parameters)), momentum_(parameters_.size()), options_(options) {}

void Sgd::zero_grad() {
  for (auto& p : parameters_) p.mutable_grad() = torch::Tensor();
}

// What weight decay pulls on: `p`, or its rows with a non-zero gradient (see SgdOptions).
torch::Tensor Sgd::decayed(const torch::Tensor& p, const torch::Tensor& grad) const {
  if (options_.decay_rows_without_gradient || p.dim() < 2) return p;
  std::vector<int64_t> row_shape(p.dim(), 1);
  row_shape[0] = p.size(0);
  const auto has_gradient = grad.ne(0).flatten(1).any(1).view(row_shape);
  return p * has_gradient;
}

// On the CPU the parameters step one at a time, which keeps each one's data in cache through the
// four operations (0.94-0.97x torch::optim::SGD's time: benchmarks/sgd_step.cpp). On a GPU they step
// together, one foreach op per stage: a few kernel launches instead of one per parameter and stage
// (a ResNet-20 has 65 parameters), the cost that bounds a small model's step there. The foreach form
// on the CPU took 1.06-1.17x torch's time for ResNet-20, all at once or one at a time.
void Sgd::step() {
  torch::NoGradGuard no_grad;
  std::vector<size_t> with_gradient;
  for (size_t i = 0; i < parameters_.size(); ++i)
    if (parameters_[i].grad().defined()) with_gradient.push_back(i);
  if (with_gradient.empty()) return;
  if (parameters_[with_gradient.front()].is_cuda()) {
    step_together(with_gradient);
    return;
  }
  for (const size_t i : with_gradient) {
    auto& p = parameters_[i];
    torch::Tensor d = p.grad();
    if (options_.weight_decay != 0) d = d.add(decayed(p, d), options_.weight_decay);
    if (options_.momentum != 0) {
      if (!momentum_[i].defined()) {
        momentum_[i] = d.clone();
      } else {
        momentum_[i].mul_(options_.momentum).add_(d);
      }
      d = momentum_[i];
    }
    p.add_(d, -options_.lr);
  }
}

void Sgd::step_together(const std::vector<size_t>& which) {
  std::vector<torch::Tensor> params, grads;
  for (const size_t i : which) {
    params.push_back(parameters_[i]);
    grads.push_back(parameters_[i].grad());
  }
  if (options_.weight_decay != 0) {
    std::vector<torch::Tensor> pulled;
    for (size_t j = 0; j < which.size(); ++j) pulled.push_back(decayed(params[j], grads[j]));
    grads = at::_foreach_add(grads, pulled, options_.weight_decay);
  }
  if (options_.momentum != 0) {
    std::vector<torch::Tensor> buffers, added;  // the momentum buffers that exist, and what they take
    for (size_t j = 0; j < which.size(); ++j) {
      auto& buffer = momentum_[which[j]];
      if (!buffer.defined()) {
        buffer = grads[j].clone();
      } else {
        buffers.push_back(buffer);
        added.push_back(grads[j]);
      }
    }
    if (!buffers.empty()) {
      at::_foreach_mul_(buffers, options_.momentum);
      at::_foreach_add_(buffers, added);
    }
    for (size_t j = 0; j < which.size(); ++j) grads[j] = momentum_[which[j]];
  }
  at::_foreach_add_(params, grads, -options_.lr);
}

TensorState Sgd::state() const {
  TensorState s;
  s["lr"] = torch::tensor(options_.lr, torch::kFloat64);
  for (size_t i = 0; i < momentum_.size(); ++i)
    if (momentum_[i].defined()) s["momentum." + std::to_string(i)] = momentum_[i];
  return s;
}

void Sgd::load_state(const TensorState& state, const std::string& what) {
  options_.lr = require_entry(state, "lr", what).item<double>();
  for (size_t i = 0; i < momentum_.size(); ++i) {
    auto it = state.find("momentum." + std::to_string(i));
    if (it == state.end()) {
      momentum_[i] = torch::Tensor();
      continue;
    }
    if (it->second.sizes() != parameters_[i].sizes())
      throw InputError(what + ": optimizer momentum " + std::to_string(i) + " does not match the model's parameter");
    momentum_[i] = it->second.to(parameters_[i].options(), /*non_blocking=*/false, /*copy=*/true);
  }
}

}  // namespace skiptrain::optim
