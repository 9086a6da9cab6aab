// Replays every input the fuzzers found crashing (tests/fuzz/regressions/<target>/)
// through the same code the fuzz target runs (tests/fuzz/fuzz_targets.h): each must
// now end in an InputError or a clean load. Under `make test-asan` the sanitizers watch too.
#include "fuzz_targets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

namespace {

void replay(const std::string& target, const std::function<void(const std::string&)>& exercise) {
  const std::filesystem::path dir = std::filesystem::path(SKIPTRAIN_FUZZ_REGRESSIONS) / target;
  int inputs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    EXPECT_NO_THROW(exercise(entry.path().string()));
    ++inputs;
  }
  EXPECT_GT(inputs, 0) << "no regression inputs in " << dir;
}

TEST(FuzzRegressions, Checkpoint) { replay("checkpoint", skiptrain::fuzz::exercise_checkpoint); }

}  // namespace
