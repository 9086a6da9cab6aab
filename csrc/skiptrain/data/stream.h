// The incoming stream of mini-batches: epochs of shuffled batches, each gathered from
// the byte images, optionally augmented (pad-4 crop + flip) and normalised to float in
// one pass. Order and augmentation are pure functions of (seed, epoch, position), so
// a stream resumes exactly from (epoch, position) alone.
#pragma once

#include "skiptrain/data/dataset.h"

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace skiptrain::data {

// One incoming mini-batch.
struct Batch {
  torch::Tensor images;   // float [B, C, H, W], normalised, augmented if enabled
  torch::Tensor labels;   // int64 [B]
  torch::Tensor indices;  // int64 [B], positions in the dataset
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// How a Stream cuts, orders and augments the dataset.
struct StreamOptions {
  int64_t batch_size = 64;
  bool shuffle = true;
  bool augment = false;
  bool drop_last = false;
  uint64_t seed = 0;
  // A data-parallel rank's part of each batch: rows [b * shard / shards, b * (shard + 1) / shards)
  // of the batch of b the single process would take, with the same order and augmentation.
  int64_t shard = 0;
  int64_t shards = 1;
};

// Iterates a dataset in epochs of batches. The order of epoch e is a pure function of
// (seed, e) and the augmentation of a batch a pure function of (seed, e, position), so a
// stream resumes exactly from (epoch, position) alone.
class Stream {
 public:
  // Keeps a (shallow) copy of the dataset's tensors; throws InputError for bad options.
  Stream(const Dataset& dataset, const DatasetInfo& info, StreamOptions options);
  // Fills `batch` with the next batch (this shard's rows of it); returns false when the current epoch is over,
  // after which the next call starts the following epoch.
  bool next(Batch& batch);
  // 0-based epoch of the next batch.
  int64_t epoch() const { return epoch_; }
  // Batches already taken in the current epoch.
  int64_t position() const { return position_; }
  // Continues from batch `position` (0..batches_per_epoch()) of epoch `epoch`.
  void seek(int64_t epoch, int64_t position);
  // Batches in one epoch (the last one partial unless drop_last).
  int64_t batches_per_epoch() const { return batches_per_epoch_; }

 private:
  void prepare_order();

  Dataset data_;
  StreamOptions options_;
  std::vector<float> scale_;  // per channel: 1 / (255 * std)
  std::vector<float> shift_;  // per channel: -mean / std
  int64_t batches_per_epoch_ = 0;
  int64_t epoch_ = 0;
  int64_t position_ = 0;
  int64_t order_epoch_ = -1;  // the epoch `order_` belongs to
  std::vector<int64_t> order_;
};

// uint8 images [N, C, H, W] -> float, (x/255 - mean[c]) / std[c]
torch::Tensor normalize(const torch::Tensor& images, const DatasetInfo& info);

// The permutation of 0..n-1 a shuffled Stream uses for epoch `epoch` (Fisher-Yates on a
// mt19937_64 seeded from (seed, epoch); identical on every platform).
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace skiptrain::data
