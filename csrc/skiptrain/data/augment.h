// The standard CIFAR augmentation on bytes: zero-pad by `pad` pixels, crop a random
// HxW window back out, and flip horizontally with probability 1/2. Works on uint8
// [B, C, H, W] batches with plain loops over rows (memcpy or a reversed copy), so it
// costs microseconds per batch; the randomness comes from a caller's seeded engine.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <random>
#include <vector>

namespace skiptrain::data {

// The random choice for one image: the crop window's top-left corner in the padded
// image (each in [0, 2*pad]; pad,pad is the centred, unshifted crop) and the flip.
struct CropFlip {
  int64_t top = 0;
  int64_t left = 0;
  bool flip = false;
};

// Draws one CropFlip per image from `rng` (the same engine state gives the same draws).
std::vector<CropFlip> draw_crop_flip(int64_t count, int64_t pad, std::mt19937_64& rng);

// Applies `p` to one image: `src` and `dst` are [C, H, W] bytes, contiguous and distinct.
void crop_flip_image(const uint8_t* src, uint8_t* dst, int64_t channels, int64_t height, int64_t width,
                     int64_t pad, const CropFlip& p);

// As crop_flip_image, writing normalised floats: out = byte * scale[c] + shift[c] (padding is a 0 byte).
void crop_flip_normalize_image(const uint8_t* src, float* dst, int64_t channels, int64_t height, int64_t width,
                               int64_t pad, const CropFlip& p, const float* scale, const float* shift);

// Applies one CropFlip per image to uint8 [B, C, H, W]; returns a new tensor of the same shape.
torch::Tensor crop_flip(const torch::Tensor& images, const std::vector<CropFlip>& params, int64_t pad = 4);

// Random pad-`pad` crop + horizontal flip of uint8 [B, C, H, W], drawn from `rng`.
torch::Tensor random_crop_flip(const torch::Tensor& images, std::mt19937_64& rng, int64_t pad = 4);

}  // namespace skiptrain::data
