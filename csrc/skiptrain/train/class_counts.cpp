// Instances seen and trained per class.
#include "skiptrain/train/class_counts.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

namespace skiptrain::train {

ClassCounts::ClassCounts(int64_t classes, c10::Device device)
    : counts_(torch::zeros({2, classes}, torch::dtype(torch::kInt64).device(device))) {}

void ClassCounts::add(int64_t which, const torch::Tensor& labels) {
  if (!counts_.defined() || labels.numel() == 0) return;
  const int64_t classes = counts_.size(1);
  counts_[which].add_(torch::bincount(labels.to(counts_.device()), {}, classes).slice(0, 0, classes));
}

std::vector<int64_t> ClassCounts::row(int64_t which) const {
  if (!counts_.defined()) return {};
  const auto r = counts_[which].to(torch::kCPU).contiguous();
  return {r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel()};
}

torch::Tensor ClassCounts::state() const { return counts_.defined() ? counts_.to(torch::kCPU) : torch::Tensor(); }

void ClassCounts::load_state(const torch::Tensor& state, const std::string& path) {
  if (!counts_.defined()) return;
  if (state.dim() != 2 || state.size(0) != 2 || state.size(1) != counts_.size(1) ||
      state.scalar_type() != torch::kInt64)
    throw InputError(path + ": corrupt class counts (expected int64 [2, " + std::to_string(counts_.size(1)) + "])");
  counts_.copy_(state);
}

void ClassCounts::clear() {
  if (counts_.defined()) counts_.zero_();
}

}  // namespace skiptrain::train
