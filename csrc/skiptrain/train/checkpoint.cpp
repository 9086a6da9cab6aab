// Atomic checkpoint writing and validated reading.
#include "skiptrain/train/checkpoint.h"

#include "skiptrain/errors.h"
#include "skiptrain/train/checkpoint_archive.h"

#include <torch/serialize.h>
#include <torch/torch.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <unistd.h>

namespace skiptrain::train {
namespace {

std::string errno_text() { return std::strerror(errno); }

// Writes all of `bytes` to `fd`, then flushes it to the disk.
bool write_and_sync(int fd, const std::vector<char>& bytes) {
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    written += static_cast<size_t>(n);
  }
  return ::fsync(fd) == 0;
}

void sync_directory(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

std::string get_string(const c10::impl::GenericDict& dict, const char* key, const std::string& path) {
  if (!dict.contains(key) || !dict.at(key).isString())
    throw InputError(path + ": not a skiptrain checkpoint (no '" + std::string(key) + "' entry)");
  return dict.at(key).toStringRef();
}

int64_t get_int(const c10::impl::GenericDict& dict, const char* key, const std::string& path) {
  if (!dict.contains(key) || !dict.at(key).isInt())
    throw InputError(path + ": not a skiptrain checkpoint (no integer '" + std::string(key) + "' entry)");
  return dict.at(key).toInt();
}

// An integer entry that must lie in [low, high]: a model built from a huge spec would
// try to allocate it before anything else noticed.
int64_t get_int_in(const c10::impl::GenericDict& dict, const char* key, int64_t low, int64_t high,
                   const std::string& path) {
  const int64_t value = get_int(dict, key, path);
  if (value < low || value > high)
    throw InputError(path + ": corrupt checkpoint ('" + key + "' is " + std::to_string(value) + ", expected " +
                     std::to_string(low) + ".." + std::to_string(high) + ")");
  return value;
}

// A dense CPU tensor whose elements all lie inside its storage: LibTorch's unpickler takes
// sizes, strides and offset from the file without checking them against the stored bytes.
void check_tensor(const std::string& name, const torch::Tensor& t, const std::string& path) {
  const auto fail = [&](const std::string& why) {
    throw InputError(path + ": corrupt checkpoint (tensor '" + name + "' " + why + ")");
  };
  if (!t.defined() || t.layout() != torch::kStrided || !t.device().is_cpu() || !t.has_storage())
    fail("is not a dense CPU tensor");
  int64_t last = t.storage_offset();
  bool empty = false;
  for (int64_t d = 0; d < t.dim(); ++d) {
    if (t.size(d) < 0 || t.stride(d) < 0) fail("has a negative size or stride");
    empty = empty || t.size(d) == 0;
    int64_t reach = 0;
    if (t.size(d) > 0 && (__builtin_mul_overflow(t.size(d) - 1, t.stride(d), &reach) ||
                          __builtin_add_overflow(last, reach, &last)))
      fail("has sizes and strides that overflow");
  }
  if (empty) return;
  int64_t end = 0;
  if (last < 0 || __builtin_mul_overflow(last + 1, static_cast<int64_t>(t.element_size()), &end) ||
      static_cast<uint64_t>(end) > t.storage().nbytes())
    fail("reaches past the " + std::to_string(t.storage().nbytes()) + " bytes stored for it");
}
}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& checkpoint) {
  c10::impl::GenericDict tensors(c10::StringType::get(), c10::TensorType::get());
  // CPU tensors, so that a run trained on a GPU resumes (and is read by Python) on any machine.
  for (const auto& [name, tensor] : checkpoint.tensors) tensors.insert(name, tensor.to(torch::kCPU).contiguous());
  c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
  root.insert("format", std::string(kCheckpointFormat));
  root.insert("version", kCheckpointVersion);
  root.insert("model", checkpoint.model);
  root.insert("dataset", checkpoint.dataset);
  root.insert("method", checkpoint.method);
  root.insert("in_channels", checkpoint.spec.in_channels);
  root.insert("image_size", checkpoint.spec.image_size);
  root.insert("num_classes", checkpoint.spec.num_classes);
  root.insert("iteration", checkpoint.iteration);
  root.insert("config", checkpoint.config_json);
  root.insert("tensors", tensors);
  const std::vector<char> bytes = torch::pickle_save(root);

  const std::string temp = path + ".tmp-" + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw InputError("--checkpoint: cannot write " + temp + ": " + errno_text());
  const bool ok = write_and_sync(fd, bytes);
  const std::string why = ok ? "" : errno_text();
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = ok ? errno_text() : why;
    ::unlink(temp.c_str());
    throw InputError("--checkpoint: cannot write " + path + ": " + reason + " (the previous checkpoint is unchanged)");
  }
  sync_directory(path);
}

Checkpoint load_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path + ": checkpoint not found or unreadable (check the --checkpoint path)");
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  check_checkpoint_archive(bytes, path);
  c10::IValue value;
  try {
    value = torch::pickle_load(bytes);
  } catch (const std::exception&) {
    throw InputError(path + ": not a readable checkpoint (corrupt, truncated or not written by skiptrain)");
  }
  if (!value.isGenericDict()) throw InputError(path + ": not a skiptrain checkpoint (expected a dict at the top)");
  const auto dict = value.toGenericDict();
  if (get_string(dict, "format", path) != kCheckpointFormat)
    throw InputError(path + ": not a skiptrain checkpoint (format '" + get_string(dict, "format", path) + "')");
  const int64_t version = get_int(dict, "version", path);
  if (version != kCheckpointVersion)
    throw InputError(path + ": checkpoint format version " + std::to_string(version) + ", this skiptrain reads " +
                     std::to_string(kCheckpointVersion));
  Checkpoint c;
  c.model = get_string(dict, "model", path);
  c.dataset = get_string(dict, "dataset", path);
  c.method = get_string(dict, "method", path);
  c.spec.in_channels = get_int_in(dict, "in_channels", 1, 4096, path);
  c.spec.image_size = get_int_in(dict, "image_size", 1, 65536, path);
  c.spec.num_classes = get_int_in(dict, "num_classes", 1, 1 << 24, path);
  c.iteration = get_int_in(dict, "iteration", 0, std::numeric_limits<int64_t>::max(), path);
  c.config_json = get_string(dict, "config", path);
  if (!dict.contains("tensors") || !dict.at("tensors").isGenericDict())
    throw InputError(path + ": not a skiptrain checkpoint (no 'tensors' entry)");
  for (const auto& entry : dict.at("tensors").toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor())
      throw InputError(path + ": corrupt checkpoint ('tensors' holds a non-tensor entry)");
    check_tensor(entry.key().toStringRef(), entry.value().toTensor(), path);
    c.tensors[entry.key().toStringRef()] = entry.value().toTensor();
  }
  return c;
}

}  // namespace skiptrain::train
