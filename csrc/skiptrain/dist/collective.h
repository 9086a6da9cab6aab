// The collectives of a data-parallel run: the few sums and one broadcast that keep the
// ranks' models, instance filters and counts in agreement (the data itself never moves
// between ranks). The base class is the single process, where each is a no-op; connect()
// (process_group.h) returns one over torch.distributed's c10d backends for several ranks.
#pragma once

#include <torch/types.h>

#include <vector>

namespace skiptrain::dist {

class Collective {
 public:
  virtual ~Collective() = default;
  virtual int rank() const { return 0; }
  virtual int world_size() const { return 1; }
  bool distributed() const { return world_size() > 1; }
  // Replaces `t` (same shape, dtype and device on every rank) with its elementwise sum over the
  // ranks, in place. Every rank must call it, in the same order as every other collective.
  virtual void sum(torch::Tensor& t) {}
  // Replaces `t` with rank 0's, in place.
  virtual void broadcast(torch::Tensor& t) {}
};

// The one process of a run that is not data-parallel.
Collective& single_process();

// The sum over ranks of `values` (float64 on the CPU), returned.
std::vector<double> sum_values(Collective& collective, const std::vector<double>& values);
// The same for counts (int64, exact).
std::vector<int64_t> sum_counts(Collective& collective, const std::vector<int64_t>& counts);

// One all-reduce for a training step of a replicated model: every parameter's gradient (an
// undefined one as zeros, so a rank that trained nothing still takes part; left undefined where no
// rank has one) is summed over the ranks, every floating buffer (BatchNorm's running statistics)
// averaged, and `extra` (scalars riding along, e.g. the rank's loss sum, summed in the parameters'
// dtype) summed and returned. A no-op, returning `extra`, for one process.
std::vector<double> sum_gradients(Collective& collective, const std::vector<torch::Tensor>& parameters,
                                  const std::vector<torch::Tensor>& buffers, const std::vector<double>& extra);

// Rank 0's parameters and buffers copied to every rank (the replicas start identical).
void broadcast_module(Collective& collective, const std::vector<torch::Tensor>& parameters,
                      const std::vector<torch::Tensor>& buffers);

}  // namespace skiptrain::dist
