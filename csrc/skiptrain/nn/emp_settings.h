// Configures Error Map Pruning on every skiptrain Conv2d of a model: the layer setting
// behind `--method ...+emp`. The first conv (whose input is data) can be left dense, and
// per-layer rules (`--emp-layer-keep layer1.*=0.75`) give the convs they name their own kept
// fraction (1: dense).
#pragma once

#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/layer_keep.h"

#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace skiptrain::nn {

// Parses "PATTERN=KEEP" (the last '=' splits, so a pattern may hold '='; KEEP is a plain decimal).
// Throws c10::ValueError naming `name` and the rule unless the pattern is non-empty and 0 < KEEP <= 1.
LayerKeep parse_layer_keep(const std::string& rule, const std::string& name = "layer keep");

// Sets `settings` on every Conv2d of `model` (in named_modules order); the first conv is set dense
// (keep = 1) when skip_first, whatever the rules. Any other conv matched by a rule of `layer_keep`
// gets the first matching rule's keep instead of settings.keep (same gammas and sampling). Throws,
// leaving the model as it was, c10::Error naming keep/gamma1/gamma2 when the settings are invalid,
// and c10::ValueError naming the patterns and listing the model's convs when rules apply to no conv.
void set_emp(torch::nn::Module& model, const EmpSettings& settings, bool skip_first = true,
             const std::vector<LayerKeep>& layer_keep = {});

}  // namespace skiptrain::nn
