// A run's state into and out of its checkpoint, key by key.
#include "skiptrain/train/run_checkpoint.h"

#include "skiptrain/errors.h"
#include "skiptrain/train/checkpoint.h"
#include "skiptrain/train/methods/methods.h"
#include "skiptrain/train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace skiptrain::train {

void save_run_checkpoint(const TrainConfig& config, const nn::ModelSpec& spec, const RunState& run) {
  Checkpoint c;
  c.model = config.model;
  c.dataset = config.dataset;
  c.method = config.method;
  c.spec = spec;
  c.iteration = run.counters.iteration;
  c.config_json = config_to_json(config).dump();
  merge_state(c.tensors, "model", module_state(run.model));
  merge_state(c.tensors, "optimizer", run.optimizer.state());
  merge_state(c.tensors, "selector", run.selector.state());
  c.tensors["ledger"] = torch::tensor(run.ledger.state(), torch::kFloat64);
  const Counters& n = run.counters;
  c.tensors["counters"] = torch::tensor(
      {n.iteration, n.instances_seen, n.instances_trained, n.loss_only, run.stream.epoch(), run.stream.position()},
      torch::kLong);
  merge_state(c.tensors, "class_counts", n.by_class.state());
  const Scores& s = run.scores;
  std::vector<double> scores{s.best_acc, s.last_acc, s.last_loss, s.train_s};
  for (double seconds : s.phase_s.values()) scores.push_back(seconds);
  c.tensors["scores"] = torch::tensor(scores, torch::kFloat64);
  c.tensors["running_loss"] =
      torch::tensor({run.running_loss.sum, static_cast<double>(run.running_loss.count)}, torch::kFloat64);
  c.tensors["rng"] = at::detail::getDefaultCPUGenerator().get_state();
  save_checkpoint(config.checkpoint_path, c);
}

namespace {

std::string rules_flag(const std::vector<std::string>& rules) {
  std::string text;
  for (const auto& rule : rules) text += (text.empty() ? "" : ",") + rule;
  return "--emp-layer-keep " + (text.empty() ? std::string("none") : text);
}

// A pruning run resumes pruning the convs it pruned. Checkpoints store the rules as resolved for the
// model; those written before --emp-layer-keep auto existed lack them, and their runs pruned every conv
// but the first unless given rules, so "auto" resolving to rules of its own is refused for them.
// `stored` is the checkpoint's config (discarded when unreadable).
void require_same_emp_rules(const TrainConfig& config, const nlohmann::json& stored, const std::string& path) {
  if (!uses_emp(config.method)) return;
  const auto now = config.emp_layer_rules_text();
  if (stored.is_object() && stored.contains("emp_layer_rules")) {
    const auto then = stored["emp_layer_rules"].get<std::vector<std::string>>();
    if (then != now)
      throw InputError(path + ": its run pruned with " + rules_flag(then) + ", but this run resolves to " +
                       rules_flag(now) + "; resume with " + rules_flag(then));
  } else if (config.emp_layer_keep == std::vector<std::string>{"auto"} && !now.empty()) {
    throw InputError(path + ": written before --emp-layer-keep auto, whose " + config.model + " rules (" +
                     rules_flag(now) +
                     ") would change which convs this run prunes; resume with "
                     "--emp-layer-keep none (the rule then), or with the rules that run was given");
  }
}

// A filter run resumes with the filter head and input size it trained (checkpoints written before
// --eif-sees-label and --eif-downsample have the image-only head and the full image).
void require_same_filter(const TrainConfig& config, const nlohmann::json& stored, const std::string& path) {
  if (!uses_eif(config.method)) return;
  // Settings a checkpoint does not store read as TrainConfig's defaults, as `eval` reads them.
  const TrainConfig then = stored.is_object() ? config_from_json(stored) : TrainConfig{};
  const bool saw_label = then.eif_sees_label;
  if (saw_label != config.eif_sees_label)
    throw InputError(path + ": its filter was trained " + (saw_label ? "with" : "without") +
                     " --eif-sees-label; resume " + (saw_label ? "with" : "without") + " it");
  if (then.eif_downsample != config.eif_downsample)
    throw InputError(path + ": its filter was trained with --eif-downsample " + std::to_string(then.eif_downsample) +
                     "; resume with the same");
}

}  // namespace

void resume_run_checkpoint(const TrainConfig& config, const RunState& run) {
  const std::string& path = config.checkpoint_path;
  const Checkpoint c = load_checkpoint(path);
  if (c.model != config.model || c.dataset != config.dataset || c.method != config.method)
    throw InputError(path + ": checkpoint of --model " + c.model + " --dataset " + c.dataset + " --method " + c.method +
                     ", but this run asks for --model " + config.model + " --dataset " + config.dataset + " --method " +
                     config.method);
  const auto stored = nlohmann::json::parse(c.config_json, nullptr, /*allow_exceptions=*/false);
  require_same_emp_rules(config, stored, path);
  require_same_filter(config, stored, path);
  load_module_state(run.model, sub_state(c.tensors, "model"), path);
  run.optimizer.load_state(sub_state(c.tensors, "optimizer"), path);
  run.selector.load_state(sub_state(c.tensors, "selector"), path);
  const auto ledger = require_entry(c.tensors, "ledger", path).contiguous();
  run.ledger.load_state(std::vector<double>(ledger.data_ptr<double>(), ledger.data_ptr<double>() + ledger.numel()));
  const auto counters = require_entry(c.tensors, "counters", path);
  const auto scores = require_entry(c.tensors, "scores", path);
  // Checkpoints written before train_s was split by phase hold 4 scores: their phases start from zero.
  if (counters.numel() != 6 || (scores.numel() != 4 && scores.numel() != 8))
    throw InputError(path + ": corrupt run counters");
  run.counters.iteration = counters[0].item<int64_t>();
  run.counters.instances_seen = counters[1].item<int64_t>();
  run.counters.instances_trained = counters[2].item<int64_t>();
  run.counters.loss_only = counters[3].item<int64_t>();
  // Absent from checkpoints written before classes were counted: they count from the resume on.
  if (const auto by_class = sub_state(c.tensors, "class_counts"); !by_class.empty())
    run.counters.by_class.load_state(by_class, path);
  else
    run.counters.by_class.clear();
  run.stream.seek(counters[4].item<int64_t>(), counters[5].item<int64_t>());
  const auto score = scores.to(torch::kFloat64).contiguous();
  const std::vector<double> v(score.data_ptr<double>(), score.data_ptr<double>() + score.numel());
  run.scores = {v[0], v[1], v[2], v[3],
                v.size() == 8 ? PhaseTimes::from_values({v.begin() + 4, v.end()}) : PhaseTimes{}};
  // Absent from checkpoints written before it was added (same format version): start from zero.
  if (const auto running = c.tensors.find("running_loss"); running != c.tensors.end()) {
    if (running->second.numel() != 2) throw InputError(path + ": corrupt running loss");
    run.running_loss = {running->second[0].item<double>(), running->second[1].item<int64_t>()};
  }
  at::Generator generator = at::detail::getDefaultCPUGenerator();  // shares the default's state
  generator.set_state(require_entry(c.tensors, "rng", path));
}

}  // namespace skiptrain::train
