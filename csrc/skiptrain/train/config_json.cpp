// TrainConfig <-> JSON, as stored in checkpoints and read back by `skiptrain eval`.
#include "skiptrain/train/methods/methods.h"
#include "skiptrain/train/trainer.h"

namespace skiptrain::train {

nlohmann::json config_to_json(const TrainConfig& c) {
  nlohmann::json j = {{"model", c.model},
                      {"dataset", c.dataset},
                      {"data_dir", c.data_dir},
                      {"method", c.method},
                      {"epochs", c.epochs},
                      {"iterations", c.iterations},
                      {"batch_size", c.batch_size},
                      {"lr", c.lr},
                      {"momentum", c.momentum},
                      {"weight_decay", c.weight_decay},
                      {"lr_milestones", c.lr_milestones},
                      {"lr_gamma", c.lr_gamma},
                      {"lr_warmup", c.lr_warmup},
                      {"full_stream_tail", c.full_stream_tail},
                      {"augment", c.augment},
                      {"seed", c.seed},
                      {"threads", c.threads},
                      {"device", c.device},
                      {"eval_every", c.eval_every},
                      {"eif_batching", c.eif_batching},
                      {"eif_sees_label", c.eif_sees_label},
                      {"eif_downsample", c.eif_downsample},
                      {"quant_bits", c.quant.bits},
                      {"quant_grad_bits", c.quant.grad_bits}};
  // The convs a pruning run prunes, as resolved for its model: a resume must prune the same ones.
  if (uses_emp(c.method)) j["emp_layer_rules"] = c.emp_layer_rules_text();
  return j;
}

TrainConfig config_from_json(const nlohmann::json& j) {
  TrainConfig c;
  c.model = j.value("model", c.model);
  c.dataset = j.value("dataset", c.dataset);
  c.data_dir = j.value("data_dir", c.data_dir);
  c.method = j.value("method", c.method);
  c.epochs = j.value("epochs", c.epochs);
  c.iterations = j.value("iterations", c.iterations);
  c.batch_size = j.value("batch_size", c.batch_size);
  c.lr = j.value("lr", c.lr);
  c.momentum = j.value("momentum", c.momentum);
  c.weight_decay = j.value("weight_decay", c.weight_decay);
  c.lr_milestones = j.value("lr_milestones", c.lr_milestones);
  c.lr_gamma = j.value("lr_gamma", c.lr_gamma);
  c.lr_warmup = j.value("lr_warmup", c.lr_warmup);
  c.full_stream_tail = j.value("full_stream_tail", c.full_stream_tail);
  c.augment = j.value("augment", c.augment);
  c.seed = j.value("seed", c.seed);
  c.threads = j.value("threads", c.threads);
  c.device = j.value("device", c.device);
  c.eval_every = j.value("eval_every", c.eval_every);
  c.eif_batching = j.value("eif_batching", c.eif_batching);
  c.eif_sees_label = j.value("eif_sees_label", c.eif_sees_label);
  c.eif_downsample = j.value("eif_downsample", c.eif_downsample);
  c.quant.bits = j.value("quant_bits", c.quant.bits);
  c.quant.grad_bits = j.value("quant_grad_bits", c.quant.grad_bits);
  return c;
}

}  // namespace skiptrain::train
