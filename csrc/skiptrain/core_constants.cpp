// The C++ core's defaults and limits as one JSON document for the Python package,
// torch.ops.skiptrain.core_constants(): the EMP score weights, the quantizer widths, the
// checkpoint format and the Early Instance Filter's options. python/skiptrain/_core.py reads it
// once, so each value is written only here (in the headers named below).
#include "skiptrain/filter/options_json.h"
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/ops/emp_conv2d.h"
#include "skiptrain/ops/quantize.h"
#include "skiptrain/train/checkpoint.h"
#include "skiptrain/train/config.h"

#include <nlohmann/json.hpp>
#include <torch/library.h>

#include <string>

namespace skiptrain {
namespace {

std::string core_constants() {
  nlohmann::json j;
  // keep: what a whole-model conversion prunes to by default (the trainer's --emp-keep).
  j["emp"] = {{"keep", train::TrainConfig{}.emp.keep},
              {"gamma1", kDefaultGamma1},
              {"gamma2", kDefaultGamma2},
              {"sample", train::TrainConfig{}.emp.sample}};
  j["quant"] = {{"min_bits", kMinQuantBits},
                {"max_bits", kMaxQuantBits},
                {"float_bits", nn::kFloatBits},
                {"float_grad_bits", nn::QuantSettings{}.grad_bits}};
  j["checkpoint"] = {{"format", train::kCheckpointFormat}, {"version", train::kCheckpointVersion}};
  j["filter"] = filter::options_to_json(filter::FilterOptions{});
  return j.dump();
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(skiptrain, m) { m.def("core_constants() -> str", &core_constants); }

}  // namespace skiptrain
