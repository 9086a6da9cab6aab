// Shape recorder for the cost ledger: while a ShapeRecorder is active on this
// thread, every skiptrain conv and linear layer reports the shapes of one forward
// call. Cost tables are built from these records, never guessed.
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <string>
#include <vector>

namespace skiptrain::cost {

// What one conv2d or linear call saw: enough to count its MACs.
struct LayerRecord {
  const torch::nn::Module* module = nullptr;
  std::string kind;                    // "conv2d" or "linear"
  std::vector<int64_t> input_shape;    // [N, C_in, H, W] or [N, in]
  std::vector<int64_t> weight_shape;   // [C_out, C_in/groups, kh, kw] or [out, in]
  std::vector<int64_t> output_shape;   // [N, C_out, H_out, W_out] or [N, out]
  int64_t groups = 1;
  bool input_requires_grad = false;    // false for the first layer: no backward-to-input
  bool weight_requires_grad = true;
  int64_t operand_bits = 32;           // width of input and weight in the forward pass
  int64_t error_bits = 32;             // width of the error map in the backward pass
};

// Collects LayerRecords from the layers that run on this thread while it lives.
class ShapeRecorder {
 public:
  ShapeRecorder();
  ~ShapeRecorder();
  ShapeRecorder(const ShapeRecorder&) = delete;
  ShapeRecorder& operator=(const ShapeRecorder&) = delete;

  const std::vector<LayerRecord>& records() const { return records_; }

  // Whether a recorder is active on this thread: fused fast paths that skip the layers' forward
  // (nn/lenet_filter_fused.h) must not run then, or the layers would go unrecorded.
  static bool active();

  // Called by layers; a no-op (one thread-local load) when no recorder is active.
  static void record(const torch::nn::Module* module, const char* kind, const torch::Tensor& input,
                     const torch::Tensor& weight, const torch::Tensor& output, int64_t groups,
                     int64_t operand_bits = 32, int64_t error_bits = 32);

 private:
  std::vector<LayerRecord> records_;
  ShapeRecorder* previous_;
};

}  // namespace skiptrain::cost
