// skiptrain::max_pool2x2 against torch's max_pool2d (the reference): values and gradients on
// random inputs (odd sides, batch 1 and 0, NCHW and channels-last, float and double, one and
// several threads), ties (one maximum per window gets the gradient), NaN, a finite-difference
// gradient check in double, and bad arguments refused naming the op.
#include "skiptrain/ops/max_pool2x2.h"
#include "skiptrain/skiptrain.h"

#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

namespace {

using Shape = std::vector<int64_t>;

const std::vector<Shape> kShapes = {{64, 6, 24, 24}, {64, 16, 8, 8}, {20, 4, 14, 14}, {3, 5, 7, 9},
                                    {1, 2, 5, 4},    {2, 3, 2, 2},   {2, 1, 3, 3},    {2, 7, 3, 6}};

at::Tensor reference(const at::Tensor& x) { return torch::max_pool2d(x, {2, 2}, {2, 2}); }

struct Result {
  at::Tensor output, grad;
};

// Output and input gradient of pool(x) for the upstream gradient `upstream`.
template <typename Pool>
Result run(Pool pool, const at::Tensor& x, const at::Tensor& upstream) {
  auto leaf = x.detach().requires_grad_(true);
  auto output = pool(leaf);
  output.backward(upstream);
  return {output.detach(), leaf.grad()};
}

void expect_matches_reference(const at::Tensor& x, const std::string& what) {
  const auto upstream = torch::randn(reference(x).sizes(), x.options());
  const auto ours = run(skiptrain::max_pool2x2, x, upstream);
  const auto ref = run(reference, x, upstream);
  EXPECT_TRUE(torch::equal(ours.output, ref.output)) << what;
  EXPECT_TRUE(torch::equal(ours.grad, ref.grad)) << what;
  EXPECT_EQ(ours.output.suggest_memory_format(), ref.output.suggest_memory_format()) << what;
}

TEST(MaxPool2x2, MatchesMaxPool2dOnRandomInputs) {
  torch::manual_seed(0);
  for (const auto dtype : {torch::kFloat32, torch::kFloat64})
    for (const auto& shape : kShapes)
      for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
        const auto x = torch::randn(shape, torch::dtype(dtype)).contiguous(format);
        expect_matches_reference(x, c10::str(shape, " ", dtype, " ", format));
      }
}

TEST(MaxPool2x2, NonContiguousInput) {
  torch::manual_seed(1);
  const auto x = torch::randn({4, 3, 11, 10}).transpose(2, 3);  // neither NCHW nor channels-last
  ASSERT_FALSE(x.is_contiguous());
  expect_matches_reference(x, "transposed");
  expect_matches_reference(torch::randn({4, 6, 9, 9}).slice(1, 0, 6, 2), "strided channels");
}

TEST(MaxPool2x2, SeveralThreadsGiveTheSameResult) {
  torch::manual_seed(2);
  const int threads = at::get_num_threads();
  at::set_num_threads(4);
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast})
    expect_matches_reference(torch::randn({64, 16, 13, 13}).contiguous(format), c10::str("4 threads ", format));
  at::set_num_threads(threads);
}

TEST(MaxPool2x2, EmptyBatch) {
  const auto x = torch::randn({0, 3, 6, 6}, torch::requires_grad());
  const auto y = skiptrain::max_pool2x2(x);
  EXPECT_EQ(y.sizes(), reference(x).sizes());
  y.sum().backward();
  EXPECT_EQ(x.grad().sizes(), x.sizes());
}

// Inputs drawn from {0, 1, 2}: most windows hold a tied maximum. Whichever maximum gets the
// gradient, it must sit on a maximum, and each window's gradient must sum to max_pool2d's.
TEST(MaxPool2x2, TiesGiveTheGradientToOneMaximum) {
  torch::manual_seed(3);
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const auto x = torch::randint(0, 3, {8, 5, 9, 8}).to(torch::kFloat32).contiguous(format);
    const auto upstream = torch::rand(reference(x).sizes()) + 1;  // positive: nonzero where it lands
    const auto ours = run(skiptrain::max_pool2x2, x, upstream);
    const auto ref = run(reference, x, upstream);
    EXPECT_TRUE(torch::equal(ours.output, ref.output));
    // Per window sums (the dropped last row of the odd height included through the zero check).
    const auto window_sum = [](const at::Tensor& g) {
      return g.slice(2, 0, 8).unfold(2, 2, 2).unfold(3, 2, 2).sum({-1, -2});
    };
    EXPECT_TRUE(torch::allclose(window_sum(ours.grad), window_sum(ref.grad)));
    EXPECT_TRUE(torch::equal(window_sum(ours.grad), upstream));
    EXPECT_EQ(ours.grad.slice(2, 8).abs().sum().item<float>(), 0.0f);
    // One gradient per window, on a maximum: nonzero entries equal the window maximum of x.
    const auto window_max = torch::repeat_interleave(torch::repeat_interleave(ours.output, 2, 2), 2, 3);
    const auto landed = ours.grad.slice(2, 0, 8) != 0;
    EXPECT_EQ(landed.sum().item<int64_t>(), upstream.numel());
    EXPECT_TRUE(torch::equal(x.slice(2, 0, 8).masked_select(landed), window_max.masked_select(landed)));
  }
}

TEST(MaxPool2x2, NanPropagatesAsInMaxPool2d) {
  auto x = torch::arange(2 * 4 * 4, torch::kFloat32).reshape({2, 1, 4, 4});
  x[0][0][0][1] = NAN;  // window (0, 0): NaN after a number
  x[1][0][3][3] = NAN;  // window (1, 1): NaN last
  x[1][0][0][0] = NAN;  // window (0, 0): NaN first, larger numbers after it
  const auto ours = skiptrain::max_pool2x2(x);
  const auto ref = reference(x);
  EXPECT_TRUE(torch::equal(ours.isnan(), ref.isnan()));
  EXPECT_EQ(ours.isnan().sum().item<int64_t>(), 3);
  EXPECT_TRUE(torch::equal(torch::nan_to_num(ours, 0), torch::nan_to_num(ref, 0)));
}

// Central differences of sum(w * max_pool2x2(x)) in double, on distinct values (no ties, so
// the function is smooth around x).
TEST(MaxPool2x2, GradientMatchesFiniteDifferencesInDouble) {
  torch::manual_seed(4);
  const auto x = torch::randperm(2 * 3 * 5 * 7, torch::kFloat64).reshape({2, 3, 5, 7}) / 10;
  const auto w = torch::randn(reference(x).sizes(), torch::kFloat64);
  const auto loss = [&](const at::Tensor& v) { return (skiptrain::max_pool2x2(v) * w).sum().item<double>(); };
  const auto analytic = run(skiptrain::max_pool2x2, x, w).grad;
  auto numeric = torch::zeros_like(x);
  const double eps = 1e-6;
  auto flat = x.clone().view(-1);
  auto numeric_flat = numeric.view(-1);
  for (int64_t i = 0; i < flat.numel(); ++i) {
    const double v = flat[i].item<double>();
    flat[i] = v + eps;
    const double up = loss(flat.view(x.sizes()));
    flat[i] = v - eps;
    const double down = loss(flat.view(x.sizes()));
    flat[i] = v;
    numeric_flat[i] = (up - down) / (2 * eps);
  }
  EXPECT_TRUE(torch::allclose(analytic, numeric, 1e-6, 1e-6)) << (analytic - numeric).abs().max();
}

TEST(MaxPool2x2, OtherDtypesUseMaxPool2d) {
  const auto x = torch::randn({2, 3, 6, 5}).to(torch::kBFloat16);
  EXPECT_TRUE(torch::equal(skiptrain::max_pool2x2(x), reference(x)));
}

TEST(MaxPool2x2, CudaTensorsMatchMaxPool2d) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  expect_matches_reference(torch::randn({4, 3, 7, 8}, torch::kCUDA), "cuda");
}

TEST(MaxPool2x2, RejectsBadArguments) {
  EXPECT_THROW(skiptrain::max_pool2x2(torch::randn({3, 4, 4})), c10::Error);
  EXPECT_THROW(skiptrain::max_pool2x2(torch::randn({2, 3, 1, 4})), c10::Error);
  try {
    skiptrain::max_pool2x2(torch::randn({2, 3, 4, 1}));
    FAIL() << "a width of 1 was accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("max_pool2x2: x's H and W must be at least 2"), std::string::npos)
        << e.what();
  }
  const auto codes = std::get<1>(skiptrain::max_pool2x2_with_codes(torch::randn({2, 3, 4, 4})));
  EXPECT_THROW(skiptrain::_max_pool2x2_backward(torch::randn({2, 3, 2, 3}), codes, 4, 4), c10::Error);
  EXPECT_THROW(skiptrain::_max_pool2x2_backward(torch::randn({2, 3, 2, 2}), codes, 6, 4), c10::Error);
}

}  // namespace
