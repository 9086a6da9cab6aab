// Helpers for the Selector tests: incoming batches of a given size (only the size
// matters to the peer selectors) and plans read back as plain index vectors.
#pragma once

#include "skiptrain/data/stream.h"

#include <torch/torch.h>

#include <cstdint>
#include <vector>

namespace skiptrain::test {

// A batch of `m` blank 1x4x4 images labelled 0.
inline data::Batch batch_of(int64_t m) {
  data::Batch b;
  b.images = torch::zeros({m, 1, 4, 4});
  b.labels = torch::zeros({m}, torch::kLong);
  b.indices = torch::arange(m, torch::kLong);
  return b;
}

// An int64 index tensor as a vector.
inline std::vector<int64_t> indices(const torch::Tensor& t) {
  const auto c = t.to(torch::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

}  // namespace skiptrain::test
