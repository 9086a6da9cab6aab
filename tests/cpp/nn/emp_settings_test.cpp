// Conv2d's EMP settings (nn/conv2d.h) and set_emp (nn/emp_settings.h): which layers prune,
// kept fractions and selection costs for the ledger, and that training really prunes.
#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using skiptrain::nn::Conv2d;
using skiptrain::nn::Conv2dOptions;

struct Net : torch::nn::Module {
  Net() {
    conv1 = register_module("conv1", Conv2d(Conv2dOptions(3, 8, 3).with_padding(1)));
    conv2 = register_module("conv2", Conv2d(Conv2dOptions(8, 16, 3).with_padding(1)));
    shortcut = register_module("shortcut", Conv2d(Conv2dOptions(8, 16, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = conv1->forward(x);
    return conv2->forward(h) + shortcut->forward(h);
  }
  Conv2d conv1{nullptr}, conv2{nullptr}, shortcut{nullptr};
};

TEST(EmpSettings, SetEmpSkipsFirstAndFollowsTheFirstMatchingLayerRule) {
  Net net;
  skiptrain::nn::set_emp(net, {0.25, 0.0, 1.0}, /*skip_first=*/true, {{"short*", 1.0}});
  EXPECT_EQ(net.conv1->emp.keep, 1.0);
  EXPECT_EQ(net.conv2->emp.keep, 0.25);
  EXPECT_EQ(net.conv2->emp.gamma1, 0.0);
  EXPECT_EQ(net.shortcut->emp.keep, 1.0);
  skiptrain::nn::set_emp(net, {0.5}, /*skip_first=*/false);
  EXPECT_EQ(net.conv1->emp.keep, 0.5);
  EXPECT_EQ(net.shortcut->emp.keep, 0.5);
  // The first matching rule wins; the others keep the model-wide fraction and gammas.
  skiptrain::nn::set_emp(net, {0.5, 2.0, 1.0}, /*skip_first=*/false, {{"conv2", 0.75}, {"conv*", 0.25}});
  EXPECT_EQ(net.conv1->emp.keep, 0.25);
  EXPECT_EQ(net.conv2->emp.keep, 0.75);
  EXPECT_EQ(net.conv2->emp.gamma1, 2.0);
  EXPECT_EQ(net.shortcut->emp.keep, 0.5);
  EXPECT_THROW(skiptrain::nn::set_emp(net, {1.5}), c10::Error);
  EXPECT_THROW(skiptrain::nn::set_emp(net, {0.5}, true, {{"conv2", 0.0}}), c10::Error);
}

TEST(EmpSettings, RulesThatNameNoPrunedConvAreAnErrorListingTheConvsAndLeaveTheModelAsItWas) {
  Net net;
  skiptrain::nn::set_emp(net, {0.25}, /*skip_first=*/true);
  for (const auto& rules : {std::vector<skiptrain::nn::LayerKeep>{{"layer4.*", 0.5}},
                            std::vector<skiptrain::nn::LayerKeep>{{"conv1", 0.5}},  // the skipped first conv
                            std::vector<skiptrain::nn::LayerKeep>{{"conv*", 0.5}, {"conv2", 1.0}}}) {
    try {
      skiptrain::nn::set_emp(net, {0.5}, /*skip_first=*/true, rules);
      ADD_FAILURE() << rules.back().pattern << " was accepted";
    } catch (const c10::ValueError& e) {
      EXPECT_NE(e.msg().find("conv1, conv2, shortcut"), std::string::npos) << e.msg();
      EXPECT_NE(e.msg().find("'" + rules.back().pattern + "'"), std::string::npos) << e.msg();
    }
    EXPECT_EQ(net.conv2->emp.keep, 0.25);
    EXPECT_EQ(net.shortcut->emp.keep, 0.25);
  }
  try {  // every unused rule is named
    skiptrain::nn::set_emp(net, {0.5}, /*skip_first=*/true, {{"a*", 0.5}, {"conv2", 0.5}, {"b?", 0.5}});
    ADD_FAILURE() << "accepted";
  } catch (const c10::ValueError& e) {
    EXPECT_NE(e.msg().find("'a*', 'b?'"), std::string::npos) << e.msg();
  }
}

TEST(EmpSettings, ParseLayerKeepSplitsAtTheLastEqualsAndChecksTheFraction) {
  const auto rule = skiptrain::nn::parse_layer_keep("layer1.*=0.75");
  EXPECT_EQ(rule.pattern, "layer1.*");
  EXPECT_EQ(rule.keep, 0.75);
  EXPECT_EQ(skiptrain::nn::parse_layer_keep("a=b=1").pattern, "a=b");
  EXPECT_EQ(skiptrain::nn::parse_layer_keep("conv2=.25").keep, 0.25);
  for (const char* bad : {"layer1", "=0.5", "layer1=", "layer1=0", "layer1=1.5", "layer1=half", "layer1=0.5x",
                          "layer1= 0.5", "layer1=0x0.8", "layer1=nan"}) {
    try {
      skiptrain::nn::parse_layer_keep(bad, "--emp-layer-keep");
      ADD_FAILURE() << bad << " was accepted";
    } catch (const c10::ValueError& e) {
      EXPECT_NE(e.msg().find("--emp-layer-keep"), std::string::npos) << e.msg();
      EXPECT_NE(e.msg().find(bad), std::string::npos) << e.msg();
    }
  }
}

TEST(EmpSettings, KeptFractionAndSelectionCost) {
  Conv2d conv(Conv2dOptions(6, 16, 5));
  EXPECT_DOUBLE_EQ(conv->kept_fraction(), 1.0);
  EXPECT_DOUBLE_EQ(conv->selection_macs_per_instance(10, 10), 0.0);
  conv->emp.keep = 0.3;  // ceil(4.8) = 5 of 16
  EXPECT_DOUBLE_EQ(conv->kept_fraction(), 5.0 / 16.0);
  EXPECT_DOUBLE_EQ(conv->selection_macs_per_instance(10, 10), 16 * 10 * 10);
  EXPECT_DOUBLE_EQ(conv->selection_macs_per_batch(), 16 * 6 * 5 * 5);
  conv->emp.keep = 0.01;
  EXPECT_DOUBLE_EQ(conv->kept_fraction(), 1.0 / 16.0);
}

TEST(EmpSettings, TrainingForwardPrunesEvalAndNoGradDoNot) {
  torch::manual_seed(5);
  Conv2d conv(Conv2dOptions(4, 8, 3).with_padding(1));
  conv->emp.keep = 0.25;
  auto x = torch::randn({2, 4, 6, 6});
  conv->forward(x).pow(2).sum().backward();
  auto rows = (conv->weight.grad().abs().flatten(1).sum(1) > 0).sum().item<int64_t>();
  EXPECT_EQ(rows, 2);
  // Output equals the plain convolution in every mode.
  auto plain = at::conv2d(x, conv->weight, conv->bias, {1, 1}, {1, 1});
  EXPECT_TRUE(torch::allclose(conv->forward(x), plain));
  conv->eval();
  conv->weight.mutable_grad() = torch::Tensor();
  conv->forward(x).pow(2).sum().backward();
  rows = (conv->weight.grad().abs().flatten(1).sum(1) > 0).sum().item<int64_t>();
  EXPECT_EQ(rows, 8);  // eval mode: dense
}

}  // namespace
