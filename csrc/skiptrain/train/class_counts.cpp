// Instances seen and trained per class, and the class-mix distance of selected steps.
#include "skiptrain/train/class_counts.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

namespace skiptrain::train {

void count_per_class(torch::Tensor& counts, const torch::Tensor& labels) {
  if (labels.numel() == 0) return;
  const auto on_device = labels.to(counts.device());
  counts.index_add_(0, on_device, torch::ones_like(on_device));
}

ClassCounts::ClassCounts(int64_t classes, c10::Device device)
    : counts_(torch::zeros({2, classes}, torch::dtype(torch::kInt64).device(device))),
      mix_distance_(torch::zeros({2}, torch::dtype(torch::kFloat64).device(device))) {}

void ClassCounts::add(int64_t row, const torch::Tensor& labels) {
  if (!counts_.defined()) return;
  auto counts = counts_[row];
  count_per_class(counts, labels);
}

void ClassCounts::add_selection(const torch::Tensor& incoming, const torch::Tensor& chosen) {
  if (!counts_.defined() || incoming.numel() == 0 || chosen.numel() == 0) return;
  auto incoming_counts = torch::zeros_like(counts_[kSeen]);
  auto chosen_counts = torch::zeros_like(counts_[kSeen]);
  count_per_class(incoming_counts, incoming);
  count_per_class(chosen_counts, chosen);
  const auto incoming_mix = incoming_counts.to(torch::kFloat64) / static_cast<double>(incoming.numel());
  const auto chosen_mix = chosen_counts.to(torch::kFloat64) / static_cast<double>(chosen.numel());
  mix_distance_[0].add_(0.5 * (chosen_mix - incoming_mix).abs().sum());
  mix_distance_[1].add_(1.0);
}

std::vector<int64_t> ClassCounts::row(int64_t which) const {
  if (!counts_.defined()) return {};
  const auto r = counts_[which].to(torch::kCPU).contiguous();
  return {r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel()};
}

double ClassCounts::mean_mix_distance() const {
  if (!mix_distance_.defined()) return 0;
  const auto m = mix_distance_.to(torch::kCPU);
  return m[1].item<double>() > 0 ? m[0].item<double>() / m[1].item<double>() : 0.0;
}

int64_t ClassCounts::selected_batches() const {
  return mix_distance_.defined() ? static_cast<int64_t>(mix_distance_[1].item<double>()) : 0;
}

TensorState ClassCounts::state() const {
  if (!counts_.defined()) return {};
  return {{"counts", counts_.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true)},
          {"mix", mix_distance_.to(torch::kCPU, /*non_blocking=*/false, /*copy=*/true)}};
}

void ClassCounts::load_state(const TensorState& state, const std::string& path) {
  if (!counts_.defined()) return;
  const auto counts = state.find("counts");
  const auto mix = state.find("mix");
  if (counts == state.end() || mix == state.end() || !counts->second.sizes().equals(counts_.sizes()) ||
      counts->second.scalar_type() != torch::kInt64 || !mix->second.sizes().equals(mix_distance_.sizes()) ||
      mix->second.scalar_type() != torch::kFloat64)
    throw InputError(path + ": corrupt class counts (expected int64 [2, " + std::to_string(counts_.size(1)) +
                     "] and float64 [2])");
  counts_.copy_(counts->second);
  mix_distance_.copy_(mix->second);
}

void ClassCounts::clear() {
  if (!counts_.defined()) return;
  counts_.zero_();
  mix_distance_.zero_();
}

}  // namespace skiptrain::train
