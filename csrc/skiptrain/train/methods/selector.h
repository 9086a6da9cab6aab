// The Selector interface: a data-level method decides, per incoming mini-batch and
// before the main model's forward pass, which instances train the main model and
// which get a loss-only forward (to label something, e.g. the instance filter).
// Loss-based methods (OHEM, Selective-Backprop) decide in a second stage, from the
// losses of that loss-only forward: see Plan::select_by_loss and SelectByLoss.
#pragma once

#include "skiptrain/cost/ledger.h"
#include "skiptrain/data/stream.h"
#include "skiptrain/state.h"

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include <string>

namespace skiptrain::train {

// What a Selector decided for one incoming batch (indices into the batch).
struct Plan {
  torch::Tensor train;      // int64 [k]: forward + loss + backward of the main model
  torch::Tensor loss_only;  // int64 [q]: main-model forward under no-grad, loss reported back
  // Two-stage selection: `train` is left empty and decided by Selector::select() from the losses
  // of the `loss_only` forward; the trainer then runs forward + backward on the selected instances.
  bool select_by_loss = false;
  // float32 [k]: each train instance's weight in the step's loss; undefined = all equal.
  torch::Tensor train_weight = {};
  // The step divides its weighted loss sum by the incoming batch's size (summed over the ranks of a
  // data-parallel run) instead of by the trained instances': with train_weight the inverse inclusion
  // probabilities, the step's loss is an unbiased estimate of the whole batch's mean loss. Shrink
  // batching only (accumulate batching divides by its own constant, see trainer.cpp).
  bool loss_over_incoming = false;
};

class Selector {
 public:
  virtual ~Selector() = default;
  // Decides for `batch`; charges its own work (e.g. the filter's forward) to `ledger`.
  virtual Plan plan(const data::Batch& batch, cost::Ledger& ledger) = 0;
  // Second stage of a plan with select_by_loss: the train indices, given the per-instance losses
  // of `plan.loss_only` (same order); charges its own work to `ledger`. Only such plans call it.
  virtual torch::Tensor select(const data::Batch& batch, const Plan& plan, const torch::Tensor& loss_only_losses,
                               cost::Ledger& ledger);
  // Per-instance main-model losses of the planned instances, once they are known;
  // charges its own work (e.g. the filter's training) to `ledger`.
  virtual void observe(const data::Batch& batch, const Plan& plan, const torch::Tensor& train_losses,
                       const torch::Tensor& loss_only_losses, cost::Ledger& ledger) {}
  // Finishes what waits on this rank's own data (the filter's gathered instances) before a
  // checkpoint of a data-parallel run, which holds rank 0's selector state; charges `ledger`.
  virtual void settle(cost::Ledger& ledger) {}
  // Adds the method's figures to an evaluation record of the metrics file.
  virtual void add_metrics(nlohmann::json& record) const {}
  // Everything that changes over a run, for checkpoints.
  virtual TensorState state() const { return {}; }
  virtual void load_state(const TensorState& state, const std::string& what) {}
};

// Plain SGD: every incoming instance trains the main model.
class TrainAll : public Selector {
 public:
  Plan plan(const data::Batch& batch, cost::Ledger& ledger) override;
};

// The base of loss-based methods: a no-grad loss forward on every incoming instance, then
// select() picks from the losses which instances train (re-batched, as in Selective-Backprop's
// reference implementation). Every instance's forward is paid, as the ledger records.
class SelectByLoss : public Selector {
 public:
  Plan plan(const data::Batch& batch, cost::Ledger& ledger) final;
  torch::Tensor select(const data::Batch& batch, const Plan& plan, const torch::Tensor& loss_only_losses,
                       cost::Ledger& ledger) override = 0;
};

}  // namespace skiptrain::train
