// FilterOptions::validate: every bad value is rejected with a message naming its
// trainer flag; the defaults and the lr schedule.
#include "skiptrain/errors.h"
#include "skiptrain/filter/options.h"
#include "skiptrain/skiptrain.h"

#include "support/test_support.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>

namespace {

using skiptrain::filter::FilterOptions;

// The message validate() throws, or "" when the options are accepted.
std::string rejection(const FilterOptions& o) {
  return skiptrain::test::input_error_of([&] { o.validate(); });
}

TEST(FilterOptions, DefaultsAreValid) {
  FilterOptions o;
  EXPECT_EQ(rejection(o), "");
  EXPECT_DOUBLE_EQ(o.ratio, 0.25);
  EXPECT_DOUBLE_EQ(o.lr, 0.1);
  EXPECT_EQ(o.control, "budget");
  for (const char* control : {"budget", "kept", "paper"}) {
    o.control = control;
    EXPECT_EQ(rejection(o), "") << control;
  }
  EXPECT_GT(o.a1, 1.0);
  EXPECT_LT(o.a2, 1.0);
}

struct BadValue {
  const char* flag;
  std::function<void(FilterOptions&)> spoil;
};

TEST(FilterOptions, EachBadValueNamesItsFlag) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const BadValue table[] = {
      {"--eif-ratio", [](FilterOptions& o) { o.ratio = 0; }},
      {"--eif-ratio", [](FilterOptions& o) { o.ratio = 1; }},
      {"--eif-ratio", [nan](FilterOptions& o) { o.ratio = nan; }},
      {"--eif-lr", [](FilterOptions& o) { o.lr = 0; }},
      {"--eif-momentum", [](FilterOptions& o) { o.momentum = 1; }},
      {"--eif-weight-decay", [](FilterOptions& o) { o.weight_decay = -1; }},
      {"--eif-lr-factor", [](FilterOptions& o) { o.lr_factor = 0; }},
      {"--eif-lr-milestones",
       [](FilterOptions& o) {
         o.lr_milestones = {5, 5};
       }},
      {"--eif-lr-milestones", [](FilterOptions& o) { o.lr_milestones = {-1}; }},
      {"--eif-entropy", [](FilterOptions& o) { o.entropy_threshold = -0.1; }},
      {"--eif-entropy", [](FilterOptions& o) { o.entropy_threshold = 0.7; }},
      {"--eif-a1", [](FilterOptions& o) { o.a1 = 1.0; }},
      {"--eif-a2", [](FilterOptions& o) { o.a2 = 1.0; }},
      {"--eif-a2", [](FilterOptions& o) { o.a2 = 0.0; }},
      {"--eif-window", [](FilterOptions& o) { o.window = 0; }},
      {"--eif-init-threshold", [](FilterOptions& o) { o.init_threshold = 0; }},
      {"--eif-init-threshold", [](FilterOptions& o) { o.init_threshold = INFINITY; }},
      {"--eif-threshold-min", [](FilterOptions& o) { o.threshold_min = 0; }},
      {"--eif-threshold-min", [](FilterOptions& o) { o.threshold_min = 2; }},
      {"--eif-threshold-max", [](FilterOptions& o) { o.threshold_max = 0.5; }},
      {"--eif-warmup", [](FilterOptions& o) { o.warmup_batches = -1; }},
      {"--eif-control", [](FilterOptions& o) { o.control = "ranked"; }},
      {"--eif-rank-within", [](FilterOptions& o) { o.rank_within = "label"; }},
      {"--eif-rank-within",
       [](FilterOptions& o) {
         o.rank_within = "class";
         o.control = "paper";
       }},
      {"--eif-min-query", [](FilterOptions& o) { o.min_query = 1.5; }},
      {"--eif-train-share", [](FilterOptions& o) { o.train_share = 0; }},
      {"--eif-train-share", [](FilterOptions& o) { o.train_share = NAN; }},
  };
  for (const auto& row : table) {
    FilterOptions o;
    row.spoil(o);
    const std::string message = rejection(o);
    EXPECT_NE(message.find(row.flag), std::string::npos) << "expected '" << row.flag << "' in: " << message;
  }
}

TEST(FilterOptions, RatioMessageSaysRangeAndValue) {
  FilterOptions o;
  o.ratio = 1.5;
  EXPECT_EQ(rejection(o), "--eif-ratio must be in (0, 1), got 1.5");
}

TEST(FilterOptions, EntropyUpToLn2IsAccepted) {
  FilterOptions o;
  o.entropy_threshold = std::log(2.0);
  EXPECT_EQ(rejection(o), "");
  o.entropy_threshold = 0;
  EXPECT_EQ(rejection(o), "");
}

TEST(FilterOptions, LearningRateScheduleByMilestones) {
  FilterOptions o;
  o.lr = 0.1;
  o.lr_milestones = {940, 2000};
  o.lr_factor = 0.5;
  EXPECT_DOUBLE_EQ(o.lr_at(0), 0.1);
  EXPECT_DOUBLE_EQ(o.lr_at(939), 0.1);
  EXPECT_DOUBLE_EQ(o.lr_at(940), 0.05);
  EXPECT_DOUBLE_EQ(o.lr_at(2500), 0.025);
}

}  // namespace
