// Quantized Conv2d and Linear layers: 32 bits is exactly the float path; an 8-bit layer
// computes with quantized operands and passes gradients straight through; an 8-bit conv
// with Error Map Pruning matches a slow reference built from dense ATen gradients; the
// cost table records the widths the ledger prices; set_quant refuses bad widths.
#include "skiptrain/cost/table.h"
#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/linear.h"
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/ops/quantize.h"
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using skiptrain::nn::Conv2d;
using skiptrain::nn::Conv2dOptions;
using skiptrain::nn::QuantSettings;

struct Grads {
  torch::Tensor output, input, weight;
};

Grads run(Conv2d& conv, const torch::Tensor& x0, const torch::Tensor& g) {
  conv->zero_grad();
  auto x = x0.clone().requires_grad_(true);
  auto y = conv->forward(x);
  y.backward(g);
  return {y.detach(), x.grad(), conv->weight.grad().clone()};
}

TEST(QuantLayers, ThirtyTwoBitsIsTheFloatPath) {
  torch::manual_seed(0);
  Conv2d conv(Conv2dOptions(4, 6, 3).with_padding(1));
  const auto x = torch::randn({2, 4, 7, 7});
  const auto g = torch::randn({2, 6, 7, 7});
  const auto before = run(conv, x, g);
  skiptrain::nn::set_quant(*conv, QuantSettings{32, 0});
  const auto after = run(conv, x, g);
  EXPECT_TRUE(torch::equal(before.output, after.output));
  EXPECT_TRUE(torch::equal(before.input, after.input));
  EXPECT_TRUE(torch::equal(before.weight, after.weight));
}

TEST(QuantLayers, LinearComputesWithQuantizedOperands) {
  torch::manual_seed(1);
  skiptrain::nn::Linear fc(12, 5);
  skiptrain::nn::set_quant(*fc, QuantSettings{8, 0});
  const auto x = torch::randn({3, 12});
  const auto expected =
      at::linear(skiptrain::quantize(x, 8, false), skiptrain::quantize(fc->weight.detach(), 8, false), fc->bias);
  EXPECT_TRUE(torch::allclose(fc->forward(x), expected, 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(fc->forward(x), at::linear(x, fc->weight, fc->bias), 1e-6, 1e-6));
}

// keep 0.5 at 8 bits: gradients = dense gradients of the quantized operands with the error map's
// pruned channels zeroed (grad_input) and the pruned filters' rows zeroed (grad_weight).
TEST(QuantLayers, QuantizedEmpConvMatchesSlowReference) {
  torch::manual_seed(2);
  Conv2d conv(Conv2dOptions(8, 12, 3).with_padding(1));
  conv->emp.keep = 0.5;
  skiptrain::nn::set_quant(*conv, QuantSettings{8, 0});
  const auto x = torch::randn({4, 8, 9, 9});
  const auto g = torch::randn({4, 12, 9, 9});
  const auto got = run(conv, x, g);

  auto xq = skiptrain::quantize(x, 8, false).requires_grad_(true);
  auto wq = skiptrain::quantize(conv->weight.detach(), 8, false).requires_grad_(true);
  const auto kept = skiptrain::select_channels(g, wq.detach(), 0.5, conv->emp.gamma1, conv->emp.gamma2);
  auto mask = torch::zeros({12});
  mask.index_fill_(0, kept, 1.0);
  auto y = at::conv2d(xq, wq, conv->bias.detach(), 1, 1);
  y.backward(g * mask.view({1, 12, 1, 1}));
  EXPECT_TRUE(torch::allclose(got.output, y.detach(), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(got.input, xq.grad(), 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(got.weight, wq.grad() * mask.view({12, 1, 1, 1}), 1e-4, 1e-4));
  EXPECT_EQ(kept.numel(), 6);
}

TEST(QuantLayers, ErrorMapQuantizationRoundsTheLayersIncomingGradient) {
  torch::manual_seed(3);
  skiptrain::nn::Linear fc(10, 4);
  skiptrain::nn::set_quant(*fc, QuantSettings{8, 2});
  auto x = torch::randn({64, 10}, torch::requires_grad());
  const auto g = torch::randn({64, 4});
  fc->forward(x).backward(g);
  // With 2-bit error maps the input gradient is a 4-level error map times the quantized weight.
  const auto wq = skiptrain::quantize(fc->weight.detach(), 8, false);
  const auto error = std::get<0>(at::linalg_lstsq(wq.t(), x.grad().t())).t();  // recover the error map
  const double step = (g.max().item<double>() - g.min().item<double>()) / 3;
  const auto k = (error - g.min()) / step;
  EXPECT_LT((k - k.round()).abs().max().item<double>(), 1e-2);
}

TEST(QuantLayers, CostTableRecordsTheWidths) {
  Conv2d conv(Conv2dOptions(3, 8, 3));
  skiptrain::nn::set_quant(*conv, QuantSettings{8, 0});
  auto forward = [&](const torch::Tensor& x) { return conv->forward(x); };
  auto t = skiptrain::cost::count(*conv, forward, {1, 3, 10, 10});
  ASSERT_EQ(t.layers.size(), 1u);
  EXPECT_EQ(t.layers[0].activation_bits, 8);
  EXPECT_EQ(t.layers[0].weight_bits, 8);
  EXPECT_EQ(t.layers[0].error_bits, 32);
  skiptrain::nn::set_quant(*conv, QuantSettings{6, 4});
  t = skiptrain::cost::count(*conv, forward, {1, 3, 10, 10});
  EXPECT_EQ(t.layers[0].activation_bits, 6);
  EXPECT_EQ(t.layers[0].error_bits, 4);
}

TEST(QuantLayers, SetQuantRefusesBadWidths) {
  Conv2d conv(Conv2dOptions(3, 8, 3));
  EXPECT_THROW(skiptrain::nn::set_quant(*conv, QuantSettings{1, 0}), c10::Error);
  EXPECT_THROW(skiptrain::nn::set_quant(*conv, QuantSettings{8, 17}), c10::Error);
  EXPECT_THROW(skiptrain::nn::set_quant(*conv, QuantSettings{20, 0}), c10::Error);
}

}  // namespace
