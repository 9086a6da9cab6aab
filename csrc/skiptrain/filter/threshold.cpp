// The adaptive threshold T_l of the Early Instance Filter and its window of
// per-batch counts; see threshold.h.
#include "skiptrain/filter/threshold.h"

#include "skiptrain/errors.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

namespace skiptrain::filter {

AdaptiveThreshold::AdaptiveThreshold(const FilterOptions& options)
    : options_(options), value_(std::clamp(options.init_threshold, options.threshold_min, options.threshold_max)) {}

double AdaptiveThreshold::r_th() const {
  if (window_incoming_ == 0) return 0.0;
  return static_cast<double>(window_hits_) / static_cast<double>(window_incoming_);
}

double AdaptiveThreshold::update(int64_t hits, int64_t incoming) {
  TORCH_CHECK(incoming >= 0 && hits >= 0 && hits <= incoming, "AdaptiveThreshold::update: expected 0 <= hits <= ",
              "incoming, got hits ", hits, " of ", incoming);
  if (incoming == 0) return value_;
  window_.emplace_back(hits, incoming);
  window_hits_ += hits;
  window_incoming_ += incoming;
  while (static_cast<int64_t>(window_.size()) > options_.window) {
    window_hits_ -= window_.front().first;
    window_incoming_ -= window_.front().second;
    window_.pop_front();
  }
  // Too many instances are both kept and hard: raise the bar; too few: lower it.
  value_ *= r_th() >= options_.ratio ? options_.a1 : options_.a2;
  value_ = std::clamp(value_, options_.threshold_min, options_.threshold_max);
  return value_;
}

TensorState AdaptiveThreshold::state() const {
  TensorState s;
  s["value"] = torch::tensor(value_, torch::kFloat64);
  auto window = torch::empty({static_cast<int64_t>(window_.size()), 2}, torch::kInt64);
  auto a = window.accessor<int64_t, 2>();
  for (size_t i = 0; i < window_.size(); ++i) {
    a[i][0] = window_[i].first;
    a[i][1] = window_[i].second;
  }
  s["window"] = window;
  return s;
}

void AdaptiveThreshold::load_state(const TensorState& state, const std::string& what) {
  double value = require_entry(state, "value", what).item<double>();
  if (!(value > 0 && std::isfinite(value)))
    throw InputError(what + ": filter threshold must be a positive finite number, got " + std::to_string(value));
  torch::Tensor window = require_entry(state, "window", what).to(torch::kInt64).contiguous();
  if (window.dim() != 2 || window.size(1) != 2)
    throw InputError(what + ": filter threshold window must have shape [k, 2]");
  window_.clear();
  window_hits_ = window_incoming_ = 0;
  auto a = window.accessor<int64_t, 2>();
  for (int64_t i = std::max<int64_t>(0, window.size(0) - options_.window); i < window.size(0); ++i) {
    window_.emplace_back(a[i][0], a[i][1]);
    window_hits_ += a[i][0];
    window_incoming_ += a[i][1];
  }
  value_ = std::clamp(value, options_.threshold_min, options_.threshold_max);
}

}  // namespace skiptrain::filter
