// MD5 (RFC 1321), only to verify downloaded dataset files against their published
// checksums; not for anything security-related.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace skiptrain::data {

// Incremental MD5: update() any number of times, then hex_digest() once.
class Md5 {
 public:
  Md5();
  // Feeds `size` bytes.
  void update(const void* data, size_t size);
  // Finishes and returns the 32-char lowercase hex digest; the object is spent afterwards.
  std::string hex_digest();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 4> state_;
  std::array<uint8_t, 64> buffer_{};
  uint64_t length_ = 0;  // bytes fed so far
};

// MD5 of a byte string, as 32 lowercase hex chars.
std::string md5_hex(const std::string& bytes);

// MD5 of a file's raw bytes (not gunzipped); throws InputError when it cannot be read.
std::string md5_file(const std::string& path);

}  // namespace skiptrain::data
