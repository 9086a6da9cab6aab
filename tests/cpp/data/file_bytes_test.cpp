// Whole-file reads: raw and gzip give the same bytes; missing files, directories and
// corrupt or truncated gzip streams are InputErrors naming the path.
#include "skiptrain/data/file_bytes.h"

#include "data/data_fixtures.h"

#include <gtest/gtest.h>

#include <fstream>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;

namespace {

std::vector<unsigned char> sample_bytes(size_t n) {
  std::vector<unsigned char> b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>((i * 131) ^ (i >> 7));
  return b;
}

std::vector<unsigned char> raw_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace

TEST(FileBytes, RawAndGzipReadTheSame) {
  st::TempDir dir;
  const auto bytes = sample_bytes(300000);  // several inflate chunks
  st::write_file(dir.file("a"), bytes, false);
  st::write_file(dir.file("a.gz"), bytes, true);
  EXPECT_FALSE(sd::is_gzip(raw_file(dir.file("a"))));
  EXPECT_TRUE(sd::is_gzip(raw_file(dir.file("a.gz"))));
  EXPECT_EQ(sd::read_file_bytes(dir.file("a")), bytes);
  EXPECT_EQ(sd::read_file_bytes(dir.file("a.gz")), bytes);
}

TEST(FileBytes, EmptyFileIsEmpty) {
  st::TempDir dir;
  st::write_file(dir.file("e"), {}, false);
  EXPECT_TRUE(sd::read_file_bytes(dir.file("e")).empty());
}

TEST(FileBytes, ConcatenatedGzipMembersAreOneFile) {
  st::TempDir dir;
  const auto a = sample_bytes(1000), b = sample_bytes(77);
  st::write_file(dir.file("a.gz"), a, true);
  st::write_file(dir.file("b.gz"), b, true);
  auto both = raw_file(dir.file("a.gz"));
  const auto second = raw_file(dir.file("b.gz"));
  both.insert(both.end(), second.begin(), second.end());
  st::write_file(dir.file("ab.gz"), both, false);
  auto expected = a;
  expected.insert(expected.end(), b.begin(), b.end());
  EXPECT_EQ(sd::read_file_bytes(dir.file("ab.gz")), expected);
}

TEST(FileBytes, MissingFileNamesThePath) {
  st::TempDir dir;
  const std::string path = dir.file("nope.bin");
  st::expect_mentions(st::input_error_message([&] { sd::read_file_bytes(path); }), {path, "not found"});
}

TEST(FileBytes, DirectoryIsNotAFile) {
  st::TempDir dir;
  st::expect_mentions(st::input_error_message([&] { sd::read_file_bytes(dir.path()); }), {dir.path(), "directory"});
}

TEST(FileBytes, CorruptGzipNamesThePath) {
  st::TempDir dir;
  st::write_file(dir.file("c.gz"), sample_bytes(5000), true);
  auto bytes = raw_file(dir.file("c.gz"));
  for (size_t i = 12; i < bytes.size() - 8; ++i) bytes[i] ^= 0x5a;  // keep the header, scramble the stream
  st::write_file(dir.file("c.gz"), bytes, false);
  st::expect_mentions(st::input_error_message([&] { sd::read_file_bytes(dir.file("c.gz")); }),
                      {dir.file("c.gz"), "gzip"});
}

TEST(FileBytes, TruncatedGzipNamesThePath) {
  st::TempDir dir;
  st::write_file(dir.file("t.gz"), sample_bytes(50000), true);
  auto bytes = raw_file(dir.file("t.gz"));
  bytes.resize(bytes.size() / 2);
  st::write_file(dir.file("t.gz"), bytes, false);
  st::expect_mentions(st::input_error_message([&] { sd::read_file_bytes(dir.file("t.gz")); }),
                      {dir.file("t.gz"), "truncated gzip"});
}

TEST(FileBytes, FindDataFilePrefersRawThenGzip) {
  st::TempDir dir;
  st::expect_mentions(st::input_error_message([&] { sd::find_data_file(dir.path(), "x"); }),
                      {dir.file("x"), "x.gz"});
  st::write_file(dir.file("x.gz"), {1}, true);
  EXPECT_EQ(sd::find_data_file(dir.path(), "x"), dir.file("x.gz"));
  st::write_file(dir.file("x"), {1}, false);
  EXPECT_EQ(sd::find_data_file(dir.path(), "x"), dir.file("x"));
}
