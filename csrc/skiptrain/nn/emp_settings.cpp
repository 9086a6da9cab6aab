// set_emp: configures Error Map Pruning on the Conv2d layers of a model.
#include "skiptrain/nn/emp_settings.h"

#include "skiptrain/ops/select_channels.h"

#include <algorithm>

namespace skiptrain::nn {

void set_emp(torch::nn::Module& model, const EmpSettings& settings, bool skip_first,
             const std::vector<std::string>& exclude) {
  skiptrain::check_emp_settings(settings.keep, settings.gamma1, settings.gamma2);
  bool first = true;
  auto visit = [&](const std::string& name, torch::nn::Module& module) {
    auto* conv = dynamic_cast<Conv2dImpl*>(&module);
    if (conv == nullptr) return;
    const bool excluded = (skip_first && first) || std::find(exclude.begin(), exclude.end(), name) != exclude.end();
    first = false;
    conv->emp = excluded ? EmpSettings{} : settings;
  };
  visit("", model);
  for (const auto& item : model.named_modules("", /*include_self=*/false)) visit(item.key(), *item.value());
}

}  // namespace skiptrain::nn
