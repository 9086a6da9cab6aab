// Sums over ranks packed into one flat tensor per call; see collective.h.
#include "skiptrain/dist/collective.h"

#include <torch/torch.h>

namespace skiptrain::dist {

Collective& single_process() {
  static Collective one;
  return one;
}

namespace {

template <typename T>
std::vector<T> summed(Collective& collective, const std::vector<T>& values) {
  if (!collective.distributed() || values.empty()) return values;
  auto t = torch::tensor(values, c10::CppTypeToScalarType<T>::value);
  collective.sum(t);
  return {t.template data_ptr<T>(), t.template data_ptr<T>() + t.numel()};
}

}  // namespace

std::vector<double> sum_values(Collective& collective, const std::vector<double>& values) {
  return summed(collective, values);
}

std::vector<int64_t> sum_counts(Collective& collective, const std::vector<int64_t>& counts) {
  return summed(collective, counts);
}

std::vector<double> sum_gradients(Collective& collective, const std::vector<torch::Tensor>& parameters,
                                  const std::vector<torch::Tensor>& buffers, const std::vector<double>& extra) {
  if (!collective.distributed()) return extra;
  TORCH_CHECK(!parameters.empty(), "sum_gradients: no parameters");
  const auto like = parameters.front();
  std::vector<torch::Tensor> floating_buffers;
  for (const auto& b : buffers)
    if (b.is_floating_point()) floating_buffers.push_back(b);
  // One flat tensor in the parameters' dtype: the gradients, the buffers, then per parameter 1 where
  // this rank has its gradient, then the extras (float32 sums for a float32 model).
  std::vector<torch::Tensor> parts;
  std::vector<double> tail;
  for (const auto& p : parameters) {
    const bool has = p.grad().defined();
    parts.push_back(has ? p.grad().reshape(-1).to(like.scalar_type()) : torch::zeros({p.numel()}, like.options()));
    tail.push_back(has ? 1.0 : 0.0);
  }
  for (const auto& b : floating_buffers) parts.push_back(b.reshape(-1).to(like.scalar_type()));
  tail.insert(tail.end(), extra.begin(), extra.end());
  parts.push_back(torch::tensor(tail, torch::kFloat64).to(like.options()));
  auto flat = torch::cat(parts);
  collective.sum(flat);

  torch::NoGradGuard no_grad;
  const auto n_params = static_cast<int64_t>(parameters.size());
  const auto sums = flat.narrow(0, flat.numel() - static_cast<int64_t>(tail.size()), static_cast<int64_t>(tail.size()))
                        .to(torch::kCPU, torch::kFloat64)
                        .contiguous();
  const double* summed_tail = sums.data_ptr<double>();
  int64_t offset = 0;
  for (int64_t i = 0; i < n_params; ++i) {
    const auto& p = parameters[i];
    auto summed = flat.narrow(0, offset, p.numel()).view(p.sizes());
    offset += p.numel();
    // A parameter no rank has a gradient for keeps none, as in one process (the optimizer skips it).
    if (summed_tail[i] == 0) continue;
    if (p.grad().defined())
      p.mutable_grad().copy_(summed);
    else
      p.mutable_grad() = summed.clone(p.suggest_memory_format());
  }
  const double ranks = collective.world_size();
  for (auto& b : floating_buffers) {
    b.copy_(flat.narrow(0, offset, b.numel()).view(b.sizes()) / ranks);
    offset += b.numel();
  }
  return {summed_tail + n_params, summed_tail + n_params + extra.size()};
}

void broadcast_module(Collective& collective, const std::vector<torch::Tensor>& parameters,
                      const std::vector<torch::Tensor>& buffers) {
  if (!collective.distributed()) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> all(parameters);
  all.insert(all.end(), buffers.begin(), buffers.end());
  for (auto& t : all) {
    auto flat = t.contiguous();
    collective.broadcast(flat);
    if (!flat.is_same(t)) t.copy_(flat);
  }
}

}  // namespace skiptrain::dist
