// TrainConfig's --emp-layer-keep resolution: "auto" gives the model's default rules, "none" (or an
// empty list) the paper's rule, explicit rules are parsed and written back as checkpoints store them,
// and "auto"/"none" beside other rules are refused naming the flag.
#include "skiptrain/train/config.h"

#include <c10/util/Exception.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using skiptrain::train::TrainConfig;

std::vector<std::string> patterns(const TrainConfig& config) {
  std::vector<std::string> out;
  for (const auto& rule : config.emp_layer_rules()) out.push_back(rule.pattern + "=" + std::to_string(rule.keep));
  return out;
}

TEST(TrainConfig, EmpLayerKeepAutoIsTheModelsDefaultAndNoneIsThePapersRule) {
  TrainConfig config;
  config.model = "resnet20";
  EXPECT_EQ(config.emp_layer_keep, std::vector<std::string>{"auto"});
  EXPECT_EQ(patterns(config), (std::vector<std::string>{"layer2.*=1.000000", "layer3.*=1.000000"}));
  config.model = "lenet5";
  EXPECT_TRUE(patterns(config).empty());
  config.model = "resnet20";
  config.emp_layer_keep = {"none"};
  EXPECT_TRUE(patterns(config).empty());
  config.emp_layer_keep = {"layer3.*=0.25"};
  EXPECT_EQ(patterns(config), std::vector<std::string>{"layer3.*=0.250000"});
  EXPECT_EQ(config.emp_layer_rules_text(), std::vector<std::string>{"layer3.*=0.25"});
  config.emp_layer_keep = {};  // the C++ API's empty list: no rules, as "none"
  EXPECT_TRUE(patterns(config).empty());
}

TEST(TrainConfig, EmpLayerKeepAutoOrNoneBesideOtherRulesIsRefusedNamingTheFlag) {
  TrainConfig config;
  config.model = "resnet20";
  for (const std::vector<std::string>& rules : {std::vector<std::string>{"auto", "layer1.*=0.5"},
                                                std::vector<std::string>{"layer1.*=0.5", "none"},
                                                std::vector<std::string>{"auto", "none"}}) {
    config.emp_layer_keep = rules;
    try {
      config.emp_layer_rules();
      FAIL() << "expected c10::ValueError for " << rules[0] << "," << rules[1];
    } catch (const c10::ValueError& e) {
      EXPECT_NE(e.msg().find("--emp-layer-keep"), std::string::npos) << e.msg();
      EXPECT_NE(e.msg().find("stands alone"), std::string::npos) << e.msg();
    }
  }
}

}  // namespace
