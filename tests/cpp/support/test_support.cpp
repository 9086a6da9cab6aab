// Temporary directories, file writers and loopback ranks for the tests, and the suite's thread count.
#include "support/test_support.h"

#include "skiptrain/dist/launch.h"
#include "skiptrain/errors.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <exception>
#include <thread>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

namespace skiptrain::test {
namespace {

// ctest runs many test processes at once (-j), and LibTorch's default intra-op thread count is
// the number of cores: each test starts with one thread, and a test that exercises threads sets
// its own count.
class OneThreadPerTest : public ::testing::Environment {
 public:
  void SetUp() override { at::set_num_threads(1); }
};
const auto* const kOneThreadPerTest = ::testing::AddGlobalTestEnvironment(new OneThreadPerTest);

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "skiptrain-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("cannot create a temporary directory");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::file(const std::string& name) const { return path_ + "/" + name; }

void write_file(const std::string& path, const std::vector<unsigned char>& bytes, bool gzip) {
  if (gzip) {
    gzFile f = gzopen(path.c_str(), "wb");
    if (f == nullptr) throw std::runtime_error("cannot write " + path);
    if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

ScopedEnv::ScopedEnv(const char* name, const char* value) : name_(name) {
  const char* old = std::getenv(name);
  had_ = old != nullptr;
  if (had_) old_ = old;
  if (value) setenv(name, value, 1);
  else unsetenv(name);
}

ScopedEnv::~ScopedEnv() {
  if (had_) setenv(name_, old_.c_str(), 1);
  else unsetenv(name_);
}

std::string input_error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const InputError& e) {
    return e.what();
  }
  return "";
}

namespace {

// A TCP port on loopback that was free a moment ago (the kernel's pick for port 0).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  if (fd >= 0) close(fd);
  if (!bound) throw std::runtime_error("no free port on loopback");
  return ntohs(address.sin_port);
}

}  // namespace

void on_loopback_ranks(int ranks, const std::function<void(dist::Collective&)>& body) {
  dist::LaunchOptions options;
  options.world_size = ranks;
  options.master_addr = "127.0.0.1";
  options.master_port = free_port();
  options.timeout_s = 60;
  std::vector<std::exception_ptr> failures(ranks);
  std::vector<std::thread> threads;
  for (int rank = 0; rank < ranks; ++rank)
    threads.emplace_back([&, rank] {
      try {
        dist::LaunchOptions mine = options;
        mine.rank = rank;
        auto collective = dist::connect(mine.resolved(), c10::kCPU);
        body(*collective);
      } catch (...) {
        failures[rank] = std::current_exception();
      }
    });
  for (auto& t : threads) t.join();
  for (auto& failure : failures)
    if (failure) std::rethrow_exception(failure);
}

}  // namespace skiptrain::test
