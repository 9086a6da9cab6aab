// MD5 (libcrypto behind skiptrain's wrapper) against the RFC 1321 test suite, and files
// read in many pieces.
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

TEST(Md5, FileReadInPiecesEqualsOneShot) {
  st::TempDir dir;
  // A million 'a's (a known vector), then bytes whose length is no multiple of a read or a block.
  st::write_file(dir.file("a"), std::vector<unsigned char>(1000000, 'a'));
  EXPECT_EQ(sd::md5_file(dir.file("a")), "7707d6ae4e027c70eea2a935c2296f21");
  std::vector<unsigned char> bytes;
  for (int i = 0; i < 300001; ++i) bytes.push_back(static_cast<unsigned char>(i * 37 + 11));
  st::write_file(dir.file("b"), bytes);
  EXPECT_EQ(sd::md5_file(dir.file("b")), sd::md5_hex(std::string(bytes.begin(), bytes.end())));
}

TEST(Md5, FileMatchesBytes) {
  st::TempDir dir;
  st::write_file(dir.file("f"), {'a', 'b', 'c'});
  EXPECT_EQ(sd::md5_file(dir.file("f")), "900150983cd24fb0d6963f7d28e17f72");
  st::expect_mentions(st::input_error_message([&] { sd::md5_file(dir.file("missing")); }), {dir.file("missing")});
}
