// Batch assembly for the Stream: one pass per image that gathers its bytes, applies
// the crop/flip when augmenting, and writes (x * scale[c] + shift[c]) as float. The
// random draws are made up front, in order, so parallel assembly stays deterministic.
#include "skiptrain/data/stream.h"

#include "skiptrain/data/augment.h"
#include "skiptrain/errors.h"

#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <random>

namespace skiptrain::data {
namespace {

constexpr int64_t kPad = 4;  // CIFAR augmentation: 4-pixel zero pad, then a random crop

uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A seed for the engine of (purpose, seed, epoch, position): distinct streams never overlap.
uint64_t derive_seed(uint64_t purpose, uint64_t seed, int64_t epoch, int64_t position) {
  uint64_t h = splitmix64(seed ^ purpose);
  h = splitmix64(h + static_cast<uint64_t>(epoch));
  return splitmix64(h + static_cast<uint64_t>(position));
}

constexpr uint64_t kOrderPurpose = 0x6f72646572ULL;    // "order"
constexpr uint64_t kAugmentPurpose = 0x6175676dULL;    // "augm"

// out[k] = in[k] * scale + shift over one channel plane; a loop the compiler vectorises.
inline void convert_plane(const uint8_t* in, float* out, int64_t n, float scale, float shift) {
  for (int64_t k = 0; k < n; ++k) out[k] = static_cast<float>(in[k]) * scale + shift;
}

void per_channel_constants(const DatasetInfo& info, int64_t channels, std::vector<float>& scale,
                           std::vector<float>& shift) {
  if (static_cast<int64_t>(info.mean.size()) != channels || static_cast<int64_t>(info.std.size()) != channels) {
    throw InputError("dataset " + info.name + ": expected " + std::to_string(channels) +
                     " per-channel mean/std values, found " + std::to_string(info.mean.size()) + "/" +
                     std::to_string(info.std.size()));
  }
  scale.resize(channels);
  shift.resize(channels);
  for (int64_t c = 0; c < channels; ++c) {
    if (!(info.std[c] > 0)) {
      throw InputError("dataset " + info.name + ": expected positive std, found " + std::to_string(info.std[c]));
    }
    scale[c] = static_cast<float>(1.0 / (255.0 * info.std[c]));
    shift[c] = static_cast<float>(-info.mean[c] / info.std[c]);
  }
}

void check_images(const torch::Tensor& images, const char* what) {
  if (!images.defined() || images.scalar_type() != torch::kUInt8 || images.dim() != 4) {
    throw InputError(std::string(what) + ": expected uint8 images [N, C, H, W], found " +
                     (images.defined() ? std::string(c10::toString(images.scalar_type())) + " with " +
                                             std::to_string(images.dim()) + " dims"
                                       : std::string("no tensor")));
  }
}

// Grain of at::parallel_for in images: about 64 KiB of pixels per task, so MNIST-sized
// batches stay on one thread and only large CIFAR batches split.
int64_t grain_for(int64_t image_elems) { return std::max<int64_t>(1, (64 * 1024) / std::max<int64_t>(1, image_elems)); }

// Asks the CPU to start loading `bytes` bytes at `p` into the cache.
inline void prefetch_image(const uint8_t* p, int64_t bytes) {
#if defined(__GNUC__) || defined(__clang__)
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
#else
  (void)p;
  (void)bytes;
#endif
}

// Keeps `t` when it is the caller's previous batch tensor that nothing else refers to (not a
// copy, a view, nor a tensor saved by autograd) and has the wanted shape; else allocates.
// Why: a fresh 1.5 MB CIFAR batch costs ~400 page faults, about as much as filling it.
void reuse_or_allocate(torch::Tensor& t, c10::IntArrayRef sizes, torch::ScalarType dtype) {
  if (t.defined() && t.use_count() == 1 && t.storage().use_count() == 1 && t.scalar_type() == dtype &&
      t.device().is_cpu() && t.sizes() == sizes && t.is_contiguous() && !t.requires_grad()) {
    return;
  }
  t = torch::empty(sizes, dtype);
}

}  // namespace

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  std::mt19937_64 rng(derive_seed(kOrderPurpose, seed, epoch, 0));
  // Fisher-Yates with plain modulo, not std::shuffle, whose draws differ between libraries.
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[i], order[j]);
  }
  return order;
}

Stream::Stream(const Dataset& dataset, const DatasetInfo& info, StreamOptions options) : options_(options) {
  if (options_.batch_size <= 0) {
    throw InputError("--batch-size: expected a positive number, found " + std::to_string(options_.batch_size));
  }
  check_images(dataset.images, "Stream");
  if (!dataset.labels.defined() || dataset.labels.dim() != 1 || dataset.labels.size(0) != dataset.images.size(0)) {
    throw InputError("Stream: expected one label per image (" + std::to_string(dataset.images.size(0)) + ")");
  }
  data_.images = dataset.images.contiguous();
  data_.labels = dataset.labels.to(torch::kInt64).contiguous();
  data_.num_classes = dataset.num_classes;
  per_channel_constants(info, data_.images.size(1), scale_, shift_);
  const int64_t n = data_.size();
  if (n == 0) throw InputError("dataset " + info.name + ": no items to stream");
  if (options_.augment && (data_.images.size(2) <= 0 || data_.images.size(3) <= 0)) {
    throw InputError("Stream: cannot augment empty images");
  }
  if (options_.shards < 1 || options_.shard < 0 || options_.shard >= options_.shards) {
    throw InputError("Stream: shard " + std::to_string(options_.shard) + " of " + std::to_string(options_.shards) +
                     " is not a shard");
  }
  batches_per_epoch_ = options_.drop_last ? n / options_.batch_size
                                          : (n + options_.batch_size - 1) / options_.batch_size;
  if (batches_per_epoch_ == 0) {
    throw InputError("--batch-size " + std::to_string(options_.batch_size) + ": larger than the " +
                     std::to_string(n) + " items of " + info.name + ", so with drop_last an epoch has no batch");
  }
}

void Stream::seek(int64_t epoch, int64_t position) {
  if (epoch < 0 || position < 0 || position > batches_per_epoch_) {
    throw InputError("stream position: expected epoch >= 0 and batch in [0, " + std::to_string(batches_per_epoch_) +
                     "], found epoch " + std::to_string(epoch) + " batch " + std::to_string(position));
  }
  epoch_ = epoch;
  position_ = position;
}

void Stream::prepare_order() {
  if (order_epoch_ == epoch_) return;
  const int64_t n = data_.size();
  if (options_.shuffle) {
    order_ = epoch_order(n, options_.seed, epoch_);
  } else if (static_cast<int64_t>(order_.size()) != n || order_epoch_ < 0) {
    order_.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) order_[i] = i;
  }
  order_epoch_ = epoch_;
}

bool Stream::next(Batch& batch) {
  if (position_ >= batches_per_epoch_) {
    ++epoch_;
    position_ = 0;
    batch = Batch{};
    return false;
  }
  prepare_order();
  const int64_t n = data_.size();
  const int64_t start = position_ * options_.batch_size;
  const int64_t whole = std::min(options_.batch_size, n - start);
  // This shard's rows [first, first + b) of the whole batch.
  const int64_t first = whole * options_.shard / options_.shards;
  const int64_t b = whole * (options_.shard + 1) / options_.shards - first;
  const int64_t channels = data_.images.size(1), height = data_.images.size(2), width = data_.images.size(3);
  const int64_t plane = height * width;
  const int64_t image = channels * plane;

  reuse_or_allocate(batch.images, {b, channels, height, width}, torch::kFloat32);
  reuse_or_allocate(batch.labels, {b}, torch::kInt64);
  reuse_or_allocate(batch.indices, {b}, torch::kInt64);
  int64_t* idx = batch.indices.data_ptr<int64_t>();
  int64_t* lab = batch.labels.data_ptr<int64_t>();
  const int64_t* all_labels = data_.labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < b; ++i) {
    idx[i] = order_[start + first + i];
    lab[i] = all_labels[idx[i]];
  }

  std::vector<CropFlip> params;
  if (options_.augment) {
    std::mt19937_64 rng(derive_seed(kAugmentPurpose, options_.seed, epoch_, position_));
    params = draw_crop_flip(whole, kPad, rng);
    params.erase(params.begin(), params.begin() + first);
  }
  const uint8_t* src = data_.images.data_ptr<uint8_t>();
  float* dst = batch.images.data_ptr<float>();
  const bool augment = options_.augment;
  at::parallel_for(0, b, grain_for(image), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      // The images sit at random places in a dataset far larger than the cache: fetch the
      // next-but-one while this one is converted, or each image waits on its cache misses.
      if (i + 2 < end) prefetch_image(src + idx[i + 2] * image, image);
      const uint8_t* in = src + idx[i] * image;
      float* out = dst + i * image;
      if (augment) {
        crop_flip_normalize_image(in, out, channels, height, width, kPad, params[i], scale_.data(), shift_.data());
      } else {
        for (int64_t c = 0; c < channels; ++c) {
          convert_plane(in + c * plane, out + c * plane, plane, scale_[c], shift_[c]);
        }
      }
    }
  });
  ++position_;
  return true;
}

torch::Tensor normalize(const torch::Tensor& images, const DatasetInfo& info) {
  check_images(images, "normalize");
  const auto src = images.contiguous();
  const int64_t n = src.size(0), channels = src.size(1), plane = src.size(2) * src.size(3);
  std::vector<float> scale, shift;
  per_channel_constants(info, channels, scale, shift);
  auto out = torch::empty(src.sizes(), torch::kFloat32);
  const uint8_t* in = src.data_ptr<uint8_t>();
  float* o = out.data_ptr<float>();
  at::parallel_for(0, n, grain_for(channels * plane), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t off = (i * channels + c) * plane;
        convert_plane(in + off, o + off, plane, scale[c], shift[c]);
      }
    }
  });
  return out;
}

}  // namespace skiptrain::data
