// set_emp: configures Error Map Pruning on the Conv2d layers of a model, per-layer rules included.
#include "skiptrain/nn/emp_settings.h"

#include "skiptrain/ops/select_channels.h"

#include <c10/util/Exception.h>

#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace skiptrain::nn {

LayerKeep parse_layer_keep(const std::string& rule, const std::string& name) {
  const auto eq = rule.rfind('=');
  TORCH_CHECK_VALUE(eq != std::string::npos && eq > 0, name, ": '", rule,
                    "' is not PATTERN=KEEP; write e.g. layer1.*=0.75 (a conv name pattern, then its kept fraction)");
  const std::string value = rule.substr(eq + 1);
  double keep = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), keep);
  TORCH_CHECK_VALUE(
      !value.empty() && error == std::errc() && end == value.data() + value.size() && keep > 0 && keep <= 1, name,
      ": '", rule, "' needs a kept fraction in (0, 1] after '=', got '", value, "'");
  return {rule.substr(0, eq), keep};
}

void set_emp(torch::nn::Module& model, const EmpSettings& settings, bool skip_first,
             const std::vector<LayerKeep>& layer_keep) {
  skiptrain::check_emp_settings(settings.keep, settings.gamma1, settings.gamma2);
  for (const auto& rule : layer_keep) {
    const std::string name = "keep of rule '" + rule.pattern + "'";
    skiptrain::check_emp_settings(rule.keep, settings.gamma1, settings.gamma2, {name.c_str()});
  }

  // First every conv and the rule it follows (-1: none), so that a bad rule leaves the model as it was.
  std::vector<std::pair<std::string, Conv2dImpl*>> convs;
  auto collect = [&](const std::string& name, torch::nn::Module& module) {
    if (auto* conv = dynamic_cast<Conv2dImpl*>(&module)) convs.emplace_back(name, conv);
  };
  collect("", model);
  for (const auto& item : model.named_modules("", /*include_self=*/false)) collect(item.key(), *item.value());
  std::vector<int> rule_of(convs.size(), -1);
  std::vector<bool> applied(layer_keep.size(), false);
  std::string conv_names;
  for (size_t c = 0; c < convs.size(); ++c) {
    conv_names += (c == 0 ? "" : ", ") + (convs[c].first.empty() ? std::string("(the model)") : convs[c].first);
    if (skip_first && c == 0) continue;
    for (size_t r = 0; r < layer_keep.size() && rule_of[c] < 0; ++r) {
      if (fnmatch(layer_keep[r].pattern.c_str(), convs[c].first.c_str(), FNM_NOESCAPE) != 0) continue;
      rule_of[c] = static_cast<int>(r);
      applied[r] = true;
    }
  }
  std::string unused;
  const auto unused_count = std::count(applied.begin(), applied.end(), false);
  for (size_t r = 0; r < layer_keep.size(); ++r)
    if (!applied[r]) unused += (unused.empty() ? "'" : ", '") + layer_keep[r].pattern + "'";
  TORCH_CHECK_VALUE(unused.empty(), unused_count == 1 ? "rule " : "rules ", unused,
                    unused_count == 1 ? " names" : " name", " no conv that EMP prunes; the model's convs: ", conv_names,
                    skip_first ? " (the first stays dense, and a conv follows the first rule that names it)"
                               : " (a conv follows the first rule that names it)");

  for (size_t c = 0; c < convs.size(); ++c) {
    Conv2dImpl& conv = *convs[c].second;
    conv.emp = skip_first && c == 0 ? EmpSettings{} : settings;
    if (rule_of[c] >= 0) conv.emp.keep = layer_keep[rule_of[c]].keep;
  }
}

}  // namespace skiptrain::nn
