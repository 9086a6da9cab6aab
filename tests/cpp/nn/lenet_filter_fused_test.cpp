// The fused LeNet filter against an explicit at::conv2d / max_pool2d / linear chain over the
// module's parameters: logits within 1e-5 and all 8 parameter gradients within 1e-4 relative,
// for both filter widths and batches 1, 20, 64; InferenceMode; and the fallback to the layers
// for quantized or EMP layers, channels-last or non-contiguous input and an active ShapeRecorder.
#include "skiptrain/cost/recorder.h"
#include "skiptrain/nn/lenet.h"
#include "skiptrain/nn/lenet_filter_fused.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <ostream>
#include <string>
#include <vector>

namespace {

using skiptrain::nn::LeNetFilterImpl;
using skiptrain::nn::LeNetFilterWidths;

// The layer-by-layer computation the fused path must equal, written with plain ATen ops.
torch::Tensor reference(const LeNetFilterImpl& f, const torch::Tensor& x) {
  auto y = at::max_pool2d(torch::relu(at::conv2d(x, f.conv1->weight, f.conv1->bias, {2, 2}, {1, 1})), {2, 2});
  y = at::max_pool2d(torch::relu(at::conv2d(y, f.conv2->weight, f.conv2->bias)), {2, 2});
  y = torch::relu(at::linear(y.flatten(1), f.fc1->weight, f.fc1->bias));
  return at::linear(y, f.fc2->weight, f.fc2->bias);
}

std::vector<torch::Tensor> grads_of(LeNetFilterImpl& f, const torch::Tensor& logits, const torch::Tensor& labels) {
  for (auto& p : f.parameters()) p.mutable_grad() = torch::Tensor();
  torch::nn::functional::cross_entropy(logits, labels).backward();
  std::vector<torch::Tensor> grads;
  for (const auto& p : f.parameters()) grads.push_back(p.grad().clone());
  return grads;
}

struct Case {
  std::string name;
  LeNetFilterWidths widths;
  int64_t batch;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class FusedFilter : public ::testing::TestWithParam<Case> {};

TEST_P(FusedFilter, EqualsTheLayerChainForwardAndBackward) {
  const auto& c = GetParam();
  torch::manual_seed(7);
  LeNetFilterImpl f({1, 28, 2}, c.widths);
  const auto x = torch::randn({c.batch, 1, 28, 28});
  const auto labels = torch::randint(0, 2, {c.batch}, torch::kInt64);
  ASSERT_TRUE(skiptrain::nn::fused_filter_applies(f, x));

  const auto expected = reference(f, x);
  const auto logits = f.forward(x);
  ASSERT_TRUE(logits.requires_grad());
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-5)) << (logits - expected).abs().max();

  const auto expected_grads = grads_of(f, expected, labels);
  const auto grads = grads_of(f, logits, labels);
  ASSERT_EQ(grads.size(), 8u);
  for (size_t i = 0; i < grads.size(); ++i) {
    const double scale = expected_grads[i].abs().max().item<double>() + 1e-12;
    EXPECT_LE((grads[i] - expected_grads[i]).abs().max().item<double>() / scale, 1e-4)
        << "parameter " << i << " of " << c.name;
  }
}

TEST_P(FusedFilter, InferenceModeForward) {
  const auto& c = GetParam();
  torch::manual_seed(8);
  LeNetFilterImpl f({1, 28, 2}, c.widths);
  const auto x = torch::randn({c.batch, 1, 28, 28});
  const auto expected = reference(f, x).detach();
  c10::InferenceMode inference;
  const auto logits = f.forward(x);
  EXPECT_FALSE(logits.requires_grad());
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-5));
}

INSTANTIATE_TEST_SUITE_P(Widths, FusedFilter,
                         ::testing::Values(Case{"lenet_filter_1", {6, 16, 32}, 1}, Case{"lenet_filter_20", {6, 16, 32}, 20},
                                           Case{"lenet_filter_64", {6, 16, 32}, 64}, Case{"slim_1", {4, 8, 16}, 1},
                                           Case{"slim_20", {4, 8, 16}, 20}, Case{"slim_64", {4, 8, 16}, 64}),
                         [](const auto& info) { return info.param.name; });

// Ties and ReLU's zeros in the pools: a constant image makes every window tie.
TEST(FusedFilterEdge, ConstantImagesTieInEveryWindow) {
  torch::manual_seed(9);
  LeNetFilterImpl f({1, 28, 2}, {4, 8, 16});
  const auto x = torch::ones({5, 1, 28, 28});
  const auto labels = torch::randint(0, 2, {5}, torch::kInt64);
  const auto expected = reference(f, x);
  const auto logits = f.forward(x);
  EXPECT_TRUE(torch::allclose(logits, expected, 1e-5, 1e-5));
  const auto expected_grads = grads_of(f, expected, labels);
  const auto grads = grads_of(f, logits, labels);
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_TRUE(torch::allclose(grads[i], expected_grads[i], 1e-4, 1e-6));
}

// Each fallback: the fused path declines, and the forward still equals the layer chain.
TEST(FusedFilterFallback, NonContiguousAndChannelsLastInput) {
  torch::manual_seed(10);
  LeNetFilterImpl f({3, 28, 2}, {4, 8, 16});
  const auto base = torch::randn({6, 3, 28, 28});
  const auto channels_last = base.contiguous(at::MemoryFormat::ChannelsLast);
  const auto strided = torch::randn({6, 3, 28, 56}).slice(3, 0, 56, 2);
  EXPECT_TRUE(skiptrain::nn::fused_filter_applies(f, base));
  for (const auto& x : {channels_last, strided}) {
    EXPECT_FALSE(skiptrain::nn::fused_filter_applies(f, x));
    EXPECT_TRUE(torch::allclose(f.forward(x), reference(f, x), 1e-5, 1e-5));
  }
}

TEST(FusedFilterFallback, QuantizedOrPrunedLayersAndRecorder) {
  torch::manual_seed(11);
  LeNetFilterImpl f({1, 28, 2}, {4, 8, 16});
  const auto x = torch::randn({4, 1, 28, 28});
  const auto layer_chain = [&] {
    auto y = at::max_pool2d(torch::relu(f.conv1->forward(x)), {2, 2});
    y = at::max_pool2d(torch::relu(f.conv2->forward(y)), {2, 2});
    return f.fc2->forward(torch::relu(f.fc1->forward(y.flatten(1))));
  };
  f.fc2->quant.bits = 8;
  EXPECT_FALSE(skiptrain::nn::fused_filter_applies(f, x));
  EXPECT_TRUE(torch::allclose(f.forward(x), layer_chain(), 1e-5, 1e-5));
  EXPECT_FALSE(torch::allclose(f.forward(x), reference(f, x), 1e-5, 1e-5)) << "8-bit fc2 should differ from float";
  f.fc2->quant.bits = skiptrain::nn::kFloatBits;
  f.conv1->quant.grad_bits = 8;
  EXPECT_FALSE(skiptrain::nn::fused_filter_applies(f, x));
  f.conv1->quant.grad_bits = 0;
  f.conv2->emp.keep = 0.5;
  EXPECT_FALSE(skiptrain::nn::fused_filter_applies(f, x));
  f.conv2->emp.keep = 1.0;
  ASSERT_TRUE(skiptrain::nn::fused_filter_applies(f, x));
  skiptrain::cost::ShapeRecorder recorder;
  EXPECT_FALSE(skiptrain::nn::fused_filter_applies(f, x));
  f.forward(x);
  EXPECT_EQ(recorder.records().size(), 4u);
}

}  // namespace
