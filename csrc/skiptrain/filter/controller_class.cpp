// FilterController as a TorchScript custom class, torch.classes.skiptrain.FilterController,
// so that Python users pair the C++ decision/labelling logic with their own torch.nn
// filter (python/skiptrain/filter.py).
#include "skiptrain/filter/controller.h"

#include <torch/custom_class.h>
#include <torch/library.h>
#include <torch/torch.h>

#include <tuple>

namespace skiptrain::filter {
namespace {

using Triple = std::tuple<torch::Tensor, torch::Tensor, torch::Tensor>;

// The custom-class holder around one FilterController.
struct FilterControllerHolder : torch::CustomClassHolder {
  explicit FilterControllerHolder(FilterOptions options) : controller(std::move(options)) {}
  FilterController controller;
};
using Self = c10::intrusive_ptr<FilterControllerHolder>;

c10::Dict<std::string, double> metrics_dict(const FilterMetrics& m) {
  c10::Dict<std::string, double> d;
  d.insert("threshold", m.threshold);
  d.insert("r_th", m.r_th);
  d.insert("kept_fraction_window", m.kept_fraction_window);
  d.insert("kept_fraction_total", m.kept_fraction_total);
  d.insert("queried_fraction_total", m.queried_fraction_total);
  d.insert("wrong_rate_window", m.wrong_rate_window);
  d.insert("wrong_rate_total", m.wrong_rate_total);
  d.insert("batches", static_cast<double>(m.batches));
  d.insert("incoming", static_cast<double>(m.incoming));
  d.insert("kept", static_cast<double>(m.kept));
  d.insert("queried", static_cast<double>(m.queried));
  d.insert("labelled", static_cast<double>(m.labelled));
  d.insert("labelled_high", static_cast<double>(m.labelled_high));
  d.insert("wrong", static_cast<double>(m.wrong));
  d.insert("warming_up", m.warming_up ? 1.0 : 0.0);
  return d;
}

}  // namespace

// Constructor arguments, in order: ratio, entropy_threshold, a1, a2, window, init_threshold,
// warmup_batches, threshold_min, threshold_max (the Python wrapper supplies the defaults).
TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.class_<FilterControllerHolder>("FilterController")
      .def(torch::init([](double ratio, double entropy_threshold, double a1, double a2, int64_t window,
                          double init_threshold, int64_t warmup_batches, double threshold_min, double threshold_max,
                          double min_query, std::string control) {
        FilterOptions o;
        o.ratio = ratio;
        o.entropy_threshold = entropy_threshold;
        o.a1 = a1;
        o.a2 = a2;
        o.window = window;
        o.init_threshold = init_threshold;
        o.warmup_batches = warmup_batches;
        o.threshold_min = threshold_min;
        o.threshold_max = threshold_max;
        o.min_query = min_query;
        o.control = std::move(control);
        return c10::make_intrusive<FilterControllerHolder>(o);
      }))
      // logits [m, 2] -> (keep int64 [k], query int64 [q], prob_high float [m])
      .def("decide",
           [](const Self& self, const torch::Tensor& logits) -> Triple {
             Decision d = self->controller.decide(logits);
             return {d.keep, d.query, d.prob_high};
           })
      // (keep, query, prob_high) of decide() + losses [k], [q] -> (labelled [k+q], labels, weights)
      .def("observe",
           [](const Self& self, const torch::Tensor& keep, const torch::Tensor& query, const torch::Tensor& prob_high,
              const torch::Tensor& kept_losses, const torch::Tensor& query_losses) -> Triple {
             Decision d;
             d.keep = keep.to(torch::kCPU, torch::kInt64).reshape({-1});
             d.query = query.to(torch::kCPU, torch::kInt64).reshape({-1});
             d.prob_high = prob_high.detach().to(torch::kCPU, torch::kFloat32).reshape({-1});
             d.incoming = d.prob_high.numel();
             Feedback f = self->controller.observe(d, kept_losses, query_losses);
             return {f.labelled, f.labels, f.weights};
           })
      .def("threshold", [](const Self& self) { return self->controller.threshold(); })
      .def("r_th", [](const Self& self) { return self->controller.r_th(); })
      .def("batches", [](const Self& self) { return self->controller.batches(); })
      .def("warming_up", [](const Self& self) { return self->controller.warming_up(); })
      .def("metrics", [](const Self& self) { return metrics_dict(self->controller.metrics()); })
      .def("state",
           [](const Self& self) {
             c10::Dict<std::string, torch::Tensor> d;
             for (const auto& [name, tensor] : self->controller.state()) d.insert(name, tensor);
             return d;
           })
      .def("load_state", [](const Self& self, c10::Dict<std::string, torch::Tensor> state) {
        TensorState s;
        for (const auto& entry : state) s[entry.key()] = entry.value();
        self->controller.load_state(s, "FilterController.load_state");
      });
}

}  // namespace skiptrain::filter
