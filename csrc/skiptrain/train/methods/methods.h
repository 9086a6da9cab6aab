// The registry of training methods a user picks with --method: each is a Selector
// (data level) plus settings of the model's layers (algorithm level).
#pragma once

#include "skiptrain/dist/collective.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/train/config.h"
#include "skiptrain/train/methods/selector.h"

#include <memory>
#include <string>
#include <vector>

namespace skiptrain::train {

// The names --method accepts.
const std::vector<std::string>& method_names();

// Whether `method` prunes error maps (emp, eif+emp, infobatch+emp) / filters instances (eif, eif+emp) /
// prunes instances by their last loss (infobatch, infobatch+emp).
bool uses_emp(const std::string& method);
bool uses_eif(const std::string& method);
bool uses_infobatch(const std::string& method);

// The data-level part of `config.method` for `model` trained on data shaped like `spec`, on one
// rank of `collective` (which must outlive it).
std::unique_ptr<Selector> make_selector(const TrainConfig& config, const nn::ModelSpec& spec,
                                        dist::Collective& collective = dist::single_process());

// Applies the layer-level settings of `config` to `model`: Error Map Pruning (by method), quantization.
void configure_layers(const TrainConfig& config, nn::NetworkImpl& model);

}  // namespace skiptrain::train
