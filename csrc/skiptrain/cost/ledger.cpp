// The saving ledger: prices each phase of a run with per-layer cost tables.
#include "skiptrain/cost/ledger.h"

#include <c10/util/Exception.h>

namespace skiptrain::cost {
namespace {
constexpr Phase kAllPhases[] = {Phase::MainForward,   Phase::MainBackward,   Phase::LossOnlyForward,
                                Phase::FilterForward, Phase::FilterBackward, Phase::Selection};

// A MAC at operand widths b1 x b2 counts b1*b2/1024 of a 32x32-bit MAC.
double bit_scale(int b1, int b2) { return b1 * b2 / 1024.0; }
double forward_scale(const LayerCost& l) { return bit_scale(l.activation_bits, l.weight_bits); }
}  // namespace

const char* phase_name(Phase phase) {
  switch (phase) {
    case Phase::MainForward: return "main_forward";
    case Phase::MainBackward: return "main_backward";
    case Phase::LossOnlyForward: return "loss_only_forward";
    case Phase::FilterForward: return "filter_forward";
    case Phase::FilterBackward: return "filter_backward";
    case Phase::Selection: return "selection";
  }
  return "unknown";
}

void Ledger::spend(Phase phase, double macs, double scale) {
  spent_[phase] += macs;
  spent_bitops_[phase] += macs * scale;
}

void Ledger::add_dense(const CostTable& table, int64_t instances) {
  dense_macs_ += table.training_macs() * static_cast<double>(instances);
}

void Ledger::add_forward(Phase phase, const CostTable& table, int64_t instances) {
  if (instances <= 0) return;
  for (const auto& layer : table.layers) spend(phase, layer.forward_macs * instances, forward_scale(layer));
}

void Ledger::add_backward(Phase phase, const CostTable& table, int64_t instances,
                          const std::vector<double>* kept_fraction) {
  if (instances <= 0) return;
  TORCH_CHECK(kept_fraction == nullptr || kept_fraction->size() == table.layers.size(),
              "Ledger::add_backward: kept_fraction has ", kept_fraction ? kept_fraction->size() : 0,
              " entries, the cost table has ", table.layers.size(), " layers");
  for (size_t i = 0; i < table.layers.size(); ++i) {
    const auto& layer = table.layers[i];
    const double kept = kept_fraction ? (*kept_fraction)[i] : 1.0;
    const double macs_input = layer.backward_input_macs * kept * instances;
    const double macs_weight = layer.backward_weight_macs * kept * instances;
    spent_[phase] += macs_input + macs_weight;
    spent_bitops_[phase] += macs_input * bit_scale(layer.error_bits, layer.weight_bits) +
                            macs_weight * bit_scale(layer.error_bits, layer.activation_bits);
  }
}

void Ledger::add_macs(Phase phase, double macs) { spend(phase, macs, 1.0); }

double Ledger::spent_macs() const {
  double total = 0;
  for (const auto& [phase, macs] : spent_) total += macs;
  return total;
}

double Ledger::spent_bitops() const {
  double total = 0;
  for (const auto& [phase, ops] : spent_bitops_) total += ops;
  return total;
}

double Ledger::saving() const { return dense_macs_ > 0 ? 1.0 - spent_macs() / dense_macs_ : 0.0; }

double Ledger::saving_bitops() const { return dense_macs_ > 0 ? 1.0 - spent_bitops() / dense_macs_ : 0.0; }

std::vector<double> Ledger::state() const {
  std::vector<double> s{dense_macs_};
  for (Phase p : kAllPhases) {
    auto m = spent_.find(p);
    auto b = spent_bitops_.find(p);
    s.push_back(m == spent_.end() ? 0.0 : m->second);
    s.push_back(b == spent_bitops_.end() ? 0.0 : b->second);
  }
  return s;
}

void Ledger::load_state(const std::vector<double>& s) {
  constexpr size_t kPhases = sizeof(kAllPhases) / sizeof(kAllPhases[0]);
  TORCH_CHECK(s.size() == 1 + 2 * kPhases, "ledger state has ", s.size(), " values, expected ", 1 + 2 * kPhases);
  dense_macs_ = s[0];
  spent_.clear();
  spent_bitops_.clear();
  for (size_t i = 0; i < kPhases; ++i) {
    if (s[1 + 2 * i] != 0) spent_[kAllPhases[i]] = s[1 + 2 * i];
    if (s[2 + 2 * i] != 0) spent_bitops_[kAllPhases[i]] = s[2 + 2 * i];
  }
}

}  // namespace skiptrain::cost
