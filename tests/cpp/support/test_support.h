// Helpers shared by the GoogleTest executables: temporary directories, small
// generated data files (so tests never need the real datasets), and loopback ranks.
#pragma once

#include "skiptrain/dist/collective.h"

#include <functional>
#include <string>
#include <vector>

namespace skiptrain::test {

// A fresh directory under the system temp dir, removed when the object dies.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string file(const std::string& name) const;

 private:
  std::string path_;
};

// Sets (or, for nullptr, unsets) an environment variable for the life of the object.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  bool had_ = false;
  std::string old_;
};

// The message of the InputError `body` throws; "" when it throws none.
std::string input_error_of(const std::function<void()>& body);

// Writes `bytes` to `path` (raw, or gzip-compressed when `gzip` is true).
void write_file(const std::string& path, const std::vector<unsigned char>& bytes, bool gzip = false);

// Runs body(collective) on `ranks` threads, each one rank of a data-parallel run over Gloo on
// loopback (a free port); rethrows the first exception a rank threw.
void on_loopback_ranks(int ranks, const std::function<void(dist::Collective&)>& body);

}  // namespace skiptrain::test
