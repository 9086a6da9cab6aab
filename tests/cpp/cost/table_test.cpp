// Cost tables against hand-computed MAC counts on small layers.
#include "skiptrain/cost/table.h"
#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/linear.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

struct TwoLayer : torch::nn::Module {
  TwoLayer() {
    conv = register_module("conv", skiptrain::nn::Conv2d(skiptrain::nn::Conv2dOptions(3, 8, 3).with_padding(1)));
    fc = register_module("fc", skiptrain::nn::Linear(8 * 4 * 4, 10));
  }
  torch::Tensor forward(const torch::Tensor& x) { return fc->forward(conv->forward(x).flatten(1)); }
  skiptrain::nn::Conv2d conv{nullptr};
  skiptrain::nn::Linear fc{nullptr};
};

TEST(CostTable, CountsConvAndLinearByHand) {
  TwoLayer model;
  auto table = skiptrain::cost::count(model, [&](const torch::Tensor& x) { return model.forward(x); }, {1, 3, 4, 4});
  ASSERT_EQ(table.layers.size(), 2u);
  // conv: H_out*W_out*C_out*C_in*k*k = 4*4*8*3*3*3
  EXPECT_EQ(table.layers[0].name, "conv");
  EXPECT_DOUBLE_EQ(table.layers[0].forward_macs, 4 * 4 * 8 * 3 * 9);
  // The first layer's input is data: no backward-to-input is ever computed.
  EXPECT_DOUBLE_EQ(table.layers[0].backward_input_macs, 0);
  EXPECT_DOUBLE_EQ(table.layers[0].backward_weight_macs, 4 * 4 * 8 * 3 * 9);
  EXPECT_DOUBLE_EQ(table.layers[1].forward_macs, 128 * 10);
  EXPECT_DOUBLE_EQ(table.layers[1].backward_input_macs, 128 * 10);
  EXPECT_DOUBLE_EQ(table.training_macs(), 2 * 3456 + 3 * 1280);
}

TEST(CostTable, GroupedConvCountsPerGroupInputs) {
  skiptrain::nn::Conv2d conv(skiptrain::nn::Conv2dOptions(8, 8, 3).with_groups(8).with_stride(2));
  auto table = skiptrain::cost::count(*conv, [&](const torch::Tensor& x) { return conv->forward(x); }, {1, 8, 8, 8});
  ASSERT_EQ(table.layers.size(), 1u);
  // output 3x3 (no padding, stride 2 on 8x8), depthwise: 3*3*8*1*3*3
  EXPECT_DOUBLE_EQ(table.layers[0].forward_macs, 3 * 3 * 8 * 9);
}

TEST(Library, OpsAreRegistered) { EXPECT_TRUE(skiptrain::ops_registered()); }

}  // namespace
