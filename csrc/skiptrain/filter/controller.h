// The Early Instance Filter's decision and labelling logic (method.md 3, steps
// 1-6) on plain tensors, without owning a network: the C++ EarlyInstanceFilter
// pairs it with an nn::Network, Python users with their own torch.nn filter
// (python/skiptrain/filter.py). It does not run any model and does not count MACs.
#pragma once

#include "skiptrain/filter/options.h"
#include "skiptrain/filter/threshold.h"
#include "skiptrain/state.h"

#include <torch/types.h>

#include <cstdint>
#include <deque>
#include <string>

namespace skiptrain::filter {

// Whether `classes` can name each of m instances' class: defined, integral, [m]. The checks of the
// ranking within classes and of a filter with a High/Low pair per class, each with its own message.
bool is_class_vector(const torch::Tensor& classes, int64_t m);

// What to do with each instance of one incoming batch of m. All tensors are on the CPU.
struct Decision {
  // int64 [k]: batch indices predicted High (all of them during warm-up): main forward + backward.
  // Under --eif-control budget, the ceil(R_set * m) highest filter margins (of each class, in
  // proportion to its instances, under --eif-rank-within class).
  torch::Tensor keep;
  // int64 [q]: dropped indices that get a main loss-only forward (no grad): the uncertain predicted-Low
  // (entropy > entropy_T, topped up to the min_query floor), or under budget a uniform sample. Sorted.
  torch::Tensor query;
  // float32 [m]: the filter's softmax probability of High.
  torch::Tensor prob_high;
  // With --eif-random-share > 0 (else undefined): float32 [k], keep's loss weights: the inverse of
  // each one's chance to be kept (1 for the ranked) times k / m, so mean 1 (under --eif-rank-within
  // class, less where a class keeps none of its instances), and
  // int64 [r], the kept indices taken by rank: the filter's prediction of High.
  torch::Tensor keep_weight;
  torch::Tensor ranked;
  // m, the number of instances in the batch.
  int64_t incoming = 0;
};

// The self-supervised labels of one batch and the filter's training targets. All on the CPU.
struct Feedback {
  // int64 [k + q]: batch indices of the labelled instances, decision.keep then decision.query.
  torch::Tensor labelled;
  // int64 [k + q]: 1 = High (main loss >= T_l), 0 = Low.
  torch::Tensor labels;
  // float32 [k + q]: class weights 1/R_set (High), 1/(1-R_set) (Low), normalised to sum 1.
  torch::Tensor weights;
  // T_l used to label this batch (the value before this batch's update).
  double threshold = 0;
};

// Running figures of the filter; "window" = the last options.window batches.
struct FilterMetrics {
  // T_l now.
  double threshold = 0;
  // R_TH over the window.
  double r_th = 0;
  // Kept / incoming instances over the window and since the start.
  double kept_fraction_window = 0;
  double kept_fraction_total = 0;
  // Queried (loss-only forward) / incoming instances since the start.
  double queried_fraction_total = 0;
  // Labelled instances whose filter prediction (p_High >= 0.5) differs from their label, / labelled.
  double wrong_rate_window = 0;
  double wrong_rate_total = 0;
  // Counts since the start: batches observed, incoming, kept, queried, labelled, labelled High, wrong.
  int64_t batches = 0;
  int64_t incoming = 0;
  int64_t kept = 0;
  int64_t queried = 0;
  int64_t labelled = 0;
  int64_t labelled_high = 0;
  int64_t wrong = 0;
  // True while the next decide() is still a warm-up batch (everything kept).
  bool warming_up = false;
};

// One batch's labels and counts, as FilterController::label() finds them and record() takes them.
struct Labelling {
  Feedback feedback;
  // int64 [8]: incoming, kept, queried, labelled, labelled High, wrong predictions, the hits that
  // move T_l, and 1 when a loss was NaN (the batch must not move T_l). In a
  // data-parallel run each rank labels its shard and the counts are summed over the ranks before
  // record(), so that every rank's T_l, window and totals are the run's and stay equal.
  std::vector<int64_t> counts;
};

class FilterController {
 public:
  // Throws InputError (naming the --eif-* flag) when `options` is invalid.
  explicit FilterController(FilterOptions options);

  // filter_logits [m, 2] (index 1 = High), any floating dtype and device -> what to do with each
  // instance. `classes` (int64 [m], any device) is required by --eif-rank-within class and ignored
  // otherwise. Const: decisions change nothing until observe().
  Decision decide(const torch::Tensor& filter_logits, const torch::Tensor& classes = {}) const;

  // Closes the loop for `decision`'s batch: kept_losses [|keep|] and query_losses [|query|] are the
  // main model's per-instance losses in decision order (any device). Labels the instances, updates
  // T_l and the running metrics, and returns the filter's training targets. NaN losses are labelled
  // Low, and a batch holding one leaves T_l unchanged.
  Feedback observe(const Decision& decision, const torch::Tensor& kept_losses, const torch::Tensor& query_losses);
  // observe() in two halves: the labels and counts of the batch (changing nothing), then the
  // update of T_l and the running figures from counts (one batch's, or the sum of the ranks').
  Labelling label(const Decision& decision, const torch::Tensor& kept_losses, const torch::Tensor& query_losses) const;
  void record(const std::vector<int64_t>& counts);

  // The current T_l.
  double threshold() const { return threshold_.value(); }
  // R_TH over the window.
  double r_th() const { return threshold_.r_th(); }
  // Number of batches observed so far (the filter's iteration count).
  int64_t batches() const { return batches_; }
  // True while decide() keeps everything (the first options.warmup_batches batches).
  bool warming_up() const { return batches_ < options_.warmup_batches; }
  // Running figures, see FilterMetrics.
  FilterMetrics metrics() const;
  const FilterOptions& options() const { return options_; }

  // Threshold ("threshold.*"), batch count, totals and the metrics window.
  TensorState state() const;
  // Restores state(); throws InputError naming `what` on a missing or malformed entry.
  void load_state(const TensorState& state, const std::string& what);

 private:
  // True for --eif-control budget: keep the top budget(m) of each batch by the filter's margin.
  bool budget_rule() const;
  // ceil(R_set * m), at most m: the instances kept per batch of m under the budget rule.
  int64_t budget(int64_t incoming) const;

  // Per-batch counts kept for windowed metrics: incoming, kept, labelled, wrong.
  struct BatchCounts {
    int64_t incoming = 0, kept = 0, labelled = 0, wrong = 0;
  };

  FilterOptions options_;
  AdaptiveThreshold threshold_;
  int64_t batches_ = 0;
  FilterMetrics totals_;  // only the count fields are used
  std::deque<BatchCounts> window_;
};

}  // namespace skiptrain::filter
