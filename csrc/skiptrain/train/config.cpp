// Validation of TrainConfig: bad flags are rejected before any work starts.
#include "skiptrain/train/config.h"

#include "skiptrain/data/dataset.h"
#include "skiptrain/errors.h"
#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/train/device.h"
#include "skiptrain/train/methods/methods.h"

#include <c10/util/Exception.h>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <sstream>

namespace skiptrain::train {
namespace {
std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

void require(bool ok, const std::string& message) {
  if (!ok) throw InputError(message);
}

bool one_of(const std::string& value, const std::vector<std::string>& allowed) {
  return std::find(allowed.begin(), allowed.end(), value) != allowed.end();
}

// Runs a layer setting's own check (the rule the ops and the Python modules use too), turning its
// c10::ValueError, which names the flag, into the InputError the CLI reports.
template <typename Check>
void require_layer_rule(const Check& check) {
  try {
    check();
  } catch (const c10::Error& e) {
    throw InputError(e.msg());
  }
}

// An output file the run writes later (checkpoint, metrics) must be writable now: its folder exists
// and takes new files, and the path is not a folder. Otherwise a whole run trains before failing.
void require_writable_output(const char* flag, const std::string& path) {
  if (path.empty()) return;
  struct stat st {};
  require(!(::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)),
          std::string(flag) + ": " + path + " is a folder; give a file path");
  const auto slash = path.find_last_of('/');
  const std::string folder = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  require(::stat(folder.c_str(), &st) == 0 && S_ISDIR(st.st_mode),
          std::string(flag) + ": folder " + folder + " of " + path + " does not exist; create it first");
  require(::access(folder.c_str(), W_OK | X_OK) == 0,
          std::string(flag) + ": cannot write into " + folder + " (" + std::strerror(errno) +
              "); choose a writable folder");
}
}  // namespace

std::vector<nn::LayerKeep> TrainConfig::emp_layer_rules() const {
  if (emp_layer_keep == std::vector<std::string>{"auto"}) return nn::default_emp_layer_keep(model);
  if (emp_layer_keep == std::vector<std::string>{"none"}) return {};
  std::vector<nn::LayerKeep> rules;
  for (const auto& rule : emp_layer_keep) {
    TORCH_CHECK_VALUE(rule != "auto" && rule != "none", "--emp-layer-keep: '", rule,
                      "' stands alone; give it without other rules, or give only PATTERN=KEEP rules");
    rules.push_back(nn::parse_layer_keep(rule, "--emp-layer-keep"));
  }
  return rules;
}

std::vector<std::string> TrainConfig::emp_layer_rules_text() const {
  std::vector<std::string> text;
  for (const auto& rule : emp_layer_rules()) {
    std::ostringstream out;
    out << rule.pattern << '=' << rule.keep;
    text.push_back(out.str());
  }
  return text;
}

void TrainConfig::validate() const {
  const auto models = nn::model_names();
  require(one_of(model, models), "--model: unknown model '" + model + "'; valid: " + join(models));
  const auto datasets = data::dataset_names();
  require(one_of(dataset, datasets), "--dataset: unknown dataset '" + dataset + "'; valid: " + join(datasets));
  require(one_of(method, method_names()), "--method: unknown method '" + method + "'; valid: " + join(method_names()));
  require(iterations >= 0, "--iterations: must be >= 0, got " + std::to_string(iterations));
  require(iterations > 0 || epochs > 0, "--epochs: must be positive, got " + std::to_string(epochs));
  require(batch_size > 0, "--batch-size: must be positive, got " + std::to_string(batch_size));
  require(lr > 0, "--lr: must be positive, got " + std::to_string(lr));
  require(momentum >= 0 && momentum < 1, "--momentum: must be in [0, 1), got " + std::to_string(momentum));
  require(weight_decay >= 0, "--weight-decay: must be >= 0, got " + std::to_string(weight_decay));
  lr_schedule().validate("--lr-milestones", "--lr-gamma", "--lr-warmup");
  require(full_stream_tail >= 0 && full_stream_tail < 1,
          "--full-stream-tail: must be in [0, 1), got " + std::to_string(full_stream_tail));
  require(one_of(augment, {"auto", "on", "off"}), "--augment: must be auto, on or off, got '" + augment + "'");
  require(threads >= 0, "--threads: must be >= 0, got " + std::to_string(threads));
  resolve_device(device);  // throws naming --device
  require(eval_every >= -1, "--eval-every: must be >= -1, got " + std::to_string(eval_every));
  require(!resume || !checkpoint_path.empty(), "--resume: needs --checkpoint FILE");
  require_writable_output("--checkpoint", checkpoint_path);
  require_writable_output("--metrics", metrics_path);
  if (uses_emp(method))
    require_layer_rule([&] {
      check_emp_settings(emp.keep, emp.gamma1, emp.gamma2, {"--emp-keep", "--emp-gamma1", "--emp-gamma2"});
      emp_layer_rules();
    });
  if (uses_eif(method)) {
    eif.validate();
    require(one_of(eif_batching, {"shrink", "accumulate"}),
            "--eif-batching: must be shrink or accumulate, got '" + eif_batching + "'");
    require(eif_model == "auto" || one_of(eif_model, models),
            "--eif-model: unknown model '" + eif_model + "'; valid: auto, " + join(models));
    require(eif_downsample >= 1 && eif_downsample <= 8,
            "--eif-downsample: must be 1 (the image as it is) to 8, got " + std::to_string(eif_downsample));
  }
  require_layer_rule([&] { nn::check_quant_settings(quant, "--quant-bits", "--quant-grad-bits"); });
  peers.validate(method);
  require(one_of(progress, {"auto", "bar", "log", "none"}), "--progress: must be auto, bar, log or none");
}

}  // namespace skiptrain::train
