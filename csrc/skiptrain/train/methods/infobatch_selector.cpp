// InfoBatch: per-instance loss memory, random pruning of the below-mean, inverse-probability weights.
#include "skiptrain/train/methods/infobatch_selector.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <sstream>

namespace skiptrain::train {

InfoBatchSelector::InfoBatchSelector(double prune_probability) : prune_probability_(prune_probability) {}

double InfoBatchSelector::threshold() const { return scored_ > 0 ? score_sum_ / scored_ : NAN; }

Plan InfoBatchSelector::plan(const data::Batch& batch, cost::Ledger& ledger) {
  const int64_t m = batch.size();
  const auto positions = batch.indices.to(torch::kCPU, torch::kLong).contiguous();
  const int64_t* position = positions.data_ptr<int64_t>();
  const auto coins = torch::rand({m}, torch::kFloat64);  // m draws per batch, whatever the scores
  const double* coin = coins.data_ptr<double>();
  const double mean = threshold();
  const double kept_low_weight = 1.0 / (1.0 - prune_probability_);

  std::vector<int64_t> keep;
  std::vector<float> inverse_inclusion;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t p = position[i];
    // A comparison with NaN (no score, or no mean yet) is false: such an instance trains.
    const bool well_learned = p < static_cast<int64_t>(scores_.size()) && scores_[p] < mean;
    if (!well_learned) {
      keep.push_back(i);
      inverse_inclusion.push_back(1.0f);
    } else if (coin[i] >= prune_probability_) {
      keep.push_back(i);
      inverse_inclusion.push_back(static_cast<float>(kept_low_weight));
    }
  }
  ledger.add_macs(cost::Phase::Selection, static_cast<double>(m));

  Plan plan{torch::tensor(keep, torch::kLong), torch::empty({0}, torch::kLong)};
  plan.train_weight = torch::tensor(inverse_inclusion, torch::kFloat32);
  plan.loss_over_incoming = true;
  return plan;
}

void InfoBatchSelector::observe(const data::Batch& batch, const Plan& plan, const torch::Tensor& train_losses,
                                const torch::Tensor&, cost::Ledger&) {
  if (train_losses.numel() == 0) return;
  const auto positions =
      batch.indices.index_select(0, plan.train.to(batch.indices.device())).to(torch::kCPU).contiguous();
  const auto losses = train_losses.to(torch::kCPU, torch::kFloat32).contiguous();
  const int64_t* position = positions.data_ptr<int64_t>();
  const float* loss = losses.data_ptr<float>();
  for (int64_t j = 0; j < losses.numel(); ++j) set_score(position[j], loss[j]);
}

void InfoBatchSelector::set_score(int64_t position, float loss) {
  if (position >= static_cast<int64_t>(scores_.size())) scores_.resize(position + 1, NAN);
  float& score = scores_[position];
  if (std::isfinite(score)) {
    score_sum_ -= score;
    --scored_;
  }
  score = loss;
  if (std::isfinite(score)) {
    score_sum_ += score;
    ++scored_;
  }
}

void InfoBatchSelector::add_metrics(nlohmann::json& record) const {
  const double mean = threshold();
  record["infobatch"] = {{"threshold", std::isfinite(mean) ? nlohmann::json(mean) : nlohmann::json(nullptr)},
                         {"scored", scored_}};
}

TensorState InfoBatchSelector::state() const {
  return {{"scores", torch::tensor(scores_, torch::kFloat32)},
          {"score_sum", torch::tensor(score_sum_, torch::kFloat64)}};
}

void InfoBatchSelector::load_state(const TensorState& state, const std::string& what) {
  const auto& scores = require_entry(state, "scores", what);
  const auto& score_sum = require_entry(state, "score_sum", what);
  if (scores.dim() != 1 || scores.scalar_type() != torch::kFloat32 || score_sum.dim() != 0 ||
      score_sum.scalar_type() != torch::kFloat64) {
    std::ostringstream found;
    found << scores.scalar_type() << " " << scores.sizes() << " and " << score_sum.scalar_type() << " "
          << score_sum.sizes();
    throw InputError(what + ": corrupt infobatch state: selector.scores must be Float [n] and selector.score_sum " +
                     "Double [], found " + found.str());
  }
  const auto values = scores.contiguous();
  scores_.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
  scored_ = std::count_if(scores_.begin(), scores_.end(), [](float s) { return std::isfinite(s); });
  // Saved rather than summed again: the running sum's rounding differs from a fresh sum's in the
  // last bits, and a resumed run must compare against the same mean as an uninterrupted one.
  score_sum_ = score_sum.item<double>();
}

}  // namespace skiptrain::train
