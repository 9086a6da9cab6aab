// SMB: evenly spaced training batches at a fraction of the stream.
#include "skiptrain/train/methods/smb_selector.h"

#include "skiptrain/ceil_share.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <cmath>

namespace skiptrain::train {

SmbSelector::SmbSelector(double fraction) : fraction_(fraction) {}

Plan SmbSelector::plan(const data::Batch& batch, cost::Ledger&) {
  // ceil_share(F, n) batches trained after n batches (10 * 0.7 counts as exactly 7).
  const int64_t i = batches_++;
  const bool trains = ceil_share(fraction_, i + 1) > ceil_share(fraction_, i);
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
