// Small generated dataset files for the data-layer tests: IDX images/labels and
// CIFAR records with known contents, and a helper that captures an InputError's
// message so tests can check that it names the file or flag.
#pragma once

#include "skiptrain/errors.h"
#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace skiptrain::test {

// The pixel value the generators put at byte k of image i: varied, and known to the tests.
inline uint8_t pixel(int64_t i, int64_t k) { return static_cast<uint8_t>((i * 31 + k * 7) % 251); }

inline void put_be32(std::vector<unsigned char>& out, uint32_t v) {
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<unsigned char>(v >> s));
}

// An IDX image file: header (magic, n, rows, cols), then n*rows*cols pixels.
inline std::vector<unsigned char> idx_images(uint32_t n, uint32_t rows = 28, uint32_t cols = 28,
                                             uint32_t magic = 2051) {
  std::vector<unsigned char> out;
  put_be32(out, magic);
  put_be32(out, n);
  put_be32(out, rows);
  put_be32(out, cols);
  for (uint32_t i = 0; i < n; ++i) {
    for (uint32_t k = 0; k < rows * cols; ++k) out.push_back(pixel(i, k));
  }
  return out;
}

// An IDX label file holding `labels`.
inline std::vector<unsigned char> idx_labels(const std::vector<unsigned char>& labels, uint32_t magic = 2049) {
  std::vector<unsigned char> out;
  put_be32(out, magic);
  put_be32(out, static_cast<uint32_t>(labels.size()));
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

// Labels 0, 1, ..., classes-1, 0, 1, ... of length n.
inline std::vector<unsigned char> cyclic_labels(uint32_t n, uint32_t classes = 10) {
  std::vector<unsigned char> out;
  for (uint32_t i = 0; i < n; ++i) out.push_back(static_cast<unsigned char>(i % classes));
  return out;
}

// Writes a complete MNIST-style directory (train and t10k splits).
inline void write_mnist_dir(const std::string& dir, uint32_t train, uint32_t test, bool gzip) {
  const std::string ext = gzip ? ".gz" : "";
  write_file(dir + "/train-images-idx3-ubyte" + ext, idx_images(train), gzip);
  write_file(dir + "/train-labels-idx1-ubyte" + ext, idx_labels(cyclic_labels(train)), gzip);
  write_file(dir + "/t10k-images-idx3-ubyte" + ext, idx_images(test), gzip);
  write_file(dir + "/t10k-labels-idx1-ubyte" + ext, idx_labels(cyclic_labels(test)), gzip);
}

// n CIFAR records; label_bytes 1 (CIFAR-10: label i%10) or 2 (CIFAR-100: coarse i%20, fine
// i%100); pixels pixel(first_item + i, k).
inline std::vector<unsigned char> cifar_records(uint32_t n, int label_bytes, int64_t first_item = 0) {
  std::vector<unsigned char> out;
  for (uint32_t i = 0; i < n; ++i) {
    const int64_t item = first_item + i;
    if (label_bytes == 1) {
      out.push_back(static_cast<unsigned char>(item % 10));
    } else {
      out.push_back(static_cast<unsigned char>(item % 20));
      out.push_back(static_cast<unsigned char>(item % 100));
    }
    for (int k = 0; k < 3072; ++k) out.push_back(pixel(item, k));
  }
  return out;
}

// The message of the InputError `f` throws; records a test failure when it throws none.
template <class F>
std::string input_error_message(F&& f) {
  try {
    f();
  } catch (const skiptrain::InputError& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected InputError, got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected InputError, nothing was thrown";
  return "";
}

// EXPECT that `message` contains every one of `parts`.
inline void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const auto& p : parts) EXPECT_NE(message.find(p), std::string::npos) << "'" << p << "' missing from: " << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << "message should be one line: " << message;
}

}  // namespace skiptrain::test
