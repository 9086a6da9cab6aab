// The main model's step loss, read back to the host without making the host wait for the step.
// Reading a step's loss at once on a GPU (item()) waits for its backward: the host queues nothing
// until the GPU drains, so a small model's step, bound by the host's kernel launches, pays for the
// GPU's work on top of its own (ResNet-20 at batch 128 on an H100: 2.5 ms of GPU work in the
// trainer's 14.7 ms step).
// Here the loss is copied to pinned host memory as the step is queued and read one step later, when
// the copy is done. On the CPU it is read at once, as before.
#pragma once

#include <c10/core/Event.h>
#include <torch/types.h>

#include <cstdint>
#include <optional>

namespace skiptrain::train {

struct StepLoss {
  double value;       // the step's mean loss
  int64_t iteration;  // the step's iteration, counted from 1
};

class LaggedLoss {
 public:
  // Starts reading `mean` (a 0-dim tensor on the run's device), the loss of the step at
  // `iteration`, and returns the step read before it, if any. On the CPU, returns this one.
  std::optional<StepLoss> exchange(const torch::Tensor& mean, int64_t iteration);
  // The step still being read, if any (waits for its copy); nothing is pending afterwards.
  std::optional<StepLoss> take();

 private:
  torch::Tensor host_;  // pinned, the pending step's loss once done_ has passed
  std::optional<c10::Event> done_;
  int64_t iteration_ = 0;
};

}  // namespace skiptrain::train
