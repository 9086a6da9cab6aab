// InfoBatch (Qin et al., ICLR 2024, "InfoBatch: Lossless Training Speed Up by Unbiased Dynamic
// Data Pruning") as a Selector: each instance's score is the main model's loss on it when it last
// trained; instances never trained have no score and always train. Before the main model's
// forward, an instance scored below the mean of all scores ("well learned") is dropped with
// probability p, and the kept ones of those weigh 1 / (1 - p) in a loss summed over the incoming
// batch's size (Plan::loss_over_incoming): an unbiased estimate of the whole batch's mean loss
// (BatchNorm's batch statistics, taken over the kept, aside). The scores cost no forward: they are
// the losses the training step computes anyway; the comparisons count one MAC each (Selection).
// InfoBatch's annealing (every instance trains in the last 12.5% of the run) is the trainer's
// --full-stream-tail. [ours] InfoBatch prunes the epoch's index list once, at the epoch's start,
// against that moment's mean, and batches what is left; here each incoming batch is pruned against
// the live mean and trains shrunk, like the other per-batch selectors: as many steps as dense, on
// the same learning-rate schedule, where InfoBatch takes fewer, fuller ones per epoch. In a
// data-parallel run each rank scores only the instances it trains, so more of its first epochs
// train whole; a resumed run gives every rank rank 0's scores.
#pragma once

#include "skiptrain/train/methods/selector.h"

#include <cstdint>
#include <vector>

namespace skiptrain::train {

class InfoBatchSelector : public Selector {
 public:
  // `prune_probability` in (0, 1): the chance that a well-learned instance is dropped.
  explicit InfoBatchSelector(double prune_probability);

  // Keeps every instance without a score or at or above the mean score, and each other one with
  // probability 1 - p (one draw per instance from LibTorch's global generator, which checkpoints save);
  // weighs each by its inverse inclusion probability (1, or 1 / (1 - p)), its loss over the incoming.
  Plan plan(const data::Batch& batch, cost::Ledger& ledger) override;
  // The trained instances' losses become their scores.
  void observe(const data::Batch& batch, const Plan& plan, const torch::Tensor& train_losses,
               const torch::Tensor& loss_only_losses, cost::Ledger& ledger) override;
  // "infobatch": {"threshold": the mean score (null before any), "scored": instances with a score}.
  void add_metrics(nlohmann::json& record) const override;
  // "scores": float [n] by dataset position, NaN where an instance has none; "score_sum": their
  // running sum (double []).
  TensorState state() const override;
  void load_state(const TensorState& state, const std::string& what) override;

  // The mean of all scores; NaN before any instance has one.
  double threshold() const;

 private:
  void set_score(int64_t position, float loss);

  double prune_probability_;
  std::vector<float> scores_;  // by dataset position, grown on demand; NaN = no score yet
  double score_sum_ = 0;       // of the finite entries of scores_
  int64_t scored_ = 0;         // how many entries of scores_ are finite
};

}  // namespace skiptrain::train
