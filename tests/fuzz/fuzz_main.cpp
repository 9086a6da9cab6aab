// The libFuzzer entry point of one fuzz target, compiled once per target with
// SKIPTRAIN_FUZZ_EXERCISE naming its function in fuzz_targets.h: the input bytes
// become a file (the readers take paths) and the file is handed to that function.
#include "fuzz_targets.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace {

// A per-process scratch file in the temp dir, removed at exit.
struct ScratchFile {
  std::string path = (std::filesystem::temp_directory_path() /
                      ("skiptrain-fuzz-" + std::to_string(::getpid()) + ".bin")).string();
  ~ScratchFile() { std::remove(path.c_str()); }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static ScratchFile scratch;
  FILE* f = std::fopen(scratch.path.c_str(), "wb");
  if (f == nullptr) return 0;
  if (size > 0) std::fwrite(data, 1, size, f);
  std::fclose(f);
  skiptrain::fuzz::SKIPTRAIN_FUZZ_EXERCISE(scratch.path);
  return 0;
}
