// How skiptrain's binaries bind the libstdc++ functions that the pip wheel's libtorch.so also
// exports (statically linked copies, some calling through a null weak reference): every link line
// names -lstdc++ before LibTorch (CMakeLists.txt), so these must resolve to a libstdc++: the shared
// one, or a static copy inside a skiptrain binary where the toolchain links libstdc++ statically,
// never libtorch's. Before that, std::filesystem::remove_all on a folder with entries jumped to
// address 0.
#include "support/test_support.h"

#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace {

// The shared object that defines the function at `address`, as the dynamic linker bound it.
std::string library_of(const void* address) {
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fname == nullptr) return "unknown";
  return info.dli_fname;
}

TEST(Linking, FilesystemDoesNotBindToLibtorch) {
  using RemoveAll = std::uintmax_t (*)(const std::filesystem::path&, std::error_code&);
  const RemoveAll remove_all = &std::filesystem::remove_all;
  const std::string library = library_of(reinterpret_cast<const void*>(remove_all));
  EXPECT_EQ(library.find("libtorch"), std::string::npos) << library;
  EXPECT_NE(library, "unknown");
}

// libskiptrain.so itself must take libstdc++ from the shared library, not carry a copy: in Python the
// rest of the process (torch) uses the shared one, and an exception an op raised from a private
// static copy crashed there (pytest's error paths on the GPU machine, whose g++ has no shared
// libstdc++ of its own; benchmarks/results/gpu_run.md). dlsym on libskiptrain's handle searches it
// first, then its dependencies: what its own references would bind to.
TEST(Linking, LibskiptrainTakesLibstdcxxFromTheSharedLibrary) {
  void* handle = dlopen("libskiptrain.so.0", RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr) << "libskiptrain.so.0 is not loaded: " << dlerror();
  for (const char* symbol :
       {"_ZNSt7__cxx1119basic_ostringstreamIcSt11char_traitsIcESaIcEEC1Ev", "__cxa_throw", "__cxa_begin_catch"}) {
    const void* address = dlsym(handle, symbol);
    ASSERT_NE(address, nullptr) << symbol;
    EXPECT_NE(library_of(address).find("libstdc++.so"), std::string::npos) << symbol << " from " << library_of(address);
  }
  dlclose(handle);
}

TEST(Linking, RemoveAllOfAFolderWithEntriesWorks) {
  skiptrain::test::TempDir dir;
  std::filesystem::create_directories(dir.file("a/b"));
  std::ofstream(dir.file("a/b/c")) << "x";
  std::error_code error;
  EXPECT_EQ(std::filesystem::remove_all(dir.file("a"), error), 3u) << error.message();
}

TEST(Linking, ErrorMessagesBuild) {
  // c10::Error's message is built in a std::ostringstream, whose constructor libtorch.so exports too.
  try {
    TORCH_CHECK(false, "keep must be in (0, 1], got keep = ", 2.0);
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("keep = 2"), std::string::npos);
  }
}

}  // namespace
