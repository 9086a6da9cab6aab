// Reads the main model's step losses back one step late on a GPU; see lagged_loss.h.
#include "skiptrain/train/lagged_loss.h"

#include <c10/core/impl/VirtualGuardImpl.h>

namespace skiptrain::train {

std::optional<StepLoss> LaggedLoss::exchange(const torch::Tensor& mean, int64_t iteration) {
  if (mean.device().is_cpu()) return StepLoss{mean.item<double>(), iteration};
  auto previous = take();
  if (!host_.defined() || host_.scalar_type() != mean.scalar_type())
    host_ = torch::empty({}, torch::TensorOptions().dtype(mean.scalar_type()).pinned_memory(true));
  host_.copy_(mean, /*non_blocking=*/true);
  done_.emplace(mean.device().type());
  done_->record(c10::impl::VirtualGuardImpl(mean.device().type()).getStream(mean.device()));
  iteration_ = iteration;
  return previous;
}

std::optional<StepLoss> LaggedLoss::take() {
  if (!done_) return std::nullopt;
  done_->synchronize();
  done_.reset();
  return StepLoss{host_.item<double>(), iteration_};
}

}  // namespace skiptrain::train
