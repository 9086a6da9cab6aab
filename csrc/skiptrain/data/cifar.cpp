// CIFAR-10/100 binary readers: records are validated (whole number, non-empty, labels
// in range) and split into a CHW byte image tensor and an int64 label tensor.
#include "skiptrain/data/cifar.h"

#include "skiptrain/data/file_bytes.h"
#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <cstring>
#include <filesystem>

namespace skiptrain::data {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32;

// `dir` when it holds `probe` (raw or .gz), else `dir/subdir` when that does, else `dir`
// (so the missing-file error names the data dir the user gave).
std::string cifar_dir(const std::string& dir, const std::string& subdir, const std::string& probe) {
  std::error_code ec;
  auto has = [&](const std::string& d) {
    return std::filesystem::is_regular_file(d + "/" + probe, ec) ||
           std::filesystem::is_regular_file(d + "/" + probe + ".gz", ec);
  };
  if (has(dir)) return dir;
  if (has(dir + "/" + subdir)) return dir + "/" + subdir;
  return dir;
}

}  // namespace

Dataset read_cifar_files(const std::vector<std::string>& paths, const CifarFormat& format) {
  const int64_t record = format.label_bytes + kPixels;
  std::vector<std::vector<uint8_t>> files;
  int64_t total = 0;
  for (const auto& path : paths) {
    files.push_back(read_file_bytes(path));
    const auto size = static_cast<int64_t>(files.back().size());
    if (size == 0 || size % record != 0) {
      throw InputError(path + ": expected a non-empty multiple of " + std::to_string(record) +
                       "-byte records (" + std::to_string(format.label_bytes) + " label byte(s) + " +
                       std::to_string(kPixels) + " pixels), found " + std::to_string(size) + " bytes" +
                       (size == 0 ? "" : " (truncated or not a CIFAR-" + std::to_string(format.num_classes) +
                                             " binary file)"));
    }
    total += size / record;
  }
  Dataset d;
  d.num_classes = format.num_classes;
  d.images = torch::empty({total, 3, 32, 32}, torch::kUInt8);
  d.labels = torch::empty({total}, torch::kInt64);
  uint8_t* images = d.images.data_ptr<uint8_t>();
  int64_t* labels = d.labels.data_ptr<int64_t>();
  int64_t item = 0;
  for (size_t f = 0; f < files.size(); ++f) {
    const uint8_t* p = files[f].data();
    const int64_t n = static_cast<int64_t>(files[f].size()) / record;
    for (int64_t i = 0; i < n; ++i, ++item, p += record) {
      const int64_t label = p[format.label_offset];
      if (label >= format.num_classes) {
        throw InputError(paths[f] + ": expected labels in [0, " + std::to_string(format.num_classes) +
                         "), found " + std::to_string(label) + " in record " + std::to_string(i));
      }
      labels[item] = label;
      std::memcpy(images + item * kPixels, p + format.label_bytes, kPixels);
    }
  }
  return d;
}

Dataset load_cifar10_split(const std::string& dir, bool train) {
  const std::string base = cifar_dir(dir, "cifar-10-batches-bin", train ? "data_batch_1.bin" : "test_batch.bin");
  std::vector<std::string> paths;
  if (train) {
    for (int i = 1; i <= 5; ++i) paths.push_back(find_data_file(base, "data_batch_" + std::to_string(i) + ".bin"));
  } else {
    paths.push_back(find_data_file(base, "test_batch.bin"));
  }
  return read_cifar_files(paths, kCifar10Format);
}

Dataset load_cifar100_split(const std::string& dir, bool train) {
  const std::string name = train ? "train.bin" : "test.bin";
  const std::string base = cifar_dir(dir, "cifar-100-binary", name);
  return read_cifar_files({find_data_file(base, name)}, kCifar100Format);
}

}  // namespace skiptrain::data
