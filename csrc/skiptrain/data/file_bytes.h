// Whole-file reads for the dataset readers: a file comes back as bytes in memory,
// gunzipped on the way when it starts with the gzip magic (1f 8b), so every reader
// accepts `name` and `name.gz` alike. Errors are InputError naming the path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace skiptrain::data {

// The contents of `path`, decompressed if it is gzip; throws InputError when the file is
// missing, unreadable or a corrupt/truncated gzip stream.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// True when `bytes` start with the gzip magic 1f 8b.
bool is_gzip(const std::vector<uint8_t>& bytes);

// Gunzips `compressed` (one or more concatenated gzip members); `path` only names the
// source in the InputError thrown for corrupt or truncated data.
std::vector<uint8_t> gunzip(const std::vector<uint8_t>& compressed, const std::string& path);

// `dir/name` if it exists, else `dir/name.gz` if that exists; else throws InputError naming
// both candidates (the raw file is preferred because it needs no decompression).
std::string find_data_file(const std::string& dir, const std::string& name);

}  // namespace skiptrain::data
