// The --method registry.
#include "skiptrain/train/methods.h"

#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/train/eif_selector.h"

namespace skiptrain::train {

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names{"sgd", "emp", "eif", "eif+emp"};
  return names;
}

std::unique_ptr<Selector> make_selector(const TrainConfig& config, const nn::ModelSpec& spec) {
  if (config.method.rfind("eif", 0) == 0) return std::make_unique<EifSelector>(config, spec);
  return std::make_unique<TrainAll>();
}

void configure_layers(const TrainConfig& config, nn::NetworkImpl& model) {
  if (config.method.find("emp") != std::string::npos) nn::set_emp(model, config.emp, config.emp_skip_first);
}

}  // namespace skiptrain::train
