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

EifSelector::EifSelector(const TrainConfig& config, const nn::ModelSpec& spec, dist::Collective& collective)
    : downsample_(config.eif_downsample) {
  if (spec.image_size % downsample_ != 0)
    throw InputError("--eif-downsample " + std::to_string(downsample_) + ": must divide the image size (" +
                     std::to_string(spec.image_size) + "); use one that does, or 1");
  // A High/Low pair, or one per class when the filter sees the label.
  const int64_t size = spec.image_size / downsample_;
  const nn::ModelSpec filter_spec{spec.in_channels, size, config.eif_sees_label ? 2 * spec.num_classes : 2};
  nn::Network network;
  try {
    network = nn::make_model(filter_model_name(config, spec), filter_spec);
  } catch (const InputError& e) {
    if (downsample_ == 1) throw;
    throw InputError("--eif-downsample " + std::to_string(downsample_) + ": the filter would see " +
                     std::to_string(size) + "x" + std::to_string(size) + " images, and " + e.what() +
                     "; use a smaller --eif-downsample or another --eif-model");
  }
  nn::set_quant(*network, config.quant);  // the filter trains at the main model's widths
  // The pooling's adds (one per input value) are left out: 0.8% of the half-width ResNet-8's MACs at
  // 16x16, 0.2% of ResNet-8's.
  filter_table_ = cost::count(*network, [&](const torch::Tensor& x) { return network->forward(x); },
                              {1, spec.in_channels, size, size});
  network->to(resolve_device(config.device));  // before the filter's optimizer takes its parameters
  filter_ = std::make_unique<filter::EarlyInstanceFilter>(network, config.eif, collective);
  sees_label_ = config.eif_sees_label;
  ranks_within_class_ = config.eif.rank_within == "class";
}

Plan EifSelector::plan(const data::Batch& batch, cost::Ledger& ledger) {
  // The labels when the filter's head or ranking uses them.
  // The images as the filter sees them, pooled once for its decision and its training on them.
  auto seen = downsample_ == 1 ? batch.images : torch::avg_pool2d(batch.images, downsample_);
  auto decision = filter_->decide(seen, sees_label_ || ranks_within_class_ ? batch.labels : torch::Tensor());
  pending_.push_back({std::move(decision), std::move(seen)});
  ledger.add_forward(cost::Phase::FilterForward, filter_table_, filter_->last_forward_instances());
  const filter::Decision& d = pending_.back().decision;
  Plan plan{d.keep, d.query};
  // A copy made outside the filter's inference mode, so that the main model's loss can use it in autograd.
  if (d.keep_weight.defined()) plan.train_weight = d.keep_weight.clone();
  return plan;
}

void EifSelector::observe(const data::Batch& batch, const Plan&, const torch::Tensor& train_losses,
                          const torch::Tensor& loss_only_losses, cost::Ledger& ledger) {
  TORCH_CHECK(!pending_.empty(), "EifSelector::observe without a matching plan");
  filter_->learn(pending_.front().images, pending_.front().decision, train_losses, loss_only_losses,
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
