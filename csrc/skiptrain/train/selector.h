// The Selector interface: a data-level method decides, per incoming mini-batch and
// before the main model's forward pass, which instances train the main model and
// which get a loss-only forward (to label something, e.g. the instance filter).
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
};

class Selector {
 public:
  virtual ~Selector() = default;
  // Decides for `batch`; charges its own work (e.g. the filter's forward) to `ledger`.
  virtual Plan plan(const data::Batch& batch, cost::Ledger& ledger) = 0;
  // Per-instance main-model losses of the planned instances, once they are known;
  // charges its own work (e.g. the filter's training) to `ledger`.
  virtual void observe(const data::Batch& batch, const Plan& plan, const torch::Tensor& train_losses,
                       const torch::Tensor& loss_only_losses, cost::Ledger& ledger) {}
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

}  // namespace skiptrain::train
