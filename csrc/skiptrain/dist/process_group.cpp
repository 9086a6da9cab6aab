// connect(): a Collective over a c10d process group (launch.h). The rendezvous is c10d's
// TCPStore: rank 0 hosts it, or torchrun's agent does (TORCHELASTIC_USE_AGENT_STORE).
// Every failure of a peer (a rank that died, a timeout) surfaces from the backend as an
// exception, turned here into one TrainingError that says what to do.
#include "skiptrain/dist/launch.h"

#include "skiptrain/errors.h"

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(SKIPTRAIN_WITH_CUDA)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>

namespace skiptrain::dist {
namespace {

std::chrono::milliseconds millis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

bool is_loopback(const std::string& host) { return host == "localhost" || host.rfind("127.", 0) == 0; }

// 300, 2.5: seconds as a person writes them.
std::string seconds(double s) {
  std::ostringstream out;
  out << s << " s";
  return out.str();
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? value : fallback;
}

class ProcessGroupCollective : public Collective {
 public:
  // `device`: where the backend's tensors must be (NCCL: the rank's GPU; Gloo: the CPU).
  ProcessGroupCollective(c10::intrusive_ptr<c10d::Backend> backend, const LaunchOptions& options, c10::Device device)
      : backend_(std::move(backend)), options_(options), device_(device) {}

  int rank() const override { return static_cast<int>(options_.rank); }
  int world_size() const override { return static_cast<int>(options_.world_size); }

  void sum(torch::Tensor& t) override {
    guarded("a sum", t, [&](std::vector<at::Tensor>& on) { backend_->allreduce(on)->wait(); });
  }

  void broadcast(torch::Tensor& t) override {
    c10d::BroadcastOptions root;
    root.rootRank = 0;
    guarded("a broadcast", t, [&](std::vector<at::Tensor>& on) { backend_->broadcast(on, root)->wait(); });
  }

 private:
  // Runs `collective` on `t` (or on a copy on the backend's device, copied back), turning a failure
  // into one TrainingError that says what to do.
  template <typename F>
  void guarded(const char* what, torch::Tensor& t, F&& collective) {
    try {
      std::vector<at::Tensor> on{t.device() == device_ ? t : t.to(device_)};
      collective(on);
      if (!on[0].is_same(t)) t.copy_(on[0]);
    } catch (const std::exception& e) {
      throw TrainingError("rank " + std::to_string(options_.rank) + " of " + std::to_string(options_.world_size) +
                          " lost the other ranks during " + what + " (" + first_line(e.what()) +
                          "): a rank stopped (its own error says why) or is unreachable, or waited longer than "
                          "--dist-timeout " +
                          seconds(options_.timeout_s) +
                          ". Any checkpoint the run wrote is intact: start every rank again with --resume");
    }
  }

  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  c10::intrusive_ptr<c10d::Backend> backend_;
  LaunchOptions options_;
  c10::Device device_;
};

c10::intrusive_ptr<c10d::Backend> make_backend(const LaunchOptions& o, const std::string& backend,
                                               const c10::intrusive_ptr<c10d::Store>& store) {
#if defined(SKIPTRAIN_WITH_CUDA)
  if (backend == "nccl") {
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = millis(o.timeout_s);
    return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, o.rank, o.world_size, options);
  }
#endif
  auto options = c10d::ProcessGroupGloo::Options::create(millis(o.timeout_s));
  const char* interface = std::getenv("GLOO_SOCKET_IFNAME");
  if (interface != nullptr && *interface != '\0')
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(interface));
  else if (is_loopback(o.master_addr))
    options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, options);
}

}  // namespace

std::unique_ptr<Collective> connect(const LaunchOptions& o, const c10::Device& device) {
  if (o.world_size == 1) return std::make_unique<Collective>();
  std::string backend = o.backend;
  if (backend == "auto") backend = device.is_cuda() ? "nccl" : "gloo";
#if !defined(SKIPTRAIN_WITH_CUDA)
  if (backend == "nccl")
    throw InputError("--dist-backend nccl: this skiptrain was built without CUDA; use --dist-backend gloo");
#endif
  if (backend == "nccl" && !device.is_cuda())
    throw InputError("--dist-backend nccl needs --device cuda (NCCL moves GPU tensors); use gloo on the CPU");
  const std::string where = o.master_addr + ":" + std::to_string(o.master_port);
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(o.master_port);
    // Under torchrun its agent already hosts a store at MASTER_PORT; the ranks are its clients.
    store_options.isServer = o.rank == 0 && env_or("TORCHELASTIC_USE_AGENT_STORE", "") != "True";
    store_options.numWorkers = static_cast<int64_t>(o.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = millis(o.timeout_s);
    auto tcp = c10::make_intrusive<c10d::TCPStore>(o.master_addr, store_options);
    // A restarted torchrun attempt must not read the keys of the last one from the agent's store.
    auto store =
        c10::make_intrusive<c10d::PrefixStore>("skiptrain/" + env_or("TORCHELASTIC_RESTART_COUNT", "0") + "/", tcp);
    const c10::Device backend_device = backend == "nccl" ? device : c10::Device(c10::kCPU);
    auto process_group = make_backend(o, backend, store);
    // The first collective completes the rendezvous on every rank before training starts.
    std::vector<at::Tensor> ready{torch::ones({1}, torch::TensorOptions(backend_device))};
    process_group->allreduce(ready)->wait();
    return std::make_unique<ProcessGroupCollective>(process_group, o, backend_device);
  } catch (const std::exception& e) {
    const std::string what = e.what();
    throw TrainingError("rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) +
                        " could not join the run at " + where + " (" + what.substr(0, what.find('\n')) +
                        "): start every rank with the same --world-size, --master-addr and --master-port (or " +
                        "WORLD_SIZE, MASTER_ADDR, MASTER_PORT), each with its own --rank, within --dist-timeout " +
                        seconds(o.timeout_s) + " of each other, at a free port");
  }
}

}  // namespace skiptrain::dist
