// The batch stream: option checks, normalisation values, epoch boundaries, drop_last,
// determinism from the seed, exact resume through seek(), augmentation wiring, and the
// measured cost of assembling MNIST and CIFAR batches.
#include "skiptrain/data/stream.h"

#include "data/data_fixtures.h"
#include "skiptrain/data/augment.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;

namespace {

// A dataset of n images whose pixels are all equal to their index (mod 256), label i % classes.
sd::Dataset toy(int64_t n, int64_t c = 1, int64_t hw = 4, int64_t classes = 10) {
  sd::Dataset d;
  d.images = (torch::arange(n, torch::kInt64) % 256).to(torch::kUInt8).view({n, 1, 1, 1}).expand({n, c, hw, hw}).contiguous();
  d.labels = torch::arange(n, torch::kInt64) % classes;
  d.num_classes = classes;
  return d;
}

sd::DatasetInfo gray_info() {
  sd::DatasetInfo info;
  info.name = "toy";
  info.mean = {0.5};
  info.std = {0.25};
  return info;
}

sd::StreamOptions opts(int64_t batch, bool shuffle = true, uint64_t seed = 0, bool drop_last = false,
                       bool augment = false) {
  sd::StreamOptions o;
  o.batch_size = batch;
  o.shuffle = shuffle;
  o.seed = seed;
  o.drop_last = drop_last;
  o.augment = augment;
  return o;
}

// Every batch of one epoch (stops at the end-of-epoch false).
std::vector<sd::Batch> epoch_batches(sd::Stream& s) {
  std::vector<sd::Batch> out;
  sd::Batch b;
  while (s.next(b)) out.push_back(b);
  return out;
}

void expect_same(const sd::Batch& a, const sd::Batch& b) {
  EXPECT_TRUE(torch::equal(a.indices, b.indices));
  EXPECT_TRUE(torch::equal(a.labels, b.labels));
  EXPECT_TRUE(torch::equal(a.images, b.images));
}

}  // namespace

TEST(Stream, BatchSizeZeroNamesTheFlag) {
  auto d = toy(10);
  st::expect_mentions(st::input_error_message([&] { sd::Stream(d, gray_info(), opts(0)); }), {"--batch-size", "0"});
  st::expect_mentions(st::input_error_message([&] { sd::Stream(d, gray_info(), opts(-3)); }), {"--batch-size", "-3"});
  // drop_last with a batch larger than the dataset would give empty epochs.
  st::expect_mentions(st::input_error_message([&] { sd::Stream(d, gray_info(), opts(11, true, 0, true)); }),
                      {"--batch-size 11", "10 items"});
}

TEST(Stream, RejectsMismatchedInfo) {
  auto d = toy(10, 3);
  st::expect_mentions(st::input_error_message([&] { sd::Stream(d, gray_info(), opts(2)); }),
                      {"toy", "3 per-channel"});
}

TEST(Stream, NormalisesWithPerChannelMeanAndStd) {
  sd::Dataset d;
  d.images = torch::tensor({0, 255, 51, 102, 10, 20}, torch::kUInt8).view({1, 3, 1, 2});
  d.labels = torch::zeros({1}, torch::kInt64);
  sd::DatasetInfo info;
  info.mean = {0.5, 0.1, 0.0};
  info.std = {0.5, 0.2, 1.0};
  sd::Stream s(d, info, opts(1, false));
  sd::Batch b;
  ASSERT_TRUE(s.next(b));
  ASSERT_EQ(b.images.scalar_type(), torch::kFloat32);
  auto expected = torch::tensor({(0 / 255.0 - 0.5) / 0.5, (1.0 - 0.5) / 0.5, (0.2 - 0.1) / 0.2, (0.4 - 0.1) / 0.2,
                                 10 / 255.0, 20 / 255.0}, torch::kFloat32).view({1, 3, 1, 2});
  EXPECT_TRUE(torch::allclose(b.images, expected, 1e-5, 1e-6)) << b.images;
  EXPECT_TRUE(torch::allclose(sd::normalize(d.images, info), expected, 1e-5, 1e-6));
  // normalize() agrees with the formula on a dataset's real constants.
  auto cifar = sd::dataset_info("cifar10");
  auto x = torch::randint(0, 256, {4, 3, 5, 5}, torch::kInt64).to(torch::kUInt8);
  auto mean = torch::tensor(cifar.mean, torch::kFloat64).view({1, 3, 1, 1});
  auto stdv = torch::tensor(cifar.std, torch::kFloat64).view({1, 3, 1, 1});
  auto ref = ((x.to(torch::kFloat64) / 255.0 - mean) / stdv).to(torch::kFloat32);
  EXPECT_TRUE(torch::allclose(sd::normalize(x, cifar), ref, 1e-5, 1e-5));
}

TEST(Stream, UnshuffledEpochWithPartialLastBatch) {
  auto d = toy(10);
  sd::Stream s(d, gray_info(), opts(4, false));
  EXPECT_EQ(s.batches_per_epoch(), 3);
  auto batches = epoch_batches(s);
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].size(), 4);
  EXPECT_EQ(batches[2].size(), 2);
  EXPECT_TRUE(torch::equal(batches[2].indices, torch::tensor({8, 9}, torch::kInt64)));
  EXPECT_TRUE(torch::equal(batches[2].labels, torch::tensor({8, 9}, torch::kInt64)));
  EXPECT_EQ(batches[2].images.sizes(), (std::vector<int64_t>{2, 1, 4, 4}));
  // The image of dataset item 9 has every pixel 9.
  EXPECT_FLOAT_EQ(batches[2].images[1][0][3][3].item<float>(), static_cast<float>((9 / 255.0 - 0.5) / 0.25));
}

TEST(Stream, EpochBoundaries) {
  auto d = toy(10);
  sd::Stream s(d, gray_info(), opts(4));
  sd::Batch b;
  EXPECT_EQ(s.epoch(), 0);
  EXPECT_EQ(s.position(), 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.next(b));
  EXPECT_EQ(s.epoch(), 0);
  EXPECT_EQ(s.position(), 3);
  EXPECT_FALSE(s.next(b));
  EXPECT_EQ(b.size(), 0);
  EXPECT_EQ(s.epoch(), 1);
  EXPECT_EQ(s.position(), 0);
  ASSERT_TRUE(s.next(b));
  EXPECT_EQ(s.epoch(), 1);
  EXPECT_EQ(s.position(), 1);
}

TEST(Stream, EachEpochIsAPermutationAndEpochsDiffer) {
  auto d = toy(50);
  sd::Stream s(d, gray_info(), opts(8, true, 3));
  std::vector<torch::Tensor> orders;
  for (int e = 0; e < 2; ++e) {
    std::vector<torch::Tensor> idx;
    for (auto& b : epoch_batches(s)) {
      idx.push_back(b.indices);
      EXPECT_TRUE(torch::equal(b.labels, b.indices % 10));
    }
    auto all = torch::cat(idx);
    EXPECT_TRUE(torch::equal(std::get<0>(all.sort()), torch::arange(50, torch::kInt64)));
    orders.push_back(all);
  }
  EXPECT_FALSE(torch::equal(orders[0], orders[1]));
  EXPECT_FALSE(torch::equal(orders[0], torch::arange(50, torch::kInt64)));
}

TEST(Stream, DropLast) {
  auto d = toy(10);
  sd::Stream s(d, gray_info(), opts(4, true, 0, true));
  EXPECT_EQ(s.batches_per_epoch(), 2);
  auto batches = epoch_batches(s);
  ASSERT_EQ(batches.size(), 2u);
  for (auto& b : batches) EXPECT_EQ(b.size(), 4);
}

TEST(Stream, SameSeedSameBatchesOtherSeedOthers) {
  auto d = toy(40, 3, 8);
  auto info = sd::dataset_info("cifar10");
  sd::Stream a(d, info, opts(16, true, 42, false, true));
  sd::Stream b(d, info, opts(16, true, 42, false, true));
  sd::Stream c(d, info, opts(16, true, 43, false, true));
  for (int e = 0; e < 2; ++e) {
    auto ba = epoch_batches(a), bb = epoch_batches(b), bc = epoch_batches(c);
    ASSERT_EQ(ba.size(), bb.size());
    for (size_t i = 0; i < ba.size(); ++i) expect_same(ba[i], bb[i]);
    EXPECT_FALSE(torch::equal(ba[0].indices, bc[0].indices));
  }
}

TEST(Stream, SeekResumesExactly) {
  auto d = toy(30, 3, 8);
  auto info = sd::dataset_info("cifar10");
  auto o = opts(7, true, 9, false, true);
  sd::Stream whole(d, info, o);
  std::vector<sd::Batch> expected;
  sd::Batch b;
  for (int i = 0; i < 14; ++i) {  // crosses epochs: 5 batches + end marker per epoch
    if (whole.next(b)) expected.push_back(b);
  }
  // Resume at epoch 1, batch 2 (the 8th real batch), as if from a checkpoint.
  sd::Stream resumed(d, info, o);
  resumed.seek(1, 2);
  sd::Batch r;
  ASSERT_TRUE(resumed.next(r));
  expect_same(r, expected[7]);
  ASSERT_TRUE(resumed.next(r));
  expect_same(r, expected[8]);
  // Seeking to the end of an epoch: the next call ends it.
  resumed.seek(0, resumed.batches_per_epoch());
  EXPECT_FALSE(resumed.next(r));
  ASSERT_TRUE(resumed.next(r));
  expect_same(r, expected[5]);
  st::expect_mentions(st::input_error_message([&] { resumed.seek(0, 6); }), {"[0, 5]", "batch 6"});
  st::expect_mentions(st::input_error_message([&] { resumed.seek(-1, 0); }), {"epoch -1"});
}

TEST(Stream, AugmentationIsTheCropFlipOfTheSourceImage) {
  sd::Dataset d;
  d.images = (torch::arange(6 * 3 * 32 * 32, torch::kInt64) % 253).to(torch::kUInt8).view({6, 3, 32, 32});
  d.labels = torch::zeros({6}, torch::kInt64);
  auto info = sd::dataset_info("cifar10");
  sd::Stream plain(d, info, opts(6, true, 5, false, false));
  sd::Stream aug(d, info, opts(6, true, 5, false, true));
  sd::Batch p, a;
  ASSERT_TRUE(plain.next(p));
  ASSERT_TRUE(aug.next(a));
  EXPECT_TRUE(torch::equal(p.indices, a.indices));  // augmentation does not change the order
  EXPECT_TRUE(torch::equal(p.images, sd::normalize(d.images.index_select(0, p.indices), info)));
  EXPECT_FALSE(torch::equal(a.images, p.images));
  // Each augmented image is one of the 9x9x2 crop/flips of its source image.
  auto src = d.images.index_select(0, a.indices);
  for (int64_t i = 0; i < 6; ++i) {
    bool found = false;
    for (int64_t top = 0; top <= 8 && !found; ++top) {
      for (int64_t left = 0; left <= 8 && !found; ++left) {
        for (bool flip : {false, true}) {
          auto cand = sd::normalize(sd::crop_flip(src.slice(0, i, i + 1), {{top, left, flip}}, 4), info);
          if (torch::allclose(cand[0], a.images[i], 0, 1e-6)) {
            found = true;
            break;
          }
        }
      }
    }
    EXPECT_TRUE(found) << "image " << i;
  }
}

TEST(Stream, BatchesTheCallerKeepsAreNeverOverwritten) {
  auto d = toy(20);
  sd::Stream s(d, gray_info(), opts(4, true, 1));
  sd::Batch b;
  ASSERT_TRUE(s.next(b));
  sd::Batch kept = b;  // shares the tensors: the stream must not write into them again
  auto kept_images = b.images.clone(), kept_indices = b.indices.clone();
  auto view = b.images.view({-1});  // a view alone (another owner of the memory) must block reuse too
  ASSERT_TRUE(s.next(b));
  EXPECT_TRUE(torch::equal(kept.images, kept_images));
  EXPECT_TRUE(torch::equal(kept.indices, kept_indices));
  kept = sd::Batch{};
  auto view_before = view.clone();
  ASSERT_TRUE(s.next(b));  // b's previous tensors are free now except for `view`
  EXPECT_TRUE(torch::equal(view, view_before));
  EXPECT_FALSE(torch::equal(b.indices, kept_indices));
}

TEST(Stream, TinyImagesWithAugmentation) {
  // Images smaller than the 4-pixel pad: every crop still has the right shape.
  auto d = toy(8, 3, 2);
  auto info = sd::dataset_info("cifar10");
  sd::Stream s(d, info, opts(8, true, 2, false, true));
  sd::Batch b;
  ASSERT_TRUE(s.next(b));
  EXPECT_EQ(b.images.sizes(), (std::vector<int64_t>{8, 3, 2, 2}));
}

// A data-parallel rank's shard: the ranks' rows, in rank order, are the single process's batch,
// with the same order, labels and augmentation, in every batch including the partial last one.
TEST(Stream, ShardsOfEachBatchMakeUpTheWholeBatch) {
  const auto data = toy(70);
  for (const int64_t shards : {2, 3}) {
    sd::Stream whole(data, gray_info(), opts(32, true, 5, false, true));
    std::vector<std::unique_ptr<sd::Stream>> parts;
    for (int64_t s = 0; s < shards; ++s) {
      auto o = opts(32, true, 5, false, true);
      o.shard = s;
      o.shards = shards;
      parts.push_back(std::make_unique<sd::Stream>(data, gray_info(), o));
    }
    for (int64_t b = 0; b < 3; ++b) {
      sd::Batch expected, part;
      ASSERT_TRUE(whole.next(expected));
      std::vector<torch::Tensor> images, labels, indices;
      for (auto& p : parts) {
        ASSERT_TRUE(p->next(part));
        images.push_back(part.images.clone());
        labels.push_back(part.labels.clone());
        indices.push_back(part.indices.clone());
      }
      EXPECT_TRUE(torch::equal(torch::cat(indices), expected.indices)) << shards << " shards, batch " << b;
      EXPECT_TRUE(torch::equal(torch::cat(labels), expected.labels));
      EXPECT_TRUE(torch::equal(torch::cat(images), expected.images));
    }
  }
  auto bad = opts(32);
  bad.shard = 2;
  bad.shards = 2;
  EXPECT_THROW(sd::Stream(data, gray_info(), bad), skiptrain::InputError);
}
