// SMD: one uniform draw per incoming batch decides whether it trains.
#include "skiptrain/train/methods/smd_selector.h"

#include <torch/torch.h>

namespace skiptrain::train {

SmdSelector::SmdSelector(double drop_probability) : drop_probability_(drop_probability) {}

Plan SmdSelector::plan(const data::Batch& batch, cost::Ledger&) {
  const bool dropped = torch::rand({1}, torch::kFloat64).item<double>() < drop_probability_;
  const auto none = torch::empty({0}, torch::kLong);
  return {dropped ? none : torch::arange(batch.size(), torch::kLong), none};
}

}  // namespace skiptrain::train
