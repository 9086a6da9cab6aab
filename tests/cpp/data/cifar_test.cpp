// CIFAR-10 and CIFAR-100 binary readers on a few generated records: labels (fine label
// for CIFAR-100), CHW pixels, gzip, the tarball's subfolder, and malformed files.
#include "skiptrain/data/cifar.h"

#include "data/data_fixtures.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;

namespace {

void check_items(const sd::Dataset& d, int64_t n, int64_t classes, int label_bytes) {
  ASSERT_EQ(d.images.sizes(), (std::vector<int64_t>{n, 3, 32, 32}));
  ASSERT_EQ(d.labels.sizes(), (std::vector<int64_t>{n}));
  EXPECT_EQ(d.num_classes, classes);
  auto flat = d.images.reshape({n, 3072});
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(d.labels[i].item<int64_t>(), label_bytes == 1 ? i % 10 : i % 100) << i;
    for (int64_t k : {0, 1, 1023, 1024, 2048, 3071}) EXPECT_EQ(flat[i][k].item<int64_t>(), st::pixel(i, k));
  }
  // CHW: the green plane starts at byte 1024.
  EXPECT_EQ(d.images[0][1][0][0].item<int64_t>(), st::pixel(0, 1024));
}

}  // namespace

TEST(Cifar10, ReadsFiveTrainBatchesAndTest) {
  st::TempDir dir;
  int64_t item = 0;
  for (int b = 1; b <= 5; ++b) {
    st::write_file(dir.file("data_batch_" + std::to_string(b) + ".bin"), st::cifar_records(3, 1, item), b % 2 == 0);
    item += 3;
  }
  st::write_file(dir.file("test_batch.bin.gz"), st::cifar_records(4, 1), true);
  auto train = sd::load_cifar10_split(dir.path(), true);
  check_items(train, 15, 10, 1);
  auto test = sd::load_cifar10_split(dir.path(), false);
  check_items(test, 4, 10, 1);
}

TEST(Cifar10, FindsTheTarballFolder) {
  st::TempDir dir;
  std::filesystem::create_directory(dir.file("cifar-10-batches-bin"));
  st::write_file(dir.file("cifar-10-batches-bin/test_batch.bin"), st::cifar_records(2, 1));
  EXPECT_EQ(sd::load_cifar10_split(dir.path(), false).size(), 2);
}

TEST(Cifar100, UsesFineLabels) {
  st::TempDir dir;
  st::write_file(dir.file("train.bin"), st::cifar_records(120, 2));
  st::write_file(dir.file("test.bin.gz"), st::cifar_records(3, 2), true);
  auto train = sd::load_cifar100_split(dir.path(), true);
  check_items(train, 120, 100, 2);
  EXPECT_EQ(train.labels[45].item<int64_t>(), 45);  // the coarse label byte holds 45 % 20 = 5
  check_items(sd::load_cifar100_split(dir.path(), false), 3, 100, 2);
}

TEST(Cifar100, FindsTheTarballFolder) {
  st::TempDir dir;
  std::filesystem::create_directory(dir.file("cifar-100-binary"));
  st::write_file(dir.file("cifar-100-binary/test.bin"), st::cifar_records(2, 2));
  EXPECT_EQ(sd::load_cifar100_split(dir.path(), false).size(), 2);
}

TEST(Cifar, PartialRecordIsRejected) {
  st::TempDir dir;
  auto bytes = st::cifar_records(2, 1);
  bytes.pop_back();
  st::write_file(dir.file("test_batch.bin"), bytes);
  st::expect_mentions(st::input_error_message([&] { sd::load_cifar10_split(dir.path(), false); }),
                      {dir.file("test_batch.bin"), "3073-byte records", "found 6145 bytes"});
}

TEST(Cifar, EmptyFileIsRejected) {
  st::TempDir dir;
  st::write_file(dir.file("test.bin"), {});
  st::expect_mentions(st::input_error_message([&] { sd::load_cifar100_split(dir.path(), false); }),
                      {dir.file("test.bin"), "non-empty", "3074-byte", "found 0 bytes"});
}

TEST(Cifar, Cifar100FileReadAsCifar10IsCaught) {
  // 2 CIFAR-100 records (6148 bytes) are not a whole number of 3073-byte CIFAR-10 records.
  st::TempDir dir;
  st::write_file(dir.file("test_batch.bin"), st::cifar_records(2, 2));
  st::expect_mentions(st::input_error_message([&] { sd::load_cifar10_split(dir.path(), false); }),
                      {dir.file("test_batch.bin"), "6148"});
}

TEST(Cifar, LabelOutOfRange) {
  st::TempDir dir;
  auto bytes = st::cifar_records(3, 1);
  bytes[2 * 3073] = 10;
  st::write_file(dir.file("test_batch.bin"), bytes);
  st::expect_mentions(st::input_error_message([&] { sd::load_cifar10_split(dir.path(), false); }),
                      {dir.file("test_batch.bin"), "[0, 10)", "found 10", "record 2"});
  auto fine = st::cifar_records(2, 2);
  fine[1] = 100;
  st::write_file(dir.file("test.bin"), fine);
  st::expect_mentions(st::input_error_message([&] { sd::load_cifar100_split(dir.path(), false); }),
                      {dir.file("test.bin"), "[0, 100)", "found 100"});
}

TEST(Cifar, MissingBatchNamesIt) {
  st::TempDir dir;
  for (int b = 1; b <= 4; ++b) st::write_file(dir.file("data_batch_" + std::to_string(b) + ".bin"), st::cifar_records(1, 1));
  st::expect_mentions(st::input_error_message([&] { sd::load_cifar10_split(dir.path(), true); }),
                      {"data_batch_5.bin", dir.path()});
}
