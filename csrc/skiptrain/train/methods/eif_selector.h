// The Early Instance Filter as a Selector (methods eif and eif+emp): the filter's
// forward picks the instances that train the main model and those whose loss-only
// forward labels the filter; the losses then train the filter. Every filter pass
// is charged to the ledger with the filter's own cost table.
#pragma once

#include "skiptrain/cost/table.h"
#include "skiptrain/filter/early_instance_filter.h"
#include "skiptrain/train/config.h"
#include "skiptrain/train/methods/selector.h"

#include <deque>

namespace skiptrain::train {

class EifSelector : public Selector {
 public:
  // `collective` (the run's ranks) must outlive the selector.
  EifSelector(const TrainConfig& config, const nn::ModelSpec& spec, dist::Collective& collective);

  Plan plan(const data::Batch& batch, cost::Ledger& ledger) override;
  void observe(const data::Batch& batch, const Plan& plan, const torch::Tensor& train_losses,
               const torch::Tensor& loss_only_losses, cost::Ledger& ledger) override;
  void settle(cost::Ledger& ledger) override;
  void add_metrics(nlohmann::json& record) const override;
  TensorState state() const override;
  void load_state(const TensorState& state, const std::string& what) override;

  // The filter network's zoo name picked for `config` and `spec` ("auto" resolved).
  static std::string filter_model_name(const TrainConfig& config, const nn::ModelSpec& spec);

 private:
  // Charges the filter's last training step (a forward and a backward of its instances).
  void charge_training(cost::Ledger& ledger) const;

  std::unique_ptr<filter::EarlyInstanceFilter> filter_;
  cost::CostTable filter_table_;
  // Decisions whose losses have not come back yet, oldest first (observe follows plan order), with
  // the images as the filter saw them (average-pooled --eif-downsample x --eif-downsample).
  struct Pending {
    filter::Decision decision;
    torch::Tensor images;
  };
  std::deque<Pending> pending_;
  // --eif-sees-label (the filter's head takes the labels) and --eif-rank-within class (its decision does).
  bool sees_label_ = false;
  bool ranks_within_class_ = false;
  int64_t downsample_ = 1;
};

}  // namespace skiptrain::train
