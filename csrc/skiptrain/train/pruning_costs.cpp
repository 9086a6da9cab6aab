// Kept fractions and selection costs of pruned convs, for the ledger.
#include "skiptrain/train/pruning_costs.h"

#include "skiptrain/nn/conv2d.h"
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/select_channels.h"

namespace skiptrain::train {

PruningCosts pruning_costs(const cost::CostTable& table) {
  PruningCosts costs;
  costs.kept_channels = nlohmann::json::object();
  double pruned_macs = 0, channels_last_macs = 0;
  for (const auto& layer : table.layers) {
    const auto* conv = dynamic_cast<const nn::Conv2dImpl*>(layer.module);
    const double kept = conv ? conv->kept_fraction() : 1.0;
    costs.kept_fraction.push_back(kept);
    if (conv == nullptr || kept >= 1.0) continue;
    costs.any = true;
    costs.selection_macs_per_instance += conv->selection_macs_per_instance(layer.output_shape[1], layer.output_shape[2]);
    costs.selection_macs_per_batch += conv->selection_macs_per_batch();
    costs.kept_channels[layer.name] = {skiptrain::kept_channels(layer.out_channels, conv->emp.keep), layer.out_channels};
    const auto& o = conv->options;
    const double macs = layer.backward_input_macs + layer.backward_weight_macs;
    pruned_macs += macs;
    if (skiptrain::emp_backward_keeps_channels_last(o.in_channels, o.kernel_size, o.kernel_size, {o.stride, o.stride},
                                                    {o.padding, o.padding}, {o.dilation, o.dilation}, o.groups))
      channels_last_macs += macs;
  }
  if (pruned_macs > 0) costs.channels_last_share = channels_last_macs / pruned_macs;
  return costs;
}

}  // namespace skiptrain::train
