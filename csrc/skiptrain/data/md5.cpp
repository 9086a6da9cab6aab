// MD5 through libcrypto's EVP digest API, one context per digest.
#include "skiptrain/data/md5.h"

#include "skiptrain/errors.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace skiptrain::data {
namespace {

// An MD5 digest in progress: update() any number of times, then hex_digest() once.
class Md5 {
 public:
  Md5() : context_(EVP_MD_CTX_new(), EVP_MD_CTX_free) {
    check(context_ != nullptr && EVP_DigestInit_ex(context_.get(), EVP_md5(), nullptr) == 1);
  }
  void update(const void* data, size_t size) { check(EVP_DigestUpdate(context_.get(), data, size) == 1); }
  std::string hex_digest() {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    check(EVP_DigestFinal_ex(context_.get(), digest, &size) == 1);
    static const char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < size; ++i) {
      out += hex[digest[i] >> 4];
      out += hex[digest[i] & 15];
    }
    return out;
  }

 private:
  // libcrypto fails here only without memory or without its default provider: not the user's input.
  static void check(bool ok) {
    if (!ok) throw std::runtime_error("libcrypto could not compute an MD5 digest");
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context_;
};

}  // namespace

std::string md5_hex(const std::string& bytes) {
  Md5 md5;
  md5.update(bytes.data(), bytes.size());
  return md5.hex_digest();
}

std::string md5_file(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw InputError(path + ": cannot open to checksum (" + std::strerror(errno) + ")");
  Md5 md5;
  std::vector<char> buf(1 << 16);
  size_t got;
  while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) md5.update(buf.data(), got);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) throw InputError(path + ": read error while checksumming");
  return md5.hex_digest();
}

}  // namespace skiptrain::data
