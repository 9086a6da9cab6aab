// CIFAR augmentation on crafted images: the centred crop is the identity, a flip
// reverses columns, a shifted crop moves pixels and fills the border with zeros,
// shapes are kept, draws are deterministic, and the speed is measured.
#include "skiptrain/data/augment.h"

#include "data/data_fixtures.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <set>

namespace sd = skiptrain::data;
namespace st = skiptrain::test;

namespace {

// uint8 [B, C, H, W] with a distinct value at every position.
torch::Tensor crafted(int64_t b, int64_t c, int64_t h, int64_t w) {
  return (torch::arange(b * c * h * w, torch::kInt64) % 251 + 1).to(torch::kUInt8).reshape({b, c, h, w});
}

// The slow, obviously right reference: pad with zeros, slice the window, flip.
torch::Tensor reference(const torch::Tensor& img, const sd::CropFlip& p, int64_t pad) {
  const int64_t h = img.size(-2), w = img.size(-1);
  auto padded = torch::constant_pad_nd(img, {pad, pad, pad, pad}, 0);
  auto crop = padded.slice(-2, p.top, p.top + h).slice(-1, p.left, p.left + w);
  return p.flip ? crop.flip({-1}) : crop;
}

}  // namespace

TEST(Augment, CentredCropIsIdentity) {
  auto x = crafted(2, 3, 8, 8);
  auto y = sd::crop_flip(x, {{4, 4, false}, {4, 4, false}}, 4);
  EXPECT_TRUE(torch::equal(x, y));
}

TEST(Augment, FlipReversesColumns) {
  auto x = crafted(1, 2, 3, 5);
  auto y = sd::crop_flip(x, {{4, 4, true}}, 4);
  EXPECT_TRUE(torch::equal(y, x.flip({3})));
  // Spelled out for one row: column 0 shows the old column 4.
  EXPECT_EQ(y[0][1][2][0].item<int64_t>(), x[0][1][2][4].item<int64_t>());
  EXPECT_EQ(y[0][1][2][4].item<int64_t>(), x[0][1][2][0].item<int64_t>());
}

TEST(Augment, ShiftedCropMovesPixelsAndPadsWithZeros) {
  auto x = crafted(1, 1, 6, 6);
  // top 0, left 0: the window starts 4 pixels above and left of the image.
  auto y = sd::crop_flip(x, {{0, 0, false}}, 4);
  EXPECT_TRUE(torch::equal(y.slice(2, 0, 4), torch::zeros({1, 1, 4, 6}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(y.slice(3, 0, 4), torch::zeros({1, 1, 6, 4}, torch::kUInt8)));
  EXPECT_TRUE(torch::equal(y.slice(2, 4, 6).slice(3, 4, 6), x.slice(2, 0, 2).slice(3, 0, 2)));
}

TEST(Augment, MatchesReferenceForEveryWindow) {
  auto x = crafted(1, 3, 7, 9);
  for (int64_t top = 0; top <= 8; ++top) {
    for (int64_t left = 0; left <= 8; ++left) {
      for (bool flip : {false, true}) {
        sd::CropFlip p{top, left, flip};
        auto y = sd::crop_flip(x, {p}, 4);
        ASSERT_TRUE(torch::equal(y[0], reference(x[0], p, 4))) << top << "," << left << "," << flip;
      }
    }
  }
}

TEST(Augment, RandomKeepsShapeAndIsDeterministic) {
  auto x = crafted(64, 3, 32, 32);
  std::mt19937_64 a(7), b(7), c(8);
  auto ya = sd::random_crop_flip(x, a);
  auto yb = sd::random_crop_flip(x, b);
  auto yc = sd::random_crop_flip(x, c);
  EXPECT_EQ(ya.sizes(), x.sizes());
  EXPECT_EQ(ya.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(torch::equal(ya, yb));
  EXPECT_FALSE(torch::equal(ya, yc));
}

TEST(Augment, DrawsCoverEveryWindowAndBothFlips) {
  std::mt19937_64 rng(1);
  auto draws = sd::draw_crop_flip(20000, 4, rng);
  std::set<int64_t> tops, lefts;
  int flips = 0;
  for (const auto& p : draws) {
    tops.insert(p.top);
    lefts.insert(p.left);
    flips += p.flip;
  }
  EXPECT_EQ(tops, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(lefts, (std::set<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_NEAR(flips / 20000.0, 0.5, 0.02);
}

TEST(Augment, RejectsBadInput) {
  auto x = crafted(2, 1, 4, 4);
  st::expect_mentions(st::input_error_message([&] { sd::crop_flip(x, {{0, 0, false}}, 4); }), {"one CropFlip per image"});
  st::expect_mentions(st::input_error_message([&] { sd::crop_flip(x, {{9, 0, false}, {0, 0, false}}, 4); }),
                      {"outside [0, 8]"});
  st::expect_mentions(st::input_error_message([&] { sd::crop_flip(x.to(torch::kFloat32), {{0, 0, false}, {0, 0, false}}, 4); }),
                      {"uint8"});
}
