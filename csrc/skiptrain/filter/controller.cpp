// The Early Instance Filter's decisions, self-supervised labels, class weights,
// threshold control and running metrics; see controller.h.
#include "skiptrain/filter/controller.h"

#include "skiptrain/ceil_share.h"

#include "skiptrain/errors.h"

#include <c10/core/ScalarType.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <numeric>
#include <random>

namespace skiptrain::filter {
namespace {

// Everything here works on at most a batch's worth of numbers, so it runs as plain loops over
// std::vector: as torch ops (log_softmax, topk, nonzero, randperm, where, ...) the same logic cost
// ~130 us a batch in dispatch alone, ~6% of an EIF LeNet-5 step on MNIST.

// A 1-D tensor as a std::vector<T> (any device and dtype), checked against the expected count.
template <typename T>
std::vector<T> to_vector(const torch::Tensor& t, int64_t expected, const char* name) {
  if (expected == 0 && (!t.defined() || t.numel() == 0)) return {};
  TORCH_CHECK(t.defined() && t.numel() == expected, "FilterController: ", name, " must hold ", expected,
              " entries (one per index of the decision), got ", t.defined() ? t.numel() : 0);
  const auto c = t.detach().reshape({expected}).to(torch::kCPU, c10::CppTypeToScalarType<T>::value).contiguous();
  const T* data = c.template data_ptr<T>();
  return {data, data + expected};
}

torch::Tensor index_tensor(const std::vector<int64_t>& v) {
  auto t = torch::empty({static_cast<int64_t>(v.size())}, torch::kInt64);
  std::copy(v.begin(), v.end(), t.data_ptr<int64_t>());
  return t;
}

template <typename T>
torch::Tensor float_tensor(const std::vector<T>& v) {
  auto t = torch::empty({static_cast<int64_t>(v.size())}, torch::kFloat32);
  std::transform(v.begin(), v.end(), t.data_ptr<float>(), [](T x) { return static_cast<float>(x); });
  return t;
}

double ratio_of(int64_t num, int64_t den) { return den == 0 ? 0.0 : static_cast<double>(num) / den; }


// The `k` entries of `candidates` with the largest `score`, in increasing index order. Ties go to
// the lower index; NaN ranks above everything, as in torch.topk.
std::vector<int64_t> top_k(const std::vector<double>& score, std::vector<int64_t> candidates, int64_t k) {
  k = std::min<int64_t>(k, static_cast<int64_t>(candidates.size()));
  const auto key = [&](int64_t i) {
    return std::isnan(score[i]) ? std::numeric_limits<double>::infinity() : score[i];
  };
  std::partial_sort(candidates.begin(), candidates.begin() + k, candidates.end(), [&](int64_t a, int64_t b) {
    return key(a) > key(b) || (key(a) == key(b) && a < b);
  });
  candidates.resize(k);
  std::sort(candidates.begin(), candidates.end());
  return candidates;
}

std::vector<int64_t> all_indices(int64_t m) {
  std::vector<int64_t> v(m);
  std::iota(v.begin(), v.end(), 0);
  return v;
}

// The entries of `sorted` not in `subset` (both ascending).
std::vector<int64_t> without(const std::vector<int64_t>& sorted, const std::vector<int64_t>& subset) {
  std::vector<int64_t> out;
  std::set_difference(sorted.begin(), sorted.end(), subset.begin(), subset.end(), std::back_inserter(out));
  return out;
}

// The budget rule's groups, each ranked on its own (ascending indices): the whole batch, or the
// batch's instances of each class, in class order.
std::vector<std::vector<int64_t>> rank_groups(const torch::Tensor& classes, int64_t m, bool by_class) {
  if (!by_class) return {all_indices(m)};
  TORCH_CHECK(is_class_vector(classes, m),
              "FilterController::decide: --eif-rank-within class needs each instance's class, int64 [", m, "]");
  const auto c = to_vector<int64_t>(classes, m, "classes");
  std::map<int64_t, std::vector<int64_t>> members;
  for (int64_t i = 0; i < m; ++i) members[c[i]].push_back(i);
  std::vector<std::vector<int64_t>> groups;
  for (auto& [cls, indices] : members) groups.push_back(std::move(indices));
  return groups;
}

// `total` shared among groups in proportion to their `sizes` (largest remainder): each gets
// floor(total * size / sum of sizes), and what is left goes one each to the largest remainders, ties
// broken by a draw from `seed` (so that no class is favoured by its number). All zero when the sizes are.
std::vector<int64_t> apportion(int64_t total, const std::vector<int64_t>& sizes, uint64_t seed) {
  const int64_t sum = std::accumulate(sizes.begin(), sizes.end(), int64_t{0});
  std::vector<int64_t> share(sizes.size(), 0), remainder(sizes.size(), 0);
  if (sum == 0) return share;
  int64_t left = total;
  for (size_t g = 0; g < sizes.size(); ++g) {
    share[g] = total * sizes[g] / sum;
    remainder[g] = total * sizes[g] % sum;
    left -= share[g];
  }
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> tie(sizes.size());
  for (auto& t : tie) t = rng();
  std::vector<size_t> order(sizes.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return remainder[a] > remainder[b] || (remainder[a] == remainder[b] && tie[a] < tie[b]);
  });
  for (int64_t j = 0; j < left; ++j) share[order[j]] += 1;
  return share;
}

// `q` of `from` drawn uniformly without replacement, sorted: a partial Fisher-Yates shuffle driven
// by mt19937_64 (fully specified by the standard, so the draw is the same on every platform).
std::vector<int64_t> sample(std::vector<int64_t> from, int64_t q, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const auto n = static_cast<uint64_t>(from.size());
  q = std::min<int64_t>(q, static_cast<int64_t>(n));
  for (uint64_t j = 0; j < static_cast<uint64_t>(q); ++j) std::swap(from[j], from[j + rng() % (n - j)]);
  from.resize(q);
  std::sort(from.begin(), from.end());
  return from;
}

}  // namespace

bool is_class_vector(const torch::Tensor& classes, int64_t m) {
  return classes.defined() && classes.dim() == 1 && classes.size(0) == m &&
         c10::isIntegralType(classes.scalar_type(), /*includeBool=*/false);
}

FilterController::FilterController(FilterOptions options)
    : options_(options.validated()), threshold_(options_) {}

bool FilterController::budget_rule() const { return options_.control == "budget"; }

int64_t FilterController::budget(int64_t incoming) const {
  return std::min<int64_t>(ceil_share(options_.ratio, incoming), incoming);
}

Decision FilterController::decide(const torch::Tensor& filter_logits, const torch::Tensor& classes) const {
  TORCH_CHECK(filter_logits.defined() && filter_logits.dim() == 2 && filter_logits.size(1) == 2,
              "FilterController::decide: filter_logits must have shape [m, 2] (index 1 = High), got ",
              filter_logits.defined() ? filter_logits.sizes() : torch::IntArrayRef{});
  TORCH_CHECK(filter_logits.is_floating_point(), "FilterController::decide: filter_logits must be floating, got ",
              filter_logits.scalar_type());
  const int64_t m = filter_logits.size(0);
  // float64 on the CPU: the entropy test near entropy_T should not depend on the device.
  const auto logits = filter_logits.detach().to(torch::kCPU, torch::kFloat64).contiguous();
  const double* l = logits.data_ptr<double>();
  // Per instance: p_High, the binary entropy -sum_c p_c log p_c, and the margin logit_High - logit_Low
  // (= log p_High - log p_Low, which orders instances the filter is sure about, where p_High saturates).
  std::vector<double> p_high(m), entropy(m), margin(m);
  for (int64_t i = 0; i < m; ++i) {
    margin[i] = l[2 * i + 1] - l[2 * i];
    // log p_High = -softplus(-margin), log p_Low = -softplus(margin); both finite for any finite margin.
    const double e = std::exp(-std::abs(margin[i]));
    const double soft = std::log1p(e);
    const double log_p_high = -(std::max(-margin[i], 0.0) + soft);
    const double log_p_low = -(std::max(margin[i], 0.0) + soft);
    // The logistic function, exactly 0.5 at margin 0 (the paper's cut p_High >= 0.5 keeps a tie).
    p_high[i] = margin[i] >= 0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    // p log p -> 0 as p -> 0.
    entropy[i] = -(p_high[i] * log_p_high + (1.0 - p_high[i]) * log_p_low);
  }

  Decision d;
  d.incoming = m;
  d.prob_high = float_tensor(p_high);
  std::vector<int64_t> keep, query;
  if (warming_up()) {
    // Cold start: the filter is untrained, so everything trains the main model and gets a label.
    keep = all_indices(m);
  } else if (budget_rule()) {
    const int64_t kept = budget(m);
    const auto groups = rank_groups(classes, m, options_.rank_within == "class");
    std::vector<int64_t> sizes;
    for (const auto& group : groups) sizes.push_back(static_cast<int64_t>(group.size()));
    const auto shares = apportion(kept, sizes, 0xc1a55eedULL + static_cast<uint64_t>(batches_));
    // The batch's --eif-random-share of the kept, shared among the groups as the kept are.
    const auto draws = apportion(std::min(kept, ceil_share(options_.random_share, kept)), shares,
                                 0xd4a55eedULL + static_cast<uint64_t>(batches_));
    // Each group keeps its share: the top by margin, and its draws uniformly among the group's rest,
    // weighted by the inverse of their chance to be drawn (the ranked 1), all times kept / m (so mean 1
    // but where a class keeps none of its instances).
    const double scale = m == 0 ? 0.0 : static_cast<double>(kept) / m;
    std::vector<int64_t> ranked;
    std::vector<double> weight_of(m, scale);
    bool any_drawn = false;
    for (size_t g = 0; g < groups.size(); ++g) {
      const int64_t drawn = draws[g];
      const auto top = top_k(margin, groups[g], shares[g] - drawn);
      ranked.insert(ranked.end(), top.begin(), top.end());
      keep.insert(keep.end(), top.begin(), top.end());
      if (drawn == 0) continue;
      any_drawn = true;
      const auto rest = without(groups[g], top);
      // Seeded by the batch count (and the group), apart from the queries' draw.
      const auto random =
          sample(rest, drawn, 0xd2a3e5eedULL + static_cast<uint64_t>(batches_) + g * 0x9e3779b97f4a7c15ULL);
      for (const int64_t i : random) weight_of[i] = static_cast<double>(rest.size()) / drawn * scale;
      keep.insert(keep.end(), random.begin(), random.end());
    }
    std::sort(keep.begin(), keep.end());
    if (any_drawn) {
      std::sort(ranked.begin(), ranked.end());
      std::vector<double> weight;
      for (const int64_t i : keep) weight.push_back(weight_of[i]);
      d.keep_weight = float_tensor(weight);
      d.ranked = index_tensor(ranked);
    }
    const auto dropped = without(all_indices(m), keep);
    // Seeded by the batch count: the same draw after a resume, and no shared generator disturbed.
    query = sample(std::move(dropped), ceil_share(options_.min_query, m), 0x51f7e55eedULL + static_cast<uint64_t>(batches_));
  } else {
    std::vector<int64_t> low;
    for (int64_t i = 0; i < m; ++i) {
      if (p_high[i] >= 0.5) {
        keep.push_back(i);
      } else {
        low.push_back(i);
        if (entropy[i] > options_.entropy_threshold) query.push_back(i);
      }
    }
    const int64_t floor = std::min<int64_t>(ceil_share(options_.min_query, m), static_cast<int64_t>(low.size()));
    if (static_cast<int64_t>(query.size()) < floor) query = top_k(p_high, std::move(low), floor);
  }
  d.keep = index_tensor(keep);
  d.query = index_tensor(query);
  return d;
}

Feedback FilterController::observe(const Decision& decision, const torch::Tensor& kept_losses,
                                   const torch::Tensor& query_losses) {
  Labelling labelling = label(decision, kept_losses, query_losses);
  record(labelling.counts);
  return std::move(labelling.feedback);
}

Labelling FilterController::label(const Decision& decision, const torch::Tensor& kept_losses,
                                  const torch::Tensor& query_losses) const {
  TORCH_CHECK(decision.keep.defined() && decision.query.defined() && decision.prob_high.defined(),
              "FilterController::observe: the decision is incomplete (use one returned by decide())");
  const int64_t m = decision.incoming;
  const int64_t n_keep = decision.keep.numel();
  const int64_t n_query = decision.query.numel();
  TORCH_CHECK(decision.prob_high.numel() == m && n_keep + n_query <= m,
              "FilterController::observe: the decision's prob_high has ", decision.prob_high.numel(),
              " entries for ", m, " incoming instances and ", n_keep + n_query, " labelled");
  const auto keep = to_vector<int64_t>(decision.keep, n_keep, "decision.keep");
  const auto query = to_vector<int64_t>(decision.query, n_query, "decision.query");
  const auto keep_losses = to_vector<double>(kept_losses, n_keep, "kept_losses");
  const auto q_losses = to_vector<double>(query_losses, n_query, "query_losses");
  for (const int64_t i : keep) TORCH_CHECK(i >= 0 && i < m, "FilterController::observe: kept index ", i, " out of range");
  for (const int64_t i : query) TORCH_CHECK(i >= 0 && i < m, "FilterController::observe: query index ", i, " out of range");

  Feedback f;
  f.threshold = threshold_.value();
  // decision.keep then decision.query; NaN losses compare false: such instances are labelled Low
  // and never count as hits.
  std::vector<int64_t> labelled(keep), labels;
  labelled.insert(labelled.end(), query.begin(), query.end());
  for (const double loss : keep_losses) labels.push_back(loss >= f.threshold);
  for (const double loss : q_losses) labels.push_back(loss >= f.threshold);
  const int64_t keep_hits = std::count(labels.begin(), labels.begin() + n_keep, 1);
  const int64_t query_high = std::count(labels.begin() + n_keep, labels.end(), 1);
  const int64_t high = keep_hits + query_high;

  // Class-weighted loss by the true label, normalised over the batch.
  const double w_high = 1.0 / options_.ratio;
  const double w_low = 1.0 / (1.0 - options_.ratio);
  const double w_sum = high * w_high + (static_cast<int64_t>(labels.size()) - high) * w_low;
  std::vector<double> weights;
  for (const int64_t label : labels) weights.push_back((label ? w_high : w_low) / w_sum);
  f.labelled = index_tensor(labelled);
  f.labels = index_tensor(labels);
  f.weights = float_tensor(weights);

  // Hits drive T_l (see FilterOptions::control): kept and labelled High ("paper", and any warm-up
  // batch), kept ("kept"), or the batch's estimated High count ("budget": the kept High plus the
  // dropped scaled by the High share of their uniform sample; without a sample, the kept High).
  int64_t hits = keep_hits;
  if (!warming_up() && options_.control == "kept") hits = n_keep;
  if (!warming_up() && budget_rule() && n_query > 0) {
    const double dropped = static_cast<double>(m - n_keep);
    hits = std::min<int64_t>(m, keep_hits + std::llround(dropped * static_cast<double>(query_high) / n_query));
  }
  // The filter's prediction is the decision; during warm-up, when everything is kept regardless,
  // what the filter would have decided: its top R_set share under "budget", p_High >= 0.5 otherwise.
  const auto p_high = to_vector<float>(decision.prob_high, m, "decision.prob_high");
  std::vector<char> predicted_high(m, 0);
  if (!warming_up()) {
    // The filter predicted High what it kept by rank (all it kept, unless some were drawn at random).
    const auto ranked = decision.ranked.defined() ? to_vector<int64_t>(decision.ranked, decision.ranked.numel(),
                                                                      "decision.ranked")
                                                  : keep;
    for (const int64_t i : ranked) predicted_high[i] = 1;
  } else if (budget_rule()) {
    for (const int64_t i : top_k(std::vector<double>(p_high.begin(), p_high.end()), all_indices(m), budget(m)))
      predicted_high[i] = 1;
  } else {
    for (int64_t i = 0; i < m; ++i) predicted_high[i] = p_high[i] >= 0.5f;
  }
  int64_t wrong = 0;
  for (size_t j = 0; j < labelled.size(); ++j) wrong += predicted_high[labelled[j]] != labels[j];

  // A NaN loss says nothing about where the stream's loss quantile lies, and counting it as Low
  // would pull T_l down: a batch with one leaves T_l and its window alone (metrics still count it).
  const auto is_nan = [](double x) { return std::isnan(x); };
  const bool has_nan = std::any_of(keep_losses.begin(), keep_losses.end(), is_nan) ||
                       std::any_of(q_losses.begin(), q_losses.end(), is_nan);
  return {std::move(f), {m, n_keep, n_query, n_keep + n_query, high, wrong, hits, has_nan ? 1 : 0}};
}

void FilterController::record(const std::vector<int64_t>& c) {
  TORCH_CHECK_VALUE(c.size() == 8, "FilterController::record: counts must hold 8 entries (use Labelling::counts), got ",
                    c.size());
  const int64_t m = c[0], n_keep = c[1], n_query = c[2], labelled = c[3], high = c[4], wrong = c[5], hits = c[6];
  if (c[7] == 0) threshold_.update(hits, m);
  ++batches_;
  totals_.incoming += m;
  totals_.kept += n_keep;
  totals_.queried += n_query;
  totals_.labelled += labelled;
  totals_.labelled_high += high;
  totals_.wrong += wrong;
  window_.push_back({m, n_keep, labelled, wrong});
  while (static_cast<int64_t>(window_.size()) > options_.window) window_.pop_front();
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
