// The checks a checkpoint file passes before LibTorch parses it: a real checkpoint
// passes; files edited to break each check (a string length far past the end, the
// first the fuzzer found; memo keys that skip ahead; a stack underflow; compressed or
// truncated entries; a record shorter than its storage; a tensor larger than its storage)
// are refused with an InputError.
#include "skiptrain/errors.h"
#include "skiptrain/train/checkpoint.h"
#include "skiptrain/train/checkpoint_archive.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <fstream>
#include <iterator>

namespace {

using skiptrain::InputError;
using skiptrain::train::check_checkpoint_archive;

// The bytes of a small checkpoint as the trainer writes it.
std::vector<char> checkpoint_bytes() {
  skiptrain::test::TempDir dir;
  skiptrain::train::Checkpoint c;
  c.model = "lenet5";
  c.dataset = "mnist";
  c.method = "sgd";
  c.config_json = "{}";
  c.tensors["model.conv1.weight"] = torch::ones({6, 1, 5, 5});
  skiptrain::train::save_checkpoint(dir.file("run.pt"), c);
  std::ifstream in(dir.file("run.pt"), std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Offset of the first occurrence of `needle` in `bytes` (the test fails when there is none).
size_t find(const std::vector<char>& bytes, const std::string& needle) {
  auto it = std::search(bytes.begin(), bytes.end(), needle.begin(), needle.end());
  EXPECT_NE(it, bytes.end()) << "pattern not found";
  return static_cast<size_t>(it - bytes.begin());
}

// Offset of the central directory entry of the zip entry whose name ends with `name`.
size_t central_entry(const std::vector<char>& bytes, const std::string& name) {
  const std::string signature("PK\x01\x02", 4);
  for (auto it = bytes.begin(); (it = std::search(it, bytes.end(), signature.begin(), signature.end())) != bytes.end();
       ++it) {
    const size_t q = static_cast<size_t>(it - bytes.begin());
    const size_t length = static_cast<uint8_t>(bytes[q + 28]) | static_cast<uint8_t>(bytes[q + 29]) << 8;
    const std::string entry(bytes.data() + q + 46, length);
    if (entry.size() >= name.size() && entry.compare(entry.size() - name.size(), name.size(), name) == 0) return q;
  }
  ADD_FAILURE() << "no zip entry " << name;
  return 0;
}

void put_le32(std::vector<char>& bytes, size_t offset, uint32_t value) {
  for (int i = 0; i < 4; ++i) bytes[offset + i] = static_cast<char>(value >> (8 * i));
}

std::string refusal(const std::vector<char>& bytes) {
  try {
    check_checkpoint_archive(bytes, "run.pt");
  } catch (const InputError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(CheckpointArchive, ACheckpointAsWrittenPasses) { EXPECT_NO_THROW(check_checkpoint_archive(checkpoint_bytes(), "run.pt")); }

TEST(CheckpointArchive, StringLengthPastTheEndIsRefusedBeforeAnyAllocation) {
  auto bytes = checkpoint_bytes();
  // BINUNICODE 'format': opcode X, 4-byte length 6. LibTorch would allocate 2 GB for this string.
  put_le32(bytes, find(bytes, std::string("X\x06\x00\x00\x00" "format", 11)) + 1, 0x7fffffff);
  const auto message = refusal(bytes);
  EXPECT_NE(message.find("run.pt"), std::string::npos) << message;
  EXPECT_NE(message.find("data.pkl: ends inside an opcode"), std::string::npos) << message;
}

TEST(CheckpointArchive, MemoKeyThatSkipsAheadIsRefused) {
  auto bytes = checkpoint_bytes();
  bytes[find(bytes, "formatq") + 7] = static_cast<char>(0xf0);  // BINPUT 0xf0 instead of the next key
  EXPECT_NE(refusal(bytes).find("memo key 240 skips ahead"), std::string::npos) << refusal(bytes);
}

TEST(CheckpointArchive, StackUnderflowIsRefused) {
  auto bytes = checkpoint_bytes();
  bytes[find(bytes, "formatq") + 6] = 'R';  // REDUCE right after MARK, key: one value above the mark
  EXPECT_NE(refusal(bytes).find("pops more values than it pushed"), std::string::npos) << refusal(bytes);
}

TEST(CheckpointArchive, CompressedEntryIsRefused) {
  auto bytes = checkpoint_bytes();
  bytes[central_entry(bytes, "data.pkl") + 10] = 8;  // method deflate
  EXPECT_NE(refusal(bytes).find("is compressed"), std::string::npos) << refusal(bytes);
}

TEST(CheckpointArchive, EntryPastTheEndIsRefused) {
  auto bytes = checkpoint_bytes();
  const size_t entry = central_entry(bytes, "data.pkl");
  put_le32(bytes, entry + 20, 1u << 30);  // compressed and uncompressed sizes: 1 GB
  put_le32(bytes, entry + 24, 1u << 30);
  EXPECT_NE(refusal(bytes).find("past the end of the file"), std::string::npos) << refusal(bytes);
}

TEST(CheckpointArchive, RecordShorterThanItsStorageIsRefused) {
  auto bytes = checkpoint_bytes();
  // The weight's record (data/0, 600 bytes) shrunk to 8: LibTorch would give the storage 600 bytes
  // over the record's 8-byte buffer (the fuzzer's heap overflow).
  const size_t entry = central_entry(bytes, "data/0");
  put_le32(bytes, entry + 20, 8);
  put_le32(bytes, entry + 24, 8);
  EXPECT_NE(refusal(bytes).find("storage '0' declares 150 elements, its record holds 8 bytes"), std::string::npos)
      << refusal(bytes);
}

TEST(CheckpointArchive, NotAZipIsRefused) {
  EXPECT_NE(refusal({'h', 'e', 'l', 'l', 'o'}).find("too short"), std::string::npos);
  std::vector<char> junk(100, 'x');
  EXPECT_NE(refusal(junk).find("no zip end-of-central-directory"), std::string::npos);
}

TEST(CheckpointArchive, TensorLargerThanItsStorageIsRefusedByTheLoader) {
  auto bytes = checkpoint_bytes();
  // The weight's storage declared 2 floats long instead of 150 (persistent id ('storage', FloatStorage,
  // '0', 'cpu', 150), the numel a BININT1): a valid zip and pickle, and LibTorch builds a [6, 1, 5, 5]
  // view over 8 bytes without complaint.
  const size_t numel = find(bytes, std::string("cpuq", 4)) + 5;
  ASSERT_EQ(bytes[numel], 'K');
  ASSERT_EQ(static_cast<uint8_t>(bytes[numel + 1]), 150);
  bytes[numel + 1] = 2;
  ASSERT_EQ(refusal(bytes), "accepted");
  skiptrain::test::TempDir dir;
  skiptrain::test::write_file(dir.file("run.pt"), std::vector<unsigned char>(bytes.begin(), bytes.end()));
  try {
    skiptrain::train::load_checkpoint(dir.file("run.pt"));
    ADD_FAILURE() << "loaded a tensor that reaches past its storage";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'model.conv1.weight' reaches past the 8 bytes"), std::string::npos)
        << e.what();
  }
}

}  // namespace
