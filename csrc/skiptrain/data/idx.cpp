// IDX (MNIST-format) image and label readers with strict validation: magic number,
// header length, declared counts vs file length, image size, label range.
#include "skiptrain/data/idx.h"

#include "skiptrain/data/file_bytes.h"
#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <cstring>

namespace skiptrain::data {
namespace {

constexpr uint32_t kImageMagic = 2051;  // 0x00000803: unsigned byte, 3 dimensions
constexpr uint32_t kLabelMagic = 2049;  // 0x00000801: unsigned byte, 1 dimension

uint32_t read_be32(const uint8_t* p) {
  return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | uint32_t(p[3]);
}

// Checks the header length and the magic; returns the bytes.
std::vector<uint8_t> read_checked(const std::string& path, uint32_t magic, size_t header, const char* what) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  if (bytes.size() < header) {
    throw InputError(path + ": expected an IDX " + what + " file with a " + std::to_string(header) +
                     "-byte header, found only " + std::to_string(bytes.size()) + " bytes");
  }
  uint32_t found = read_be32(bytes.data());
  if (found != magic) {
    throw InputError(path + ": expected IDX " + what + " magic number " + std::to_string(magic) + ", found " +
                     std::to_string(found) +
                     (found == kImageMagic || found == kLabelMagic ? " (images and labels swapped?)" : ""));
  }
  return bytes;
}

void check_length(const std::string& path, const std::vector<uint8_t>& bytes, size_t header, uint64_t count,
                  uint64_t item_bytes, const char* what) {
  uint64_t expected = header + count * item_bytes;
  if (bytes.size() != expected) {
    throw InputError(path + ": expected " + std::to_string(expected) + " bytes (" + std::to_string(header) +
                     "-byte header + " + std::to_string(count) + " " + what + " of " + std::to_string(item_bytes) +
                     " bytes), found " + std::to_string(bytes.size()) +
                     (bytes.size() < expected ? " (truncated file)" : " (trailing bytes)"));
  }
}

}  // namespace

torch::Tensor read_idx_images(const std::string& path, int64_t image_size) {
  std::vector<uint8_t> bytes = read_checked(path, kImageMagic, 16, "image");
  uint64_t n = read_be32(bytes.data() + 4);
  uint64_t rows = read_be32(bytes.data() + 8);
  uint64_t cols = read_be32(bytes.data() + 12);
  if (int64_t(rows) != image_size || int64_t(cols) != image_size) {
    throw InputError(path + ": expected " + std::to_string(image_size) + "x" + std::to_string(image_size) +
                     " images, found " + std::to_string(rows) + "x" + std::to_string(cols));
  }
  check_length(path, bytes, 16, n, rows * cols, "images");
  auto images = torch::empty({int64_t(n), 1, int64_t(rows), int64_t(cols)}, torch::kUInt8);
  if (n > 0) std::memcpy(images.data_ptr<uint8_t>(), bytes.data() + 16, n * rows * cols);
  return images;
}

torch::Tensor read_idx_labels(const std::string& path, int64_t num_classes) {
  std::vector<uint8_t> bytes = read_checked(path, kLabelMagic, 8, "label");
  uint64_t n = read_be32(bytes.data() + 4);
  check_length(path, bytes, 8, n, 1, "labels");
  auto labels = torch::empty({int64_t(n)}, torch::kInt64);
  int64_t* out = labels.data_ptr<int64_t>();
  const uint8_t* in = bytes.data() + 8;
  for (uint64_t i = 0; i < n; ++i) {
    if (in[i] >= num_classes) {
      throw InputError(path + ": expected labels in [0, " + std::to_string(num_classes) + "), found " +
                       std::to_string(int(in[i])) + " at item " + std::to_string(i));
    }
    out[i] = in[i];
  }
  return labels;
}

Dataset load_idx_split(const std::string& dir, const std::string& prefix, int64_t num_classes,
                       int64_t image_size) {
  std::string images_path = find_data_file(dir, prefix + "-images-idx3-ubyte");
  std::string labels_path = find_data_file(dir, prefix + "-labels-idx1-ubyte");
  Dataset d;
  d.images = read_idx_images(images_path, image_size);
  d.labels = read_idx_labels(labels_path, num_classes);
  d.num_classes = num_classes;
  if (d.images.size(0) != d.labels.size(0)) {
    throw InputError(labels_path + ": expected " + std::to_string(d.images.size(0)) + " labels to match " +
                     images_path + ", found " + std::to_string(d.labels.size(0)));
  }
  return d;
}

}  // namespace skiptrain::data
