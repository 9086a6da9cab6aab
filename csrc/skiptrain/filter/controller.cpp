// The Early Instance Filter's decisions, self-supervised labels, class weights,
// threshold control and running metrics; see controller.h.
#include "skiptrain/filter/controller.h"

#include "skiptrain/errors.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <cmath>

#include <algorithm>

namespace skiptrain::filter {
namespace {

FilterOptions validated(FilterOptions options) {
  options.validate();
  return options;
}

// A 1-D tensor of per-instance losses as float64 on the CPU, checked against the expected count.
torch::Tensor losses_cpu(const torch::Tensor& losses, int64_t expected, const char* name) {
  if (expected == 0 && (!losses.defined() || losses.numel() == 0)) return torch::empty({0}, torch::kFloat64);
  TORCH_CHECK(losses.defined() && losses.numel() == expected, "FilterController::observe: ", name, " must hold ",
              expected, " per-instance losses (one per index of the decision), got ",
              losses.defined() ? losses.numel() : 0);
  return losses.detach().reshape({expected}).to(torch::kCPU, torch::kFloat64);
}

double ratio_of(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / den; }

// ceil(fraction * m), tolerant of rounding (0.25 * 64 must give 16, not 17).
int64_t ceil_share(double fraction, int64_t m) {
  return static_cast<int64_t>(std::ceil(fraction * static_cast<double>(m) - 1e-9));
}

// Mask [m] of the `k` largest entries of `score` (ties broken by topk).
torch::Tensor top_mask(const torch::Tensor& score, int64_t k) {
  auto mask = torch::zeros({score.size(0)}, torch::kBool);
  if (k > 0) mask.index_fill_(0, std::get<1>(score.topk(std::min<int64_t>(k, score.size(0)))), true);
  return mask;
}

}  // namespace

FilterController::FilterController(FilterOptions options)
    : options_(validated(std::move(options))), threshold_(options_) {}

bool FilterController::budget_rule() const { return options_.control == "budget"; }

int64_t FilterController::budget(int64_t incoming) const {
  return std::min<int64_t>(ceil_share(options_.ratio, incoming), incoming);
}

Decision FilterController::decide(const torch::Tensor& filter_logits) const {
  TORCH_CHECK(filter_logits.defined() && filter_logits.dim() == 2 && filter_logits.size(1) == 2,
              "FilterController::decide: filter_logits must have shape [m, 2] (index 1 = High), got ",
              filter_logits.defined() ? filter_logits.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(filter_logits.is_floating_point(), "FilterController::decide: filter_logits must be floating, got ",
              filter_logits.scalar_type());
  // float64 on the CPU: m is small, and the entropy test near entropy_T should not depend on the device.
  auto log_p = torch::log_softmax(filter_logits.detach().to(torch::kCPU, torch::kFloat64), 1);
  auto p = log_p.exp();
  auto p_high = p.select(1, 1);
  // Binary entropy -sum_c p_c log p_c; p log p -> 0 as p -> 0, and log_softmax stays finite.
  auto entropy = -(p * log_p).sum(1);

  Decision d;
  d.incoming = filter_logits.size(0);
  d.prob_high = p_high.to(torch::kFloat32).contiguous();
  if (warming_up()) {
    // Cold start: the filter is untrained, so everything trains the main model and gets a label.
    d.keep = torch::arange(d.incoming, torch::kInt64);
    d.query = torch::empty({0}, torch::kInt64);
  } else if (budget_rule()) {
    // The margin, not p_High: it orders instances the filter is sure about, where p_High saturates.
    const auto margin = log_p.select(1, 1) - log_p.select(1, 0);
    const auto kept = top_mask(margin, budget(d.incoming));
    d.keep = torch::nonzero(kept).reshape({-1});
    const auto dropped = torch::nonzero(kept.logical_not()).reshape({-1});
    const int64_t q = std::min<int64_t>(ceil_share(options_.min_query, d.incoming), dropped.numel());
    // Seeded by the batch count: the same draw after a resume, and no shared generator disturbed.
    auto generator = at::make_generator<at::CPUGeneratorImpl>(0x51f7e55eedULL + static_cast<uint64_t>(batches_));
    const auto pick = torch::randperm(dropped.numel(), generator, torch::kInt64).narrow(0, 0, q);
    d.query = std::get<0>(dropped.index_select(0, pick).sort());
  } else {
    const auto predicted_high = p_high >= 0.5;
    d.keep = torch::nonzero(predicted_high).reshape({-1});
    auto predicted_low = predicted_high.logical_not();
    d.query = torch::nonzero(predicted_low & (entropy > options_.entropy_threshold)).reshape({-1});
    const auto low = torch::nonzero(predicted_low).reshape({-1});
    const int64_t floor = std::min<int64_t>(ceil_share(options_.min_query, d.incoming), low.numel());
    if (d.query.numel() < floor) {
      const auto most_uncertain = std::get<1>(p_high.index_select(0, low).topk(floor));
      d.query = std::get<0>(low.index_select(0, most_uncertain).sort());
    }
  }
  return d;
}

Feedback FilterController::observe(const Decision& decision, const torch::Tensor& kept_losses,
                                   const torch::Tensor& query_losses) {
  TORCH_CHECK(decision.keep.defined() && decision.query.defined() && decision.prob_high.defined(),
              "FilterController::observe: the decision is incomplete (use one returned by decide())");
  const int64_t n_keep = decision.keep.numel();
  const int64_t n_query = decision.query.numel();
  TORCH_CHECK(decision.prob_high.numel() == decision.incoming && n_keep + n_query <= decision.incoming,
              "FilterController::observe: the decision's prob_high has ", decision.prob_high.numel(),
              " entries for ", decision.incoming, " incoming instances and ", n_keep + n_query, " labelled");
  auto keep_losses = losses_cpu(kept_losses, n_keep, "kept_losses");
  auto q_losses = losses_cpu(query_losses, n_query, "query_losses");

  Feedback f;
  f.threshold = threshold_.value();
  f.labelled = torch::cat({decision.keep.to(torch::kCPU, torch::kInt64).reshape({-1}),
                           decision.query.to(torch::kCPU, torch::kInt64).reshape({-1})});
  // NaN losses compare false: such instances are labelled Low and never count as hits.
  auto keep_high = keep_losses >= f.threshold;
  f.labels = torch::cat({keep_high, q_losses >= f.threshold}).to(torch::kInt64);

  // Class-weighted loss by the true label, normalised over the batch.
  const double w_high = 1.0 / options_.ratio;
  const double w_low = 1.0 / (1.0 - options_.ratio);
  auto w = torch::where(f.labels == 1, torch::scalar_tensor(w_high, torch::kFloat64),
                        torch::scalar_tensor(w_low, torch::kFloat64));
  f.weights = (f.labels.numel() > 0 ? w / w.sum() : w).to(torch::kFloat32);

  // Hits drive T_l (see FilterOptions::control): kept and labelled High ("paper", and any warm-up
  // batch), kept ("kept"), or the batch's estimated High count ("budget": the kept High plus the
  // dropped scaled by the High share of their uniform sample; without a sample, the kept High).
  const int64_t keep_hits = keep_high.sum().item<int64_t>();
  int64_t hits = keep_hits;
  if (!warming_up() && options_.control == "kept") hits = n_keep;
  if (!warming_up() && budget_rule() && n_query > 0) {
    const double dropped = static_cast<double>(decision.incoming - n_keep);
    const double query_high = static_cast<double>((q_losses >= f.threshold).sum().item<int64_t>());
    hits = std::min<int64_t>(decision.incoming, keep_hits + std::llround(dropped * query_high / n_query));
  }
  const int64_t high = f.labels.sum().item<int64_t>();
  int64_t wrong = 0;
  if (f.labelled.numel() > 0) {
    // The filter's prediction is the decision; during warm-up, when everything is kept regardless,
    // what the filter would have decided: its top R_set share under "budget", p_High >= 0.5 otherwise.
    const auto p_high = decision.prob_high.to(torch::kCPU);
    torch::Tensor predicted_high;
    if (!warming_up())
      predicted_high = torch::zeros({decision.incoming}, torch::kBool)
                           .index_fill_(0, decision.keep.to(torch::kCPU, torch::kInt64).reshape({-1}), true);
    else
      predicted_high = budget_rule() ? top_mask(p_high, budget(decision.incoming)) : p_high >= 0.5;
    auto predicted = predicted_high.index_select(0, f.labelled).to(torch::kInt64);
    wrong = (predicted != f.labels).sum().item<int64_t>();
  }

  // A NaN loss says nothing about where the stream's loss quantile lies, and counting it as Low
  // would pull T_l down: a batch with one leaves T_l and its window alone (metrics still count it).
  const bool has_nan = keep_losses.isnan().any().item<bool>() || q_losses.isnan().any().item<bool>();
  if (!has_nan) threshold_.update(hits, decision.incoming);
  ++batches_;
  totals_.incoming += decision.incoming;
  totals_.kept += n_keep;
  totals_.queried += n_query;
  totals_.labelled += n_keep + n_query;
  totals_.labelled_high += high;
  totals_.wrong += wrong;
  window_.push_back({decision.incoming, n_keep, n_keep + n_query, wrong});
  while (static_cast<int64_t>(window_.size()) > options_.window) window_.pop_front();
  return f;
}

FilterMetrics FilterController::metrics() const {
  FilterMetrics m = totals_;
  m.threshold = threshold_.value();
  m.r_th = threshold_.r_th();
  m.batches = batches_;
  m.warming_up = warming_up();
  BatchCounts w;
  for (const auto& b : window_) {
    w.incoming += b.incoming;
    w.kept += b.kept;
    w.labelled += b.labelled;
    w.wrong += b.wrong;
  }
  m.kept_fraction_window = ratio_of(w.kept, w.incoming);
  m.wrong_rate_window = ratio_of(w.wrong, w.labelled);
  m.kept_fraction_total = ratio_of(totals_.kept, totals_.incoming);
  m.queried_fraction_total = ratio_of(totals_.queried, totals_.incoming);
  m.wrong_rate_total = ratio_of(totals_.wrong, totals_.labelled);
  return m;
}

TensorState FilterController::state() const {
  TensorState s;
  merge_state(s, "threshold", threshold_.state());
  s["batches"] = torch::tensor(batches_, torch::kInt64);
  s["totals"] = torch::tensor(std::vector<int64_t>{totals_.incoming, totals_.kept, totals_.queried, totals_.labelled,
                                                   totals_.labelled_high, totals_.wrong},
                              torch::kInt64);
  auto window = torch::empty({static_cast<int64_t>(window_.size()), 4}, torch::kInt64);
  auto a = window.accessor<int64_t, 2>();
  for (size_t i = 0; i < window_.size(); ++i) {
    a[i][0] = window_[i].incoming;
    a[i][1] = window_[i].kept;
    a[i][2] = window_[i].labelled;
    a[i][3] = window_[i].wrong;
  }
  s["window"] = window;
  return s;
}

void FilterController::load_state(const TensorState& state, const std::string& what) {
  auto totals = require_entry(state, "totals", what).to(torch::kInt64).contiguous();
  auto window = require_entry(state, "window", what).to(torch::kInt64).contiguous();
  if (totals.dim() != 1 || totals.numel() != 6) throw InputError(what + ": filter entry 'totals' must hold 6 counts");
  if (window.dim() != 2 || window.size(1) != 4) throw InputError(what + ": filter entry 'window' must be [k, 4]");
  const int64_t batches = require_entry(state, "batches", what).item<int64_t>();
  threshold_.load_state(sub_state(state, "threshold"), what);
  batches_ = batches;
  auto t = totals.accessor<int64_t, 1>();
  totals_ = FilterMetrics{};
  totals_.incoming = t[0];
  totals_.kept = t[1];
  totals_.queried = t[2];
  totals_.labelled = t[3];
  totals_.labelled_high = t[4];
  totals_.wrong = t[5];
  window_.clear();
  auto a = window.accessor<int64_t, 2>();
  for (int64_t i = std::max<int64_t>(0, window.size(0) - options_.window); i < window.size(0); ++i)
    window_.push_back({a[i][0], a[i][1], a[i][2], a[i][3]});
}

}  // namespace skiptrain::filter
