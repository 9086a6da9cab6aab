// Wall-clock seconds of the training loop by phase, beside the ledger's MACs by phase: where a
// run's train_s goes. The counted MACs say what a method should cost; these say what it did cost,
// which for a small network (the filter) or a small batch (the kept share) can be far more per MAC.
// The phases cover most of train_s, not all: the bookkeeping between them (counting, the ranks'
// totals) is in none. On a GPU a phase's seconds include the device work it waited for: the filter's
// decision and the main step end in a copy to the host, but work still queued when a phase returns
// (the filter's optimizer step) lands in whichever phase next waits for the device.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <vector>

namespace skiptrain::train {

struct PhaseTimes {
  double batch = 0;      // the incoming batch: assembled, augmented, moved to the device
  double selector = 0;   // the Selector: plan, selection by loss, observe, settle (a filter's forward and training)
  double loss_only = 0;  // the main model's loss-only forwards (queries)
  double main_step = 0;  // the main model's forward, backward and optimizer step

  // The four figures in the order above (a checkpoint's "scores" holds them), and back.
  std::vector<double> values() const { return {batch, selector, loss_only, main_step}; }
  static PhaseTimes from_values(const std::vector<double>& v) { return {v.at(0), v.at(1), v.at(2), v.at(3)}; }

  nlohmann::json to_json() const {
    return {{"batch", batch}, {"selector", selector}, {"loss_only_forward", loss_only}, {"main_step", main_step}};
  }
};

// Adds the seconds its scope lasts to one PhaseTimes figure.
class PhaseTimer {
 public:
  explicit PhaseTimer(double& seconds) : seconds_(seconds), start_(std::chrono::steady_clock::now()) {}
  ~PhaseTimer() { seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }
  PhaseTimer(const PhaseTimer&) = delete;
  PhaseTimer& operator=(const PhaseTimer&) = delete;

 private:
  double& seconds_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace skiptrain::train
