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
