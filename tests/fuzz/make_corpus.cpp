// Writes the fuzzers' seed corpus: small valid IDX, CIFAR and checkpoint files (raw
// and gzip), made by the test suite's generators, one folder per fuzz target.
// Usage: make_fuzz_corpus OUT_DIR  ->  OUT_DIR/{idx,cifar,checkpoint}/...
#include "data/data_fixtures.h"
#include "skiptrain/train/checkpoint.h"
#include "support/test_support.h"

#include <torch/torch.h>

#include <filesystem>
#include <iostream>

namespace {

using skiptrain::test::write_file;

void write_idx_seeds(const std::string& dir) {
  using namespace skiptrain::test;
  write_file(dir + "/images-2", idx_images(2));
  write_file(dir + "/images-2.gz", idx_images(2), /*gzip=*/true);
  write_file(dir + "/images-0", idx_images(0));
  write_file(dir + "/labels-5", idx_labels(cyclic_labels(5)));
  write_file(dir + "/labels-5.gz", idx_labels(cyclic_labels(5)), /*gzip=*/true);
}

void write_cifar_seeds(const std::string& dir) {
  using namespace skiptrain::test;
  write_file(dir + "/cifar10-1", cifar_records(1, 1));
  write_file(dir + "/cifar10-2.gz", cifar_records(2, 1), /*gzip=*/true);
  write_file(dir + "/cifar100-1", cifar_records(1, 2));
}

// A checkpoint shaped like the trainer's: metadata, and tensors of each dtype it writes.
void write_checkpoint_seeds(const std::string& dir) {
  skiptrain::train::Checkpoint c;
  c.model = "lenet5";
  c.dataset = "mnist";
  c.method = "sgd";
  c.spec = {1, 28, 10};
  c.iteration = 16;
  c.config_json = R"({"lr":0.05,"seed":0})";
  c.tensors["model.fc3.bias"] = torch::linspace(-1, 1, 10);
  c.tensors["model.conv1.weight"] = torch::arange(24, torch::kFloat32).reshape({6, 1, 2, 2});
  c.tensors["ledger"] = torch::tensor({1.0, 2.0, 3.0}, torch::kFloat64);
  c.tensors["counters"] = torch::tensor({16, 512, 512, 0, 1, 0}, torch::kLong);
  c.tensors["selector.batches"] = torch::tensor(int64_t{16});
  skiptrain::train::save_checkpoint(dir + "/lenet5.pt", c);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_fuzz_corpus OUT_DIR\n";
    return 2;
  }
  const std::string out = argv[1];
  for (const char* target : {"idx", "cifar", "checkpoint"}) std::filesystem::create_directories(out + "/" + target);
  write_idx_seeds(out + "/idx");
  write_cifar_seeds(out + "/cifar");
  write_checkpoint_seeds(out + "/checkpoint");
  return 0;
}
