// set_emp: configures Error Map Pruning on the Conv2d layers of a model, per-layer rules included.
#include "skiptrain/nn/emp_settings.h"

#include "skiptrain/ops/select_channels.h"

#include <c10/util/Exception.h>

#include <fnmatch.h>

#include <cstdlib>

namespace skiptrain::nn {

LayerKeep parse_layer_keep(const std::string& rule, const std::string& name) {
  const auto eq = rule.rfind('=');
  TORCH_CHECK_VALUE(eq != std::string::npos && eq > 0, name, ": '", rule,
                    "' is not PATTERN=KEEP; write e.g. layer1.*=0.75 (a conv name pattern, then its kept fraction)");
  const std::string value = rule.substr(eq + 1);
  char* end = nullptr;
  const double keep = std::strtod(value.c_str(), &end);
  TORCH_CHECK_VALUE(!value.empty() && *end == '\0' && keep > 0 && keep <= 1, name, ": '", rule,
                    "' needs a kept fraction in (0, 1] after '=', got '", value, "'");
  return {rule.substr(0, eq), keep};
}

void set_emp(torch::nn::Module& model, const EmpSettings& settings, bool skip_first,
             const std::vector<LayerKeep>& layer_keep) {
  skiptrain::check_emp_settings(settings.keep, settings.gamma1, settings.gamma2);
  for (const auto& rule : layer_keep) skiptrain::check_emp_settings(rule.keep, settings.gamma1, settings.gamma2);
  std::vector<int> applied(layer_keep.size(), 0);
  std::string conv_names;
  bool first = true;
  auto visit = [&](const std::string& name, torch::nn::Module& module) {
    auto* conv = dynamic_cast<Conv2dImpl*>(&module);
    if (conv == nullptr) return;
    conv_names += (conv_names.empty() ? "" : ", ") + (name.empty() ? std::string("(the model)") : name);
    const bool dense_first = skip_first && first;
    first = false;
    conv->emp = dense_first ? EmpSettings{} : settings;
    if (dense_first) return;
    for (size_t r = 0; r < layer_keep.size(); ++r) {
      if (fnmatch(layer_keep[r].pattern.c_str(), name.c_str(), 0) != 0) continue;
      conv->emp.keep = layer_keep[r].keep;
      ++applied[r];
      return;
    }
  };
  visit("", model);
  for (const auto& item : model.named_modules("", /*include_self=*/false)) visit(item.key(), *item.value());
  for (size_t r = 0; r < layer_keep.size(); ++r)
    TORCH_CHECK_VALUE(applied[r] > 0, "layer keep '", layer_keep[r].pattern, "=", layer_keep[r].keep,
                      "': the pattern names no conv that EMP prunes; the model's convs: ", conv_names,
                      skip_first ? " (the first stays dense, and a conv follows the first rule that names it)"
                                 : " (a conv follows the first rule that names it)");
}

}  // namespace skiptrain::nn
