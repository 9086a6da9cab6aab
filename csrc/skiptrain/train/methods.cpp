// The --method registry.
#include "skiptrain/train/methods.h"

#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/train/eif_selector.h"

namespace skiptrain::train {

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names{"sgd", "emp", "eif", "eif+emp"};
  return names;
}

bool uses_emp(const std::string& method) { return method == "emp" || method == "eif+emp"; }

bool uses_eif(const std::string& method) { return method == "eif" || method == "eif+emp"; }

std::unique_ptr<Selector> make_selector(const TrainConfig& config, const nn::ModelSpec& spec) {
  if (uses_eif(config.method)) return std::make_unique<EifSelector>(config, spec);
  return std::make_unique<TrainAll>();
}

void configure_layers(const TrainConfig& config, nn::NetworkImpl& model) {
  if (uses_emp(config.method)) nn::set_emp(model, config.emp, config.emp_skip_first);
  nn::set_quant(model, config.quant);
}

}  // namespace skiptrain::train
