// Thread-local shape recording used to build cost tables.
#include "skiptrain/cost/recorder.h"

namespace skiptrain::cost {
namespace {
thread_local ShapeRecorder* active_recorder = nullptr;
}

ShapeRecorder::ShapeRecorder() : previous_(active_recorder) { active_recorder = this; }

ShapeRecorder::~ShapeRecorder() { active_recorder = previous_; }

bool ShapeRecorder::active() { return active_recorder != nullptr; }

void ShapeRecorder::record(const torch::nn::Module* module, const char* kind, const torch::Tensor& input,
                           const torch::Tensor& weight, const torch::Tensor& output, int64_t groups, int64_t operand_bits,
                           int64_t error_bits) {
  if (active_recorder == nullptr) return;
  LayerRecord r;
  r.module = module;
  r.kind = kind;
  r.input_shape = input.sizes().vec();
  r.weight_shape = weight.sizes().vec();
  r.output_shape = output.sizes().vec();
  r.groups = groups;
  r.input_requires_grad = input.requires_grad();
  r.weight_requires_grad = weight.requires_grad();
  r.operand_bits = operand_bits;
  r.error_bits = error_bits;
  active_recorder->records_.push_back(std::move(r));
}

}  // namespace skiptrain::cost
