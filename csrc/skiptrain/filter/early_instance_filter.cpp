// The Early Instance Filter with its own network and optimizer; see
// early_instance_filter.h for the call order and what the ledger is charged.
#include "skiptrain/filter/early_instance_filter.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

namespace skiptrain::filter {
namespace {

FilterOptions validated(FilterOptions options) {
  options.validate();
  return options;
}

std::vector<torch::Tensor> parameters_of(const nn::Network& network) {
  TORCH_CHECK(network != nullptr, "EarlyInstanceFilter: the filter network is null");
  return network->parameters();
}

}  // namespace

EarlyInstanceFilter::EarlyInstanceFilter(nn::Network network, FilterOptions options)
    : options_(validated(std::move(options))),
      network_(std::move(network)),
      controller_(options_),
      sgd_(parameters_of(network_), train::SgdOptions{options_.lr, options_.momentum, options_.weight_decay}) {}

Decision EarlyInstanceFilter::decide(const torch::Tensor& images) {
  TORCH_CHECK(images.defined() && images.dim() >= 1, "EarlyInstanceFilter::decide: images must be [m, C, H, W]");
  const int64_t m = images.size(0);
  last_forward_ = m;
  total_forward_ += m;
  if (m == 0) return controller_.decide(torch::empty({0, 2}, torch::kFloat32));
  torch::NoGradGuard no_grad;
  network_->eval();
  auto logits = network_->forward(images.detach());
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) == m && logits.size(1) == 2,
              "EarlyInstanceFilter: the filter network must return logits [m, 2], got ", logits.sizes());
  return controller_.decide(logits);
}

Feedback EarlyInstanceFilter::learn(const torch::Tensor& images, const Decision& decision,
                                    const torch::Tensor& kept_losses, const torch::Tensor& query_losses) {
  TORCH_CHECK(images.defined() && images.dim() >= 1 && images.size(0) == decision.incoming,
              "EarlyInstanceFilter::learn: images must be the batch given to decide() (", decision.incoming,
              " instances), got ", images.defined() ? images.size(0) : 0);
  // The lr of this step is set by the iteration count before this batch is observed.
  const double lr = options_.lr_at(controller_.batches());
  Feedback feedback = controller_.observe(decision, kept_losses, query_losses);
  last_trained_ = feedback.labelled.numel();
  last_loss_ = 0;
  if (last_trained_ == 0) return feedback;
  total_trained_ += last_trained_;

  torch::AutoGradMode enable_grad(true);
  const auto device = images.device();
  network_->train();
  auto x = images.detach().index_select(0, feedback.labelled.to(device));
  auto logits = network_->forward(x);
  auto nll = -torch::log_softmax(logits, 1).gather(1, feedback.labels.to(device).unsqueeze(1)).squeeze(1);
  auto loss = (nll * feedback.weights.to(logits.device(), logits.scalar_type())).sum();
  sgd_.set_lr(lr);
  sgd_.zero_grad();
  loss.backward();
  sgd_.step();
  last_loss_ = loss.item<double>();
  return feedback;
}

TensorState EarlyInstanceFilter::state() const {
  TensorState s;
  merge_state(s, "network", module_state(*network_));
  merge_state(s, "optimizer", sgd_.state());
  merge_state(s, "controller", controller_.state());
  s["counters"] = torch::tensor(std::vector<int64_t>{last_forward_, last_trained_, total_forward_, total_trained_},
                                torch::kInt64);
  return s;
}

void EarlyInstanceFilter::load_state(const TensorState& state, const std::string& what) {
  auto counters = require_entry(state, "counters", what).to(torch::kInt64).contiguous();
  if (counters.dim() != 1 || counters.numel() != 4) throw InputError(what + ": filter entry 'counters' must hold 4");
  load_module_state(*network_, sub_state(state, "network"), what);
  sgd_.load_state(sub_state(state, "optimizer"), what);
  controller_.load_state(sub_state(state, "controller"), what);
  auto c = counters.accessor<int64_t, 1>();
  last_forward_ = c[0];
  last_trained_ = c[1];
  total_forward_ = c[2];
  total_trained_ = c[3];
}

}  // namespace skiptrain::filter
