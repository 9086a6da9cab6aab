// What Error Map Pruning changes in a model's training cost: the kept fraction of
// each layer's backward and the channel-selection work, read from the model's
// configured Conv2d layers so that the ledger prices exactly what runs.
#pragma once

#include "skiptrain/cost/table.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace skiptrain::train {

struct PruningCosts {
  bool any = false;                     // at least one layer is pruned
  std::vector<double> kept_fraction;    // per cost-table layer; 1 for dense layers
  double selection_macs_per_instance = 0;
  double selection_macs_per_batch = 0;
  nlohmann::json kept_channels;         // {"layer name": [kept, C_out]} for pruned layers
  // Share of the pruned layers' dense backward MACs whose pruned backward has a channels-last
  // kernel (ops/emp_conv2d.h); 0 when nothing is pruned.
  double channels_last_share = 0;
};

// Reads the EMP settings of the Conv2d layers behind `table`.
PruningCosts pruning_costs(const cost::CostTable& table);

}  // namespace skiptrain::train
