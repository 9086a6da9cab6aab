// OHEM: top-k of this batch's losses.
#include "skiptrain/train/methods/ohem_selector.h"

#include "skiptrain/ceil_share.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace skiptrain::train {

OhemSelector::OhemSelector(double ratio) : ratio_(ratio) {}

torch::Tensor OhemSelector::select(const data::Batch&, const Plan& plan, const torch::Tensor& losses,
                                   cost::Ledger& ledger) {
  const int64_t m = losses.numel();
  if (m == 0) return torch::empty({0}, torch::kLong);
  const auto k = std::clamp<int64_t>(ceil_share(ratio_, m), 1, m);
  ledger.add_macs(cost::Phase::Selection, m * std::ceil(std::log2(std::max<int64_t>(m, 2))));
  const auto top = std::get<1>(losses.topk(k));
  return std::get<0>(plan.loss_only.index_select(0, top).sort());
}

}  // namespace skiptrain::train
