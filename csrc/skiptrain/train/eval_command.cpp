// `skiptrain eval`: the test accuracy of a checkpoint's model.
#include "skiptrain/errors.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/train/checkpoint.h"
#include "skiptrain/train/evaluate.h"
#include "skiptrain/train/resources.h"
#include "skiptrain/train/trainer.h"

#include <torch/torch.h>

namespace skiptrain::train {

nlohmann::json run_evaluation(const std::string& checkpoint_path, const std::string& data_dir, int64_t threads) {
  configure_threads(threads);
  const Checkpoint c = load_checkpoint(checkpoint_path);
  const auto saved = nlohmann::json::parse(c.config_json, nullptr, /*allow_exceptions=*/false);
  if (saved.is_discarded()) throw InputError(checkpoint_path + ": corrupt run configuration in checkpoint");
  const TrainConfig config = config_from_json(saved);
  auto model = nn::make_model(c.model, c.spec);
  nn::set_quant(*model, config.quant);  // a quantized run is evaluated as it was trained
  load_module_state(*model, sub_state(c.tensors, "model"), checkpoint_path);
  const std::string dir = data::resolve_data_dir(c.dataset, data_dir.empty() ? config.data_dir : data_dir);
  const auto data = data::load(c.dataset, dir);
  const Evaluation e = evaluate(*model, data.test, data.info);
  return {{"checkpoint", checkpoint_path},
          {"model", c.model},
          {"dataset", c.dataset},
          {"method", c.method},
          {"iteration", c.iteration},
          {"test_acc", e.accuracy},
          {"test_loss", e.loss},
          {"instances", e.instances},
          {"test_acc_by_class", e.accuracy_by_class()}};
}

}  // namespace skiptrain::train
