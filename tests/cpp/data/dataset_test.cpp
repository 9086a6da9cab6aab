// The dataset registry: names, per-dataset facts, where data is looked for
// (--data-dir, $SKIPTRAIN_DATA, the Debian path), load() on generated directories,
// and the real Fashion-MNIST when the Debian package is installed.
#include "skiptrain/data/dataset.h"

#include "data/data_fixtures.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;

namespace {

using skiptrain::test::ScopedEnv;

const char* const kDebianFashion = "/usr/share/datasets/fashion-mnist";

}  // namespace

TEST(Registry, NamesAndFacts) {
  EXPECT_EQ(sd::dataset_names(), (std::vector<std::string>{"mnist", "fashion-mnist", "cifar10", "cifar100"}));
  auto mnist = sd::dataset_info("mnist");
  EXPECT_EQ(mnist.in_channels, 1);
  EXPECT_EQ(mnist.image_size, 28);
  EXPECT_EQ(mnist.num_classes, 10);
  EXPECT_EQ(mnist.mean, std::vector<double>{0.1307});
  EXPECT_EQ(mnist.std, std::vector<double>{0.3081});
  EXPECT_FALSE(mnist.augment_by_default);
  auto fashion = sd::dataset_info("fashion-mnist");
  EXPECT_EQ(fashion.mean, std::vector<double>{0.2860});
  EXPECT_EQ(fashion.std, std::vector<double>{0.3530});
  auto c10 = sd::dataset_info("cifar10");
  EXPECT_EQ(c10.in_channels, 3);
  EXPECT_EQ(c10.image_size, 32);
  EXPECT_EQ(c10.num_classes, 10);
  EXPECT_EQ(c10.mean, (std::vector<double>{0.4914, 0.4822, 0.4465}));
  EXPECT_EQ(c10.std, (std::vector<double>{0.2470, 0.2435, 0.2616}));
  EXPECT_TRUE(c10.augment_by_default);
  auto c100 = sd::dataset_info("cifar100");
  EXPECT_EQ(c100.num_classes, 100);
  EXPECT_EQ(c100.mean, (std::vector<double>{0.5071, 0.4865, 0.4409}));
  EXPECT_EQ(c100.std, (std::vector<double>{0.2673, 0.2564, 0.2762}));
  EXPECT_TRUE(c100.augment_by_default);
  for (const auto& name : sd::dataset_names()) EXPECT_EQ(sd::dataset_info(name).name, name);
}

TEST(Registry, UnknownNameListsValidNames) {
  auto msg = st::input_error_message([] { sd::dataset_info("imagenet"); });
  st::expect_mentions(msg, {"imagenet", "mnist", "fashion-mnist", "cifar10", "cifar100"});
  st::expect_mentions(st::input_error_message([] { sd::load("svhn", "/tmp"); }), {"svhn", "cifar100"});
  st::expect_mentions(st::input_error_message([] { sd::resolve_data_dir("svhn", ""); }), {"svhn", "cifar10"});
}

TEST(ResolveDataDir, FlagWinsAndMustExist) {
  st::TempDir dir;
  ScopedEnv env("SKIPTRAIN_DATA", "/nonexistent-skiptrain");
  EXPECT_EQ(sd::resolve_data_dir("mnist", dir.path()), dir.path());
  const std::string missing = dir.file("missing");
  st::expect_mentions(st::input_error_message([&] { sd::resolve_data_dir("mnist", missing); }),
                      {"--data-dir", missing});
}

TEST(ResolveDataDir, EnvironmentVariable) {
  st::TempDir dir;
  std::filesystem::create_directory(dir.file("cifar10"));
  ScopedEnv env("SKIPTRAIN_DATA", dir.path().c_str());
  EXPECT_EQ(sd::resolve_data_dir("cifar10", ""), dir.file("cifar10"));
  // cifar100/ is not there: the error says what to do.
  auto msg = st::input_error_message([&] { sd::resolve_data_dir("cifar100", ""); });
  st::expect_mentions(msg, {"--data-dir", "SKIPTRAIN_DATA", "skiptrain download cifar100", dir.file("cifar100")});
}

TEST(ResolveDataDir, NothingSetSaysWhatToDo) {
  ScopedEnv env("SKIPTRAIN_DATA", nullptr);
  auto msg = st::input_error_message([] { sd::resolve_data_dir("mnist", ""); });
  st::expect_mentions(msg, {"--data-dir", "SKIPTRAIN_DATA", "skiptrain download mnist"});
}

TEST(ResolveDataDir, DebianFashionMnist) {
  if (!std::filesystem::is_directory(kDebianFashion)) GTEST_SKIP() << kDebianFashion << " not installed";
  ScopedEnv env("SKIPTRAIN_DATA", nullptr);
  EXPECT_EQ(sd::resolve_data_dir("fashion-mnist", ""), kDebianFashion);
}

TEST(Load, GeneratedMnistDirectory) {
  st::TempDir dir;
  st::write_mnist_dir(dir.path(), 20, 7, true);
  auto tt = sd::load("mnist", dir.path());
  EXPECT_EQ(tt.info.name, "mnist");
  EXPECT_EQ(tt.train.size(), 20);
  EXPECT_EQ(tt.test.size(), 7);
  EXPECT_EQ(tt.train.images.sizes(), (std::vector<int64_t>{20, 1, 28, 28}));
}

TEST(Load, GeneratedCifarDirectories) {
  st::TempDir dir;
  for (int b = 1; b <= 5; ++b) st::write_file(dir.file("data_batch_" + std::to_string(b) + ".bin"), st::cifar_records(2, 1));
  st::write_file(dir.file("test_batch.bin"), st::cifar_records(3, 1));
  auto c10 = sd::load("cifar10", dir.path());
  EXPECT_EQ(c10.train.size(), 10);
  EXPECT_EQ(c10.test.size(), 3);
  EXPECT_EQ(c10.train.num_classes, 10);
  st::write_file(dir.file("train.bin"), st::cifar_records(4, 2));
  st::write_file(dir.file("test.bin"), st::cifar_records(2, 2));
  auto c100 = sd::load("cifar100", dir.path());
  EXPECT_EQ(c100.train.size(), 4);
  EXPECT_EQ(c100.train.num_classes, 100);
  EXPECT_EQ(c100.info.num_classes, 100);
}

TEST(Load, MissingDirectoryNamesIt) {
  st::TempDir dir;
  const std::string missing = dir.file("nothing-here");
  st::expect_mentions(st::input_error_message([&] { sd::load("fashion-mnist", missing); }), {missing, "not found"});
}

TEST(Load, RealFashionMnist) {
  if (!std::filesystem::is_directory(kDebianFashion)) GTEST_SKIP() << kDebianFashion << " not installed";
  auto tt = sd::load("fashion-mnist", kDebianFashion);
  EXPECT_EQ(tt.train.size(), 60000);
  EXPECT_EQ(tt.test.size(), 10000);
  EXPECT_EQ(tt.train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  // Balanced classes: 6000 of each in train, 1000 in test.
  auto counts = torch::bincount(tt.train.labels);
  EXPECT_EQ(counts.size(0), 10);
  EXPECT_EQ(counts.min().item<int64_t>(), 6000);
  EXPECT_EQ(counts.max().item<int64_t>(), 6000);
  // The registry's mean/std are those of the training pixels.
  auto x = tt.train.images.to(torch::kFloat64) / 255.0;
  EXPECT_NEAR(x.mean().item<double>(), 0.2860, 5e-4);
  EXPECT_NEAR(x.std().item<double>(), 0.3530, 5e-4);
}
