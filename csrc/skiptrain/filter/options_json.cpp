// FilterOptions <-> JSON with per-key type checks.
#include "skiptrain/filter/options_json.h"

#include "skiptrain/errors.h"

#include <c10/util/Exception.h>

#include <string>

namespace skiptrain::filter {
namespace {

// The JSON kind each default has, as a name for messages; counts (int64) must stay integers.
std::string kind_of(const nlohmann::json& v) {
  if (v.is_number_integer()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "a list of integers";
  return v.type_name();
}

bool same_kind(const nlohmann::json& value, const nlohmann::json& reference) {
  if (reference.is_number_float()) return value.is_number() && !value.is_boolean();
  if (reference.is_number_integer()) return value.is_number_integer() && !value.is_boolean();
  if (reference.is_string()) return value.is_string();
  if (reference.is_array()) {
    if (!value.is_array()) return false;
    for (const auto& item : value)
      if (!item.is_number_integer()) return false;
    return true;
  }
  return false;
}

}  // namespace

// The one list of the options' JSON keys (the field names): to_json and from_json.
NLOHMANN_DEFINE_TYPE_NON_INTRUSIVE(FilterOptions, ratio, lr, momentum, weight_decay, lr_milestones, lr_factor,
                                   entropy_threshold, min_query, random_share, rank_within, control, a1, a2, window,
                                   init_threshold, threshold_min, threshold_max, train_batch, train_share,
                                   warmup_batches)

nlohmann::json options_to_json(const FilterOptions& o) { return o; }

FilterOptions options_from_json(const nlohmann::json& j) {
  TORCH_CHECK_TYPE(j.is_object(), "filter options must be a JSON object, got ", j.type_name());
  nlohmann::json merged = options_to_json(FilterOptions{});
  for (const auto& [key, value] : j.items()) {
    TORCH_CHECK_VALUE(merged.contains(key), "filter options: unknown option '", key, "'");
    TORCH_CHECK_TYPE(same_kind(value, merged[key]), "filter options: ", key, " must be ", kind_of(merged[key]),
                     ", got ", value.dump());
    merged[key] = value;
  }
  auto o = merged.get<FilterOptions>();
  try {
    o.validate();
  } catch (const InputError& e) {
    TORCH_CHECK_VALUE(false, e.what());
  }
  return o;
}

}  // namespace skiptrain::filter
