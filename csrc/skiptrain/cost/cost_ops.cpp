// The cost formulas as operators, so Python counts MACs with the C++ code and has no
// formula of its own: torch.ops.skiptrain.conv2d_macs / linear_macs (per instance).
// Catch-all kernels: the ops take no tensors, so there is nothing to dispatch on.
#include "skiptrain/cost/table.h"

#include <torch/library.h>

#include <vector>

namespace skiptrain::cost {
namespace {

double conv2d_macs_op(std::vector<int64_t> weight_shape, std::vector<int64_t> output_shape, int64_t groups) {
  return conv2d_macs(weight_shape, output_shape, groups);
}

double linear_macs_op(int64_t in_features, int64_t out_features) { return linear_macs(in_features, out_features); }

}  // namespace

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  // MACs of one instance through a conv: weight [C_out, C_in/groups, kh, kw], output [N, C_out, H, W].
  m.def("conv2d_macs(int[] weight_shape, int[] output_shape, int groups) -> float", &conv2d_macs_op);
  // MACs of one instance through a linear layer: in * out.
  m.def("linear_macs(int in_features, int out_features) -> float", &linear_macs_op);
}

}  // namespace skiptrain::cost
