// `skiptrain download <dataset> <dir>`: fetches a dataset's official files with curl
// or wget (run as a subprocess: no network library is linked), verifies their MD5
// checksums, and unpacks the CIFAR tarballs with tar. A file only appears under its
// final name once complete and verified.
#pragma once

#include <string>
#include <vector>

namespace skiptrain::data {

// One file to fetch and the MD5 of its published bytes.
struct RemoteFile {
  std::string name;
  std::string md5;
};

// What downloading a dataset takes: where from (URL prefixes, tried in order), which files,
// and whether they are tarballs to extract into the target directory.
struct DownloadPlan {
  std::vector<std::string> mirrors;
  std::vector<RemoteFile> files;
  bool extract = false;
};

// The official plan for `dataset`; throws InputError for unknown names.
DownloadPlan download_plan(const std::string& dataset);

// Downloads `dataset` into `dir` (created if needed) from its official mirrors. Files already
// present with the right checksum are kept. Throws InputError when offline, when neither curl nor
// wget is on PATH, or when a checksum does not match.
void download(const std::string& dataset, const std::string& dir);

// As above with the mirrors replaced (URL prefixes ending in '/'), e.g. a private mirror.
void download(const std::string& dataset, const std::string& dir, const std::vector<std::string>& mirrors);

// Fetches the first of `urls` that succeeds and has MD5 `md5` to `path`, through a temporary
// file renamed into place; throws InputError listing what went wrong with each URL.
void fetch_verified(const std::vector<std::string>& urls, const std::string& path, const std::string& md5);

}  // namespace skiptrain::data
