// `skiptrain model-info`: a model's parameters, buffers and per-layer MACs as JSON,
// the contract the Python package's parity tests check its own models against.
#pragma once

#include "flags.h"

#include <nlohmann/json.hpp>

namespace skiptrain::cli {

nlohmann::json model_info(const ModelInfoRequest& request);

}  // namespace skiptrain::cli
