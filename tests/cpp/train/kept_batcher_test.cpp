// KeptBatcher: kept instances of successive incoming batches leave in full batches,
// oldest first; each loss goes back to its incoming batch and position; incoming
// batches complete in arrival order, those that kept nothing included; deferred
// loss-only queries leave in one batch and their losses go back to their batches.
#include "skiptrain/train/kept_batcher.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

using skiptrain::train::CompletedBatch;
using skiptrain::train::GatheredBatch;
using skiptrain::train::KeptBatcher;
using skiptrain::train::Plan;
using skiptrain::train::QueryBatch;

// Incoming batch `b` of m instances: image values encode (b, index) as 100*b + index.
skiptrain::data::Batch incoming(int64_t b, int64_t m) {
  skiptrain::data::Batch batch;
  batch.images = (torch::arange(m, torch::kFloat32) + 100.0 * b).view({m, 1, 1, 1});
  batch.labels = torch::arange(m, torch::kInt64);
  batch.indices = batch.labels;
  return batch;
}

Plan keep(std::vector<int64_t> which) {
  Plan p;
  p.train = torch::tensor(which, torch::kInt64);
  p.loss_only = torch::empty({0}, torch::kInt64);
  return p;
}

TEST(KeptBatcher, GathersFullBatchesOldestFirstAndReturnsEachLoss) {
  KeptBatcher batcher(4);
  batcher.add(incoming(0, 8), keep({1, 5, 6}), torch::empty({0}));
  EXPECT_FALSE(batcher.full());
  batcher.add(incoming(1, 8), keep({}), torch::empty({0}));
  batcher.add(incoming(2, 8), keep({0, 3, 7}), torch::empty({0}));
  ASSERT_TRUE(batcher.full());
  EXPECT_EQ(batcher.waiting(), 6);

  const GatheredBatch first = batcher.take();
  EXPECT_TRUE(torch::equal(first.images.flatten(), torch::tensor({1.f, 5.f, 6.f, 200.f})));
  EXPECT_EQ(batcher.waiting(), 2);
  CompletedBatch done;
  EXPECT_FALSE(batcher.pop_completed(done));  // nothing reported yet
  batcher.report(first, first.images.flatten() * 10);

  // Batch 0 is complete, then batch 1 (kept nothing); batch 2 still waits for two instances.
  ASSERT_TRUE(batcher.pop_completed(done));
  EXPECT_TRUE(torch::equal(done.train_losses, torch::tensor({10.f, 50.f, 60.f})));
  ASSERT_TRUE(batcher.pop_completed(done));
  EXPECT_EQ(done.train_losses.numel(), 0);
  EXPECT_FALSE(batcher.pop_completed(done));

  const GatheredBatch rest = batcher.take();  // a partial batch: what a flush trains
  EXPECT_TRUE(torch::equal(rest.images.flatten(), torch::tensor({203.f, 207.f})));
  batcher.report(rest, torch::tensor({2.f, 3.f}));
  ASSERT_TRUE(batcher.pop_completed(done));
  EXPECT_TRUE(torch::equal(done.train_losses, torch::tensor({2000.f, 2.f, 3.f})));
  EXPECT_TRUE(batcher.idle());
}

// Loss weights travel with their instances; plans without weights count 1, and a run whose plans
// have none gets none (no multiply in its steps).
TEST(KeptBatcher, CarriesLossWeightsOnlyWhereAPlanHasThem) {
  KeptBatcher batcher(4);
  batcher.add(incoming(0, 8), keep({1, 2}), torch::empty({0}));
  batcher.add(incoming(1, 8), keep({3, 4}), torch::empty({0}));
  EXPECT_FALSE(batcher.take().weights.defined());
  Plan weighted = keep({5, 6, 7});
  weighted.train_weight = torch::tensor({0.5f, 2.f, 0.5f});
  batcher.add(incoming(2, 8), keep({0}), torch::empty({0}));
  batcher.add(incoming(3, 8), weighted, torch::empty({0}));
  const GatheredBatch mixed = batcher.take();
  ASSERT_TRUE(mixed.weights.defined());
  EXPECT_TRUE(torch::equal(mixed.weights, torch::tensor({1.f, 0.5f, 2.f, 0.5f})));
}

TEST(KeptBatcher, DeferredQueriesLeaveTogetherAndCompleteTheirBatches) {
  KeptBatcher batcher(4);
  Plan first = keep({0, 1});
  first.loss_only = torch::tensor({2, 3}, torch::kInt64);
  Plan second = keep({});
  second.loss_only = torch::tensor({5}, torch::kInt64);
  batcher.add(incoming(0, 8), first, torch::Tensor());
  batcher.add(incoming(1, 8), second, torch::Tensor());
  batcher.add(incoming(2, 8), keep({4, 6}), torch::Tensor());  // nothing queried: nothing deferred
  EXPECT_EQ(batcher.queries_waiting(), 3);

  const GatheredBatch kept = batcher.take();
  batcher.report(kept, kept.images.flatten());
  CompletedBatch done;
  EXPECT_FALSE(batcher.pop_completed(done));  // batch 0's queries have no losses yet

  const QueryBatch queries = batcher.take_queries();
  EXPECT_EQ(batcher.queries_waiting(), 0);
  EXPECT_TRUE(torch::equal(queries.images.flatten(), torch::tensor({2.f, 3.f, 105.f})));
  EXPECT_TRUE(torch::equal(queries.labels, torch::tensor({2, 3, 5}, torch::kInt64)));
  EXPECT_THROW(batcher.report_queries(torch::zeros({2})), c10::Error);
  batcher.report_queries(queries.images.flatten() * 10);

  ASSERT_TRUE(batcher.pop_completed(done));
  EXPECT_TRUE(torch::equal(done.loss_only_losses, torch::tensor({20.f, 30.f})));
  ASSERT_TRUE(batcher.pop_completed(done));
  EXPECT_TRUE(torch::equal(done.loss_only_losses, torch::tensor({1050.f})));
  ASSERT_TRUE(batcher.pop_completed(done));
  EXPECT_EQ(done.loss_only_losses.numel(), 0);
  EXPECT_TRUE(torch::equal(done.train_losses, torch::tensor({204.f, 206.f})));
  EXPECT_TRUE(batcher.idle());
}

TEST(KeptBatcher, RefusesAMismatchedReport) {
  KeptBatcher batcher(2);
  batcher.add(incoming(0, 4), keep({0, 1}), torch::empty({0}));
  const GatheredBatch taken = batcher.take();
  EXPECT_THROW(batcher.report(taken, torch::zeros({3})), c10::Error);
  EXPECT_THROW(KeptBatcher(0), c10::Error);
}

}  // namespace
