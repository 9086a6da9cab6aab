// skiptrain's CUDA kernels against its CPU kernels through the public C++ API: the same kept
// channels (NCHW and channels-last), sampled channels in proportion to their scores, emp_conv2d's
// pruned gradients (best-scoring and sampled), quantize's nearest rounding
// and max_pool2x2's values, codes and gradients, on random inputs in double. Skipped without a
// CUDA device.
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/max_pool2x2.h"
#include "skiptrain/ops/quantize.h"
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

namespace {

class CudaOps : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    torch::manual_seed(0);
  }
};

const auto kDoubles = torch::dtype(torch::kFloat64);

TEST_F(CudaOps, SelectChannelsPicksTheCpuChannels) {
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast})
    for (const int64_t channels : {6, 64, 300}) {
      const auto scale = torch::linspace(0.5, 2.0, channels, kDoubles).index_select(0, torch::randperm(channels));
      const auto go = (torch::randn({8, channels, 7, 7}, kDoubles) * scale.view({1, -1, 1, 1})).contiguous(format);
      const auto w = torch::randn({channels, 16, 3, 3}, kDoubles).contiguous(format);
      for (const double keep : {0.5, 0.25, 0.01}) {
        const auto expected = skiptrain::select_channels(go, w, keep, 1.0, 1.0);
        const auto got = skiptrain::select_channels(go.cuda(), w.cuda(), keep, 1.0, 1.0);
        EXPECT_TRUE(got.is_cuda());
        EXPECT_TRUE(torch::equal(got.cpu(), expected)) << channels << " channels, keep " << keep << ", " << format;
      }
    }
}

TEST_F(CudaOps, SelectChannelsTiesGoToTheLowerIndex) {
  const auto go = torch::zeros({2, 6, 3, 3}).cuda();
  const auto w = torch::ones({6, 1, 3, 3}).cuda();
  EXPECT_TRUE(torch::equal(skiptrain::select_channels(go, w, 0.5, 1.0, 1.0).cpu(), torch::arange(3, torch::kLong)));
}

TEST_F(CudaOps, EmpConv2dPrunedGradientsMatchTheCpu) {
  const auto x = torch::randn({4, 16, 10, 10}, kDoubles);
  const auto w = torch::randn({32, 16, 3, 3}, kDoubles);
  const auto b = torch::randn({32}, kDoubles);
  const auto scale = torch::linspace(0.5, 2.0, 32, kDoubles).view({1, -1, 1, 1});
  const auto delta = torch::randn({4, 32, 10, 10}, kDoubles) * scale;
  std::vector<at::Tensor> grads[2];
  for (int device = 0; device < 2; ++device) {
    const auto to = [&](const at::Tensor& t) { return (device ? t.cuda() : t).detach().requires_grad_(true); };
    auto xl = to(x), wl = to(w), bl = to(b);
    skiptrain::emp_conv2d(xl, wl, bl, {1, 1}, {1, 1}, {1, 1}, 1, 0.25).backward(device ? delta.cuda() : delta);
    grads[device] = {xl.grad().cpu(), wl.grad().cpu(), bl.grad().cpu()};
  }
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(torch::allclose(grads[1][i], grads[0][i], 1e-10, 1e-10)) << "gradient " << i;
  EXPECT_EQ((grads[1][1].flatten(1).abs().sum(1) > 0).sum().item<int64_t>(), 8);  // ceil(0.25 * 32)
}

TEST_F(CudaOps, SampleChannelsDrawsInProportionToTheScores) {
  // Error-map norms 1, 1, 10, 1, 1 (gamma1 = 0): channel 2 is always drawn with scale 1, each of the
  // others a quarter of the time with scale 4 (the CPU test's case).
  const auto go = (torch::ones({2, 5, 3, 3}) * torch::tensor({1.0, 1.0, 10.0, 1.0, 1.0}).view({1, -1, 1, 1})).cuda();
  const auto w = torch::ones({5, 2, 3, 3}).cuda();
  std::vector<int64_t> count(5, 0);
  const int draws = 4000;
  for (int d = 0; d < draws; ++d) {
    const auto [kept, scale] = skiptrain::sample_channels(go, w, 0.4, 0.0, 1.0);
    ASSERT_TRUE(kept.is_cuda());
    const auto k = kept.cpu();
    const auto s = scale.cpu();
    ASSERT_EQ(k.numel(), 2);
    ASSERT_LT(k[0].item<int64_t>(), k[1].item<int64_t>());
    for (int i = 0; i < 2; ++i) {
      ++count[k[i].item<int64_t>()];
      EXPECT_NEAR(s[i].item<float>(), k[i].item<int64_t>() == 2 ? 1.0 : 4.0, 1e-5);
    }
  }
  EXPECT_EQ(count[2], draws);
  for (int j : {0, 1, 3, 4}) EXPECT_NEAR(count[j], draws / 4, 150) << "channel " << j;
}

TEST_F(CudaOps, SampleChannelsKeepsHalfAndBfloat16ScalesInFloat32) {
  // Norms 1, 1, 1, 7 (gamma1 = 0), keep 0.5: channel 3 is sure, the others are drawn with p = 1/3 and
  // scale 3; norms 1, 2, 3, 4 give p = 0.2, 0.4, 0.6, 0.8 and scales like 5/3 that half and bfloat16
  // cannot hold exactly.
  for (const auto& norms : {std::vector<double>{1, 1, 1, 7}, std::vector<double>{1, 2, 3, 4}}) {
    const auto go = torch::ones({2, 4, 3, 3}) * torch::tensor(norms).view({1, -1, 1, 1});
    const auto w = torch::ones({4, 2, 3, 3});
    torch::manual_seed(3);
    const auto [kept32, scale32] = skiptrain::sample_channels(go.cuda(), w.cuda(), 0.5, 0.0, 1.0);
    for (const auto dtype : {torch::kHalf, torch::kBFloat16}) {
      torch::manual_seed(3);
      const auto [kept, scale] = skiptrain::sample_channels(go.to(dtype).cuda(), w.to(dtype).cuda(), 0.5, 0.0, 1.0);
      EXPECT_EQ(scale.scalar_type(), torch::kFloat) << dtype;
      EXPECT_TRUE(torch::equal(kept.cpu(), kept32.cpu())) << dtype;
      EXPECT_TRUE(torch::equal(scale.cpu(), scale32.cpu())) << dtype;
    }
  }
}

TEST_F(CudaOps, EmpConv2dSampledGradientsMatchTheCpuOnTheDrawnChannels) {
  const auto x = torch::randn({4, 16, 10, 10}, kDoubles);
  const auto w = torch::randn({32, 16, 3, 3}, kDoubles);
  const auto delta = torch::randn({4, 32, 10, 10}, kDoubles);
  torch::manual_seed(9);
  const auto [kept, scale] = skiptrain::sample_channels(delta.cuda(), w.cuda(), 0.25, 1.0, 1.0);
  torch::manual_seed(9);
  const auto [gi, gw, gb] = skiptrain::_emp_conv2d_backward(delta.cuda(), x.cuda(), w.cuda(), {1, 1}, {1, 1}, {1, 1}, 1,
                                                            0.25, 1.0, 1.0, true, {true, true, false});
  // On the CPU: the same drawn channels, their error maps scaled, through the sliced backward.
  auto scaled = delta.clone();
  const auto k = kept.cpu();
  scaled.index_copy_(1, k, delta.index_select(1, k) * scale.cpu().view({1, -1, 1, 1}));
  const auto [ri, rw, rb] =
      skiptrain::detail::emp_conv2d_backward_sliced(scaled, x, w, k, {1, 1}, {1, 1}, {1, 1}, 1, {true, true, false});
  EXPECT_TRUE(torch::allclose(gi.cpu(), ri, 1e-10, 1e-10));
  EXPECT_TRUE(torch::allclose(gw.cpu(), rw, 1e-10, 1e-10));
  EXPECT_EQ(k.numel(), 8);
}

TEST_F(CudaOps, QuantizeNearestRoundsAsTheCpu) {
  for (const int64_t bits : {2, 8, 16}) {
    const auto x = torch::randn({3, 5, 7, 11}, kDoubles) * 3 + 1;
    EXPECT_TRUE(torch::equal(skiptrain::quantize(x.cuda(), bits, false).cpu(), skiptrain::quantize(x, bits, false)))
        << "bits " << bits;
  }
}

TEST_F(CudaOps, MaxPool2x2MatchesTheCpu) {
  for (const auto format : {at::MemoryFormat::Contiguous, at::MemoryFormat::ChannelsLast}) {
    const auto x = torch::randn({3, 5, 7, 9}, kDoubles).contiguous(format);
    const auto upstream = torch::randn({3, 5, 3, 4}, kDoubles);
    std::vector<at::Tensor> results[2];
    for (int device = 0; device < 2; ++device) {
      auto leaf = (device ? x.cuda() : x).detach().requires_grad_(true);
      auto [output, codes] = skiptrain::max_pool2x2_with_codes(leaf);
      output.backward(device ? upstream.cuda() : upstream);
      results[device] = {output.detach().cpu(), codes.cpu(), leaf.grad().cpu()};
    }
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::equal(results[1][i], results[0][i])) << format << " result " << i;
    EXPECT_TRUE(skiptrain::max_pool2x2(x.cuda()).is_contiguous(format));
  }
}

}  // namespace
