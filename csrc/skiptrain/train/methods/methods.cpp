// The --method registry.
#include "skiptrain/train/methods/methods.h"

#include "skiptrain/errors.h"
#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/train/methods/eif_selector.h"
#include "skiptrain/train/methods/infobatch_selector.h"
#include "skiptrain/train/methods/ohem_selector.h"
#include "skiptrain/train/methods/sb_selector.h"
#include "skiptrain/train/methods/smb_selector.h"
#include "skiptrain/train/methods/smd_selector.h"

namespace skiptrain::train {

const std::vector<std::string>& method_names() {
  static const std::vector<std::string> names{"sgd", "emp",  "eif", "eif+emp",   "smb",
                                              "smd", "ohem", "sb",  "infobatch", "infobatch+emp"};
  return names;
}

bool uses_emp(const std::string& method) { return method == "emp" || method == "eif+emp" || method == "infobatch+emp"; }

bool uses_eif(const std::string& method) { return method == "eif" || method == "eif+emp"; }

bool uses_infobatch(const std::string& method) { return method == "infobatch" || method == "infobatch+emp"; }

std::unique_ptr<Selector> make_selector(const TrainConfig& config, const nn::ModelSpec& spec,
                                        dist::Collective& collective) {
  if (uses_eif(config.method)) return std::make_unique<EifSelector>(config, spec, collective);
  const PeerOptions& p = config.peers;
  if (config.method == "smb") return std::make_unique<SmbSelector>(p.smb_fraction);
  if (config.method == "smd") return std::make_unique<SmdSelector>(p.smd_p);
  if (config.method == "ohem") return std::make_unique<OhemSelector>(p.ohem_ratio);
  if (config.method == "sb") return std::make_unique<SbSelector>(p.sb_beta, p.sb_window);
  if (uses_infobatch(config.method)) return std::make_unique<InfoBatchSelector>(p.infobatch_prune);
  return std::make_unique<TrainAll>();
}

void configure_layers(const TrainConfig& config, nn::NetworkImpl& model) {
  if (uses_emp(config.method)) {
    try {
      nn::set_emp(model, config.emp, config.emp_skip_first, config.emp_layer_rules());
    } catch (const c10::Error& e) {  // validate() checked the settings: a rule that names no conv
      throw InputError("--emp-layer-keep: " + e.msg());
    }
  }
  nn::set_quant(model, config.quant);
}

}  // namespace skiptrain::train
