// What each fuzz target does with one input file, shared by the libFuzzer drivers
// (fuzz_main.cpp) and the regression test that replays the crashes they found
// (tests/cpp/fuzz_regressions_test.cpp). The contract checked: a malformed file
// is an InputError and nothing else (no crash, no sanitizer report, no other exception).
#pragma once

#include "skiptrain/data/cifar.h"
#include "skiptrain/data/idx.h"
#include "skiptrain/errors.h"
#include "skiptrain/train/checkpoint.h"

#include <torch/torch.h>

#include <cstdint>
#include <string>

namespace skiptrain::fuzz {

// The IDX readers: the file as an image file and as a label file.
inline void exercise_idx(const std::string& path) {
  try {
    data::read_idx_images(path, 28);
  } catch (const InputError&) {
  }
  try {
    data::read_idx_labels(path, 10);
  } catch (const InputError&) {
  }
}

// The CIFAR reader: the file as a CIFAR-10 and as a CIFAR-100 record file.
inline void exercise_cifar(const std::string& path) {
  for (const auto& format : {data::kCifar10Format, data::kCifar100Format}) {
    try {
      data::read_cifar_files({path}, format);
    } catch (const InputError&) {
    }
  }
}

// The first and the last byte of `t`'s elements, read in instrumented code so that AddressSanitizer
// sees a tensor that claims more memory than its storage holds (LibTorch itself is not instrumented).
inline uint8_t touch_extent(const torch::Tensor& t) {
  if (t.numel() == 0) return 0;
  int64_t last = 0;
  for (int64_t d = 0; d < t.dim(); ++d) last += (t.size(d) - 1) * t.stride(d);
  const auto* first = static_cast<const volatile uint8_t*>(t.data_ptr());
  return first[0] ^ first[last * static_cast<int64_t>(t.element_size()) + t.element_size() - 1];
}

// The checkpoint loader, then every tensor it returns, as the trainer would read it.
inline void exercise_checkpoint(const std::string& path) {
  try {
    const auto checkpoint = train::load_checkpoint(path);
    for (const auto& entry : checkpoint.tensors) touch_extent(entry.second);
  } catch (const InputError&) {
  }
}

}  // namespace skiptrain::fuzz
