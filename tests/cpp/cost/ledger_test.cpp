// The saving ledger's arithmetic on a hand-made cost table.
#include "skiptrain/cost/ledger.h"

#include <gtest/gtest.h>

namespace {

skiptrain::cost::CostTable two_layers() {
  skiptrain::cost::CostTable t;
  skiptrain::cost::LayerCost a, b;
  a.forward_macs = 100;
  a.backward_input_macs = 0;  // first layer
  a.backward_weight_macs = 100;
  b.forward_macs = 10;
  b.backward_input_macs = 10;
  b.backward_weight_macs = 10;
  t.layers = {a, b};
  return t;
}

TEST(Ledger, DenseRunSavesNothing) {
  skiptrain::cost::Ledger ledger;
  const auto t = two_layers();
  ledger.add_dense(t, 8);
  ledger.add_forward(skiptrain::cost::Phase::MainForward, t, 8);
  ledger.add_backward(skiptrain::cost::Phase::MainBackward, t, 8);
  EXPECT_DOUBLE_EQ(ledger.dense_macs(), 8 * 230);
  EXPECT_DOUBLE_EQ(ledger.spent_macs(), 8 * 230);
  EXPECT_DOUBLE_EQ(ledger.saving(), 0.0);
}

TEST(Ledger, CountsKeptFractionsAndOverheads) {
  skiptrain::cost::Ledger ledger;
  const auto t = two_layers();
  ledger.add_dense(t, 10);                                        // 2300
  ledger.add_forward(skiptrain::cost::Phase::MainForward, t, 4);  // 440
  const std::vector<double> kept{0.5, 0.25};
  ledger.add_backward(skiptrain::cost::Phase::MainBackward, t, 4, &kept);  // 4*(100*.5 + 20*.25) = 220
  ledger.add_macs(skiptrain::cost::Phase::Selection, 40);
  EXPECT_DOUBLE_EQ(ledger.spent_macs(), 440 + 220 + 40);
  EXPECT_DOUBLE_EQ(ledger.saving(), 1.0 - 700.0 / 2300.0);
  EXPECT_DOUBLE_EQ(ledger.spent_by_phase().at(skiptrain::cost::Phase::Selection), 40);
}

TEST(Ledger, BitOpsScaleByOperandWidths) {
  skiptrain::cost::Ledger ledger;
  auto t = two_layers();
  for (auto& l : t.layers) l.activation_bits = l.weight_bits = 8;
  ledger.add_dense(t, 1);
  ledger.add_forward(skiptrain::cost::Phase::MainForward, t, 1);
  EXPECT_DOUBLE_EQ(ledger.spent_macs(), 110);
  EXPECT_DOUBLE_EQ(ledger.spent_bitops(), 110 * 64.0 / 1024.0);
}

// Backward to the input multiplies error x weight, backward to the weights error x activation.
TEST(Ledger, BackwardBitOpsPriceErrorMapWidth) {
  skiptrain::cost::Ledger ledger;
  auto t = two_layers();
  for (auto& l : t.layers) {
    l.activation_bits = l.weight_bits = 8;
    l.error_bits = 32;
  }
  t.layers[1].weight_bits = 4;
  const std::vector<double> kept{1.0, 0.5};
  ledger.add_dense(t, 2);
  ledger.add_backward(skiptrain::cost::Phase::MainBackward, t, 2, &kept);
  // layer a: 2 * 100 weight-grad MACs at 32x8; layer b: 2 * 0.5 * 10 input-grad MACs at 32x4 and
  // 2 * 0.5 * 10 weight-grad MACs at 32x8.
  EXPECT_DOUBLE_EQ(ledger.spent_macs(), 200 + 10 + 10);
  EXPECT_DOUBLE_EQ(ledger.spent_bitops(), (200 * 256 + 10 * 128 + 10 * 256) / 1024.0);
  EXPECT_DOUBLE_EQ(ledger.saving_bitops(), 1.0 - ledger.spent_bitops() / (2 * 230));
}

TEST(Ledger, StateRoundTrip) {
  skiptrain::cost::Ledger a, b;
  const auto t = two_layers();
  a.add_dense(t, 3);
  a.add_forward(skiptrain::cost::Phase::FilterForward, t, 2);
  b.load_state(a.state());
  EXPECT_DOUBLE_EQ(b.spent_macs(), a.spent_macs());
  EXPECT_DOUBLE_EQ(b.saving(), a.saving());
  EXPECT_THROW(b.load_state({1.0, 2.0}), c10::Error);
}

}  // namespace
