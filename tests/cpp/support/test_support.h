// Helpers shared by the GoogleTest executables: temporary directories and
// small generated data files, so tests never need the real datasets.
#pragma once

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

// Writes `bytes` to `path` (raw, or gzip-compressed when `gzip` is true).
void write_file(const std::string& path, const std::vector<unsigned char>& bytes, bool gzip = false);

}  // namespace skiptrain::test
