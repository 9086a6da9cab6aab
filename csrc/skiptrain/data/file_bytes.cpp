// Whole-file reads with transparent gunzip (zlib), and the raw-or-.gz file lookup
// shared by the IDX and CIFAR readers.
#include "skiptrain/data/file_bytes.h"

#include "skiptrain/errors.h"

#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <filesystem>
#include <limits>

namespace skiptrain::data {

bool is_gzip(const std::vector<uint8_t>& bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& path) {
  std::vector<uint8_t> out;
  // The gzip trailer holds the uncompressed size mod 2^32: a good first guess for the buffer.
  if (compressed.size() >= 18) {
    const uint8_t* t = compressed.data() + compressed.size() - 4;
    uint32_t isize = uint32_t(t[0]) | uint32_t(t[1]) << 8 | uint32_t(t[2]) << 16 | uint32_t(t[3]) << 24;
    // Deflate cannot expand more than ~1032x: a corrupt trailer must not allocate gigabytes.
    out.reserve(std::min<size_t>(isize, compressed.size() * 1032));
  }
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) {
    throw InputError(path + ": cannot initialise zlib to decompress it");
  }
  size_t in_pos = 0;
  uint8_t chunk[1 << 16];
  bool member_done = false;
  while (true) {
    if (zs.avail_in == 0 && in_pos < compressed.size()) {
      size_t n = std::min<size_t>(compressed.size() - in_pos, std::numeric_limits<uInt>::max());
      zs.next_in = const_cast<Bytef*>(compressed.data() + in_pos);
      zs.avail_in = static_cast<uInt>(n);
      in_pos += n;
    }
    zs.next_out = chunk;
    zs.avail_out = sizeof(chunk);
    int rc = inflate(&zs, Z_NO_FLUSH);
    out.insert(out.end(), chunk, chunk + (sizeof(chunk) - zs.avail_out));
    if (rc == Z_STREAM_END) {
      member_done = true;
      // Concatenated members (as `cat a.gz b.gz` makes) are one valid gzip file.
      if (zs.avail_in == 0 && in_pos >= compressed.size()) break;
      if (zs.avail_in > 0 && zs.next_in[0] != 0x1f) break;  // trailing garbage/padding: stop here
      inflateReset(&zs);
      member_done = false;
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      std::string why = zs.msg ? zs.msg : "error " + std::to_string(rc);
      inflateEnd(&zs);
      throw InputError(path + ": corrupt gzip data (" + why + ")");
    }
    if (rc == Z_BUF_ERROR && zs.avail_in == 0 && in_pos >= compressed.size()) break;  // input ran out
  }
  inflateEnd(&zs);
  if (!member_done) {
    throw InputError(path + ": truncated gzip data (the compressed stream ends early after " +
                     std::to_string(out.size()) + " bytes)");
  }
  return out;
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(path + ": file not found");
  if (std::filesystem::is_directory(path, ec)) throw InputError(path + ": expected a file, found a directory");
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw InputError(path + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes;
  auto size = std::filesystem::file_size(path, ec);
  if (!ec) bytes.resize(size);
  size_t got = bytes.empty() ? 0 : std::fread(bytes.data(), 1, bytes.size(), f);
  bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed || got != bytes.size()) {
    throw InputError(path + ": read error (expected " + std::to_string(bytes.size()) + " bytes, got " +
                     std::to_string(got) + ")");
  }
  if (is_gzip(bytes)) return gunzip(bytes, path);
  return bytes;
}

std::string find_data_file(const std::string& dir, const std::string& name) {
  std::error_code ec;
  std::string raw = dir + "/" + name;
  if (std::filesystem::is_regular_file(raw, ec)) return raw;
  std::string gz = raw + ".gz";
  if (std::filesystem::is_regular_file(gz, ec)) return gz;
  throw InputError(raw + ": file not found (looked for " + name + " and " + name + ".gz in " + dir + ")");
}

}  // namespace skiptrain::data
