// Sharding and consolidation of a data-parallel run's counts; see data_parallel.h.
#include "skiptrain/train/data_parallel.h"

#include "skiptrain/errors.h"
#include "skiptrain/filter/options_json.h"
#include "skiptrain/train/trainer.h"

#include <torch/torch.h>

#include <algorithm>
#include <functional>

namespace skiptrain::train {

void require_same_training(dist::Collective& collective, const TrainConfig& config) {
  if (!collective.distributed()) return;
  nlohmann::json training = config_to_json(config);
  for (const char* per_rank : {"data_dir", "threads", "device"}) training.erase(per_rank);
  training["eif"] = filter::options_to_json(config.eif);
  training["emp"] = {config.emp.keep,       config.emp.gamma1,       config.emp.gamma2,    config.emp.sample,
                     config.emp_skip_first, config.emp_decay_pruned, config.emp_layer_keep};
  const PeerOptions& p = config.peers;
  training["peers"] = {p.smb_fraction, p.smd_p, p.ohem_ratio, p.sb_beta, p.sb_window, p.infobatch_prune};
  training["eif_model"] = config.eif_model;
  training["eif_sees_label"] = config.eif_sees_label;
  training["eif_downsample"] = config.eif_downsample;
  training["resume"] = config.resume;
  const auto mine = static_cast<int64_t>(std::hash<std::string>{}(training.dump()));
  auto rank_zeros = torch::tensor({mine}, torch::kInt64);
  collective.broadcast(rank_zeros);
  const bool differs = rank_zeros.item<int64_t>() != mine;
  if (dist::sum_values(collective, {differs ? 1.0 : 0.0})[0] > 0)
    throw InputError(std::string("the ranks were started with different training flags (this rank's ") +
                     (differs ? "differ from" : "match") +
                     " rank 0's): start every rank with the same flags, --resume included (only --data-dir, "
                     "--threads, --device and --rank may differ)");
}

data::Dataset shard_of(const data::Dataset& dataset, int rank, int ranks) {
  if (ranks == 1) return dataset;
  const int64_t n = dataset.size();
  const int64_t begin = n * rank / ranks, end = n * (rank + 1) / ranks;
  data::Dataset shard = dataset;
  shard.images = dataset.images.slice(0, begin, end);
  shard.labels = dataset.labels.slice(0, begin, end);
  return shard;
}

Evaluation sum_evaluations(dist::Collective& collective, const Evaluation& shard) {
  if (!collective.distributed()) return shard;
  std::vector<double> values{static_cast<double>(shard.instances), static_cast<double>(shard.correct), shard.loss_sum};
  values.insert(values.end(), shard.instances_by_class.begin(), shard.instances_by_class.end());
  values.insert(values.end(), shard.correct_by_class.begin(), shard.correct_by_class.end());
  const auto sums = dist::sum_values(collective, values);
  Evaluation e;
  e.instances = static_cast<int64_t>(sums[0]);
  e.correct = static_cast<int64_t>(sums[1]);
  e.loss_sum = sums[2];
  const size_t classes = shard.instances_by_class.size();
  for (size_t c = 0; c < classes; ++c) {
    e.instances_by_class.push_back(static_cast<int64_t>(sums[3 + c]));
    e.correct_by_class.push_back(static_cast<int64_t>(sums[3 + classes + c]));
  }
  if (e.instances > 0) {
    e.accuracy = static_cast<double>(e.correct) / e.instances;
    e.loss = e.loss_sum / e.instances;
  }
  return e;
}

namespace {

// Appends every tensor of `state` (in key order) to `values` as doubles; returns how many.
int64_t append_values(const TensorState& state, std::vector<double>& values) {
  const size_t before = values.size();
  for (const auto& [key, tensor] : state) {
    const auto t = tensor.to(torch::kFloat64).contiguous();
    values.insert(values.end(), t.data_ptr<double>(), t.data_ptr<double>() + t.numel());
  }
  return static_cast<int64_t>(values.size() - before);
}

// The tensors of `like` (shapes and types), filled from the last values that append_values() added.
TensorState take_values(const TensorState& like, const std::vector<double>& values) {
  int64_t total = 0;
  for (const auto& [key, tensor] : like) total += tensor.numel();
  auto next = values.end() - total;
  TensorState state;
  for (const auto& [key, tensor] : like) {
    const std::vector<double> part(next, next + tensor.numel());
    state[key] = torch::tensor(part, torch::kFloat64).to(tensor.scalar_type()).view(tensor.sizes());
    next += tensor.numel();
  }
  return state;
}

}  // namespace

void consolidate(dist::Collective& collective, Counters& counters, cost::Ledger& ledger) {
  if (!collective.distributed()) return;
  std::vector<double> values = ledger.state();
  values.push_back(static_cast<double>(counters.instances_seen));
  values.push_back(static_cast<double>(counters.instances_trained));
  values.push_back(static_cast<double>(counters.loss_only));
  const TensorState by_class = counters.by_class.state();
  const int64_t class_values = append_values(by_class, values);
  values = dist::sum_values(collective, values);
  if (class_values > 0) {
    counters.by_class.load_state(take_values(by_class, values), "the ranks' class counts");
    values.resize(values.size() - class_values);
  }
  if (collective.rank() != 0) std::fill(values.begin(), values.end(), 0.0);
  counters.loss_only = static_cast<int64_t>(values.back());
  values.pop_back();
  counters.instances_trained = static_cast<int64_t>(values.back());
  values.pop_back();
  counters.instances_seen = static_cast<int64_t>(values.back());
  values.pop_back();
  ledger.load_state(values);
  if (collective.rank() != 0) counters.by_class.clear();
}

void keep_totals_on_rank_zero(const dist::Collective& collective, Counters& counters, cost::Ledger& ledger) {
  if (collective.rank() == 0) return;
  counters.instances_seen = counters.instances_trained = counters.loss_only = 0;
  counters.by_class.clear();
  ledger = cost::Ledger{};
}

}  // namespace skiptrain::train
