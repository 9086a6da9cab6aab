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

void Sgd::step() {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters_.size(); ++i) {
    auto& p = parameters_[i];
    if (!p.grad().defined()) continue;
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
