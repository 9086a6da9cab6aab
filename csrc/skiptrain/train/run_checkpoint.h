// The checkpoint layout of a training run: which part of the run goes under which key
// ("model.*", "optimizer.*", "selector.*", "ledger", "counters", "class_counts.*", "scores",
// "running_loss", "rng"), written at each evaluation and read back on --resume. checkpoint.h is the file
// format; this is what a run puts into it, so that a resumed run continues exactly.
#pragma once

#include "skiptrain/cost/ledger.h"
#include "skiptrain/data/stream.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/optim/sgd.h"
#include "skiptrain/train/config.h"
#include "skiptrain/train/class_counts.h"
#include "skiptrain/train/methods/selector.h"
#include "skiptrain/train/phase_times.h"

#include <cmath>
#include <cstdint>

namespace skiptrain::train {

// Counters that advance with the stream; saved with the stream's epoch and position as "counters".
struct Counters {
  int64_t iteration = 0;          // incoming batches processed
  int64_t instances_seen = 0;     // incoming instances
  int64_t instances_trained = 0;  // instances that reached the main model's backward
  int64_t loss_only = 0;          // instances that got a loss-only forward
  ClassCounts by_class;           // instances seen and trained per class, class-mix distance ("class_counts.*")
};

// The last evaluation's results, the best accuracy so far and the time spent training ("scores").
struct Scores {
  double best_acc = 0;
  double last_acc = 0;
  double last_loss = 0;
  double train_s = 0;  // seconds inside training steps
  PhaseTimes phase_s;  // train_s by phase
};

// The training loss since the last evaluation ("running_loss"), so that an interrupted run's
// next record is exact.
struct RunningLoss {
  double sum = 0;     // sum of the step losses
  int64_t count = 0;  // steps summed

  // Adds a step's mean loss; NaN (no step ran) is left out.
  void add(double loss) {
    if (std::isnan(loss)) return;
    sum += loss;
    ++count;
  }
  // The mean of the losses added, `if_none` when there are none.
  double mean(double if_none) const { return count ? sum / count : if_none; }
};

// What a checkpoint holds of a run, by reference: saved from these and restored into them.
struct RunState {
  nn::NetworkImpl& model;
  optim::Sgd& optimizer;
  Selector& selector;
  cost::Ledger& ledger;
  data::Stream& stream;
  Counters& counters;
  Scores& scores;
  RunningLoss& running_loss;
};

// Writes `run` (and the global CPU generator) to config.checkpoint_path, atomically.
void save_run_checkpoint(const TrainConfig& config, const nn::ModelSpec& spec, const RunState& run);

// Restores `run` (and the global CPU generator) from config.checkpoint_path. InputError naming the
// file when it was written by a run of another model, dataset or method, or is corrupt.
void resume_run_checkpoint(const TrainConfig& config, const RunState& run);

}  // namespace skiptrain::train
