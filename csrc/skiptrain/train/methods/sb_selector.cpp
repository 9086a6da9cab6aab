// Selective-Backprop: loss percentiles in a running window, raised to beta, as probabilities.
#include "skiptrain/train/methods/sb_selector.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <sstream>

namespace skiptrain::train {

SbSelector::SbSelector(double beta, int64_t window)
    : beta_(beta), window_size_(window), window_(torch::empty({0}, torch::kFloat32)) {}

torch::Tensor SbSelector::select(const data::Batch&, const Plan& plan, const torch::Tensor& losses,
                                 cost::Ledger& ledger) {
  const auto incoming = losses.to(torch::kFloat32).flatten();
  window_ = torch::cat({window_, incoming});
  if (window_.numel() > window_size_) window_ = window_.slice(0, window_.numel() - window_size_).clone();
  // [m, W] comparisons -> the share of the window at or below each loss.
  const auto percentile = (window_.unsqueeze(0) <= incoming.unsqueeze(1)).to(torch::kFloat64).mean(1);
  ledger.add_macs(cost::Phase::Selection, static_cast<double>(incoming.numel() * window_.numel()));
  const auto chosen = torch::rand({incoming.numel()}, torch::kFloat64) < percentile.pow(beta_);
  return plan.loss_only.masked_select(chosen);
}

TensorState SbSelector::state() const { return {{"window", window_}}; }

void SbSelector::load_state(const TensorState& state, const std::string& what) {
  const auto& window = require_entry(state, "window", what);
  if (window.dim() != 1 || window.scalar_type() != torch::kFloat32 || window.numel() > window_size_) {
    std::ostringstream found;
    found << window.scalar_type() << " " << window.sizes();
    throw InputError(what + ": corrupt sb state: selector.window must be Float [<= --sb-window " +
                     std::to_string(window_size_) + "], found " + found.str());
  }
  window_ = window.clone();
}

}  // namespace skiptrain::train
