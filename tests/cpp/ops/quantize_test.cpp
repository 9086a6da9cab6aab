// The quantizers: nearest rounding stays within half a level of the input and hits at
// most 2^bits values spanning [min, max]; stochastic rounding is unbiased on average;
// gradients pass straight through quantize and are rounded by quantize_grad; bad widths
// are refused naming the argument.
#include "skiptrain/ops/quantize.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

namespace {

double level_step(const torch::Tensor& x, int64_t bits) {
  return (x.max().item<double>() - x.min().item<double>()) / (std::ldexp(1.0, bits) - 1);
}

TEST(Quantize, NearestIsWithinHalfALevelOfAKnownRange) {
  torch::manual_seed(0);
  for (int64_t bits : {2, 4, 8, 16}) {
    auto x = torch::rand({3, 5, 7, 11}) * 4 - 1;  // range about [-1, 3]
    const auto q = skiptrain::quantize(x, bits, /*stochastic=*/false);
    const double step = level_step(x, bits);
    EXPECT_EQ(q.sizes(), x.sizes());
    EXPECT_LE((q - x).abs().max().item<double>(), step / 2 * (1 + 1e-4)) << "bits " << bits;
    EXPECT_DOUBLE_EQ(q.min().item<double>(), x.min().item<double>());
    EXPECT_NEAR(q.max().item<double>(), x.max().item<double>(), 1e-5);
    if (bits <= 8) EXPECT_LE(std::get<0>(at::_unique(q)).numel(), 1 << bits) << "bits " << bits;
    // Every value sits on the grid min + k * step.
    const auto k = (q - x.min()) / step;
    EXPECT_LT((k - k.round()).abs().max().item<double>(), 1e-2) << "bits " << bits;
  }
}

TEST(Quantize, EightBitsOfAKnownGridAreExact) {
  const auto x = torch::arange(256, torch::kFloat32) * 0.5 - 10;  // exactly 256 levels, step 0.5
  EXPECT_TRUE(torch::equal(skiptrain::quantize(x, 8, false), x));
}

TEST(Quantize, StochasticRoundingIsUnbiased) {
  torch::manual_seed(1);
  auto x = torch::full({200000}, 0.3f);
  x[0] = 0;
  x[1] = 1;  // range [0, 1]: 2 bits give levels 0, 1/3, 2/3, 1
  const auto q = skiptrain::quantize(x, 2, /*stochastic=*/true);
  const auto body = q.slice(0, 2);
  EXPECT_NEAR(body.mean().item<double>(), 0.3, 2e-3);
  // Only the two neighbouring levels occur: 0.3 rounds to 0 or 1/3.
  EXPECT_EQ((body.sub(0.0).abs() < 1e-6).logical_or((body - 1.0 / 3).abs() < 1e-6).all().item<bool>(), true);
  // Nearest rounding of the same tensor is biased: always 1/3.
  EXPECT_NEAR(skiptrain::quantize(x, 2, false).slice(0, 2).mean().item<double>(), 1.0 / 3, 1e-6);
}

TEST(Quantize, ConstantAndChannelsLastInputs) {
  const auto c = torch::full({4, 4}, 2.5f);
  EXPECT_TRUE(torch::equal(skiptrain::quantize(c, 4, false), c));
  const auto x = torch::randn({2, 3, 5, 5}).contiguous(at::MemoryFormat::ChannelsLast);
  const auto q = skiptrain::quantize(x, 8, false);
  EXPECT_TRUE(q.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_TRUE(torch::allclose(q, skiptrain::quantize(x.contiguous(), 8, false)));
}

TEST(Quantize, GradientIsStraightThrough) {
  auto x = torch::randn({6, 7}, torch::requires_grad());
  const auto g = torch::randn({6, 7});
  skiptrain::quantize(x, 4, false).backward(g);
  EXPECT_TRUE(torch::equal(x.grad(), g));
}

TEST(QuantizeGrad, ForwardIsIdentityBackwardRoundsTheError) {
  torch::manual_seed(2);
  auto x = torch::randn({8, 16}, torch::requires_grad());
  auto y = skiptrain::quantize_grad(x, 4);
  EXPECT_TRUE(torch::equal(y, x));
  const auto g = torch::randn({8, 16});
  y.backward(g);
  const double step = level_step(g, 4);
  const auto k = (x.grad() - g.min()) / step;
  EXPECT_LT((k - k.round()).abs().max().item<double>(), 1e-3);       // on g's 4-bit grid
  EXPECT_LE((x.grad() - g).abs().max().item<double>(), step * (1 + 1e-4));  // a neighbouring level
}

TEST(Quantize, RefusesBadWidthsNamingTheArgument) {
  const auto x = torch::randn({3});
  for (int64_t bits : {0, 1, 17, 32}) {
    try {
      skiptrain::quantize(x, bits, false);
      FAIL() << "bits " << bits << " accepted";
    } catch (const c10::Error& e) {
      EXPECT_NE(std::string(e.what()).find("bits must be between 2 and 16"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(skiptrain::quantize_grad(x, 1), c10::Error);
  EXPECT_THROW(skiptrain::quantize(torch::arange(3), 8, false), c10::Error);  // integer input
}

}  // namespace
