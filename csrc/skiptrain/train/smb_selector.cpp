// SMB: evenly spaced training batches at a fraction of the stream.
#include "skiptrain/train/smb_selector.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <cmath>

namespace skiptrain::train {

SmbSelector::SmbSelector(double fraction) : fraction_(fraction) {}

Plan SmbSelector::plan(const data::Batch& batch, cost::Ledger&) {
  // ceil(n * F) trained after n batches; the epsilon keeps products like 10 * 0.7 = 7.000000000000001
  // from rounding up, so that decimal fractions count as the exact rationals they stand for.
  constexpr double kEpsilon = 1e-9;
  const auto i = static_cast<double>(batches_++);
  const bool trains = std::ceil((i + 1) * fraction_ - kEpsilon) > std::ceil(i * fraction_ - kEpsilon);
  const auto none = torch::empty({0}, torch::kLong);
  return {trains ? torch::arange(batch.size(), torch::kLong) : none, none};
}

TensorState SmbSelector::state() const { return {{"batches", torch::tensor(batches_, torch::kLong)}}; }

void SmbSelector::load_state(const TensorState& state, const std::string& what) {
  const auto& batches = require_entry(state, "batches", what);
  if (batches.numel() != 1) throw InputError(what + ": corrupt smb state (selector.batches)");
  batches_ = batches.item<int64_t>();
}

}  // namespace skiptrain::train
