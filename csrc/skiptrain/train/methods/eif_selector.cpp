// The Early Instance Filter Selector.
#include "skiptrain/train/methods/eif_selector.h"

#include "skiptrain/train/device.h"

#include "skiptrain/errors.h"
#include "skiptrain/nn/quant_settings.h"

#include <torch/torch.h>

namespace skiptrain::train {

std::string EifSelector::filter_model_name(const TrainConfig& config, const nn::ModelSpec& spec) {
  if (config.eif_model != "auto") return config.eif_model;
  // The paper's filters: a slim LeNet for MNIST-sized inputs, ResNet-8 for CIFAR-sized ones.
  return spec.image_size <= 28 ? "lenet-filter" : "resnet8";
}

EifSelector::EifSelector(const TrainConfig& config, const nn::ModelSpec& spec, dist::Collective& collective) {
  // A High/Low pair, or one per class when the filter sees the label.
  const nn::ModelSpec filter_spec{spec.in_channels, spec.image_size, config.eif_sees_label ? 2 * spec.num_classes : 2};
  auto network = nn::make_model(filter_model_name(config, spec), filter_spec);
  nn::set_quant(*network, config.quant);  // the filter trains at the main model's widths
  filter_table_ = cost::count(*network, [&](const torch::Tensor& x) { return network->forward(x); },
                              {1, spec.in_channels, spec.image_size, spec.image_size});
  network->to(resolve_device(config.device));  // before the filter's optimizer takes its parameters
  filter_ = std::make_unique<filter::EarlyInstanceFilter>(network, config.eif, collective);
  sees_label_ = config.eif_sees_label;
  ranks_within_class_ = config.eif.rank_within == "class";
}

Plan EifSelector::plan(const data::Batch& batch, cost::Ledger& ledger) {
  // The labels when the filter's head or ranking uses them.
  pending_.push_back(
      filter_->decide(batch.images, sees_label_ || ranks_within_class_ ? batch.labels : torch::Tensor()));
  ledger.add_forward(cost::Phase::FilterForward, filter_table_, filter_->last_forward_instances());
  Plan plan{pending_.back().keep, pending_.back().query};
  // A copy made outside the filter's inference mode, so that the main model's loss can use it in autograd.
  if (pending_.back().keep_weight.defined()) plan.train_weight = pending_.back().keep_weight.clone();
  return plan;
}

void EifSelector::observe(const data::Batch& batch, const Plan&, const torch::Tensor& train_losses,
                          const torch::Tensor& loss_only_losses, cost::Ledger& ledger) {
  TORCH_CHECK(!pending_.empty(), "EifSelector::observe without a matching plan");
  filter_->learn(batch.images, pending_.front(), train_losses, loss_only_losses,
                 sees_label_ ? batch.labels : torch::Tensor());
  pending_.pop_front();
  charge_training(ledger);
}

void EifSelector::settle(cost::Ledger& ledger) {
  filter_->train_gathered_now();
  charge_training(ledger);
}

void EifSelector::charge_training(cost::Ledger& ledger) const {
  // The filter's training step runs its own forward with grad on the labelled instances.
  const int64_t trained = filter_->last_trained_instances();
  ledger.add_forward(cost::Phase::FilterBackward, filter_table_, trained);
  ledger.add_backward(cost::Phase::FilterBackward, filter_table_, trained);
}

void EifSelector::add_metrics(nlohmann::json& record) const {
  const auto m = filter_->metrics();
  record["eif"] = {{"kept_fraction", m.kept_fraction_window},
                   {"kept_fraction_total", m.kept_fraction_total},
                   {"queried_fraction_total", m.queried_fraction_total},
                   {"r_th", m.r_th},
                   {"threshold", m.threshold},
                   {"wrong_rate", m.wrong_rate_window},
                   {"wrong_rate_total", m.wrong_rate_total},
                   {"warming_up", m.warming_up},
                   {"filter_lr", filter_->lr()}};
}

TensorState EifSelector::state() const { return filter_->state(); }

void EifSelector::load_state(const TensorState& state, const std::string& what) { filter_->load_state(state, what); }

}  // namespace skiptrain::train
