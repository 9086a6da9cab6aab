// Pad-and-crop plus horizontal flip on uint8 images, one row at a time: a row of the
// output is a shifted (and possibly reversed) slice of one input row, with zeros where
// the window leaves the image.
#include "skiptrain/data/augment.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace skiptrain::data {

std::vector<CropFlip> draw_crop_flip(int64_t count, int64_t pad, std::mt19937_64& rng) {
  std::vector<CropFlip> out(static_cast<size_t>(count));
  const uint64_t span = static_cast<uint64_t>(2 * pad + 1);
  for (auto& p : out) {
    // One 64-bit draw per image; the modulo bias (span / 2^21) is negligible and, unlike
    // std::uniform_int_distribution, the result is the same on every standard library.
    uint64_t r = rng();
    p.top = static_cast<int64_t>((r & 0x1fffff) % span);
    p.left = static_cast<int64_t>(((r >> 21) & 0x1fffff) % span);
    p.flip = (r >> 63) != 0;
  }
  return out;
}

namespace {

// The one crop/flip loop, for byte output (copy, pad 0) and for normalised float output
// (x * scale[c] + shift[c], pad shift[c], the value of a 0 byte).
template <class Out, class Map>
void crop_flip_rows(const uint8_t* src, Out* dst, int64_t channels, int64_t height, int64_t width, int64_t pad,
                    const CropFlip& p, Map map) {
  const int64_t dy = p.top - pad;   // output row y reads input row y + dy
  const int64_t dx = p.left - pad;  // unflipped output column x reads input column x + dx
  // Output columns [x0, x1) read inside the input; the rest are padding.
  const int64_t x0 = std::clamp<int64_t>(-dx, 0, width);
  const int64_t x1 = std::clamp<int64_t>(width - dx, x0, width);
  // Flipped, output column x shows unflipped column width-1-x: the inside columns are [f0, f1).
  const int64_t f0 = width - x1, f1 = width - x0;
  for (int64_t c = 0; c < channels; ++c) {
    const uint8_t* sc = src + c * height * width;
    Out* dc = dst + c * height * width;
    const Out zero = map(c, uint8_t(0));
    for (int64_t y = 0; y < height; ++y) {
      Out* drow = dc + y * width;
      const int64_t sy = y + dy;
      if (sy < 0 || sy >= height) {
        std::fill(drow, drow + width, zero);
        continue;
      }
      const uint8_t* srow = sc + sy * width;
      if (!p.flip) {
        std::fill(drow, drow + x0, zero);
        const uint8_t* s = srow + dx;  // source of output column x is s[x]
        for (int64_t x = x0; x < x1; ++x) drow[x] = map(c, s[x]);
        std::fill(drow + x1, drow + width, zero);
      } else {
        std::fill(drow, drow + f0, zero);
        const uint8_t* s_end = srow + (width - 1 + dx);  // source of output column x is s_end[-x]
        if constexpr (std::is_same_v<Out, uint8_t>) {
          for (int64_t x = f0; x < f1; ++x) drow[x] = map(c, s_end[-x]);
          std::fill(drow + f1, drow + width, zero);
          continue;
        }
        // Floats in chunks: map a forward run of source bytes, then write it reversed; both
        // loops vectorise (a reversed read of bytes does not, on plain x86-64).
        constexpr int64_t kChunk = 256;
        Out tmp[kChunk];
        for (int64_t x = f0; x < f1; x += kChunk) {
          const int64_t m = std::min(kChunk, f1 - x);
          const uint8_t* run = s_end - (x + m - 1);  // sources of output columns x+m-1 down to x
          for (int64_t k = 0; k < m; ++k) tmp[k] = map(c, run[k]);
          for (int64_t j = 0; j < m; ++j) drow[x + j] = tmp[m - 1 - j];
        }
        std::fill(drow + f1, drow + width, zero);
      }
    }
  }
}

}  // namespace

void crop_flip_image(const uint8_t* src, uint8_t* dst, int64_t channels, int64_t height, int64_t width,
                     int64_t pad, const CropFlip& p) {
  crop_flip_rows(src, dst, channels, height, width, pad, p, [](int64_t, uint8_t v) { return v; });
}

void crop_flip_normalize_image(const uint8_t* src, float* dst, int64_t channels, int64_t height, int64_t width,
                               int64_t pad, const CropFlip& p, const float* scale, const float* shift) {
  crop_flip_rows(src, dst, channels, height, width, pad, p,
                 [scale, shift](int64_t c, uint8_t v) { return static_cast<float>(v) * scale[c] + shift[c]; });
}

torch::Tensor crop_flip(const torch::Tensor& images, const std::vector<CropFlip>& params, int64_t pad) {
  if (images.scalar_type() != torch::kUInt8 || images.dim() != 4) {
    throw InputError("crop_flip: expected uint8 images [B, C, H, W], found " +
                     std::string(c10::toString(images.scalar_type())) + " with " + std::to_string(images.dim()) +
                     " dims");
  }
  if (static_cast<int64_t>(params.size()) != images.size(0)) {
    throw InputError("crop_flip: expected one CropFlip per image (" + std::to_string(images.size(0)) + "), found " +
                     std::to_string(params.size()));
  }
  for (const auto& p : params) {
    if (p.top < 0 || p.top > 2 * pad || p.left < 0 || p.left > 2 * pad) {
      throw InputError("crop_flip: crop corner (" + std::to_string(p.top) + ", " + std::to_string(p.left) +
                       ") outside [0, " + std::to_string(2 * pad) + "]");
    }
  }
  auto src = images.contiguous();
  auto dst = torch::empty_like(src);
  const int64_t c = src.size(1), h = src.size(2), w = src.size(3);
  const int64_t image = c * h * w;
  const uint8_t* s = src.data_ptr<uint8_t>();
  uint8_t* d = dst.data_ptr<uint8_t>();
  for (int64_t b = 0; b < src.size(0); ++b) crop_flip_image(s + b * image, d + b * image, c, h, w, pad, params[b]);
  return dst;
}

torch::Tensor random_crop_flip(const torch::Tensor& images, std::mt19937_64& rng, int64_t pad) {
  return crop_flip(images, draw_crop_flip(images.dim() > 0 ? images.size(0) : 0, pad, rng), pad);
}

}  // namespace skiptrain::data
