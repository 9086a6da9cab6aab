// Dataset download through curl or wget subprocesses (posix_spawn), with MD5
// verification, temporary-name-then-rename writes and tar extraction for CIFAR.
#include "skiptrain/data/download.h"

#include "skiptrain/data/dataset.h"
#include "skiptrain/data/md5.h"
#include "skiptrain/errors.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

extern char** environ;

namespace skiptrain::data {
namespace {

namespace fs = std::filesystem;

// The full path of `program` on $PATH, or "" when it is not there.
std::string find_on_path(const std::string& program) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return "";
  std::stringstream dirs(path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/" + program;
    if (::access(candidate.c_str(), X_OK) == 0 && !fs::is_directory(candidate)) return candidate;
  }
  return "";
}

// Runs argv with stdin from /dev/null and stdout+stderr into `log`; returns the exit status
// (or -1 when it could not be started). posix_spawn, not fork: the process may have threads.
int run_process(const std::vector<std::string>& argv, const std::string& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// The last non-empty line of a log file (the tool's error message), or "".
std::string last_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

void remove_quietly(const std::string& path) {
  std::error_code ec;
  fs::remove(path, ec);
}

}  // namespace

DownloadPlan download_plan(const std::string& dataset) {
  dataset_info(dataset);  // rejects unknown names, listing the valid ones
  DownloadPlan plan;
  if (dataset == "mnist") {
    plan.mirrors = {"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"};
    plan.files = {{"train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
                  {"train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"},
                  {"t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"},
                  {"t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"}};
  } else if (dataset == "fashion-mnist") {
    plan.mirrors = {"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"};
    plan.files = {{"train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
                  {"train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"},
                  {"t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"},
                  {"t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"}};
  } else if (dataset == "cifar10") {
    plan.mirrors = {"https://www.cs.toronto.edu/~kriz/"};
    plan.files = {{"cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530"}};
    plan.extract = true;
  } else {
    plan.mirrors = {"https://www.cs.toronto.edu/~kriz/"};
    plan.files = {{"cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8"}};
    plan.extract = true;
  }
  return plan;
}

void fetch_verified(const std::vector<std::string>& urls, const std::string& path, const std::string& md5) {
  const std::string curl = find_on_path("curl");
  const std::string wget = curl.empty() ? find_on_path("wget") : "";
  if (curl.empty() && wget.empty()) {
    throw InputError(path + ": cannot download: neither curl nor wget is on PATH (install one, or fetch the file by hand)");
  }
  const std::string part = path + ".part-" + std::to_string(::getpid());
  const std::string log = part + ".log";
  std::string failures;
  for (const auto& url : urls) {
    std::vector<std::string> argv;
    if (!curl.empty()) {
      argv = {curl, "-fsSL", "--retry", "2", "--connect-timeout", "20", "-o", part, url};
    } else {
      argv = {wget, "-q", "--tries=3", "--timeout=20", "-O", part, url};
    }
    const int rc = run_process(argv, log);
    std::string why;
    if (rc != 0) {
      const std::string said = last_line(log);
      why = url + ": " + fs::path(argv[0]).filename().string() + " exit " + std::to_string(rc) +
            (said.empty() ? "" : " (" + said + ")");
    } else {
      const std::string found = md5_file(part);
      if (found == md5) {
        std::error_code ec;
        fs::rename(part, path, ec);
        remove_quietly(log);
        if (ec) {
          remove_quietly(part);
          throw InputError(path + ": cannot move the downloaded file into place (" + ec.message() + ")");
        }
        return;
      }
      why = url + ": checksum mismatch: expected md5 " + md5 + ", found " + found;
    }
    remove_quietly(part);
    failures += (failures.empty() ? "" : "; ") + why;
  }
  remove_quietly(log);
  throw InputError(path + ": download failed (offline?): " + failures);
}

void download(const std::string& dataset, const std::string& dir) {
  download(dataset, dir, download_plan(dataset).mirrors);
}

void download(const std::string& dataset, const std::string& dir, const std::vector<std::string>& mirrors) {
  const DownloadPlan plan = download_plan(dataset);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (!fs::is_directory(dir, ec)) throw InputError(dir + ": cannot create the download directory");
  for (const auto& file : plan.files) {
    const std::string path = dir + "/" + file.name;
    // A file already here with the right checksum is kept (a re-run only re-extracts).
    if (!(fs::is_regular_file(path, ec) && md5_file(path) == file.md5)) {
      std::vector<std::string> urls;
      for (const auto& m : mirrors) urls.push_back(m + file.name);
      fetch_verified(urls, path, file.md5);
    }
    if (plan.extract) {
      const std::string tar = find_on_path("tar");
      if (tar.empty()) throw InputError(path + ": cannot extract: tar is not on PATH");
      const std::string log = path + ".tar.log";
      const int rc = run_process({tar, "-xzf", path, "-C", dir}, log);
      const std::string said = last_line(log);
      remove_quietly(log);
      if (rc != 0) {
        throw InputError(path + ": extraction with tar failed (exit " + std::to_string(rc) + ")" +
                         (said.empty() ? "" : ": " + said));
      }
    }
  }
}

}  // namespace skiptrain::data
