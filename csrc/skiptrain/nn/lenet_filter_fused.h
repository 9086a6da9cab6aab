// The LeNet filter's whole forward (and backward) as one fused CPU float32 computation: im2col,
// pooling, bias, ReLU and col2im as plain loops around 4 GEMMs forward and 7 backward. The
// filter's layers are tiny (14.8k MACs per instance for lenet-filter-slim), so the layer-by-layer
// forward is bound by per-op dispatch and autograd overhead; this path cuts both.
// It is not the layers' forward: it records no shapes, applies no EMP and no quantization, so
// LeNetFilterImpl::forward takes it only where fused_filter_applies() says it is equivalent.
#pragma once

#include "skiptrain/nn/lenet.h"

#include <torch/types.h>

namespace skiptrain::nn {

// Whether fused_filter_forward(filter, images) computes what the layer-by-layer forward does:
// images contiguous NCHW float32 on CPU not requiring grad, float32 CPU parameters, the geometry
// LeNetFilterImpl builds, no EMP (keep == 1) or quantization on its layers, and no
// cost::ShapeRecorder active on this thread.
bool fused_filter_applies(const LeNetFilterImpl& filter, const torch::Tensor& images);

// images [N, C, H, W] -> logits [N, num_classes]. With grad mode on and a parameter requiring
// grad it is one autograd node whose backward gives the gradients of all 8 parameters (none for
// images); otherwise forward only, nothing saved. Requires fused_filter_applies().
torch::Tensor fused_filter_forward(const LeNetFilterImpl& filter, const torch::Tensor& images);

}  // namespace skiptrain::nn
