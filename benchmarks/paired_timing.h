// For the Google Benchmarks that time skiptrain's code against what it replaces: both run
// back to back in every iteration, so that on a shared machine they see the same load, and
// which goes first alternates, so that neither always finds the caches the other left. The
// iteration time is skiptrain's (UseManualTime); counters give the reference's time and the
// ratio skiptrain / reference. With --benchmark_repetitions=N the "min" aggregate is the figure
// to read: other processes only ever add time.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace skiptrain::bench {

// Seconds one call of `f` takes.
template <typename F>
double seconds_of(F&& f) {
  const auto start = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The smallest value over repetitions, for ComputeStatistics("min", min_of).
inline double min_of(const std::vector<double>& values) { return *std::min_element(values.begin(), values.end()); }

// Sums of paired timings over one benchmark's iterations.
class Paired {
 public:
  // Runs `ours` and `reference` once each, in turns first; the iteration's time is ours.
  template <typename Ours, typename Reference>
  void time(benchmark::State& state, Ours&& ours, Reference&& reference) {
    ours_first_ = !ours_first_;
    if (!ours_first_) reference_s_ += seconds_of(reference);
    const double ours_s = seconds_of(ours);
    if (ours_first_) reference_s_ += seconds_of(reference);
    ours_s_ += ours_s;
    state.SetIterationTime(ours_s);
  }

  // The reference's total time so far.
  double reference_s() const { return reference_s_; }

  // Counters `reference_name` (the reference's mean time, in seconds * `scale`, e.g. 1e3 for ms)
  // and "ratio" (skiptrain's total time / the reference's).
  void report(benchmark::State& state, const std::string& reference_name, double scale) const {
    state.counters[reference_name] = benchmark::Counter(reference_s_ * scale, benchmark::Counter::kAvgIterations);
    state.counters["ratio"] = reference_s_ > 0 ? ours_s_ / reference_s_ : 0.0;
  }

 private:
  double ours_s_ = 0;
  double reference_s_ = 0;
  bool ours_first_ = false;
};

// Registers a benchmark timed by Paired (manual time) in `unit`, with the "min" aggregate.
template <typename F>
benchmark::internal::Benchmark* register_paired(const std::string& name, F&& run, benchmark::TimeUnit unit) {
  return benchmark::RegisterBenchmark(name.c_str(), std::forward<F>(run))
      ->UseManualTime()
      ->Unit(unit)
      ->ComputeStatistics("min", min_of);
}

// Google Benchmark's main after registration: flags, the runs, shutdown; the process's exit code.
inline int run_registered(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace skiptrain::bench
