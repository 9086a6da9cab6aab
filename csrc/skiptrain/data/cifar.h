// Readers for the binary versions of CIFAR-10 and CIFAR-100 (raw or .gz). A CIFAR-10
// record is 1 label byte + 3072 pixel bytes (3x32x32, CHW); a CIFAR-100 record is a
// coarse label byte, a fine label byte, then 3072 pixel bytes (the fine label is used).
// Files may sit in the data dir or in the folder their tarball extracts to.
#pragma once

#include "skiptrain/data/dataset.h"

#include <string>
#include <vector>

namespace skiptrain::data {

// Record layout of one CIFAR binary format.
struct CifarFormat {
  int64_t label_bytes;   // label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100)
  int64_t label_offset;  // which of them is the label used: 0 (CIFAR-10) or 1 (CIFAR-100 fine)
  int64_t num_classes;   // 10 or 100
};

// CIFAR-10's record layout.
constexpr CifarFormat kCifar10Format{1, 0, 10};
// CIFAR-100's record layout (fine labels).
constexpr CifarFormat kCifar100Format{2, 1, 100};

// Reads and concatenates CIFAR record files into images uint8 [N, 3, 32, 32] and int64 labels.
// Each file must be non-empty, a whole number of records long, with labels in range.
Dataset read_cifar_files(const std::vector<std::string>& paths, const CifarFormat& format);

// CIFAR-10 from `dir` (or dir/cifar-10-batches-bin): train = data_batch_1..5.bin, test = test_batch.bin.
Dataset load_cifar10_split(const std::string& dir, bool train);

// CIFAR-100 from `dir` (or dir/cifar-100-binary): train.bin or test.bin.
Dataset load_cifar100_split(const std::string& dir, bool train);

}  // namespace skiptrain::data
