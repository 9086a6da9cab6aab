// The trivial Selector of dense SGD, and the first stage shared by loss-based selectors.
#include "skiptrain/train/methods/selector.h"

#include <torch/torch.h>

#include <stdexcept>

namespace skiptrain::train {

torch::Tensor Selector::select(const data::Batch&, const Plan&, const torch::Tensor&, cost::Ledger&) {
  throw std::logic_error("Selector::select called for a plan without select_by_loss");
}

Plan TrainAll::plan(const data::Batch& batch, cost::Ledger&) {
  return {torch::arange(batch.size(), torch::kLong), torch::empty({0}, torch::kLong)};
}

Plan SelectByLoss::plan(const data::Batch& batch, cost::Ledger&) {
  return {torch::empty({0}, torch::kLong), torch::arange(batch.size(), torch::kLong), true};
}

}  // namespace skiptrain::train
