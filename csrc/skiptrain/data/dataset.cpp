// The registry of known datasets: their static facts (shape, classes, normalisation
// constants), where their files are looked for, and load() dispatching to the IDX or
// CIFAR readers.
#include "skiptrain/data/dataset.h"

#include "skiptrain/data/cifar.h"
#include "skiptrain/data/idx.h"
#include "skiptrain/errors.h"

#include <cstdlib>
#include <filesystem>

namespace skiptrain::data {
namespace {

// Where Debian's fashion-mnist package puts the IDX files.
const char* const kDebianFashionMnist = "/usr/share/datasets/fashion-mnist";

std::string joined_names() {
  std::string out;
  for (const auto& n : dataset_names()) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

std::vector<std::string> dataset_names() { return {"mnist", "fashion-mnist", "cifar10", "cifar100"}; }

DatasetInfo dataset_info(const std::string& name) {
  DatasetInfo info;
  info.name = name;
  if (name == "mnist") {
    info.mean = {0.1307};
    info.std = {0.3081};
  } else if (name == "fashion-mnist") {
    info.mean = {0.2860};
    info.std = {0.3530};
  } else if (name == "cifar10" || name == "cifar100") {
    info.in_channels = 3;
    info.image_size = 32;
    info.augment_by_default = true;
    if (name == "cifar10") {
      info.mean = {0.4914, 0.4822, 0.4465};
      info.std = {0.2470, 0.2435, 0.2616};
    } else {
      info.num_classes = 100;
      info.mean = {0.5071, 0.4865, 0.4409};
      info.std = {0.2673, 0.2564, 0.2762};
    }
  } else {
    throw InputError("unknown dataset '" + name + "': expected one of " + joined_names());
  }
  return info;
}

std::string resolve_data_dir(const std::string& name, const std::string& flag_dir) {
  dataset_info(name);  // rejects unknown names first
  std::error_code ec;
  if (!flag_dir.empty()) {
    if (!std::filesystem::is_directory(flag_dir, ec)) {
      throw InputError("--data-dir " + flag_dir + ": directory not found");
    }
    return flag_dir;
  }
  if (const char* env = std::getenv("SKIPTRAIN_DATA"); env != nullptr && *env != '\0') {
    std::string dir = std::string(env) + "/" + name;
    if (std::filesystem::is_directory(dir, ec)) return dir;
  }
  if (name == "fashion-mnist" && std::filesystem::is_directory(kDebianFashionMnist, ec)) return kDebianFashionMnist;
  const char* env = std::getenv("SKIPTRAIN_DATA");
  std::string looked = env != nullptr && *env != '\0' ? " (looked in $SKIPTRAIN_DATA/" + name + " = " +
                                                            std::string(env) + "/" + name + ")"
                                                      : " ($SKIPTRAIN_DATA is not set)";
  throw InputError("no data directory for " + name + looked + ": pass --data-dir <dir> or set SKIPTRAIN_DATA " +
                   "to a folder holding " + name + "/, or run `skiptrain download " + name + " <dir>`");
}

TrainTest load(const std::string& name, const std::string& dir) {
  TrainTest out;
  out.info = dataset_info(name);
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) throw InputError(dir + ": data directory not found (for " + name + ")");
  const DatasetInfo& info = out.info;
  if (name == "mnist" || name == "fashion-mnist") {
    out.train = load_idx_split(dir, "train", info.num_classes, info.image_size);
    out.test = load_idx_split(dir, "t10k", info.num_classes, info.image_size);
  } else if (name == "cifar10") {
    out.train = load_cifar10_split(dir, true);
    out.test = load_cifar10_split(dir, false);
  } else {
    out.train = load_cifar100_split(dir, true);
    out.test = load_cifar100_split(dir, false);
  }
  return out;
}

}  // namespace skiptrain::data
