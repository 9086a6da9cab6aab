// Instances seen and trained per class, and how far each selected batch's class mix strays from
// its incoming batch's: which classes a selection method trains on, beside how many instances it
// trains. A rule that ranks instances by loss can shift the class mix of every step (a filter that
// sees the label did, by a total variation distance of 0.31-0.38 on ResNet-20 / CIFAR-10, where a
// uniform draw of the same size strays 0.09-0.11 by chance) even while each class's share over a
// run stays near the others'. Counted on the run's device (no host sync per batch), read at each
// record.
#pragma once

#include "skiptrain/state.h"

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
  // One selected batch: the labels of the incoming batch and of the instances chosen from it to
  // train. Adds the total variation distance between their class mixes (nothing when none trains).
  void add_selection(const torch::Tensor& incoming, const torch::Tensor& chosen);

  // Per class, since the start of the run; empty before construction with the classes.
  std::vector<int64_t> seen() const { return row(0); }
  std::vector<int64_t> trained() const { return row(1); }
  // The mean class-mix distance over the selected batches since the start, and their number.
  double mean_mix_distance() const;
  int64_t selected_batches() const;

  // "counts" (int64 [2, classes]: seen, trained) and "mix" (float64 [2]: the distances' sum and
  // the selected batches) on the CPU: a checkpoint's "class_counts.*", and what data-parallel
  // ranks sum. Empty before construction with the classes.
  TensorState state() const;
  // Restores state(); InputError naming `path` when an entry is missing or of the wrong shape.
  void load_state(const TensorState& state, const std::string& path);
  void clear();

 private:
  torch::Tensor class_histogram(const torch::Tensor& labels) const;
  void add(int64_t which, const torch::Tensor& labels);
  std::vector<int64_t> row(int64_t which) const;

  torch::Tensor counts_;  // int64 [2, classes] on the run's device
  torch::Tensor mix_;     // float64 [2] on the run's device: sum of distances, selected batches
};

}  // namespace skiptrain::train
