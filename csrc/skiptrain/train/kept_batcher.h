// Accumulate batching (`--eif-batching accumulate`): the instances a Selector keeps
// from successive incoming batches are gathered into fixed-size main-model batches,
// the streaming form an on-device learner needs (a step always sees a full batch,
// whatever share the filter keeps). Each incoming batch waits, with its plan, until
// all its kept instances have trained, so that the Selector observes their losses in
// arrival order; a batch that kept nothing completes as soon as those before it have.
// The loss-only forwards of queried instances can wait too (add() without their losses):
// the model only changes when a gathered batch trains, so running them all just before
// that step gives the losses they had on arrival, in one forward instead of one per
// incoming batch (LeNet-5 on 4 instances is bound by per-op overhead).
#pragma once

#include "skiptrain/data/stream.h"
#include "skiptrain/train/methods/selector.h"

#include <torch/types.h>

#include <cstdint>
#include <deque>
#include <vector>

namespace skiptrain::train {

// A main-model batch taken from the batcher: its instances and where each came from.
struct GatheredBatch {
  torch::Tensor images;     // [k, C, H, W]
  torch::Tensor labels;     // int64 [k]
  torch::Tensor entries;    // int64 [k]: arrival number of the incoming batch
  torch::Tensor positions;  // int64 [k]: index into that batch's plan.train
  // float32 [k]: plan.train_weight's entries (1 where a plan has none); undefined when no plan of
  // these instances has weights, so an unweighted run's step costs no multiply.
  torch::Tensor weights;
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// The queried instances of every batch whose loss-only forward is deferred, oldest first.
struct QueryBatch {
  torch::Tensor images;  // [q, C, H, W]
  torch::Tensor labels;  // int64 [q]
  int64_t size() const { return labels.defined() ? labels.size(0) : 0; }
};

// An incoming batch whose kept instances have all trained (and whose queried ones have losses).
struct CompletedBatch {
  data::Batch batch;
  Plan plan;
  torch::Tensor train_losses;      // [k], plan.train order
  torch::Tensor loss_only_losses;  // [q]
};

class KeptBatcher {
 public:
  explicit KeptBatcher(int64_t batch_size);

  // Queues the incoming `batch` with its (final) plan; its plan.train instances wait for a batch.
  // An undefined `loss_only_losses` defers the loss-only forward of plan.loss_only (see
  // take_queries); the batch cannot complete before report_queries() has given their losses.
  void add(const data::Batch& batch, const Plan& plan, const torch::Tensor& loss_only_losses);
  // A full batch_size batch is waiting.
  bool full() const { return waiting_ >= batch_size_; }
  // Instances waiting for a batch.
  int64_t waiting() const { return waiting_; }
  // The next min(batch_size, waiting()) instances, oldest first.
  GatheredBatch take();
  // The per-instance losses of a taken batch ([k], same order).
  void report(const GatheredBatch& taken, const torch::Tensor& losses);
  // Deferred queried instances not yet taken.
  int64_t queries_waiting() const { return queries_waiting_; }
  // All of them, oldest first; report_queries() must follow before the next take_queries().
  QueryBatch take_queries();
  // The per-instance losses of the last take_queries() ([q], same order).
  void report_queries(const torch::Tensor& losses);
  // Moves the oldest incoming batch out once all its kept instances reported (and its deferred
  // queries); false if none is complete.
  bool pop_completed(CompletedBatch& out);
  // Nothing waiting and nothing pending.
  bool idle() const { return waiting_ == 0 && pending_.empty(); }

 private:
  struct Pending {
    data::Batch batch;
    Plan plan;
    torch::Tensor loss_only_losses;  // undefined while deferred
    torch::Tensor train_losses;
    int64_t unreported;
  };
  int64_t batch_size_;
  std::deque<Pending> pending_;
  int64_t first_entry_ = 0;  // arrival number of pending_.front()
  int64_t next_entry_ = 0;
  // Waiting instances as chunks, oldest first.
  std::vector<torch::Tensor> images_, labels_, entries_, positions_;
  std::vector<torch::Tensor> weights_;  // per chunk: plan.train_weight, undefined where the plan has none
  int64_t waiting_ = 0;
  // Deferred queries: arrival numbers of their batches, oldest first, and those taken but not reported.
  std::vector<int64_t> query_entries_, taken_query_entries_;
  int64_t queries_waiting_ = 0;
};

}  // namespace skiptrain::train
