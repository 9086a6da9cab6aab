// Per-thread partial sums for the EMP CPU kernels: each thread of an at::parallel_for adds
// into its own buffer (no atomics, no false sharing of one accumulator), and the buffers are
// summed once at the end.
#pragma once

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <vector>

namespace skiptrain::cpu {

template <typename T>
class ThreadPartials {
 public:
  explicit ThreadPartials(int64_t size) : size_(size), parts_(at::get_num_threads()) {}

  // The calling thread's buffer of `size` values, zeroed on its first use.
  T* mine() {
    auto& part = parts_[at::get_thread_num()];
    if (part.empty()) part.assign(size_, T(0));
    return part.data();
  }

  // The sum over threads, `size` values.
  std::vector<T> sum() const {
    std::vector<T> out(size_, T(0));
    for (const auto& part : parts_)
      if (!part.empty())
        for (int64_t i = 0; i < size_; ++i) out[i] += part[i];
    return out;
  }

  // The sum over threads as a tensor of `shape` (size values) converted to `dtype`.
  at::Tensor total(at::IntArrayRef shape, at::ScalarType dtype) const {
    auto values = sum();
    auto options = at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value);
    return at::from_blob(values.data(), shape, options).to(dtype, /*non_blocking=*/false, /*copy=*/true);
  }

 private:
  int64_t size_;
  std::vector<std::vector<T>> parts_;
};

}  // namespace skiptrain::cpu
