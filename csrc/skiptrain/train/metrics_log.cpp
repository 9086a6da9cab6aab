// JSON-lines metrics file.
#include "skiptrain/train/metrics_log.h"

#include "skiptrain/errors.h"

#include <vector>

namespace skiptrain::train {

MetricsLog::MetricsLog(const std::string& path, int64_t resume_iteration) : path_(path) {
  if (path_.empty()) return;
  std::vector<std::string> kept;
  if (resume_iteration >= 0) {
    std::ifstream in(path_);
    std::string line;
    while (std::getline(in, line)) {
      auto record = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (!record.is_discarded() && record.value("iteration", int64_t{-1}) <= resume_iteration) kept.push_back(line);
    }
  }
  out_.open(path_, std::ios::trunc);
  if (!out_) throw InputError("--metrics: cannot write " + path_);
  for (const auto& line : kept) out_ << line << '\n';
  out_.flush();
}

void MetricsLog::write(const nlohmann::json& record) {
  if (path_.empty()) return;
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) throw InputError("--metrics: cannot write " + path_);
}

}  // namespace skiptrain::train
