// FilterOptions <-> JSON, keyed by the field names (ratio, lr, ..., warmup_batches): how the
// Python package reads the filter's defaults and hands its options to the C++ controller
// (filter/controller_class.cpp), so that no default or range is written twice.
#pragma once

#include "skiptrain/filter/options.h"

#include <nlohmann/json.hpp>

namespace skiptrain::filter {

nlohmann::json options_to_json(const FilterOptions& options);

// The defaults overridden by the keys of `j` (an object), then validated. Throws c10::TypeError
// naming the key when a value has the wrong JSON type (a string for a number, a fraction for a
// count), c10::ValueError for an unknown key or a value out of range (validate()'s message,
// naming the trainer flag).
FilterOptions options_from_json(const nlohmann::json& j);

}  // namespace skiptrain::filter
