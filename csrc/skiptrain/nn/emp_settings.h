// Configures Error Map Pruning on every skiptrain Conv2d of a model: the layer setting
// behind `--method ...+emp`. The first conv (whose input is data) can be left dense, and
// any conv can be excluded by its qualified name.
#pragma once

#include "skiptrain/nn/conv2d.h"

#include <torch/nn/module.h>

#include <string>
#include <vector>

namespace skiptrain::nn {

// Sets `settings` on every Conv2d of `model` (in named_modules order) except the first one when
// skip_first, and those whose qualified name (e.g. "layer1.0.shortcut") is in `exclude`; those are
// set dense (keep = 1). Throws c10::Error naming keep/gamma1/gamma2 when the settings are invalid.
void set_emp(torch::nn::Module& model, const EmpSettings& settings, bool skip_first = true,
             const std::vector<std::string>& exclude = {});

}  // namespace skiptrain::nn
