// FilterController as a TorchScript custom class, torch.classes.skiptrain.FilterController,
// so that Python users pair the C++ decision/labelling logic with their own torch.nn
// filter (python/skiptrain/filter.py). It takes every filter option (as JSON, see
// options_json.h) and gives the filter's learning-rate schedule, so Python repeats no rule.
#include "skiptrain/filter/controller.h"
#include "skiptrain/filter/options_json.h"
#include "skiptrain/errors.h"

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

// The Decision that decide() returned to Python as (keep, query, prob_high).
Decision decision_of(const torch::Tensor& keep, const torch::Tensor& query, const torch::Tensor& prob_high) {
  Decision d;
  d.keep = keep.to(torch::kCPU, torch::kInt64).reshape({-1});
  d.query = query.to(torch::kCPU, torch::kInt64).reshape({-1});
  d.prob_high = prob_high.detach().to(torch::kCPU, torch::kFloat32).reshape({-1});
  d.incoming = d.prob_high.numel();
  return d;
}

}  // namespace

TORCH_LIBRARY_FRAGMENT(skiptrain, m) {
  m.class_<FilterControllerHolder>("FilterController")
      // options_json: an object of FilterOptions fields (options_json.h); missing keys take the defaults.
      .def(torch::init([](const std::string& options_json) {
        const auto parsed = nlohmann::json::parse(options_json, nullptr, /*allow_exceptions=*/false);
        TORCH_CHECK_VALUE(!parsed.is_discarded(), "FilterController: options are not valid JSON: ", options_json);
        return c10::make_intrusive<FilterControllerHolder>(options_from_json(parsed));
      }))
      // The options in use, defaults filled in, as JSON.
      .def("options", [](const Self& self) { return options_to_json(self->controller.options()).dump(); })
      // The filter's learning rate after `iteration` incoming batches (--eif-lr, milestones, factor).
      .def("lr_at", [](const Self& self, int64_t iteration) { return self->controller.options().lr_at(iteration); })
      // logits [m, 2] (and the instances' classes [m] for rank_within "class", else None) ->
      // (keep int64 [k], query int64 [q], prob_high float [m])
      .def("decide",
           [](const Self& self, const torch::Tensor& logits, const c10::optional<torch::Tensor>& classes) -> Triple {
             Decision d = self->controller.decide(logits, classes.value_or(torch::Tensor()));
             return {d.keep, d.query, d.prob_high};
           },
           "", {torch::arg("logits"), torch::arg("classes") = torch::arg::none()})
      // (keep, query, prob_high) of decide() + losses [k], [q] -> (labelled [k+q], labels, weights)
      .def("observe",
           [](const Self& self, const torch::Tensor& keep, const torch::Tensor& query, const torch::Tensor& prob_high,
              const torch::Tensor& kept_losses, const torch::Tensor& query_losses) -> Triple {
             Feedback f = self->controller.observe(decision_of(keep, query, prob_high), kept_losses, query_losses);
             return {f.labelled, f.labels, f.weights};
           })
      // observe() in two halves, for a data-parallel loop: label() gives the feedback and the batch's
      // counts (int64 [8], changing nothing); the loop sums the counts over its ranks
      // (torch.distributed.all_reduce) and hands them to record(), which moves T_l and the figures.
      .def("label",
           [](const Self& self, const torch::Tensor& keep, const torch::Tensor& query, const torch::Tensor& prob_high,
              const torch::Tensor& kept_losses, const torch::Tensor& query_losses) {
             Labelling l = self->controller.label(decision_of(keep, query, prob_high), kept_losses, query_losses);
             return std::make_tuple(l.feedback.labelled, l.feedback.labels, l.feedback.weights,
                                    torch::tensor(l.counts, torch::kInt64));
           })
      .def("record",
           [](const Self& self, const torch::Tensor& counts) {
             const auto c = counts.to(torch::kCPU, torch::kInt64).contiguous().reshape({-1});
             self->controller.record({c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()});
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
        try {
          self->controller.load_state(s, "FilterController.load_state");
        } catch (const InputError& e) {
          TORCH_CHECK_VALUE(false, e.what());
        }
      });
}

}  // namespace skiptrain::filter
