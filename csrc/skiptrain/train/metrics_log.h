// The metrics file: one JSON object per line, one line per evaluation. On resume,
// records newer than the checkpoint (written after it, then lost to a crash) are
// dropped so that the file reads as if the run had never stopped.
#pragma once

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

namespace skiptrain::train {

class MetricsLog {
 public:
  // path empty = no file. resume_iteration >= 0 keeps the records up to that iteration
  // and appends; -1 starts a new file.
  MetricsLog(const std::string& path, int64_t resume_iteration);
  // Appends one record and flushes it to the file.
  void write(const nlohmann::json& record);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace skiptrain::train
