// Downloading without a network: the plans carry the official checksums, an
// unreachable mirror or a missing curl/wget is a clean InputError, a checksum mismatch
// leaves no file behind, and a verified fetch lands under its final name.
#include "skiptrain/data/download.h"

#include "data/data_fixtures.h"
#include "skiptrain/data/md5.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;
namespace fs = std::filesystem;

namespace {

bool on_path(const std::string& program) {
  return std::system(("command -v " + program + " >/dev/null 2>&1").c_str()) == 0;
}

// Files in `dir` (names only).
std::vector<std::string> listing(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

class ScopedPath {
 public:
  explicit ScopedPath(const std::string& value) : old_(std::getenv("PATH") ? std::getenv("PATH") : "") {
    setenv("PATH", value.c_str(), 1);
  }
  ~ScopedPath() { setenv("PATH", old_.c_str(), 1); }

 private:
  std::string old_;
};

// A mirror nothing listens on: the connection is refused at once, with or without internet.
const std::vector<std::string> kDeadMirror = {"http://127.0.0.1:9/"};

}  // namespace

TEST(Download, PlansCarryOfficialChecksums) {
  auto mnist = sd::download_plan("mnist");
  ASSERT_EQ(mnist.files.size(), 4u);
  EXPECT_EQ(mnist.files[0].name, "train-images-idx3-ubyte.gz");
  EXPECT_EQ(mnist.files[0].md5, "f68b3c2dcbeaaa9fbdd348bbdeb94873");
  EXPECT_FALSE(mnist.extract);
  EXPECT_EQ(sd::download_plan("fashion-mnist").files[3].md5, "bb300cfdad3c16e7a12a480ee83cd310");
  auto c10 = sd::download_plan("cifar10");
  EXPECT_TRUE(c10.extract);
  EXPECT_EQ(c10.files.at(0).md5, "c32a1d4ab5d03f1284b67883e8d87530");
  EXPECT_EQ(sd::download_plan("cifar100").files.at(0).md5, "03b5dce01913d631647c71ecec9e9cb8");
  st::expect_mentions(st::input_error_message([] { sd::download_plan("imagenet"); }), {"imagenet", "mnist"});
}

TEST(Download, UnreachableMirrorFailsCleanly) {
  if (!on_path("curl") && !on_path("wget")) GTEST_SKIP() << "neither curl nor wget installed";
  st::TempDir dir;
  const std::string target = dir.file("mnist");
  auto msg = st::input_error_message([&] { sd::download("mnist", target, kDeadMirror); });
  st::expect_mentions(msg, {target + "/train-images-idx3-ubyte.gz", "download failed", "127.0.0.1:9"});
  EXPECT_TRUE(listing(target).empty()) << "left behind: " << listing(target).size() << " files";
}

TEST(Download, OfficialMirrorsOfflineFailCleanly) {
  // On this machine there is no network; where there is one this would really download, so
  // it only runs when asked to.
  if (std::getenv("SKIPTRAIN_TEST_OFFLINE") == nullptr) GTEST_SKIP() << "set SKIPTRAIN_TEST_OFFLINE=1 to run";
  st::TempDir dir;
  auto msg = st::input_error_message([&] { sd::download("fashion-mnist", dir.path()); });
  std::cout << "offline message: " << msg << "\n";
  st::expect_mentions(msg, {"download failed", "fashion-mnist.s3"});
  EXPECT_TRUE(listing(dir.path()).empty());
}

TEST(Download, NoDownloaderOnPath) {
  st::TempDir dir;
  ScopedPath path(dir.path());  // an empty directory: no curl, no wget
  auto msg = st::input_error_message([&] { sd::download("cifar10", dir.file("c"), kDeadMirror); });
  st::expect_mentions(msg, {"curl", "wget", "cifar-10-binary.tar.gz"});
}

TEST(Download, ChecksumMismatchLeavesNoFile) {
  if (!on_path("curl")) GTEST_SKIP() << "curl (for file:// URLs) not installed";
  st::TempDir mirror, dir;
  st::write_file(mirror.file("train-images-idx3-ubyte.gz"), {'n', 'o', 't', ' ', 'm', 'n', 'i', 's', 't'});
  auto msg = st::input_error_message([&] { sd::download("mnist", dir.path(), {"file://" + mirror.path() + "/"}); });
  st::expect_mentions(msg, {"checksum mismatch", "f68b3c2dcbeaaa9fbdd348bbdeb94873", sd::md5_hex("not mnist")});
  EXPECT_TRUE(listing(dir.path()).empty());
}

TEST(Download, VerifiedFetchLandsUnderFinalName) {
  if (!on_path("curl")) GTEST_SKIP() << "curl (for file:// URLs) not installed";
  st::TempDir mirror, dir;
  st::write_file(mirror.file("blob"), {'a', 'b', 'c'});
  // The first URL fails, the second works: mirrors are tried in order.
  sd::fetch_verified({"http://127.0.0.1:9/blob", "file://" + mirror.file("blob")}, dir.file("out"),
                     "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(listing(dir.path()), std::vector<std::string>{"out"});
  EXPECT_EQ(sd::md5_file(dir.file("out")), "900150983cd24fb0d6963f7d28e17f72");
}
