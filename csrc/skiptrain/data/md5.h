// MD5 of downloaded dataset files, to check them against their published checksums (not
// for anything security-related). OpenSSL's libcrypto computes the digest; this adds
// reading a file in pieces and errors that name the file.
#pragma once

#include <string>

namespace skiptrain::data {

// MD5 of a byte string, as 32 lowercase hex chars.
std::string md5_hex(const std::string& bytes);

// MD5 of a file's raw bytes (not gunzipped), read in pieces; throws InputError naming the file
// when it cannot be read.
std::string md5_file(const std::string& path);

}  // namespace skiptrain::data
