// Instances seen and trained per class, and how far each selected step's class mix strays from
// its incoming batch's: which classes a selection method trains on, beside how many instances it
// trains. A rule that ranks instances by loss can skew both: on ResNet-20 / CIFAR-10 a filter that
// sees the label moved each step's class mix from its batch's by a total variation distance of
// 0.35-0.375 on average, where a uniform draw of the same size strays 0.10 by chance
// (benchmarks/results/filter_class_skew/). Counted on the run's device without host syncs, read
// at each record.
#pragma once

#include "skiptrain/state.h"

#include <torch/types.h>

#include <string>
#include <vector>

namespace skiptrain::train {

// Adds one to counts[label] for each of `labels` (int64, in [0, counts.size(0)), which the dataset
// loaders check); counts is int64 [classes] on the labels' device. No host sync (unlike bincount).
void count_per_class(torch::Tensor& counts, const torch::Tensor& labels);

class ClassCounts {
 public:
  ClassCounts() = default;  // counts nothing until constructed with the classes
  ClassCounts(int64_t classes, c10::Device device);

  // Counts each of `labels` (int64 [n], in [0, classes), on the run's device) as seen or trained.
  void add_seen(const torch::Tensor& labels) { add(kSeen, labels); }
  void add_trained(const torch::Tensor& labels) { add(kTrained, labels); }
  // One selected step: the labels of the incoming batch and of the instances chosen from it to
  // train. Adds the total variation distance between their class mixes (nothing when none trains).
  // The trainer calls it for every step outside the full-stream tail (sgd's too, at distance 0); in a
  // data-parallel run each rank calls it for its own part of each step.
  void add_selection(const torch::Tensor& incoming, const torch::Tensor& chosen);

  // Per class, since the start of the run; empty before construction with the classes.
  std::vector<int64_t> seen() const { return row(kSeen); }
  std::vector<int64_t> trained() const { return row(kTrained); }
  // The mean class-mix distance over the selected steps since the start, and their number.
  double mean_mix_distance() const;
  int64_t selected_batches() const;

  // Copies, on the CPU: "counts" (int64 [2, classes]: seen, trained) and "mix" (float64 [2]: the
  // distances' sum and the selected steps), a checkpoint's "class_counts.*" and what data-parallel
  // ranks sum. Empty before construction with the classes.
  TensorState state() const;
  // Restores state(); InputError naming `path` when an entry is missing or of the wrong shape.
  void load_state(const TensorState& state, const std::string& path);
  void clear();

 private:
  static constexpr int64_t kSeen = 0, kTrained = 1;  // the rows of counts_

  void add(int64_t row, const torch::Tensor& labels);
  std::vector<int64_t> row(int64_t which) const;

  torch::Tensor counts_;        // int64 [2, classes] on the run's device: seen, trained
  torch::Tensor mix_distance_;  // float64 [2] on the run's device: sum of distances, selected steps
};

}  // namespace skiptrain::train
