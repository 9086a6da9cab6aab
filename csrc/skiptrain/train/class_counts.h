// Instances seen and trained per class: which classes a selection method trains on, beside how
// many instances it trains. A method that ranks instances by loss can keep the classes the main
// model finds hard and starve the rest; these counts show it. Counted on the run's device (no host
// sync per batch) and read at each record.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace skiptrain::train {

class ClassCounts {
 public:
  ClassCounts() = default;  // counts nothing until constructed with the classes
  ClassCounts(int64_t classes, c10::Device device);

  // Counts each of `labels` (int64 [n], in [0, classes), on the run's device) as seen or trained.
  void add_seen(const torch::Tensor& labels) { add(0, labels); }
  void add_trained(const torch::Tensor& labels) { add(1, labels); }

  // Per class, since the start of the run; empty before construction with the classes.
  std::vector<int64_t> seen() const { return row(0); }
  std::vector<int64_t> trained() const { return row(1); }

  // int64 [2, classes] on the CPU (seen, trained): a checkpoint's "class_counts", and what
  // data-parallel ranks sum.
  torch::Tensor state() const;
  // Restores state(); InputError naming `path` when its shape is not [2, classes].
  void load_state(const torch::Tensor& state, const std::string& path);
  void clear();

 private:
  void add(int64_t which, const torch::Tensor& labels);
  std::vector<int64_t> row(int64_t which) const;

  torch::Tensor counts_;  // int64 [2, classes] on the run's device
};

}  // namespace skiptrain::train
