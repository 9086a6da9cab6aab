// Checkpoints: round trip, atomic replacement, and refusal of foreign or broken files.
#include "skiptrain/errors.h"
#include "skiptrain/train/checkpoint.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <torch/torch.h>

#include <filesystem>

namespace {

using skiptrain::InputError;
using skiptrain::train::Checkpoint;
using skiptrain::train::load_checkpoint;
using skiptrain::train::save_checkpoint;

Checkpoint sample() {
  Checkpoint c;
  c.model = "lenet5";
  c.dataset = "mnist";
  c.method = "sgd";
  c.spec = {1, 28, 10};
  c.iteration = 42;
  c.config_json = "{\"lr\":0.01}";
  c.tensors["model.conv1.weight"] = torch::randn({6, 1, 5, 5});
  c.tensors["counters"] = torch::tensor({1, 2, 3}, torch::kLong);
  return c;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const InputError& e) {
    return e.what();
  }
  return "no error";
}

TEST(Checkpoint, RoundTripKeepsEverything) {
  skiptrain::test::TempDir dir;
  const auto c = sample();
  save_checkpoint(dir.file("run.pt"), c);
  const auto back = load_checkpoint(dir.file("run.pt"));
  EXPECT_EQ(back.model, "lenet5");
  EXPECT_EQ(back.dataset, "mnist");
  EXPECT_EQ(back.iteration, 42);
  EXPECT_EQ(back.spec.image_size, 28);
  EXPECT_EQ(back.config_json, c.config_json);
  ASSERT_EQ(back.tensors.size(), 2u);
  EXPECT_TRUE(torch::equal(back.tensors.at("model.conv1.weight"), c.tensors.at("model.conv1.weight")));
}

TEST(Checkpoint, LeavesNoTemporaryFileBehind) {
  skiptrain::test::TempDir dir;
  save_checkpoint(dir.file("run.pt"), sample());
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST(Checkpoint, FailedWriteKeepsThePreviousFile) {
  skiptrain::test::TempDir dir;
  const std::string path = dir.file("run.pt");
  auto c = sample();
  save_checkpoint(path, c);
  const auto before = std::filesystem::file_size(path);
  ASSERT_EQ(::chmod(dir.path().c_str(), 0500), 0);  // the directory refuses the temporary file
  c.iteration = 99;
  if (::geteuid() != 0) EXPECT_THROW(save_checkpoint(path, c), InputError);
  ::chmod(dir.path().c_str(), 0700);
  EXPECT_EQ(std::filesystem::file_size(path), before);
  if (::geteuid() != 0) EXPECT_EQ(load_checkpoint(path).iteration, 42);
}

TEST(Checkpoint, MissingFileNamesThePath) {
  const auto message = error_of([] { load_checkpoint("/nonexistent/run.pt"); });
  EXPECT_NE(message.find("/nonexistent/run.pt"), std::string::npos) << message;
}

TEST(Checkpoint, TruncatedFileIsRefused) {
  skiptrain::test::TempDir dir;
  save_checkpoint(dir.file("run.pt"), sample());
  const auto size = std::filesystem::file_size(dir.file("run.pt"));
  std::filesystem::resize_file(dir.file("run.pt"), size / 2);
  const auto message = error_of([&] { load_checkpoint(dir.file("run.pt")); });
  EXPECT_NE(message.find("run.pt"), std::string::npos) << message;
}

TEST(Checkpoint, ForeignFileIsRefused) {
  skiptrain::test::TempDir dir;
  skiptrain::test::write_file(dir.file("junk.pt"), {'h', 'e', 'l', 'l', 'o'});
  EXPECT_NE(error_of([&] { load_checkpoint(dir.file("junk.pt")); }).find("junk.pt"), std::string::npos);
  // A valid torch pickle that is not a skiptrain checkpoint.
  c10::impl::GenericDict other(c10::StringType::get(), c10::AnyType::get());
  other.insert("format", std::string("something-else"));
  const auto bytes = torch::pickle_save(other);
  skiptrain::test::write_file(dir.file("other.pt"), std::vector<unsigned char>(bytes.begin(), bytes.end()));
  EXPECT_NE(error_of([&] { load_checkpoint(dir.file("other.pt")); }).find("not a skiptrain checkpoint"),
            std::string::npos);
}

TEST(Checkpoint, OtherFormatVersionIsRefusedNamingBoth) {
  skiptrain::test::TempDir dir;
  c10::impl::GenericDict newer(c10::StringType::get(), c10::AnyType::get());
  newer.insert("format", std::string("skiptrain-checkpoint"));
  newer.insert("version", skiptrain::train::kCheckpointVersion + 1);
  const auto bytes = torch::pickle_save(newer);
  skiptrain::test::write_file(dir.file("newer.pt"), std::vector<unsigned char>(bytes.begin(), bytes.end()));
  const auto message = error_of([&] { load_checkpoint(dir.file("newer.pt")); });
  EXPECT_NE(message.find("newer.pt: checkpoint format version 2, this skiptrain reads 1"), std::string::npos)
      << message;
}

TEST(Checkpoint, ImplausibleModelSpecIsRefusedBeforeAnyModelIsBuilt) {
  skiptrain::test::TempDir dir;
  auto c = sample();
  c.spec.image_size = int64_t{1} << 40;  // a model of this size would exhaust memory while being built
  save_checkpoint(dir.file("run.pt"), c);
  const auto message = error_of([&] { load_checkpoint(dir.file("run.pt")); });
  EXPECT_NE(message.find("'image_size' is 1099511627776"), std::string::npos) << message;
}

}  // namespace
