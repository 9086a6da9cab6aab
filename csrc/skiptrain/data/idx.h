// Readers for the IDX files of MNIST and Fashion-MNIST (raw or .gz): images
// (magic 2051, big-endian header N, rows, cols, then N*rows*cols bytes) and labels
// (magic 2049, header N, then N bytes). Every malformed file is an InputError naming
// the file, what was expected and what was found.
#pragma once

#include "skiptrain/data/dataset.h"

#include <torch/types.h>

#include <string>

namespace skiptrain::data {

// Reads an IDX image file into uint8 [N, 1, rows, cols]; rows and cols must equal `image_size`.
torch::Tensor read_idx_images(const std::string& path, int64_t image_size = 28);

// Reads an IDX label file into int64 [N]; every label must be < `num_classes`.
torch::Tensor read_idx_labels(const std::string& path, int64_t num_classes = 10);

// Loads one split from `dir`: `prefix` is "train" or "t10k" (files <prefix>-images-idx3-ubyte and
// <prefix>-labels-idx1-ubyte, each raw or .gz); checks that images and labels have the same count.
Dataset load_idx_split(const std::string& dir, const std::string& prefix, int64_t num_classes = 10,
                       int64_t image_size = 28);

}  // namespace skiptrain::data
