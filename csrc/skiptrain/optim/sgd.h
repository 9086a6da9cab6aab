// Stochastic gradient descent with momentum and weight decay, with the update
// rule of torch.optim.SGD (dampening 0, no Nesterov). skiptrain owns its
// optimizer so that its whole state is a TensorState and resume is exact; on the CPU its step
// takes 0.94-0.97x the time of torch::optim::SGD's (benchmarks/sgd_step.cpp); on a GPU it steps all
// parameters together in foreach ops.
#pragma once

#include "skiptrain/state.h"

#include <torch/types.h>

#include <vector>

namespace skiptrain::optim {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double weight_decay = 0.0;
  // false: weight decay spares the output rows (first dimension) of a weight whose gradient row is
  // all zero in this step, as Error Map Pruning leaves a pruned channel's; the rows that are
  // pruned step after step then keep their size instead of shrinking towards never being kept.
  bool decay_rows_without_gradient = true;
};

class Sgd {
 public:
  Sgd(std::vector<torch::Tensor> parameters, SgdOptions options);

  // Sets every parameter's gradient to undefined (cheaper than zeroing).
  void zero_grad();
  // p <- p - lr * v, v <- momentum * v + (g + weight_decay * p); parameters without a gradient are skipped.
  void step();

  double lr() const { return options_.lr; }
  void set_lr(double lr) { options_.lr = lr; }

  // Momentum buffers ("momentum.<i>") and the learning rate.
  TensorState state() const;
  void load_state(const TensorState& state, const std::string& what);

 private:
  torch::Tensor decayed(const torch::Tensor& p, const torch::Tensor& grad) const;
  // The step of parameters_[which] (each with a gradient) in foreach ops, one per stage (GPU).
  void step_together(const std::vector<size_t>& which);
  std::vector<torch::Tensor> parameters_;
  std::vector<torch::Tensor> momentum_;  // undefined until the parameter's first step
  SgdOptions options_;
};

}  // namespace skiptrain::optim
