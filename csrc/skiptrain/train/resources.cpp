// Thread configuration and resource readings.
#include "skiptrain/train/resources.h"

#include <ATen/Parallel.h>

#include <fstream>
#include <sched.h>
#include <sys/resource.h>
#include <thread>

namespace skiptrain::train {

int64_t available_cores() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return std::max<int64_t>(1, std::thread::hardware_concurrency());
}

int64_t configure_threads(int64_t threads) {
  const int64_t n = threads > 0 ? threads : available_cores();
  at::set_num_threads(static_cast<int>(n));
  return n;
}

double peak_rss_mb() {
  struct rusage usage {};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss / 1024.0;  // ru_maxrss is in KiB on Linux
}

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

}  // namespace skiptrain::train
