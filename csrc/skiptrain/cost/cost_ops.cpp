// The cost table as a TorchScript custom class, torch.classes.skiptrain.CostTable, so that
// Python counts the MACs of any torch.nn model with the C++ rules (python/skiptrain/cost.py
// hooks the layers and adds what each one saw): the formulas, the backward parts and the
// totals are cost/table.cpp's, and Python has none of its own.
#include "skiptrain/cost/table.h"

#include <c10/util/Exception.h>
#include <torch/custom_class.h>
#include <torch/library.h>

#include <string>
#include <tuple>
#include <vector>

namespace skiptrain::cost {
namespace {

// (name, kind, out_channels, forward, backward_input, backward_weight MACs): python's LayerCost.
using LayerTuple = std::tuple<std::string, std::string, int64_t, double, double, double>;

struct CostTableHolder : torch::CustomClassHolder {
  CostTable table;

  // Appends the costs of one conv2d ([C_out, C_in/groups, kh, kw] weight, [N, C_out, H, W] output)
  // or linear ([out, in] weight, [N, out] output) call.
  void add_layer(std::string name, std::string kind, std::vector<int64_t> weight_shape,
                 std::vector<int64_t> output_shape, int64_t groups, bool input_requires_grad,
                 bool weight_requires_grad) {
    TORCH_CHECK_VALUE(kind == "conv2d" || kind == "linear",
                      "CostTable.add_layer: kind must be 'conv2d' or 'linear', got '", kind, "'");
    const bool conv = kind == "conv2d";
    const bool shapes_fit = conv ? weight_shape.size() == 4 && output_shape.size() == 4
                                 : weight_shape.size() == 2 && output_shape.size() >= 2;
    TORCH_CHECK_VALUE(shapes_fit, "CostTable.add_layer: a ", kind, " layer needs ",
                      conv ? "a 4-d weight and output" : "a 2-d weight and an output of at least 2 dimensions",
                      ", got ", weight_shape.size(), " and ", output_shape.size(), " dimensions");
    LayerRecord record;
    record.kind = std::move(kind);
    record.weight_shape = std::move(weight_shape);
    record.output_shape = std::move(output_shape);
    record.groups = groups;
    record.input_requires_grad = input_requires_grad;
    record.weight_requires_grad = weight_requires_grad;
    table.layers.push_back(layer_cost(record, std::move(name)));
  }

  std::vector<LayerTuple> layers() const {
    std::vector<LayerTuple> out;
    for (const auto& l : table.layers)
      out.emplace_back(l.name, l.kind, l.out_channels, l.forward_macs, l.backward_input_macs, l.backward_weight_macs);
    return out;
  }
};

}  // namespace

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.class_<CostTableHolder>("CostTable")
      .def(torch::init<>())
      .def("add_layer", &CostTableHolder::add_layer)
      .def("layers", &CostTableHolder::layers)
      .def("forward_macs", [](const c10::intrusive_ptr<CostTableHolder>& self) { return self->table.forward_macs(); })
      .def("backward_macs", [](const c10::intrusive_ptr<CostTableHolder>& self) { return self->table.backward_macs(); })
      .def("training_macs",
           [](const c10::intrusive_ptr<CostTableHolder>& self) { return self->table.training_macs(); });
}

}  // namespace skiptrain::cost
