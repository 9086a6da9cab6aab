// MD5 against the RFC 1321 test suite, incremental updates across block boundaries,
// and files.
#include "skiptrain/data/md5.h"

#include "data/data_fixtures.h"

#include <gtest/gtest.h>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;

TEST(Md5, Rfc1321Vectors) {
  EXPECT_EQ(sd::md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(sd::md5_hex("a"), "0cc175b9c0f1b6a831c399e269772661");
  EXPECT_EQ(sd::md5_hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(sd::md5_hex("message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
  EXPECT_EQ(sd::md5_hex("abcdefghijklmnopqrstuvwxyz"), "c3fcd3d76192e4007dfb496cca67e13b");
  EXPECT_EQ(sd::md5_hex("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f");
  EXPECT_EQ(sd::md5_hex("12345678901234567890123456789012345678901234567890123456789012345678901234567890"),
            "57edf4a22be3c955ac49da2e2107b67a");
  EXPECT_EQ(sd::md5_hex("The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
}

TEST(Md5, IncrementalEqualsOneShot) {
  std::string data;
  for (int i = 0; i < 1000; ++i) data += static_cast<char>(i * 37 + 11);
  const std::string expected = sd::md5_hex(data);
  for (size_t piece : {1u, 3u, 55u, 56u, 63u, 64u, 65u, 200u}) {
    sd::Md5 md5;
    for (size_t at = 0; at < data.size(); at += piece) md5.update(data.data() + at, std::min(piece, data.size() - at));
    EXPECT_EQ(md5.hex_digest(), expected) << "pieces of " << piece;
  }
  // Lengths around the padding boundary.
  EXPECT_NE(sd::md5_hex(data.substr(0, 55)), sd::md5_hex(data.substr(0, 56)));
}

TEST(Md5, FileMatchesBytes) {
  st::TempDir dir;
  st::write_file(dir.file("f"), {'a', 'b', 'c'});
  EXPECT_EQ(sd::md5_file(dir.file("f")), "900150983cd24fb0d6963f7d28e17f72");
  st::expect_mentions(st::input_error_message([&] { sd::md5_file(dir.file("missing")); }), {dir.file("missing")});
}
