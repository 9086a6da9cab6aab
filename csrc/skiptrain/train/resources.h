// Machine resources a run reads or sets: cores, thread counts, peak memory.
#pragma once

#include <cstdint>
#include <string>

namespace skiptrain::train {

// Cores this process may run on.
int64_t available_cores();

// Sets LibTorch's intra-op threads to `threads` (0 = all cores); returns the count set.
int64_t configure_threads(int64_t threads);

// Peak resident set size of this process so far, in MiB.
double peak_rss_mb();

// "model name" of the CPU, for benchmark reports.
std::string cpu_model();

}  // namespace skiptrain::train
