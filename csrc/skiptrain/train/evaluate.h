// Test-set evaluation of a classifier: accuracy and mean cross-entropy.
#pragma once

#include "skiptrain/data/dataset.h"
#include "skiptrain/nn/network.h"

namespace skiptrain::train {

struct Evaluation {
  double accuracy = 0;  // fraction of instances whose arg-max logit is the label
  double loss = 0;      // mean cross-entropy
  int64_t instances = 0;
};

// Runs `model` in eval mode without gradients over all of `dataset` (on the model's device);
// restores its mode.
Evaluation evaluate(nn::NetworkImpl& model, const data::Dataset& dataset, const data::DatasetInfo& info,
                    int64_t batch_size = 1000);

}  // namespace skiptrain::train
