// The saving ledger: every phase of a run reports what it ran (instances, layers,
// kept fractions) and the ledger prices it with the model's cost tables. It also
// keeps the dense reference: what plain SGD spends on the same incoming instances.
#pragma once

#include "skiptrain/cost/table.h"

#include <map>
#include <string>
#include <vector>

namespace skiptrain::cost {

// One entry of spending, named so that summaries can break the total down.
enum class Phase { MainForward, MainBackward, LossOnlyForward, FilterForward, FilterBackward, Selection };

const char* phase_name(Phase phase);

class Ledger {
 public:
  // Dense reference: `instances` full training steps (forward + backward) of `table`'s model.
  void add_dense(const CostTable& table, int64_t instances);
  // Forward passes of `instances` instances through every layer of `table`.
  void add_forward(Phase phase, const CostTable& table, int64_t instances);
  // Backward passes; `kept_fraction[i]` (if given) scales layer i's backward (Error Map Pruning).
  void add_backward(Phase phase, const CostTable& table, int64_t instances,
                    const std::vector<double>* kept_fraction = nullptr);
  // Work that is not a layer pass (channel selection), in 32-bit MACs.
  void add_macs(Phase phase, double macs);

  double dense_macs() const { return dense_macs_; }
  double spent_macs() const;
  // 1 - spent / dense; 0 before anything was counted.
  double saving() const;
  // Spending in 32x32-bit-MAC equivalents: a MAC at widths b_a x b_w counts b_a*b_w/1024.
  double spent_bitops() const;
  double saving_bitops() const;
  const std::map<Phase, double>& spent_by_phase() const { return spent_; }

  // Exact state for checkpoints: [dense, then per phase macs and bitops].
  std::vector<double> state() const;
  void load_state(const std::vector<double>& state);

 private:
  void spend(Phase phase, double macs, double bit_scale);

  double dense_macs_ = 0;
  std::map<Phase, double> spent_;
  std::map<Phase, double> spent_bitops_;
};

}  // namespace skiptrain::cost
