// skiptrain::emp_conv2d and its pruned backward against ATen: dense equality at keep = 1,
// a slow sliced reference at keep < 1 (direct kernels and the sliced ATen path), exact
// zeros for pruned filters, sampled channels scaled by 1 / probability and unbiased on average,
// argument errors that name the argument.
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/select_channels.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <string>

namespace {

struct Case {
  std::string name;
  std::vector<int64_t> input;  // [N, C_in, H, W]
  int64_t c_out, kh, kw;
  std::vector<int64_t> stride, padding, dilation;
  int64_t groups;
  bool bias;
};

const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"resnet3x3", {4, 16, 12, 12}, 16, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, false},
      {"lenet5x5pad2", {3, 1, 28, 28}, 6, 5, 5, {1, 1}, {2, 2}, {1, 1}, 1, true},
      {"lenet5x5", {2, 6, 14, 14}, 16, 5, 5, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {"batch1", {1, 8, 9, 7}, 12, 3, 3, {1, 1}, {1, 1}, {1, 1}, 1, true},
      {"pointwise", {2, 8, 5, 6}, 10, 1, 1, {1, 1}, {0, 0}, {1, 1}, 1, true},
      {"kernel7", {2, 3, 15, 13}, 8, 7, 7, {1, 1}, {3, 3}, {1, 1}, 1, true},
      {"asymmetric", {2, 5, 11, 9}, 7, 3, 5, {1, 1}, {1, 2}, {1, 1}, 1, true},
      {"dilated", {2, 4, 13, 11}, 8, 3, 3, {1, 1}, {2, 2}, {2, 2}, 1, true},
      {"strided", {2, 4, 13, 11}, 8, 3, 3, {2, 2}, {1, 1}, {1, 1}, 1, true},
      {"grouped", {2, 8, 9, 9}, 12, 3, 3, {1, 1}, {1, 1}, {1, 1}, 4, true},
      {"depthwise", {2, 8, 9, 9}, 8, 3, 3, {1, 1}, {1, 1}, {1, 1}, 8, true},
      {"kernel2", {2, 3, 8, 8}, 6, 2, 2, {1, 1}, {0, 0}, {1, 1}, 1, false},
  };
  return c;
}

// Slow reference: gradients of sum(conv(x, W[kept], b[kept]) * delta[:, kept]) by ATen autograd,
// scattered into full-size zero tensors.
std::tuple<at::Tensor, at::Tensor, at::Tensor> reference(const Case& c, const at::Tensor& x, const at::Tensor& w,
                                                         const at::Tensor& b, const at::Tensor& go,
                                                         const at::Tensor& kept) {
  auto xr = x.detach().clone().requires_grad_(true);
  auto wr = w.detach().clone().requires_grad_(true);
  auto br = b.defined() ? b.detach().clone().requires_grad_(true) : at::Tensor();
  auto gw = torch::zeros_like(w);
  auto gb = b.defined() ? torch::zeros_like(b) : at::Tensor();
  // Groups: run the full grouped conv but only let the kept channels' error through (zero delta elsewhere):
  // mathematically the same as slicing, fine for a reference.
  auto delta = torch::zeros_like(go);
  delta.index_copy_(1, kept, go.index_select(1, kept));
  auto y = torch::conv2d(xr, wr, br, c.stride, c.padding, c.dilation, c.groups);
  (y * delta).sum().backward();
  gw.index_copy_(0, kept, wr.grad().index_select(0, kept));
  if (b.defined()) gb.index_copy_(0, kept, br.grad().index_select(0, kept));
  return {xr.grad(), gw, gb};
}

// Independent reference of the channel score, in double.
at::Tensor reference_kept(const at::Tensor& go, const at::Tensor& w, double keep, double g1, double g2) {
  auto dn = go.to(at::kDouble).abs().sum({0, 2, 3});
  auto wn = w.to(at::kDouble).abs().flatten(1).sum(1);
  auto score = g1 * wn / wn.mean() + g2 * dn / dn.mean();
  const int64_t k = skiptrain::kept_channels(w.size(0), keep);
  auto top = std::get<1>(score.topk(k));
  return std::get<0>(top.sort());
}

class EmpConv2dCase : public ::testing::TestWithParam<Case> {};

TEST_P(EmpConv2dCase, KeepOneIsDenseConvolution) {
  const auto& c = GetParam();
  torch::manual_seed(1);
  auto x = torch::randn(c.input).requires_grad_(true);
  auto w = torch::randn({c.c_out, c.input[1] / c.groups, c.kh, c.kw}).requires_grad_(true);
  auto b = c.bias ? torch::randn({c.c_out}).requires_grad_(true) : at::Tensor();
  auto y = skiptrain::emp_conv2d(x, w, b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt, c.stride,
                                 c.padding, c.dilation, c.groups, 1.0);
  auto yd = torch::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
  ASSERT_TRUE(torch::allclose(y, yd, 1e-5, 1e-5));
  auto go = torch::randn(y.sizes());
  auto g = torch::autograd::grad({y}, b.defined() ? std::vector<at::Tensor>{x, w, b} : std::vector<at::Tensor>{x, w},
                                 {go});
  auto gd = torch::autograd::grad({yd}, b.defined() ? std::vector<at::Tensor>{x, w, b} : std::vector<at::Tensor>{x, w},
                                  {go});
  for (size_t i = 0; i < g.size(); ++i) EXPECT_TRUE(torch::allclose(g[i], gd[i], 1e-5, 1e-5)) << "grad " << i;
}

TEST_P(EmpConv2dCase, PrunedGradientsMatchSlicedReference) {
  const auto& c = GetParam();
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (double keep : {0.5, 0.25, 0.01}) {
      torch::manual_seed(2);
      auto opts = torch::TensorOptions().dtype(dtype);
      auto x = torch::randn(c.input, opts);
      auto w = torch::randn({c.c_out, c.input[1] / c.groups, c.kh, c.kw}, opts);
      auto b = c.bias ? torch::randn({c.c_out}, opts) : at::Tensor();
      auto y = torch::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups);
      // Distinct channel magnitudes so the selection is not decided by rounding.
      auto scale = torch::linspace(0.5, 2.0, c.c_out, opts).index_select(0, torch::randperm(c.c_out));
      auto go = torch::randn(y.sizes(), opts) * scale.view({1, -1, 1, 1});
      auto kept = skiptrain::select_channels(go, w, keep, 1.0, 1.0);
      ASSERT_TRUE(torch::equal(kept, reference_kept(go, w, keep, 1.0, 1.0))) << c.name << " keep " << keep;
      auto [gi, gw, gb] = skiptrain::_emp_conv2d_backward(go, x, w, c.stride, c.padding, c.dilation, c.groups, keep,
                                                          1.0, 1.0, false, {true, true, c.bias});
      auto [ri, rw, rb] = reference(c, x, w, b, go, kept);
      const double tol = dtype == at::kFloat ? 1e-4 : 1e-10;
      EXPECT_TRUE(torch::allclose(gi, ri, tol, tol)) << c.name << " grad_input keep " << keep;
      EXPECT_TRUE(torch::allclose(gw, rw, tol, tol)) << c.name << " grad_weight keep " << keep;
      if (c.bias) EXPECT_TRUE(torch::allclose(gb, rb, tol, tol)) << c.name << " grad_bias keep " << keep;
      // Pruned filters: exactly zero.
      auto pruned = torch::ones({c.c_out}, torch::kBool);
      pruned.index_fill_(0, kept, false);
      EXPECT_EQ(gw.index({pruned}).abs().sum().item<double>(), 0.0);
      if (c.bias) EXPECT_EQ(gb.index({pruned}).abs().sum().item<double>(), 0.0);
      EXPECT_EQ(kept.numel(), std::max<int64_t>(1, static_cast<int64_t>(std::ceil(keep * c.c_out - 1e-9))));
    }
  }
}

TEST_P(EmpConv2dCase, OutputMaskSkipsGradients) {
  const auto& c = GetParam();
  auto x = torch::randn(c.input);
  auto w = torch::randn({c.c_out, c.input[1] / c.groups, c.kh, c.kw});
  auto go = torch::randn(torch::conv2d(x, w, {}, c.stride, c.padding, c.dilation, c.groups).sizes());
  auto [gi, gw, gb] = skiptrain::_emp_conv2d_backward(go, x, w, c.stride, c.padding, c.dilation, c.groups, 0.5, 1.0,
                                                      1.0, false, {false, true, false});
  EXPECT_FALSE(gi.defined());
  EXPECT_TRUE(gw.defined());
  EXPECT_FALSE(gb.defined());
  auto [gi2, gw2, gb2] = skiptrain::_emp_conv2d_backward(go, x, w, c.stride, c.padding, c.dilation, c.groups, 0.5, 1.0,
                                                         1.0, false, {true, true, false});
  EXPECT_TRUE(torch::equal(gw, gw2));
}

TEST_P(EmpConv2dCase, SampledGradientsAreTheDrawnChannelsScaledByOneOverTheirProbability) {
  const auto& c = GetParam();
  for (auto dtype : {at::kFloat, at::kDouble}) {
    for (double keep : {0.5, 0.25}) {
      torch::manual_seed(5);
      auto opts = torch::TensorOptions().dtype(dtype);
      auto x = torch::randn(c.input, opts);
      auto w = torch::randn({c.c_out, c.input[1] / c.groups, c.kh, c.kw}, opts);
      auto b = c.bias ? torch::randn({c.c_out}, opts) : at::Tensor();
      auto go = torch::randn(torch::conv2d(x, w, b, c.stride, c.padding, c.dilation, c.groups).sizes(), opts);
      // The backward draws from the generator as sample_channels does: the same seed, the same draw.
      torch::manual_seed(6);
      auto [kept, scale] = skiptrain::sample_channels(go, w, keep, 1.0, 1.0);
      torch::manual_seed(6);
      auto [gi, gw, gb] = skiptrain::_emp_conv2d_backward(go, x, w, c.stride, c.padding, c.dilation, c.groups, keep,
                                                          1.0, 1.0, true, {true, true, c.bias});
      // Every gradient is linear in the error map: scaling a kept channel's error map scales its share.
      auto scaled = go.clone();
      scaled.index_copy_(1, kept, go.index_select(1, kept) * scale.view({1, -1, 1, 1}));
      auto [ri, rw, rb] = reference(c, x, w, b, scaled, kept);
      const double tol = dtype == at::kFloat ? 1e-3 : 1e-10;
      EXPECT_TRUE(torch::allclose(gi, ri, tol, tol)) << c.name << " grad_input keep " << keep;
      EXPECT_TRUE(torch::allclose(gw, rw, tol, tol)) << c.name << " grad_weight keep " << keep;
      if (c.bias) EXPECT_TRUE(torch::allclose(gb, rb, tol, tol)) << c.name << " grad_bias keep " << keep;
      EXPECT_EQ(kept.numel(), skiptrain::kept_channels(c.c_out, keep));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, EmpConv2dCase, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(EmpConv2d, AutogradThroughDispatcherPrunesFilters) {
  torch::manual_seed(3);
  auto x = torch::randn({4, 8, 10, 10}).requires_grad_(true);
  auto w = torch::randn({16, 8, 3, 3}).requires_grad_(true);
  auto b = torch::randn({16}).requires_grad_(true);
  auto y = skiptrain::emp_conv2d(x, w, b, {1, 1}, {1, 1}, {1, 1}, 1, 0.25);
  auto go = torch::randn(y.sizes());
  y.backward(go);
  auto kept = skiptrain::select_channels(go, w.detach(), 0.25, 1.0, 1.0);
  EXPECT_EQ(kept.numel(), 4);
  auto nonzero_rows = (w.grad().abs().flatten(1).sum(1) > 0).nonzero().flatten();
  EXPECT_TRUE(torch::equal(nonzero_rows, kept));
  auto nonzero_bias = (b.grad().abs() > 0).nonzero().flatten();
  EXPECT_TRUE(torch::equal(nonzero_bias, kept));
}

// Relative distance ||a - b|| / ||b||.
double relative_error(const at::Tensor& a, const at::Tensor& b) { return ((a - b).norm() / b.norm()).item<double>(); }

TEST(EmpConv2d, SampledGradientsAverageToTheDenseGradients) {
  torch::manual_seed(7);
  auto x = torch::randn({2, 4, 8, 8}, torch::kDouble);
  auto w = torch::randn({8, 4, 3, 3}, torch::kDouble);
  auto go =
      torch::randn({2, 8, 8, 8}, torch::kDouble) * torch::linspace(0.5, 2.0, 8, torch::kDouble).view({1, -1, 1, 1});
  const auto backward = [&](double keep, bool sample) {
    return skiptrain::_emp_conv2d_backward(go, x, w, {1, 1}, {1, 1}, {1, 1}, 1, keep, 1.0, 1.0, sample,
                                           {true, true, false});
  };
  auto [dense_gi, dense_gw, unused] = backward(1.0, false);
  at::Tensor sum_gi = torch::zeros_like(dense_gi), sum_gw = torch::zeros_like(dense_gw);
  const int draws = 3000;
  for (int d = 0; d < draws; ++d) {
    auto [gi, gw, gb] = backward(0.5, true);
    sum_gi += gi;
    sum_gw += gw;
  }
  EXPECT_LT(relative_error(sum_gi / draws, dense_gi), 0.05);
  EXPECT_LT(relative_error(sum_gw / draws, dense_gw), 0.05);
  // The best-scoring half alone is far off: what the test above could not tell from the sampled mean.
  auto [top_gi, top_gw, top_gb] = backward(0.5, false);
  EXPECT_GT(relative_error(top_gi, dense_gi), 0.2);
  EXPECT_GT(relative_error(top_gw, dense_gw), 0.2);
}

TEST(EmpConv2d, NonContiguousInputs) {
  torch::manual_seed(4);
  auto x = torch::randn({10, 6, 4, 8}).permute({3, 1, 0, 2});          // [8, 6, 10, 4], non-contiguous
  auto w = torch::randn({3, 3, 6, 12}).permute({3, 2, 0, 1});          // [12, 6, 3, 3]
  auto y = torch::conv2d(x, w, {}, {1, 1}, {1, 1});
  auto go = torch::randn({y.size(0), y.size(2), y.size(3), y.size(1)}).permute({0, 3, 1, 2});
  auto [gi, gw, gb] =
      skiptrain::_emp_conv2d_backward(go, x, w, {1, 1}, {1, 1}, {1, 1}, 1, 0.5, 1.0, 1.0, false, {true, true, false});
  auto [ri, rw, rb] = skiptrain::_emp_conv2d_backward(go.contiguous(), x.contiguous(), w.contiguous(), {1, 1}, {1, 1},
                                                      {1, 1}, 1, 0.5, 1.0, 1.0, false, {true, true, false});
  EXPECT_TRUE(torch::allclose(gi, ri));
  EXPECT_TRUE(torch::allclose(gw, rw));
}

// The sliced backward as a GPU runs it on a channels-last model: the reference's gradients,
// grad_input channels-last where groups = 1.
TEST(EmpConv2d, SlicedBackwardOfChannelsLastTensors) {
  const auto cl = at::MemoryFormat::ChannelsLast;
  for (const auto& c : cases()) {
    if (c.name != "resnet3x3" && c.name != "grouped" && c.name != "depthwise" && c.name != "strided") continue;
    torch::manual_seed(6);
    const auto x = torch::randn(c.input, torch::kDouble).contiguous(cl);
    const auto w = torch::randn({c.c_out, c.input[1] / c.groups, c.kh, c.kw}, torch::kDouble).contiguous(cl);
    const auto y = torch::conv2d(x, w, {}, c.stride, c.padding, c.dilation, c.groups);
    const auto go = torch::randn(y.sizes(), torch::kDouble).contiguous(cl);
    const auto kept = torch::tensor({0, 3, 5, 6}, torch::kLong);
    const auto [gi, gw, gb] = skiptrain::detail::emp_conv2d_backward_sliced(go, x, w, kept, c.stride, c.padding,
                                                                            c.dilation, c.groups, {true, true, false});
    const auto [ri, rw, rb] = reference(c, x, w, at::Tensor(), go, kept);
    EXPECT_TRUE(torch::allclose(gi, ri, 1e-10, 1e-10)) << c.name;
    EXPECT_TRUE(torch::allclose(gw, rw, 1e-10, 1e-10)) << c.name;
    if (c.groups == 1) EXPECT_TRUE(gi.is_contiguous(cl)) << c.name;
  }
}

void expect_error_naming(const std::function<void()>& f, const std::string& word) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one naming " << word;
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
  }
}

TEST(EmpConv2d, BadArgumentsNameTheArgument) {
  auto x = torch::randn({2, 4, 8, 8});
  auto w = torch::randn({8, 4, 3, 3});
  auto call = [&](const at::Tensor& xi, const at::Tensor& wi, c10::optional<at::Tensor> b, double keep) {
    return [=] { skiptrain::emp_conv2d(xi, wi, b, {1, 1}, {1, 1}, {1, 1}, 1, keep); };
  };
  expect_error_naming(call(x, w, c10::nullopt, 0.0), "keep");
  expect_error_naming(call(x, w, c10::nullopt, 1.5), "keep");
  expect_error_naming(call(x, w, c10::nullopt, -0.1), "keep");
  expect_error_naming(call(x.flatten(2), w, c10::nullopt, 0.5), "input");
  expect_error_naming(call(x, w.flatten(1), c10::nullopt, 0.5), "weight");
  expect_error_naming(call(x, torch::randn({8, 3, 3, 3}), c10::nullopt, 0.5), "weight");
  expect_error_naming(call(x, w.to(torch::kDouble), c10::nullopt, 0.5), "dtype");
  expect_error_naming(call(x.to(torch::kInt), w.to(torch::kInt), c10::nullopt, 0.5), "input");
  expect_error_naming(call(x, w, torch::randn({7}), 0.5), "bias");
  expect_error_naming([&] { skiptrain::emp_conv2d(x, w, {}, {1, 1}, {1, 1}, {1, 1}, 1, 0.5, -1.0, 1.0); }, "gamma1");
  expect_error_naming(
      [&] {
        skiptrain::_emp_conv2d_backward(torch::randn({2, 7, 8, 8}), x, w, {1, 1}, {1, 1}, {1, 1}, 1, 0.5, 1, 1, false,
                                        {true, true, false});
      },
      "grad_output");
  expect_error_naming([&] { skiptrain::emp_conv2d(x, w, {}, {0, 1}, {1, 1}, {1, 1}, 1, 0.5); }, "stride");
  expect_error_naming([&] { skiptrain::emp_conv2d(x, w, {}, {1, 1}, {1, 1}, {1, 1}, 3, 0.5); }, "groups");
}

}  // namespace
