// Progress reporting on stderr: a bar with rate and ETA on a terminal, plain log
// lines otherwise (stdout is kept for the final JSON summary).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace skiptrain::train {

class Progress {
 public:
  // mode: "auto", "bar", "log" or "none"; total: iterations of the run.
  Progress(const std::string& mode, int64_t total, int64_t start);
  // Called after each iteration; redraws at most ~10 times a second (bar) or every ~5% (log).
  void update(int64_t done, int64_t instances, double loss);
  // A line that must stay visible (an evaluation): printed above the bar.
  void message(const std::string& line);
  void finish();

 private:
  void draw(int64_t done, double rate, double loss, bool final_draw);

  bool bar_ = false;
  bool silent_ = false;
  int64_t total_;
  int64_t start_;
  int64_t last_logged_ = -1;
  int64_t instances_ = 0;
  std::chrono::steady_clock::time_point begin_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace skiptrain::train
