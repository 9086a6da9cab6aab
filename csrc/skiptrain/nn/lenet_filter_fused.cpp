// The fused LeNet filter (see lenet_filter_fused.h). Layouts: a conv's im2col matrix is
// [C*k*k, N*Ho*Wo] (rows (c, ky, kx) as in weight.view(C_out, -1), columns: output positions), so
// its GEMM weight @ col is [C_out, N*Ho*Wo]: with the positions as GEMM's wide dimension, pip
// torch 2.11's MKL runs the first conv's GEMM (6 x 25 x 36864 at batch 64) 3.4x faster than
// col^T @ weight^T, and the second's (16 x 150 x 4096) within 11% (1 thread, 2-core AMD EPYC).
// Pooling reads that and writes NCHW; bias and ReLU are applied after the pool (max commutes with
// adding a per-channel bias and with ReLU), and each pooled value keeps the position (column) of
// its conv output (by max_pool2d's rule, ops/cpu/window_max.h) for the backward's scatter.
#include "skiptrain/nn/lenet_filter_fused.h"

#include "skiptrain/cost/recorder.h"
#include "skiptrain/ops/cpu/window_max.h"

#include <torch/autograd.h>
#include <torch/torch.h>

#include <algorithm>
#include <vector>

namespace skiptrain::nn {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

constexpr int64_t kKernel = 3;
// conv1: stride 2, padding 1; conv2: stride 1, padding 0 (what LeNetFilterImpl builds).
constexpr int64_t kStride1 = 2, kPad1 = 1, kStride2 = 1, kPad2 = 0;

int64_t conv_side(int64_t size, int64_t stride, int64_t pad) { return (size + 2 * pad - kKernel) / stride + 1; }

// Map sizes of one forward: input C0 x H x W, conv1 out H1 x W1, pool1 Q1, conv2 out H2, pool2 Q2.
struct Dims {
  int64_t n, c0, h, w, c1, h1, w1, q1h, q1w, c2, h2, w2, q2h, q2w, hidden, classes;

  Dims(const LeNetFilterImpl& f, const torch::Tensor& images)
      : n(images.size(0)), c0(images.size(1)), h(images.size(2)), w(images.size(3)),
        c1(f.conv1->options.out_channels), h1(conv_side(h, kStride1, kPad1)), w1(conv_side(w, kStride1, kPad1)),
        q1h(h1 / 2), q1w(w1 / 2), c2(f.conv2->options.out_channels), h2(conv_side(q1h, kStride2, kPad2)),
        w2(conv_side(q1w, kStride2, kPad2)), q2h(h2 / 2), q2w(w2 / 2), hidden(f.fc1->out_features),
        classes(f.fc2->out_features) {}
  int64_t flat() const { return c2 * q2h * q2w; }

  // As a list (what an autograd context saves) and back.
  std::vector<int64_t> pack() const {
    return {n, c0, h, w, c1, h1, w1, q1h, q1w, c2, h2, w2, q2h, q2w, hidden, classes};
  }
  explicit Dims(const std::vector<int64_t>& v)
      : n(v.at(0)), c0(v.at(1)), h(v.at(2)), w(v.at(3)), c1(v.at(4)), h1(v.at(5)), w1(v.at(6)), q1h(v.at(7)),
        q1w(v.at(8)), c2(v.at(9)), h2(v.at(10)), w2(v.at(11)), q2h(v.at(12)), q2w(v.at(13)), hidden(v.at(14)),
        classes(v.at(15)) {}
};

// The output columns ox in [first, last) whose input column ox*stride - pad + kx lies in [0, w).
void inside_columns(int64_t w, int64_t wo, int64_t stride, int64_t pad, int64_t kx, int64_t& first, int64_t& last) {
  first = 0;
  while (first < wo && first * stride - pad + kx < 0) ++first;
  last = wo;
  while (last > first && (last - 1) * stride - pad + kx >= w) --last;
}

// Walks the im2col matrix [C*k*k, N*Ho*Wo] of an image batch [N, C, H, W] (rows (c, ky, kx), columns
// (n, oy, ox)) one row segment of Wo columns at a time: segment(at, inside, image_at, first, last),
// where `at` is the segment's first element in the matrix. If `inside` (the window row lies in the
// image), output column ox in [first, last) reads image element image_at + ox * stride; every other
// column, and every column of a segment that is not inside, lies in the padding. The bounds are
// found per row, so the callers' inner loops are plain.
template <typename Segment>
void for_each_segment(int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride, int64_t pad, int64_t ho,
                      int64_t wo, Segment segment) {
  int64_t at = 0;
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t ky = 0; ky < kKernel; ++ky)
      for (int64_t kx = 0; kx < kKernel; ++kx) {
        int64_t first, last;
        inside_columns(w, wo, stride, pad, kx, first, last);
        for (int64_t b = 0; b < n; ++b)
          for (int64_t oy = 0; oy < ho; ++oy, at += wo) {
            const int64_t iy = oy * stride - pad + ky;
            segment(at, iy >= 0 && iy < h, ((b * c + ch) * h + iy) * w - pad + kx, first, last);
          }
      }
}

// src [N, C, H, W] -> col [C*k*k, N*Ho*Wo], zeros where the window leaves the padded image.
void im2col(const float* src, int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride, int64_t pad,
            int64_t ho, int64_t wo, float* col) {
  for_each_segment(n, c, h, w, stride, pad, ho, wo,
                   [&](int64_t at, bool inside, int64_t image_at, int64_t first, int64_t last) {
                     float* row = col + at;
                     if (!inside) first = last = wo;
                     std::fill(row, row + first, 0.0f);
                     for (int64_t ox = first; ox < last; ++ox) row[ox] = src[image_at + ox * stride];
                     std::fill(row + last, row + wo, 0.0f);
                   });
}

// The adjoint of im2col: adds col [C*k*k, N*Ho*Wo] into dst [N, C, H, W] (zeroed by the caller).
void col2im(const float* col, int64_t n, int64_t c, int64_t h, int64_t w, int64_t stride, int64_t pad,
            int64_t ho, int64_t wo, float* dst) {
  for_each_segment(n, c, h, w, stride, pad, ho, wo,
                   [&](int64_t at, bool inside, int64_t image_at, int64_t first, int64_t last) {
                     if (!inside) return;
                     for (int64_t ox = first; ox < last; ++ox) dst[image_at + ox * stride] += col[at + ox];
                   });
}

// torch::relu (NaN stays NaN) and its backward (grad where the output is not <= 0), written so
// the compiler selects (maxss, masks) instead of branching on the sign of random data.
inline float relu(float v) {
  const float positive = v > 0.0f ? v : 0.0f;
  return v != v ? v : positive;
}
inline float relu_grad(float grad, float out) { return (out <= 0.0f) ? 0.0f : grad; }

// conv [C, N*H*W] (bias not yet added) -> out [N, C, H/2, W/2] = relu(maxpool2x2(conv) + bias),
// rows[i] = the column of conv that out[i] came from.
void pool_bias_relu(const float* conv, const float* bias, int64_t n, int64_t c, int64_t h, int64_t w, float* out,
                    int32_t* rows) {
  const int64_t qh = h / 2, qw = w / 2, positions = n * h * w;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* map = conv + ch * positions;
      for (int64_t qy = 0; qy < qh; ++qy)
        for (int64_t qx = 0; qx < qw; ++qx) {
          const int64_t top = (b * h + 2 * qy) * w + 2 * qx;
          const float window[4] = {map[top], map[top + 1], map[top + w], map[top + w + 1]};
          const int32_t at = cpu::window_argmax(window);
          *out++ = relu(window[at] + bias[ch]);
          *rows++ = static_cast<int32_t>(top + (at >> 1) * w + (at & 1));
        }
    }
}

// The backward of pool_bias_relu: for grad/out [N, C, Q], adds grad (where out > 0) into
// bias_grad[c] and writes it to conv_grad[c, rows[i]] ([C, N*H*W], zeroed by the caller).
void pool_bias_relu_backward(const float* grad, const float* out, const int32_t* rows, int64_t n, int64_t c,
                             int64_t q, int64_t positions, float* conv_grad, float* bias_grad) {
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch) {
      float sum = 0.0f;
      for (int64_t i = 0; i < q; ++i, ++grad, ++out, ++rows) {
        const float g = relu_grad(*grad, *out);
        conv_grad[ch * positions + *rows] = g;
        sum += g;
      }
      bias_grad[ch] += sum;
    }
}

// x [rows, cols] in place: x <- relu(x); grad [rows, cols] <- 0 where the relu output is <= 0.
void relu_inplace(float* x, int64_t size) {
  for (int64_t i = 0; i < size; ++i) x[i] = relu(x[i]);
}

void relu_backward_inplace(float* grad, const float* out, int64_t size) {
  for (int64_t i = 0; i < size; ++i) grad[i] = relu_grad(grad[i], out[i]);
}

// sums [cols] = the column sums of x [rows, cols].
torch::Tensor column_sums(const torch::Tensor& x) {
  const int64_t rows = x.size(0), cols = x.size(1);
  auto sums = torch::zeros({cols}, x.options());
  const float* src = x.data_ptr<float>();
  float* dst = sums.data_ptr<float>();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) dst[j] += *src++;
  return sums;
}

// What the forward computed and the backward reads.
struct Activations {
  torch::Tensor col1;   // [C0*9, N*H1*W1] im2col of the images
  torch::Tensor pool1;  // [N, C1, Q1h, Q1w] relu(pool(conv1)), conv2's input
  torch::Tensor rows1;  // [N, C1, Q1h, Q1w] int32: conv1 position of each pooled value
  torch::Tensor col2;   // [C1*9, N*H2*W2] im2col of pool1
  torch::Tensor flat;   // [N, C2*Q2h*Q2w] relu(pool(conv2)), flattened: fc1's input
  torch::Tensor rows2;  // [N, C2, Q2h, Q2w] int32
  torch::Tensor hidden; // [N, hidden] relu(fc1)
  torch::Tensor logits; // [N, classes]
};

// The 8 parameters in the order of LeNetFilterImpl's modules.
struct Params {
  torch::Tensor w1, b1, w2, b2, fw1, fb1, fw2, fb2;
};

Activations run_forward(const Dims& d, const torch::Tensor& images, const Params& p) {
  const auto f32 = images.options();
  const auto i32 = f32.dtype(torch::kInt32);
  Activations a;
  a.col1 = torch::empty({d.c0 * kKernel * kKernel, d.n * d.h1 * d.w1}, f32);
  im2col(images.data_ptr<float>(), d.n, d.c0, d.h, d.w, kStride1, kPad1, d.h1, d.w1, a.col1.data_ptr<float>());
  const auto conv1 = torch::mm(p.w1.contiguous().view({d.c1, -1}), a.col1);
  a.pool1 = torch::empty({d.n, d.c1, d.q1h, d.q1w}, f32);
  a.rows1 = torch::empty({d.n, d.c1, d.q1h, d.q1w}, i32);
  pool_bias_relu(conv1.data_ptr<float>(), p.b1.contiguous().data_ptr<float>(), d.n, d.c1, d.h1, d.w1,
                 a.pool1.data_ptr<float>(), a.rows1.data_ptr<int32_t>());

  a.col2 = torch::empty({d.c1 * kKernel * kKernel, d.n * d.h2 * d.w2}, f32);
  im2col(a.pool1.data_ptr<float>(), d.n, d.c1, d.q1h, d.q1w, kStride2, kPad2, d.h2, d.w2, a.col2.data_ptr<float>());
  const auto conv2 = torch::mm(p.w2.contiguous().view({d.c2, -1}), a.col2);
  a.flat = torch::empty({d.n, d.flat()}, f32);
  a.rows2 = torch::empty({d.n, d.c2, d.q2h, d.q2w}, i32);
  pool_bias_relu(conv2.data_ptr<float>(), p.b2.contiguous().data_ptr<float>(), d.n, d.c2, d.h2, d.w2,
                 a.flat.data_ptr<float>(), a.rows2.data_ptr<int32_t>());

  a.hidden = torch::addmm(p.fb1, a.flat, p.fw1.t());
  relu_inplace(a.hidden.data_ptr<float>(), a.hidden.numel());
  a.logits = torch::addmm(p.fb2, a.hidden, p.fw2.t());
  return a;
}

// The whole filter as one autograd node; inputs: images, then the 8 parameters.
class FusedFilterFunction : public torch::autograd::Function<FusedFilterFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& images, const Dims& d,
                               const torch::Tensor& w1, const torch::Tensor& b1, const torch::Tensor& w2,
                               const torch::Tensor& b2, const torch::Tensor& fw1, const torch::Tensor& fb1,
                               const torch::Tensor& fw2, const torch::Tensor& fb2) {
    auto a = run_forward(d, images, {w1, b1, w2, b2, fw1, fb1, fw2, fb2});
    ctx->save_for_backward({w1, w2, fw1, fw2});
    ctx->saved_data["col1"] = a.col1;
    ctx->saved_data["pool1"] = a.pool1;
    ctx->saved_data["rows1"] = a.rows1;
    ctx->saved_data["col2"] = a.col2;
    ctx->saved_data["flat"] = a.flat;
    ctx->saved_data["rows2"] = a.rows2;
    ctx->saved_data["hidden"] = a.hidden;
    ctx->saved_data["dims"] = d.pack();
    return a.logits;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto &w1 = saved[0], &w2 = saved[1], &fw1 = saved[2], &fw2 = saved[3];
    const auto t = [&](const char* name) { return ctx->saved_data[name].toTensor(); };
    const Dims d(ctx->saved_data["dims"].toIntVector());
    const auto hidden = t("hidden"), flat = t("flat");
    const auto gy = grad_outputs[0].contiguous();

    // fc2, fc1: dW = dY^T X, dX = dY W, bias: column sums; ReLU masks from the saved outputs.
    const auto dfb2 = column_sums(gy);
    const auto dfw2 = torch::mm(gy.t(), hidden);
    auto dhidden = torch::mm(gy, fw2);
    relu_backward_inplace(dhidden.data_ptr<float>(), hidden.data_ptr<float>(), dhidden.numel());
    const auto dfb1 = column_sums(dhidden);
    const auto dfw1 = torch::mm(dhidden.t(), flat);
    const auto dflat = torch::mm(dhidden, fw1);

    // pool2 + relu + bias2, then conv2: dW = dY col^T, dcol = W^T dY, col2im onto pool1.
    auto dconv2 = torch::zeros({d.c2, d.n * d.h2 * d.w2}, gy.options());
    auto db2 = torch::zeros({d.c2}, gy.options());
    pool_bias_relu_backward(dflat.data_ptr<float>(), flat.data_ptr<float>(), t("rows2").data_ptr<int32_t>(), d.n,
                            d.c2, d.q2h * d.q2w, d.n * d.h2 * d.w2, dconv2.data_ptr<float>(), db2.data_ptr<float>());
    const auto dw2 = torch::mm(dconv2, t("col2").t()).view(w2.sizes());
    const auto dcol2 = torch::mm(w2.contiguous().view({d.c2, -1}).t(), dconv2);
    auto dpool1 = torch::zeros({d.n, d.c1, d.q1h, d.q1w}, gy.options());
    col2im(dcol2.data_ptr<float>(), d.n, d.c1, d.q1h, d.q1w, kStride2, kPad2, d.h2, d.w2, dpool1.data_ptr<float>());

    // pool1 + relu + bias1, then conv1's weight (the images need no gradient).
    auto dconv1 = torch::zeros({d.c1, d.n * d.h1 * d.w1}, gy.options());
    auto db1 = torch::zeros({d.c1}, gy.options());
    pool_bias_relu_backward(dpool1.data_ptr<float>(), t("pool1").data_ptr<float>(), t("rows1").data_ptr<int32_t>(),
                            d.n, d.c1, d.q1h * d.q1w, d.n * d.h1 * d.w1, dconv1.data_ptr<float>(),
                            db1.data_ptr<float>());
    const auto dw1 = torch::mm(dconv1, t("col1").t()).view(w1.sizes());
    return {torch::Tensor(), torch::Tensor(), dw1, db1, dw2, db2, dfw1, dfb1, dfw2, dfb2};
  }
};

bool plain_float_param(const torch::Tensor& p) {
  return p.defined() && p.device().is_cpu() && p.scalar_type() == torch::kFloat32;
}

bool plain_layer(const Conv2dImpl& c, int64_t stride, int64_t pad) {
  const auto& o = c.options;
  return o.kernel_size == kKernel && o.stride == stride && o.padding == pad && o.dilation == 1 && o.groups == 1 &&
         o.bias && c.emp.keep >= 1.0 && !c.quant.quantizes_operands() && !c.quant.quantizes_errors() &&
         plain_float_param(c.weight) && plain_float_param(c.bias);
}

bool plain_layer(const LinearImpl& l) {
  return l.with_bias && !l.quant.quantizes_operands() && !l.quant.quantizes_errors() && plain_float_param(l.weight) &&
         plain_float_param(l.bias);
}

}  // namespace

bool fused_filter_applies(const LeNetFilterImpl& filter, const torch::Tensor& images) {
  if (cost::ShapeRecorder::active()) return false;
  if (!images.defined() || images.dim() != 4 || !images.device().is_cpu() ||
      images.scalar_type() != torch::kFloat32 || !images.is_contiguous() || images.requires_grad() ||
      images.size(0) < 1)
    return false;
  if (!plain_layer(*filter.conv1, kStride1, kPad1) || !plain_layer(*filter.conv2, kStride2, kPad2) ||
      !plain_layer(*filter.fc1) || !plain_layer(*filter.fc2))
    return false;
  const Dims d(filter, images);
  return d.c0 == filter.conv1->options.in_channels && d.q2h >= 1 && d.q2w >= 1 &&
         d.flat() == filter.fc1->in_features;
}

torch::Tensor fused_filter_forward(const LeNetFilterImpl& filter, const torch::Tensor& images) {
  TORCH_CHECK(fused_filter_applies(filter, images), "fused_filter_forward: the fused path does not apply to ",
              images.sizes());
  const Dims d(filter, images);
  const Params p{filter.conv1->weight, filter.conv1->bias, filter.conv2->weight, filter.conv2->bias,
                 filter.fc1->weight,   filter.fc1->bias,   filter.fc2->weight,   filter.fc2->bias};
  bool records = false;
  if (at::GradMode::is_enabled())
    for (const auto* t : {&p.w1, &p.b1, &p.w2, &p.b2, &p.fw1, &p.fb1, &p.fw2, &p.fb2}) records |= t->requires_grad();
  if (!records) return run_forward(d, images, p).logits;
  return FusedFilterFunction::apply(images, d, p.w1, p.b1, p.w2, p.b2, p.fw1, p.fb1, p.fw2, p.fb2);
}

}  // namespace skiptrain::nn
