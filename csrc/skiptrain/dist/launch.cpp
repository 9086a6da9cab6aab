// LaunchOptions from flags and torchrun's environment; see launch.h.
#include "skiptrain/dist/launch.h"

#include "skiptrain/errors.h"

#include <cmath>
#include <cstdlib>
#include <string>

namespace skiptrain::dist {
namespace {

// $name as an integer, `fallback` when unset; InputError when it is set but not an integer.
int64_t env_integer(const char* name, int64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const long long parsed = std::strtoll(value, &end, 10);
  if (*end != '\0')
    throw InputError(std::string("environment variable ") + name + " must be an integer, got '" + value + "'");
  return parsed;
}

}  // namespace

LaunchOptions LaunchOptions::resolved() const {
  LaunchOptions r = *this;
  if (r.world_size == 0) r.world_size = env_integer("WORLD_SIZE", 1);
  if (r.rank == -1) r.rank = env_integer("RANK", 0);
  if (r.local_rank == -1) r.local_rank = env_integer("LOCAL_RANK", r.rank);
  if (r.master_addr.empty()) {
    const char* addr = std::getenv("MASTER_ADDR");
    r.master_addr = addr != nullptr && *addr != '\0' ? addr : "127.0.0.1";
  }
  if (r.master_port == 0) r.master_port = env_integer("MASTER_PORT", 29500);
  if (r.world_size < 1) reject_flag("--world-size (or WORLD_SIZE)", "a positive number of processes", r.world_size);
  if (r.rank < 0 || r.rank >= r.world_size)
    reject_flag("--rank (or RANK)", ("in [0, " + std::to_string(r.world_size) + "), the world size").c_str(), r.rank);
  if (r.local_rank < 0) reject_flag("LOCAL_RANK", "a rank >= 0", r.local_rank);
  if (r.master_port < 1 || r.master_port > 65535)
    reject_flag("--master-port (or MASTER_PORT)", "in [1, 65535]", r.master_port);
  if (r.backend != "auto" && r.backend != "gloo" && r.backend != "nccl")
    reject_flag("--dist-backend", "auto, gloo or nccl", r.backend);
  if (!(r.timeout_s > 0) || !std::isfinite(r.timeout_s))
    reject_flag("--dist-timeout", "a positive number of seconds", r.timeout_s);
  return r;
}

}  // namespace skiptrain::dist
