// The Early Instance Filter for the C++ loop: a filter network (lenet-filter,
// resnet8, ...) with its own Sgd, driven by a FilterController. It runs only the
// filter; the main model's forwards and the ledger are the caller's (train/), who
// reads the instance counts here to charge FilterForward and FilterBackward.
//
// Per incoming batch:  d = eif.decide(images);  main fwd+bwd on d.keep, loss-only
// fwd on d.query;  eif.learn(images, d, kept_losses, query_losses).
#pragma once

#include "skiptrain/dist/collective.h"
#include "skiptrain/filter/controller.h"
#include "skiptrain/filter/options.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/optim/sgd.h"
#include "skiptrain/state.h"

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <tuple>

namespace skiptrain::filter {

class EarlyInstanceFilter {
 public:
  // Takes a fresh filter network on the device of the images it will see: images [N, C, H, W] ->
  // logits [N, 2] (index 1 = High), or [N, 2K], a High/Low pair per class (2k = Low, 2k + 1 = High of
  // class k), of which each instance uses its own class's pair: a filter that sees the label as well as
  // the image (--eif-sees-label), as the main model's loss does. Throws InputError (naming the --eif-*
  // flag) on invalid options. In a data-parallel run (`collective` of several ranks, which must outlive the filter)
  // each rank filters its own shard of every batch, and the ranks keep one filter between them: rank 0's weights to
  // start with, the batch counts summed before T_l moves (one T_l, tracking R_set over the whole batch), the training
  // step taken when the ranks have gathered train_batch instances together, with its gradients averaged over the ranks
  // that gathered any.
  EarlyInstanceFilter(nn::Network network, FilterOptions options,
                      dist::Collective& collective = dist::single_process());

  // Filter forward on all m images [m, C, H, W] without grad and in eval mode (BatchNorm uses its
  // running statistics: an instance's decision does not depend on its batch-mates, and deciding
  // never changes the filter). Returns CPU index tensors; m = 0 gives an empty decision.
  // `classes` (int64 [m], each in [0, K)) is required by a network of [N, 2K] logits and by
  // --eif-rank-within class, ignored otherwise.
  Decision decide(const torch::Tensor& images, const torch::Tensor& classes = {});

  // Labels the batch (controller observe: threshold update, metrics) and adds its labelled instances
  // to the filter's training set; once that holds options.train_batch instances (or at once when it
  // is 0 or 1), trains on it: forward with grad in train mode, class-weighted cross-entropy (each
  // batch's weights sum to 1; the loss is their mean over the gathered batches), backward, Sgd step
  // at the scheduled lr. Nothing gathered: no step.
  // `images` is the batch given to decide(); losses as in FilterController::observe. `classes`, the
  // batch's, is required by a network with a pair per class (kept with the gathered instances for its
  // training step) and best left out otherwise.
  Feedback learn(const torch::Tensor& images, const Decision& decision, const torch::Tensor& kept_losses,
                 const torch::Tensor& query_losses, const torch::Tensor& classes = {});

  // Instances through the filter's forward in the last decide(): charge FilterForward with this.
  int64_t last_forward_instances() const { return last_forward_; }
  // Instances in the last learn()'s training step (0 when none ran): charge FilterBackward with a forward
  // AND a backward of this many instances (the step runs its own forward with grad).
  int64_t last_trained_instances() const { return last_trained_; }
  // Trains on the instances gathered so far, if the ranks hold any (a collective in a data-parallel
  // run): before a checkpoint, which holds rank 0's filter only. last_trained_instances() then
  // counts this step alone (0 when none ran).
  void train_gathered_now();
  // Totals of the two counts since the start.
  int64_t total_forward_instances() const { return total_forward_; }
  int64_t total_trained_instances() const { return total_trained_; }
  // The learning rate the next training step will use (options.lr_at(batches observed)).
  double lr() const { return options_.lr_at(controller_.batches()); }

  const FilterController& controller() const { return controller_; }
  // The controller's running figures (T_l, R_TH, kept fraction, wrong-prediction rate, counts).
  FilterMetrics metrics() const { return controller_.metrics(); }
  const nn::Network& network() const { return network_; }
  const FilterOptions& options() const { return options_; }

  // "network.*", "optimizer.*", "controller.*", "counters" (int64 [4]) and the gathered, not yet
  // trained instances "gathered.images", "gathered.labels", "gathered.weights", "gathered.batches"
  // (and "gathered.classes" when learn() is given classes).
  TensorState state() const;
  // Restores state() into a filter built with the same network architecture; InputError names `what`.
  void load_state(const TensorState& state, const std::string& what);

 private:
  FilterOptions options_;
  dist::Collective& collective_;
  nn::Network network_;
  FilterController controller_;
  optim::Sgd sgd_;
  int64_t last_forward_ = 0;
  int64_t last_trained_ = 0;
  int64_t total_forward_ = 0;
  int64_t total_trained_ = 0;
  // Labelled instances waiting for the next training step (see learn()).
  // gathered_classes_ only when learn() is given classes (a network with a pair per class).
  std::vector<torch::Tensor> gathered_images_, gathered_labels_, gathered_weights_, gathered_classes_;
  int64_t gathered_count_ = 0;
  int64_t gathered_batches_ = 0;
  int64_t gathered_by_all_ = 0;  // gathered_count_ summed over the ranks

  // The network's [N, 2] High/Low logits of `images`, each instance's own class's pair when it has one
  // per class. `where` names the caller in errors.
  torch::Tensor high_low_logits(const torch::Tensor& images, const torch::Tensor& classes, const char* where);
  void train_on_gathered();
  // The options.train_share subset of `feedback`'s labelled instances for batch number `batch`:
  // (batch indices, labels, class weights renormalised to sum 1), all of them when the share is 1.
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> training_share(const Feedback& feedback,
                                                                         int64_t batch) const;
};

}  // namespace skiptrain::filter
