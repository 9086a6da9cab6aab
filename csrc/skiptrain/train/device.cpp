// --device resolution (see device.h).
#include "skiptrain/train/device.h"

#include "skiptrain/errors.h"

#include <torch/cuda.h>

#include <cctype>

namespace skiptrain::train {

c10::Device resolve_device(const std::string& flag, int64_t local_rank) {
  const int64_t gpus = torch::cuda::is_available() ? static_cast<int64_t>(torch::cuda::device_count()) : 0;
  if (flag == "cpu" || (flag == "auto" && gpus == 0)) return c10::Device(c10::kCPU);
  int64_t index = gpus > 0 ? local_rank % gpus : 0;
  if (flag == "auto") return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
  if (flag.rfind("cuda:", 0) == 0 && flag.size() > 5 && flag.size() < 9) {
    for (size_t i = 5; i < flag.size(); ++i)
      if (!std::isdigit(static_cast<unsigned char>(flag[i]))) throw InputError("--device: expected auto, cpu, cuda or cuda:N, got '" + flag + "'");
    index = std::stoll(flag.substr(5));
  } else if (flag != "cuda") {
    throw InputError("--device: expected auto, cpu, cuda or cuda:N, got '" + flag + "'");
  }
  if (index >= gpus)
    throw InputError("--device " + flag + ": " + (gpus == 0 ? std::string("no CUDA GPU is visible to this process")
                                                            : std::to_string(gpus) + " CUDA GPU(s) visible") +
                     "; use --device cpu (or auto)");
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace skiptrain::train
