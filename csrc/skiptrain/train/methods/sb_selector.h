// Selective-Backprop (Jiang et al. 2019, "Accelerating deep learning by focusing on the
// biggest losers"): a no-grad loss forward on every incoming instance; each instance then
// trains with probability percentile^beta, its loss's percentile among the last W losses
// seen. The selected instances of a batch are re-batched for forward + backward. Pays the
// forward of every instance (LossOnlyForward) and m * W comparisons, one MAC each (Selection).
#pragma once

#include "skiptrain/train/methods/selector.h"

namespace skiptrain::train {

class SbSelector : public SelectByLoss {
 public:
  // `beta` > 0 sharpens the preference for high losses; `window` >= 1 recent losses are kept.
  SbSelector(double beta, int64_t window);

  // Appends the batch's losses to the window (dropping the oldest), then draws each instance
  // with probability (share of window losses <= its loss)^beta from the global generator.
  torch::Tensor select(const data::Batch& batch, const Plan& plan, const torch::Tensor& loss_only_losses,
                       cost::Ledger& ledger) override;
  // The loss window, oldest first ("window").
  TensorState state() const override;
  void load_state(const TensorState& state, const std::string& what) override;

 private:
  double beta_;
  int64_t window_size_;
  torch::Tensor window_;  // float [<= window_size_], oldest first
};

}  // namespace skiptrain::train
