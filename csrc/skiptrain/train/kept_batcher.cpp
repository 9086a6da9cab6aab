// KeptBatcher: FIFO gathering of kept instances into fixed-size batches.
#include "skiptrain/train/kept_batcher.h"

#include <c10/util/Exception.h>
#include <torch/torch.h>

#include <algorithm>

namespace skiptrain::train {

KeptBatcher::KeptBatcher(int64_t batch_size) : batch_size_(batch_size) {
  TORCH_CHECK(batch_size > 0, "KeptBatcher: batch_size must be positive, got ", batch_size);
}

void KeptBatcher::add(const data::Batch& batch, const Plan& plan, const torch::Tensor& loss_only_losses) {
  const int64_t k = plan.train.numel();
  const int64_t entry = next_entry_++;
  // Nothing queried: nothing to defer.
  const bool deferred = !loss_only_losses.defined() && plan.loss_only.numel() > 0;
  const auto losses = deferred ? torch::Tensor() : loss_only_losses.defined() ? loss_only_losses : torch::empty({0});
  pending_.push_back({batch, plan, losses, torch::empty({k}, torch::kFloat32), k});
  if (deferred) {
    query_entries_.push_back(entry);
    queries_waiting_ += plan.loss_only.numel();
  }
  if (k == 0) return;
  images_.push_back(batch.images.index_select(0, plan.train.to(batch.images.device())));
  labels_.push_back(batch.labels.index_select(0, plan.train.to(batch.labels.device())));
  entries_.push_back(torch::full({k}, entry, torch::kInt64));
  positions_.push_back(torch::arange(k, torch::kInt64));
  weights_.push_back(plan.train_weight.defined() ? plan.train_weight.to(torch::kFloat32) : torch::Tensor());
  waiting_ += k;
}

GatheredBatch KeptBatcher::take() {
  const int64_t n = std::min(batch_size_, waiting_);
  GatheredBatch out;
  if (n == 0) return out;
  auto images = torch::cat(images_);
  auto labels = torch::cat(labels_);
  auto entries = torch::cat(entries_);
  auto positions = torch::cat(positions_);
  // Weights only when some waiting chunk has them (ones stand in for the chunks without).
  torch::Tensor weights;
  if (std::any_of(weights_.begin(), weights_.end(), [](const torch::Tensor& w) { return w.defined(); })) {
    std::vector<torch::Tensor> parts;
    for (size_t i = 0; i < weights_.size(); ++i)
      parts.push_back(weights_[i].defined() ? weights_[i] : torch::ones({labels_[i].size(0)}, torch::kFloat32));
    weights = torch::cat(parts);
  }
  out = {images.slice(0, 0, n), labels.slice(0, 0, n), entries.slice(0, 0, n), positions.slice(0, 0, n),
         weights.defined() ? weights.slice(0, 0, n) : torch::Tensor()};
  images_.assign({images.slice(0, n)});
  labels_.assign({labels.slice(0, n)});
  entries_.assign({entries.slice(0, n)});
  positions_.assign({positions.slice(0, n)});
  weights_.assign({weights.defined() ? weights.slice(0, n) : torch::Tensor()});
  waiting_ -= n;
  return out;
}

void KeptBatcher::report(const GatheredBatch& taken, const torch::Tensor& losses) {
  TORCH_CHECK(losses.numel() == taken.size(), "KeptBatcher::report: ", losses.numel(), " losses for ",
              taken.size(), " instances");
  const auto l = losses.to(torch::kCPU, torch::kFloat32).contiguous();
  const auto e = taken.entries.contiguous();
  const auto p = taken.positions.contiguous();
  const float* loss = l.data_ptr<float>();
  const int64_t* entry = e.data_ptr<int64_t>();
  const int64_t* position = p.data_ptr<int64_t>();
  for (int64_t i = 0; i < taken.size(); ++i) {
    Pending& pending = pending_.at(entry[i] - first_entry_);
    pending.train_losses.data_ptr<float>()[position[i]] = loss[i];
    pending.unreported -= 1;
  }
}

QueryBatch KeptBatcher::take_queries() {
  TORCH_CHECK(taken_query_entries_.empty(), "KeptBatcher::take_queries: the last taken queries were not reported");
  std::vector<torch::Tensor> images, labels;
  for (int64_t entry : query_entries_) {
    const Pending& pending = pending_.at(entry - first_entry_);
    images.push_back(pending.batch.images.index_select(0, pending.plan.loss_only.to(pending.batch.images.device())));
    labels.push_back(pending.batch.labels.index_select(0, pending.plan.loss_only.to(pending.batch.labels.device())));
  }
  taken_query_entries_.swap(query_entries_);
  queries_waiting_ = 0;
  if (images.empty()) return {};
  return {torch::cat(images), torch::cat(labels)};
}

void KeptBatcher::report_queries(const torch::Tensor& losses) {
  int64_t expected = 0;
  for (int64_t entry : taken_query_entries_) expected += pending_.at(entry - first_entry_).plan.loss_only.numel();
  TORCH_CHECK(losses.numel() == expected, "KeptBatcher::report_queries: ", losses.numel(), " losses for ", expected,
              " queried instances");
  const auto flat = losses.detach().reshape({-1});
  int64_t offset = 0;
  for (int64_t entry : taken_query_entries_) {
    Pending& pending = pending_.at(entry - first_entry_);
    const int64_t q = pending.plan.loss_only.numel();
    pending.loss_only_losses = flat.slice(0, offset, offset + q);
    offset += q;
  }
  taken_query_entries_.clear();
}

bool KeptBatcher::pop_completed(CompletedBatch& out) {
  if (pending_.empty() || pending_.front().unreported > 0 || !pending_.front().loss_only_losses.defined())
    return false;
  Pending& front = pending_.front();
  out = {std::move(front.batch), std::move(front.plan), std::move(front.train_losses),
         std::move(front.loss_only_losses)};
  pending_.pop_front();
  first_entry_ += 1;
  return true;
}

}  // namespace skiptrain::train
