// The Early Instance Filter with its own network and optimizer; see
// early_instance_filter.h for the call order and what the ledger is charged.
#include "skiptrain/filter/early_instance_filter.h"

#include "skiptrain/ceil_share.h"

#include "skiptrain/errors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

namespace skiptrain::filter {
namespace {

std::vector<torch::Tensor> parameters_of(const nn::Network& network) {
  TORCH_CHECK(network != nullptr, "EarlyInstanceFilter: the filter network is null");
  return network->parameters();
}

// The parts concatenated along the first dimension; a single part as it is (a step per batch
// gathers one, and a tiny network's step is bound by per-op costs).
torch::Tensor joined(const std::vector<torch::Tensor>& parts) { return parts.size() == 1 ? parts[0] : torch::cat(parts); }

}  // namespace

EarlyInstanceFilter::EarlyInstanceFilter(nn::Network network, FilterOptions options, dist::Collective& collective)
    : options_(options.validated()),
      collective_(collective),
      network_(std::move(network)),
      controller_(options_),
      sgd_(parameters_of(network_), optim::SgdOptions{options_.lr, options_.momentum, options_.weight_decay}) {
  dist::broadcast_module(collective_, network_->parameters(), network_->buffers());
}

Decision EarlyInstanceFilter::decide(const torch::Tensor& images, const torch::Tensor& classes) {
  TORCH_CHECK(images.defined() && images.dim() >= 1, "EarlyInstanceFilter::decide: images must be [m, C, H, W]");
  const int64_t m = images.size(0);
  last_forward_ = m;
  total_forward_ += m;
  if (m == 0) return controller_.decide(torch::empty({0, 2}, torch::kFloat32), classes);
  c10::InferenceMode inference;
  network_->eval();
  return controller_.decide(high_low_logits(images.detach(), classes, "EarlyInstanceFilter::decide"), classes);
}

torch::Tensor EarlyInstanceFilter::high_low_logits(const torch::Tensor& images, const torch::Tensor& classes,
                                                   const char* where) {
  auto logits = network_->forward(images);
  const int64_t m = images.size(0);
  TORCH_CHECK(logits.dim() == 2 && logits.size(0) == m && logits.size(1) >= 2 && logits.size(1) % 2 == 0, where,
              ": the filter network must return logits [m, 2] or [m, 2K] (a High/Low pair per class), got ",
              logits.sizes());
  if (logits.size(1) == 2) return logits;
  const int64_t k = logits.size(1) / 2;
  TORCH_CHECK(is_class_vector(classes, m), where, ": a filter network with a High/Low pair per class (logits [m, ",
              2 * k, "]) needs each instance's class, int64 [m]");
  auto c = classes.to(logits.device(), torch::kInt64);
  // One host sync for the range check.
  TORCH_CHECK(!((c < 0) | (c >= k)).any().item<bool>(), where, ": classes must lie in [0, ", k,
              ") for a filter network of ", k, " High/Low pairs");
  return logits.reshape({m, k, 2}).gather(1, c.view({m, 1, 1}).expand({m, 1, 2})).view({m, 2});
}

Feedback EarlyInstanceFilter::learn(const torch::Tensor& images, const Decision& decision,
                                    const torch::Tensor& kept_losses, const torch::Tensor& query_losses,
                                    const torch::Tensor& classes) {
  TORCH_CHECK(images.defined() && images.dim() >= 1 && images.size(0) == decision.incoming,
              "EarlyInstanceFilter::learn: images must be the batch given to decide() (", decision.incoming,
              " instances), got ", images.defined() ? images.size(0) : 0);
  // The lr of this step is set by the iteration count before this batch is observed.
  const double lr = options_.lr_at(controller_.batches());
  Labelling labelling = controller_.label(decision, kept_losses, query_losses);
  last_trained_ = 0;
  // Drawn by the number of the batch being observed.
  auto [which, labels, weights] = training_share(labelling.feedback, controller_.batches() + 1);
  const int64_t labelled = which.numel();
  // The batch's counts and the instances it adds to the filter's training set, over all ranks.
  labelling.counts.push_back(labelled);
  auto counts = dist::sum_counts(collective_, labelling.counts);
  gathered_by_all_ += counts.back();
  counts.pop_back();
  controller_.record(counts);
  if (labelled > 0) {
    const auto device = images.device();
    gathered_images_.push_back(images.detach().index_select(0, which.to(device)));
    gathered_labels_.push_back(labels.to(device));
    gathered_weights_.push_back(weights.to(device, images.scalar_type()));
    if (classes.defined()) gathered_classes_.push_back(classes.to(device).index_select(0, which.to(device)));
    gathered_count_ += labelled;
    gathered_batches_ += 1;
  }
  if (gathered_by_all_ > 0 && gathered_by_all_ >= options_.train_batch) {
    sgd_.set_lr(lr);
    train_on_gathered();
  }
  return std::move(labelling.feedback);
}

void EarlyInstanceFilter::train_gathered_now() {
  last_trained_ = 0;
  if (gathered_by_all_ == 0) return;
  sgd_.set_lr(options_.lr_at(controller_.batches() - 1));
  train_on_gathered();
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> EarlyInstanceFilter::training_share(const Feedback& feedback,
                                                                                           int64_t batch) const {
  const int64_t labelled = feedback.labelled.numel();
  if (options_.train_share >= 1.0 || labelled == 0) return {feedback.labelled, feedback.labels, feedback.weights};
  const auto n = std::max<int64_t>(
      1, ceil_share(options_.train_share, labelled));
  // Seeded by the batch count: the same draw after a resume, and no shared generator disturbed.
  auto generator = at::make_generator<at::CPUGeneratorImpl>(0x7a1253a7eULL + static_cast<uint64_t>(batch));
  const auto pick = std::get<0>(torch::randperm(labelled, generator, torch::kInt64).narrow(0, 0, n).sort());
  auto weights = feedback.weights.index_select(0, pick);
  return {feedback.labelled.index_select(0, pick), feedback.labels.index_select(0, pick), weights / weights.sum()};
}

void EarlyInstanceFilter::train_on_gathered() {
  torch::AutoGradMode enable_grad(true);
  sgd_.zero_grad();
  if (gathered_count_ > 0) {  // in a data-parallel run, a rank may have gathered nothing yet
    network_->train();
    TORCH_CHECK(gathered_classes_.empty() || gathered_classes_.size() == gathered_images_.size(),
                "EarlyInstanceFilter::learn: give the instances' classes with every batch or with none");
    const auto classes = gathered_classes_.empty() ? torch::Tensor() : joined(gathered_classes_);
    auto logits = high_low_logits(joined(gathered_images_), classes, "EarlyInstanceFilter::learn");
    auto nll = torch::nn::functional::cross_entropy(
        logits, joined(gathered_labels_), torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    auto weighted =
        torch::dot(nll, joined(gathered_weights_).to(nll.scalar_type())) / static_cast<double>(gathered_batches_);
    weighted.backward();
  }
  // Each rank's gradient is of its own weighted mean: their mean over the ranks that gathered.
  const auto sums =
      dist::sum_gradients(collective_, network_->parameters(), network_->buffers(), {gathered_count_ > 0 ? 1.0 : 0.0});
  if (collective_.distributed()) {
    torch::NoGradGuard no_grad;
    for (auto& p : network_->parameters()) p.mutable_grad().div_(sums[0]);
  }
  sgd_.step();
  last_trained_ = gathered_count_;
  total_trained_ += gathered_count_;
  gathered_images_.clear();
  gathered_labels_.clear();
  gathered_weights_.clear();
  gathered_classes_.clear();
  gathered_count_ = 0;
  gathered_batches_ = 0;
  gathered_by_all_ = 0;
}

TensorState EarlyInstanceFilter::state() const {
  TensorState s;
  merge_state(s, "network", module_state(*network_));
  merge_state(s, "optimizer", sgd_.state());
  merge_state(s, "controller", controller_.state());
  s["counters"] = torch::tensor(std::vector<int64_t>{last_forward_, last_trained_, total_forward_, total_trained_},
                                torch::kInt64);
  s["gathered.batches"] = torch::tensor({gathered_batches_}, torch::kInt64);
  if (gathered_count_ > 0) {
    s["gathered.images"] = torch::cat(gathered_images_);
    s["gathered.labels"] = torch::cat(gathered_labels_);
    s["gathered.weights"] = torch::cat(gathered_weights_);
    if (!gathered_classes_.empty()) s["gathered.classes"] = torch::cat(gathered_classes_);
  }
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
  gathered_batches_ = require_entry(state, "gathered.batches", what).item<int64_t>();
  gathered_images_.clear();
  gathered_labels_.clear();
  gathered_weights_.clear();
  gathered_classes_.clear();
  gathered_count_ = 0;
  gathered_by_all_ = 0;
  if (gathered_batches_ > 0) {
    const auto device = network_->parameters().front().device();  // checkpoints hold CPU tensors
    gathered_images_.push_back(require_entry(state, "gathered.images", what).to(device));
    gathered_labels_.push_back(require_entry(state, "gathered.labels", what).to(device, torch::kInt64));
    gathered_weights_.push_back(require_entry(state, "gathered.weights", what).to(device));
    if (state.count("gathered.classes"))
      gathered_classes_.push_back(state.at("gathered.classes").to(device, torch::kInt64));
    gathered_count_ = gathered_images_[0].size(0);
    gathered_by_all_ = gathered_count_;
    if (gathered_labels_[0].numel() != gathered_count_ || gathered_weights_[0].numel() != gathered_count_ ||
        (!gathered_classes_.empty() && gathered_classes_[0].numel() != gathered_count_))
      throw InputError(what + ": filter entries 'gathered.*' disagree in length");
  }
}

}  // namespace skiptrain::filter
