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

void consolidate(dist::Collective& collective, Counters& counters, cost::Ledger& ledger) {
  if (!collective.distributed()) return;
  std::vector<double> values = ledger.state();
  values.push_back(static_cast<double>(counters.instances_seen));
  values.push_back(static_cast<double>(counters.instances_trained));
  values.push_back(static_cast<double>(counters.loss_only));
  const auto by_class = counters.by_class.state();  // int64 [2, classes], or undefined
  const int64_t class_values = by_class.defined() ? by_class.numel() : 0;
  if (class_values > 0) {
    const auto counts = by_class.to(torch::kFloat64).contiguous();
    values.insert(values.end(), counts.data_ptr<double>(), counts.data_ptr<double>() + class_values);
  }
  values = dist::sum_values(collective, values);
  if (class_values > 0) {
    const auto summed = torch::tensor(std::vector<double>(values.end() - class_values, values.end()));
    values.resize(values.size() - class_values);
    counters.by_class.load_state(summed.to(torch::kInt64).view(by_class.sizes()), "the ranks' class counts");
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
