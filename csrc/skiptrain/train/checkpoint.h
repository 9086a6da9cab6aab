// Checkpoints: one file holding everything that changes over a run (model,
// optimizer, selector, ledger, stream position, step). The format is
// torch.save-compatible (torch::pickle_save of a dict), so Python reads it with
// torch.load. Writes are atomic: a temporary file, fsync, then rename.
#pragma once

#include "skiptrain/nn/network.h"
#include "skiptrain/state.h"

#include <string>

namespace skiptrain::train {

// The "format" entry that marks a skiptrain checkpoint.
constexpr const char* kCheckpointFormat = "skiptrain-checkpoint";
// Bumped when the layout changes; older or newer files are refused.
constexpr int64_t kCheckpointVersion = 1;

struct Checkpoint {
  std::string model;        // zoo name, e.g. "lenet5"
  std::string dataset;      // dataset name
  std::string method;       // --method of the run
  nn::ModelSpec spec;       // input shape and classes the model was built for
  int64_t iteration = 0;    // incoming batches processed
  std::string config_json;  // the run's TrainConfig, for `skiptrain eval` and resume checks
  TensorState tensors;      // "model.*", "optimizer.*", "selector.*", "ledger", "stream", ...
};

// Writes `checkpoint` to `path` atomically; the previous file stays intact on any failure.
void save_checkpoint(const std::string& path, const Checkpoint& checkpoint);

// Reads a checkpoint; InputError naming the file when it is missing, unreadable,
// not a skiptrain checkpoint, or of another format version.
Checkpoint load_checkpoint(const std::string& path);

}  // namespace skiptrain::train
