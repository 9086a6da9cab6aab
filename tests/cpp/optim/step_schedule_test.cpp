// StepSchedule: the rate at, before and after each milestone, and validate() naming the flag
// of each bad milestone list or factor, with the rule and the value found.
#include "skiptrain/errors.h"
#include "skiptrain/optim/step_schedule.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace {

using skiptrain::optim::StepSchedule;

// The message validate() throws, or "" when the schedule is accepted.
std::string rejection(const StepSchedule& s) {
  try {
    s.validate("--milestones", "--factor");
  } catch (const skiptrain::InputError& e) {
    return e.what();
  }
  return "";
}

TEST(StepSchedule, FactorAppliesFromEachMilestoneOn) {
  const StepSchedule s{0.1, {940, 2000}, 0.5};
  EXPECT_DOUBLE_EQ(s.at(0), 0.1);
  EXPECT_DOUBLE_EQ(s.at(939), 0.1);
  EXPECT_DOUBLE_EQ(s.at(940), 0.05);
  EXPECT_DOUBLE_EQ(s.at(1999), 0.05);
  EXPECT_DOUBLE_EQ(s.at(2000), 0.025);
  EXPECT_DOUBLE_EQ(s.at(1000000), 0.025);
}

TEST(StepSchedule, NoMilestonesIsConstantAndMilestoneZeroAppliesAtOnce) {
  EXPECT_DOUBLE_EQ((StepSchedule{0.3, {}, 0.1}.at(123456)), 0.3);
  EXPECT_DOUBLE_EQ((StepSchedule{0.3, {0}, 0.1}.at(0)), 0.3 * 0.1);
}

TEST(StepSchedule, WarmUpRampsLinearlyToTheStepRate) {
  const StepSchedule s{0.4, {2}, 0.5, 4};  // the milestone at 2 falls inside the warm-up
  EXPECT_DOUBLE_EQ(s.at(0), 0.4 * 0.25);
  EXPECT_DOUBLE_EQ(s.at(1), 0.4 * 0.5);
  EXPECT_DOUBLE_EQ(s.at(2), 0.4 * 0.5 * 0.75);
  EXPECT_DOUBLE_EQ(s.at(3), 0.4 * 0.5);
  EXPECT_DOUBLE_EQ(s.at(4), 0.4 * 0.5);
  EXPECT_DOUBLE_EQ((StepSchedule{0.4, {}, 0.5, 1}.at(0)), 0.4);
}

TEST(StepSchedule, ValidSchedulesAreAccepted) {
  EXPECT_EQ(rejection({0.1, {}, 0.1}), "");
  EXPECT_EQ(rejection({0.1, {0, 1, 50}, 2.0}), "");
}

TEST(StepSchedule, BadMilestonesNameTheirFlag) {
  EXPECT_EQ(rejection({0.1, {-1}, 0.1}), "--milestones must be non-negative, got -1");
  EXPECT_EQ(rejection({0.1, {5, 5}, 0.1}), "--milestones must be strictly increasing, got 5");
  EXPECT_EQ(rejection({0.1, {10, 20, 15}, 0.1}), "--milestones must be strictly increasing, got 15");
}

TEST(StepSchedule, NegativeWarmUpNamesItsFlag) {
  try {
    StepSchedule{0.1, {}, 0.1, -3}.validate("--milestones", "--factor", "--warmup");
    FAIL() << "a negative warm-up was accepted";
  } catch (const skiptrain::InputError& e) {
    EXPECT_STREQ(e.what(), "--warmup must be non-negative, got -3");
  }
}

TEST(StepSchedule, BadFactorNamesItsFlag) {
  EXPECT_EQ(rejection({0.1, {}, 0.0}), "--factor must be > 0, got 0");
  EXPECT_EQ(rejection({0.1, {}, -0.5}), "--factor must be > 0, got -0.5");
  EXPECT_NE(rejection({0.1, {}, NAN}).find("--factor must be > 0"), std::string::npos);
  EXPECT_NE(rejection({0.1, {}, INFINITY}).find("--factor must be > 0"), std::string::npos);
}

}  // namespace
