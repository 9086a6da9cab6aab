// AdaptiveThreshold: the update rule by hand, the window, the bounds under
// adversarial streams, and the state round trip.
#include "skiptrain/errors.h"
#include "skiptrain/filter/threshold.h"
#include "skiptrain/skiptrain.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

namespace {

using skiptrain::filter::AdaptiveThreshold;
using skiptrain::filter::FilterOptions;

FilterOptions small_window() {
  FilterOptions o;
  o.ratio = 0.25;
  o.a1 = 2.0;
  o.a2 = 0.5;
  o.window = 2;
  o.init_threshold = 1.0;
  return o;
}

TEST(AdaptiveThreshold, UpdateRuleByHand) {
  AdaptiveThreshold t(small_window());
  EXPECT_DOUBLE_EQ(t.value(), 1.0);
  EXPECT_DOUBLE_EQ(t.r_th(), 0.0);
  // 30 of 100 predicted High and labelled High: R_TH 0.3 >= 0.25 -> T_l * a1.
  EXPECT_DOUBLE_EQ(t.update(30, 100), 2.0);
  EXPECT_DOUBLE_EQ(t.r_th(), 0.3);
  // Window (30,100),(10,100): R_TH 0.2 < 0.25 -> T_l * a2.
  EXPECT_DOUBLE_EQ(t.update(10, 100), 1.0);
  EXPECT_DOUBLE_EQ(t.r_th(), 0.2);
  // The first batch leaves the window of 2: (10,100),(15,50) -> 25/150 < 0.25.
  EXPECT_DOUBLE_EQ(t.update(15, 50), 0.5);
  EXPECT_NEAR(t.r_th(), 25.0 / 150.0, 1e-15);
  EXPECT_EQ(t.window_batches(), 2);
  // Exactly R_set counts as ">=": (15,50),(35,150) = 50/200 -> up.
  EXPECT_DOUBLE_EQ(t.update(35, 150), 1.0);
  EXPECT_DOUBLE_EQ(t.r_th(), 0.25);
}

TEST(AdaptiveThreshold, EmptyBatchChangesNothing) {
  AdaptiveThreshold t(small_window());
  EXPECT_DOUBLE_EQ(t.update(0, 0), 1.0);
  EXPECT_EQ(t.window_batches(), 0);
}

TEST(AdaptiveThreshold, StaysWithinBoundsUnderAdversarialStreams) {
  FilterOptions o;  // default bounds [1e-6, 1e3]
  AdaptiveThreshold t(o);
  // All losses zero: nothing is ever labelled High, R_TH = 0, T_l falls to the floor and stays.
  for (int i = 0; i < 1000; ++i) {
    t.update(0, 64);
    ASSERT_GE(t.value(), o.threshold_min);
  }
  EXPECT_DOUBLE_EQ(t.value(), o.threshold_min);
  // All losses huge and everything predicted High: R_TH = 1, T_l climbs to the ceiling and stays.
  for (int i = 0; i < 1000; ++i) {
    t.update(64, 64);
    ASSERT_LE(t.value(), o.threshold_max);
  }
  EXPECT_DOUBLE_EQ(t.value(), o.threshold_max);
  // Alternating every batch: bounded and finite throughout.
  for (int i = 0; i < 1000; ++i) {
    t.update(i % 2 == 0 ? 64 : 0, 64);
    ASSERT_TRUE(std::isfinite(t.value()));
    ASSERT_GE(t.value(), o.threshold_min);
    ASSERT_LE(t.value(), o.threshold_max);
  }
}

TEST(AdaptiveThreshold, StateRoundTrip) {
  AdaptiveThreshold a(small_window());
  a.update(30, 100);
  a.update(5, 100);
  a.update(70, 100);
  AdaptiveThreshold b(small_window());
  b.load_state(a.state(), "test");
  EXPECT_DOUBLE_EQ(b.value(), a.value());
  EXPECT_DOUBLE_EQ(b.r_th(), a.r_th());
  for (int i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(b.update(i * 7, 50), a.update(i * 7, 50));
}

TEST(AdaptiveThreshold, LoadRejectsBadThreshold) {
  AdaptiveThreshold a(small_window());
  auto s = a.state();
  s["value"] = torch::tensor(-1.0, torch::kFloat64);
  EXPECT_THROW(a.load_state(s, "ckpt"), skiptrain::InputError);
  s.erase("value");
  EXPECT_THROW(a.load_state(s, "ckpt"), skiptrain::InputError);
}

}  // namespace
