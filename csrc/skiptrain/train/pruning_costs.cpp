// Kept fractions and selection costs of pruned convs, for the ledger.
#include "skiptrain/train/pruning_costs.h"

#include "skiptrain/nn/conv2d.h"
#include "skiptrain/ops/select_channels.h"

namespace skiptrain::train {

PruningCosts pruning_costs(const cost::CostTable& table) {
  PruningCosts costs;
  costs.kept_channels = nlohmann::json::object();
  for (const auto& layer : table.layers) {
    const auto* conv = dynamic_cast<const nn::Conv2dImpl*>(layer.module);
    const double kept = conv ? conv->kept_fraction() : 1.0;
    costs.kept_fraction.push_back(kept);
    if (conv == nullptr || kept >= 1.0) continue;
    costs.any = true;
    costs.selection_macs_per_instance += conv->selection_macs_per_instance(layer.output_shape[1], layer.output_shape[2]);
    costs.selection_macs_per_batch += conv->selection_macs_per_batch();
    costs.kept_channels[layer.name] = {skiptrain::kept_channels(layer.out_channels, conv->emp.keep), layer.out_channels};
  }
  return costs;
}

}  // namespace skiptrain::train
