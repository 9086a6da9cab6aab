// IDX readers on small generated files: raw and gzip, and every malformed case
// (wrong magic, short header, truncated data, count mismatch, label out of range)
// rejected with an InputError naming the file.
#include "skiptrain/data/idx.h"

#include "data/data_fixtures.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;

class IdxRead : public ::testing::TestWithParam<bool> {};

TEST_P(IdxRead, ReadsImagesAndLabels) {
  const bool gzip = GetParam();
  st::TempDir dir;
  st::write_mnist_dir(dir.path(), 12, 5, gzip);
  auto train = sd::load_idx_split(dir.path(), "train");
  ASSERT_EQ(train.images.sizes(), (std::vector<int64_t>{12, 1, 28, 28}));
  EXPECT_EQ(train.images.scalar_type(), torch::kUInt8);
  ASSERT_EQ(train.labels.sizes(), (std::vector<int64_t>{12}));
  EXPECT_EQ(train.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(train.num_classes, 10);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(train.labels[i].item<int64_t>(), i % 10);
  auto flat = train.images.reshape({12, 784});
  for (int64_t i : {0, 7, 11}) {
    for (int64_t k : {0, 1, 27, 28, 500, 783}) EXPECT_EQ(flat[i][k].item<int64_t>(), st::pixel(i, k)) << i << "," << k;
  }
  auto test = sd::load_idx_split(dir.path(), "t10k");
  EXPECT_EQ(test.size(), 5);
}

INSTANTIATE_TEST_SUITE_P(RawAndGzip, IdxRead, ::testing::Values(false, true));

TEST(Idx, WrongMagicNamesFileExpectedAndFound) {
  st::TempDir dir;
  st::write_file(dir.file("img"), st::idx_images(2, 28, 28, 2049));
  st::expect_mentions(st::input_error_message([&] { sd::read_idx_images(dir.file("img")); }),
                      {dir.file("img"), "2051", "2049"});
  st::write_file(dir.file("lab"), st::idx_labels({1, 2}, 1234));
  st::expect_mentions(st::input_error_message([&] { sd::read_idx_labels(dir.file("lab")); }),
                      {dir.file("lab"), "2049", "1234"});
}

TEST(Idx, ShortHeader) {
  st::TempDir dir;
  st::write_file(dir.file("img"), {0, 0, 8, 3, 0, 0});
  st::expect_mentions(st::input_error_message([&] { sd::read_idx_images(dir.file("img")); }),
                      {dir.file("img"), "16-byte header", "6 bytes"});
}

TEST(Idx, TruncatedImages) {
  st::TempDir dir;
  auto bytes = st::idx_images(3);
  bytes.resize(bytes.size() - 100);
  st::write_file(dir.file("img.gz"), bytes, true);
  st::expect_mentions(st::input_error_message([&] { sd::read_idx_images(dir.file("img.gz")); }),
                      {dir.file("img.gz"), "expected 2368 bytes", "found 2268", "truncated"});
}

TEST(Idx, TruncatedLabels) {
  st::TempDir dir;
  auto bytes = st::idx_labels({1, 2, 3, 4});
  bytes.pop_back();
  st::write_file(dir.file("lab"), bytes);
  st::expect_mentions(st::input_error_message([&] { sd::read_idx_labels(dir.file("lab")); }),
                      {dir.file("lab"), "expected 12 bytes", "found 11"});
}

TEST(Idx, WrongImageSize) {
  st::TempDir dir;
  st::write_file(dir.file("img"), st::idx_images(1, 32, 28));
  st::expect_mentions(st::input_error_message([&] { sd::read_idx_images(dir.file("img")); }),
                      {dir.file("img"), "28x28", "32x28"});
}

TEST(Idx, LabelOutOfRange) {
  st::TempDir dir;
  st::write_file(dir.file("lab"), st::idx_labels({1, 10, 3}));
  st::expect_mentions(st::input_error_message([&] { sd::read_idx_labels(dir.file("lab"), 10); }),
                      {dir.file("lab"), "[0, 10)", "found 10", "item 1"});
}

TEST(Idx, ImageLabelCountMismatch) {
  st::TempDir dir;
  st::write_file(dir.file("train-images-idx3-ubyte"), st::idx_images(4));
  st::write_file(dir.file("train-labels-idx1-ubyte.gz"), st::idx_labels(st::cyclic_labels(3)), true);
  st::expect_mentions(st::input_error_message([&] { sd::load_idx_split(dir.path(), "train"); }),
                      {dir.file("train-labels-idx1-ubyte.gz"), "expected 4 labels", "found 3"});
}

TEST(Idx, MissingFileNamesBothCandidates) {
  st::TempDir dir;
  st::write_file(dir.file("train-images-idx3-ubyte"), st::idx_images(1));
  st::expect_mentions(st::input_error_message([&] { sd::load_idx_split(dir.path(), "train"); }),
                      {"train-labels-idx1-ubyte", "train-labels-idx1-ubyte.gz", dir.path()});
}
