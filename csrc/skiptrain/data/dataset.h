// In-memory image classification datasets and the registry of known ones
// (mnist, fashion-mnist, cifar10, cifar100): names, shapes, normalisation
// constants, file names and where their files are looked for.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

namespace skiptrain::data {

// Images as bytes, as read from disk; batches are converted to float on the way out.
struct Dataset {
  torch::Tensor images;  // uint8 [N, C, H, W]
  torch::Tensor labels;  // int64 [N], each in [0, num_classes)
  int64_t num_classes = 10;
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// Static facts about a named dataset.
struct DatasetInfo {
  std::string name;
  int64_t in_channels = 1;
  int64_t image_size = 28;
  int64_t num_classes = 10;
  std::vector<double> mean;  // per channel, of pixel/255 on the training set
  std::vector<double> std;
  bool augment_by_default = false;  // CIFAR: pad-4 random crop + horizontal flip
};

struct TrainTest {
  DatasetInfo info;
  Dataset train;
  Dataset test;
};

// The dataset names load() accepts.
std::vector<std::string> dataset_names();

// Facts about `name`; throws InputError listing the valid names.
DatasetInfo dataset_info(const std::string& name);

// The directory to read `name` from: `flag_dir` if not empty, else $SKIPTRAIN_DATA/<name>,
// else the Debian package's path for fashion-mnist. Throws InputError when none applies.
std::string resolve_data_dir(const std::string& name, const std::string& flag_dir);

// Loads the train and test splits of `name` from `dir` (files gzip-compressed or raw).
// Throws InputError naming the file, what was expected and what was found.
TrainTest load(const std::string& name, const std::string& dir);

}  // namespace skiptrain::data
