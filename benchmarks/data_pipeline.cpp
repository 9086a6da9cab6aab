// Google Benchmark of the input pipeline: Stream::next (batch assembly, with and without CIFAR
// augmentation) and random_crop_flip alone. A ResNet-20 step on batch 128 takes tens of
// milliseconds on a CPU: these should stay far below that (they were timing assertions in the
// test suite, which must not depend on the machine's load).
#include "skiptrain/data/augment.h"
#include "skiptrain/data/dataset.h"
#include "skiptrain/data/stream.h"

#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include <random>

namespace sd = skiptrain::data;

namespace {

// Stream::next over a synthetic dataset of n images [channels, size, size], batch `batch`.
void stream_next(benchmark::State& state, int64_t n, int64_t channels, int64_t size, int64_t batch, bool augment) {
  at::set_num_threads(1);
  sd::Dataset d;
  d.images = torch::randint(0, 256, {n, channels, size, size}, torch::kUInt8);
  d.labels = torch::randint(0, 10, {n}, torch::kInt64);
  sd::StreamOptions options;
  options.batch_size = batch;
  options.drop_last = true;
  options.augment = augment;
  sd::Stream stream(d, sd::dataset_info(channels == 1 ? "mnist" : "cifar10"), options);
  sd::Batch b;
  for (auto _ : state) {
    if (!stream.next(b)) stream.next(b);
    benchmark::DoNotOptimize(b.images.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void random_crop_flip_cifar(benchmark::State& state) {
  at::set_num_threads(1);
  auto x = torch::randint(0, 256, {128, 3, 32, 32}, torch::kUInt8);
  std::mt19937_64 rng(0);
  for (auto _ : state) benchmark::DoNotOptimize(sd::random_crop_flip(x, rng).data_ptr());
  state.SetItemsProcessed(state.iterations() * 128);
}

}  // namespace

BENCHMARK_CAPTURE(stream_next, mnist_batch64, 60000, 1, 28, 64, false);
BENCHMARK_CAPTURE(stream_next, cifar10_batch128, 50000, 3, 32, 128, false);
BENCHMARK_CAPTURE(stream_next, cifar10_batch128_augment, 50000, 3, 32, 128, true);
BENCHMARK(random_crop_flip_cifar);
BENCHMARK_MAIN();
