// The model zoo: output shapes in train and eval mode at batch 1 and 2, MAC counts against
// the paper's figures (ResNet-20 40.55M, ResNet-110 253M) and LeNet-5 by hand, parameter
// counts, the filters' inference cost relative to their main models, bad names, and the EMP rules
// each model gets by default.
#include "skiptrain/cost/table.h"
#include "skiptrain/errors.h"
#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/nn/resnet_cifar.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

using skiptrain::nn::ModelSpec;
using skiptrain::nn::Network;

// MNIST-shaped for the LeNets, CIFAR-shaped for the rest; filters have 2 outputs.
ModelSpec spec_for(const std::string& name) {
  const bool mnist = name.rfind("lenet", 0) == 0;
  const bool filter = name.rfind("lenet-filter", 0) == 0 || name == "resnet8" || name == "resnet8-slim";
  return ModelSpec{mnist ? 1 : 3, mnist ? 28 : 32, filter ? 2 : 10};
}

skiptrain::cost::CostTable count(const std::string& name, int64_t num_classes = -1) {
  auto spec = spec_for(name);
  if (num_classes > 0) spec.num_classes = num_classes;
  Network model = skiptrain::nn::make_model(name, spec);
  return skiptrain::cost::count(*model, [&](const torch::Tensor& x) { return model->forward(x); },
                                {1, spec.in_channels, spec.image_size, spec.image_size});
}

int64_t parameter_count(const std::string& name, int64_t num_classes = 10) {
  auto spec = spec_for(name);
  spec.num_classes = num_classes;
  int64_t total = 0;
  for (const auto& p : skiptrain::nn::make_model(name, spec)->parameters()) total += p.numel();
  return total;
}

TEST(Zoo, ListsEveryModel) {
  const std::vector<std::string> expected = {"lenet5",   "lenet-filter", "lenet-filter-slim", "resnet8",
                                             "resnet8-slim", "resnet20", "resnet32",          "resnet44",
                                             "resnet56", "resnet74",     "resnet110",         "vgg16"};
  EXPECT_EQ(skiptrain::nn::model_names(), expected);
}

TEST(Zoo, OutputShapesAtBatchOneAndTwoInTrainAndEval) {
  torch::manual_seed(0);
  for (const auto& name : skiptrain::nn::model_names()) {
    const auto spec = spec_for(name);
    Network model = skiptrain::nn::make_model(name, spec);
    for (bool training : {true, false}) {
      model->train(training);
      for (int64_t batch : {1, 2}) {
        SCOPED_TRACE(name + (training ? " train" : " eval") + " batch " + std::to_string(batch));
        auto images = torch::randn({batch, spec.in_channels, spec.image_size, spec.image_size});
        auto logits = model->forward(images);
        EXPECT_EQ(logits.sizes().vec(), (std::vector<int64_t>{batch, spec.num_classes}));
        EXPECT_TRUE(logits.isfinite().all().item<bool>());
        if (training) {
          // A batch of one must train too (BatchNorm sees H*W values per channel).
          model->zero_grad();
          logits.logsumexp(1).sum().backward();
          for (const auto& p : model->named_parameters())
            EXPECT_TRUE(p.value().grad().defined()) << p.key();
        }
      }
    }
  }
}

TEST(Zoo, LeNet5MacsByHand) {
  auto table = count("lenet5");
  ASSERT_EQ(table.layers.size(), 5u);
  const std::vector<std::string> names = {"conv1", "conv2", "fc1", "fc2", "fc3"};
  // conv1: 28x28 out (padding 2), 6 filters of 1x5x5; conv2: 10x10 out, 16 of 6x5x5.
  const std::vector<double> macs = {28 * 28 * 6 * 25, 10 * 10 * 16 * 6 * 25, 400 * 120, 120 * 84, 84 * 10};
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(table.layers[i].name, names[i]);
    EXPECT_DOUBLE_EQ(table.layers[i].forward_macs, macs[i]) << names[i];
  }
  EXPECT_DOUBLE_EQ(table.forward_macs(), 416520);
  // The first conv's input is data: no backward-to-input.
  EXPECT_DOUBLE_EQ(table.training_macs(), 3 * 416520 - 117600);
  EXPECT_EQ(parameter_count("lenet5"), 61706);
}

TEST(Zoo, ResNetMacsMatchThePaper) {
  auto r20 = count("resnet20");
  EXPECT_EQ(r20.layers.size(), 20u);  // 19 convs + fc
  EXPECT_NEAR(r20.forward_macs(), 40.55e6, 0.01 * 40.55e6);
  EXPECT_DOUBLE_EQ(r20.forward_macs(), 40551040);  // 442368 + 3 stages (14155776, 12976128, 12976128) + 640
  auto r110 = count("resnet110");
  EXPECT_EQ(r110.layers.size(), 110u);
  EXPECT_NEAR(r110.forward_macs(), 253e6, 0.01 * 253e6);
  // Paper: 780M training FLOPs per image = 3x forward (less the first conv's backward-to-input).
  EXPECT_NEAR(r110.training_macs(), 3 * r110.forward_macs(), 0.01 * r110.training_macs());
  std::printf("resnet20 forward MACs %.0f, resnet110 forward %.0f training %.0f\n", r20.forward_macs(),
              r110.forward_macs(), r110.training_macs());
}

TEST(Zoo, ParameterCounts) {
  EXPECT_NEAR(parameter_count("resnet20"), 0.27e6, 0.01e6);
  EXPECT_NEAR(parameter_count("resnet110"), 1.73e6, 0.01e6);
  for (const auto& name : skiptrain::nn::model_names()) {
    const auto spec = spec_for(name);
    auto table = count(name);
    std::printf("%-13s params %9lld  forward MACs %12.0f  training MACs %12.0f  (%lld classes)\n", name.c_str(),
                static_cast<long long>(parameter_count(name, spec.num_classes)), table.forward_macs(),
                table.training_macs(), static_cast<long long>(spec.num_classes));
  }
}

TEST(Zoo, ResNet8SlimIsHalfWidthAtAboutAQuarterOfResNet8sMacs) {
  auto slim = count("resnet8-slim");
  auto r8 = count("resnet8");
  ASSERT_EQ(slim.layers.size(), 8u);  // 7 convs + fc, as resnet8
  // Per instance at 32x32, 2 classes. conv1 3->8 at 32x32: 32*32*8*3*9; layer1 (8->8, 8->8 at 32x32):
  // 2*32*32*8*8*9; layer2 (8->16 /2, 16->16 at 16x16): 16*16*16*(8+16)*9; layer3 (16->32 /2, 32->32
  // at 8x8): 8*8*32*(16+32)*9; fc 32*2.
  const std::vector<double> macs = {221184, 589824, 589824, 294912, 589824, 294912, 589824, 64};
  for (size_t i = 0; i < macs.size(); ++i)
    EXPECT_DOUBLE_EQ(slim.layers[i].forward_macs, macs[i]) << slim.layers[i].name;
  EXPECT_DOUBLE_EQ(slim.forward_macs(), 3170368);
  EXPECT_DOUBLE_EQ(r8.forward_macs(), 12238976);
  // Every conv after conv1 costs a quarter; conv1 (3 input channels) and fc (2 outputs) half.
  const double r8_conv1 = r8.layers.front().forward_macs, r8_fc = r8.layers.back().forward_macs;
  EXPECT_DOUBLE_EQ(slim.forward_macs(), (r8.forward_macs() - r8_conv1 - r8_fc) / 4 + (r8_conv1 + r8_fc) / 2);
  std::printf("resnet8-slim / resnet8: inference %.2f%%, training %.2f%%\n",
              100 * slim.forward_macs() / r8.forward_macs(), 100 * slim.training_macs() / r8.training_macs());

  Network model = skiptrain::nn::make_model("resnet8-slim", spec_for("resnet8-slim"));
  auto params = model->named_parameters();
  EXPECT_EQ(params["conv1.weight"].sizes().vec(), (std::vector<int64_t>{8, 3, 3, 3}));
  EXPECT_EQ(params["layer2.0.conv1.weight"].sizes().vec(), (std::vector<int64_t>{16, 8, 3, 3}));
  EXPECT_EQ(params["layer3.0.conv2.weight"].sizes().vec(), (std::vector<int64_t>{32, 32, 3, 3}));
  EXPECT_EQ(params["fc.weight"].sizes().vec(), (std::vector<int64_t>{2, 32}));
  EXPECT_EQ(model->forward(torch::randn({3, 3, 32, 32})).sizes().vec(), (std::vector<int64_t>{3, 2}));
  // Errors name the zoo entry, not "resnet8".
  try {
    skiptrain::nn::make_model("resnet8-slim", ModelSpec{3, 32, 0});
    FAIL() << "expected InputError";
  } catch (const skiptrain::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("resnet8-slim:"), std::string::npos) << e.what();
  }
}

TEST(Zoo, ResNetLayerNamesAndOptionAShortcuts) {
  Network model = skiptrain::nn::make_model("resnet20", spec_for("resnet20"));
  auto params = model->named_parameters();
  for (const char* key : {"conv1.weight", "bn1.weight", "layer1.0.conv1.weight", "layer2.0.bn2.bias",
                          "layer3.2.conv2.weight", "fc.weight", "fc.bias"})
    EXPECT_TRUE(params.contains(key)) << key;
  // Option A: shortcuts have no parameters and convs have no bias.
  EXPECT_FALSE(params.contains("conv1.bias"));
  EXPECT_EQ(params.size(), 1u + 2u + 9u * 6u + 2u);  // conv1, bn1, 9 blocks x (2 convs + 2 BN x 2), fc
}

TEST(Zoo, FilterCostRatios) {
  const double lenet = count("lenet5").forward_macs();
  const double lenet_filter = count("lenet-filter").forward_macs();
  const double lenet_filter_slim = count("lenet-filter-slim").forward_macs();
  const double r110 = count("resnet110").forward_macs();
  const double r8 = count("resnet8").forward_macs();
  const double vgg = count("vgg16").forward_macs();
  const auto training = [](const std::string& n) { return count(n).training_macs(); };
  std::printf("lenet-filter / lenet5:  inference %.2f%% (paper 9.5%%), training %.2f%% (paper 7.8%%)\n",
              100 * lenet_filter / lenet, 100 * training("lenet-filter") / training("lenet5"));
  std::printf("lenet-filter-slim / lenet5: inference %.2f%%, training %.2f%%\n", 100 * lenet_filter_slim / lenet,
              100 * training("lenet-filter-slim") / training("lenet5"));
  std::printf("resnet8 / resnet110:    inference %.2f%% (paper 5.0%%), training %.2f%% (paper 5.9%%)\n",
              100 * r8 / r110, 100 * training("resnet8") / training("resnet110"));
  std::printf("resnet8 / vgg16:        inference %.2f%% (paper 4.1%%), training %.2f%% (paper 4.8%%)\n",
              100 * r8 / vgg, 100 * training("resnet8") / training("vgg16"));
  EXPECT_LT(lenet_filter / lenet, 0.15);
  // conv1 4*9*14*14 + conv2 8*4*9*5*5 + fc1 32*16 + fc2 16*2.
  EXPECT_EQ(lenet_filter_slim, 7056 + 7200 + 512 + 32);
  EXPECT_LT(r8 / r110, 0.10);
}

TEST(Zoo, UnknownModelThrowsInputErrorNamingIt) {
  try {
    skiptrain::nn::make_model("resnet19", ModelSpec{});
    FAIL() << "expected InputError";
  } catch (const skiptrain::InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("'resnet19'"), std::string::npos) << message;
    EXPECT_NE(message.find("--model"), std::string::npos) << message;
    EXPECT_NE(message.find("lenet5"), std::string::npos) << message;
    EXPECT_NE(message.find("vgg16"), std::string::npos) << message;
  }
}

TEST(Zoo, CifarResNetsPruneStageOneOnlyByDefaultOtherModelsEveryConv) {
  for (const std::string name : {"resnet20", "resnet56", "resnet110"}) {
    Network model = skiptrain::nn::make_model(name, spec_for(name));
    skiptrain::nn::set_emp(*model, {0.5}, /*skip_first=*/true, skiptrain::nn::default_emp_layer_keep(name));
    int64_t stage_one_convs = 0;
    for (const auto& item : model->named_modules()) {
      const auto* conv = item.value()->as<skiptrain::nn::Conv2dImpl>();
      if (conv == nullptr) continue;
      const bool stage_one = item.key().rfind("layer1.", 0) == 0;
      EXPECT_EQ(conv->emp.keep, stage_one ? 0.5 : 1.0) << name << " " << item.key();
      stage_one_convs += stage_one;
    }
    EXPECT_EQ(stage_one_convs, 2 * (std::stoi(name.substr(6)) - 2) / 6) << name;  // two per stage-1 block
  }
  for (const std::string name : {"lenet5", "vgg16", "resnet8", "no-such-model"})
    EXPECT_TRUE(skiptrain::nn::default_emp_layer_keep(name).empty()) << name;
}

TEST(Zoo, TooSmallImagesAreInputErrors) {
  EXPECT_THROW(skiptrain::nn::make_model("vgg16", ModelSpec{3, 28, 10}), skiptrain::InputError);
  EXPECT_THROW(skiptrain::nn::make_model("lenet-filter", ModelSpec{1, 4, 2}), skiptrain::InputError);
  EXPECT_THROW(skiptrain::nn::make_model("lenet-filter-slim", ModelSpec{1, 4, 2}), skiptrain::InputError);
  // LeNet-5 pads any image below 32 up to 32, so only a non-positive size is refused.
  EXPECT_THROW(skiptrain::nn::make_model("lenet5", ModelSpec{1, 0, 10}), skiptrain::InputError);
  EXPECT_THROW(skiptrain::nn::make_model("resnet20", ModelSpec{3, 32, 0}), skiptrain::InputError);
}

}  // namespace
