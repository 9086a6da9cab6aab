// The training loop: the story of one run, from flags to the JSON summary.
#include "skiptrain/train/trainer.h"

#include "skiptrain/cost/ledger.h"
#include "skiptrain/cost/table.h"
#include "skiptrain/data/dataset.h"
#include "skiptrain/data/stream.h"
#include "skiptrain/dist/launch.h"
#include "skiptrain/errors.h"
#include "skiptrain/nn/network.h"
#include "skiptrain/optim/sgd.h"
#include "skiptrain/optim/step_schedule.h"
#include "skiptrain/train/data_parallel.h"
#include "skiptrain/train/device.h"
#include "skiptrain/train/evaluate.h"
#include "skiptrain/train/kept_batcher.h"
#include "skiptrain/train/lagged_loss.h"
#include "skiptrain/train/memory_format.h"
#include "skiptrain/train/methods/methods.h"
#include "skiptrain/train/metrics_log.h"
#include "skiptrain/train/phase_times.h"
#include "skiptrain/train/progress.h"
#include "skiptrain/train/pruning_costs.h"
#include "skiptrain/train/resources.h"
#include "skiptrain/train/run_checkpoint.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>

namespace skiptrain::train {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

class Run {
 public:
  Run(const TrainConfig& config, const std::atomic<bool>* stop) : config_(config), stop_(stop) {}

  nlohmann::json execute() {
    const auto start = Clock::now();
    setup();
    if (config_.resume) {
      resume_run_checkpoint(config_, run_state());
      keep_totals_on_rank_zero(*collective_, counters_, ledger_);
    }
    // Rank 0 reports for the run: the metrics file, the progress and (trainer/) the summary.
    const bool reporter = collective_->rank() == 0;
    MetricsLog metrics(reporter ? config_.metrics_path : "", config_.resume ? counters_.iteration : -1);
    Progress progress(reporter ? config_.progress : "none", total_iterations_, counters_.iteration);
    bool interrupted = false;

    while (counters_.iteration < total_iterations_) {
      if (stop_requested()) {
        interrupted = true;
        break;
      }
      const auto step_start = Clock::now();
      data::Batch batch;
      if (!next_batch(batch)) {  // epoch boundary: the next call starts the next epoch
        scores_.train_s += seconds_since(step_start);
        continue;
      }
      step(batch);
      scores_.train_s += seconds_since(step_start);
      progress.update(counters_.iteration, counters_.instances_seen, running_loss_.mean(0));

      const bool last = counters_.iteration == total_iterations_;
      if (last || (eval_every_ > 0 && counters_.iteration % eval_every_ == 0)) {
        finish_waiting_training();
        auto record = evaluate_now(running_loss_.mean(NAN));
        running_loss_ = {};
        // The record first: a kill between the two then resumes from the previous checkpoint and
        // writes the record again, where the other order would lose it.
        metrics.write(record);
        save_checkpoint_if_asked();
        progress.message(describe(record));
      }
    }
    progress.finish();
    if (interrupted) {
      finish_waiting_training();
      save_checkpoint_if_asked();
    }
    return summary(seconds_since(start), interrupted);
  }

 private:
  // The stream's next batch on the run's device, in the main model's memory format; false at an
  // epoch boundary.
  bool next_batch(data::Batch& batch) {
    PhaseTimer timer(scores_.phase_s.batch);
    if (!stream_->next(batch)) return false;
    batch.images = batch.images.to(device_);
    batch.labels = batch.labels.to(device_);
    if (channels_last_) batch.images = channels_last(batch.images);
    return true;
  }

  // `work()`, a call to the Selector, with its seconds added to the selector phase.
  template <typename Work>
  auto timed_selector(Work&& work) {
    PhaseTimer timer(scores_.phase_s.selector);
    return work();
  }

  // Before a record or a stop: the training that waits (gathered instances, the ranks' selectors)
  // runs, and counts in train_s; the last step's loss is read back into the running loss.
  void finish_waiting_training() {
    const auto start = Clock::now();
    flush_gathered();
    settle_ranks();
    note_loss(lagged_loss_.take());
    scores_.train_s += seconds_since(start);
  }

  // Before each record (and checkpoint) of a data-parallel run: the selectors finish what waits on
  // each rank's own data (a checkpoint holds rank 0's; done with or without --checkpoint, so that
  // both train alike), then rank 0 takes the run's totals.
  void settle_ranks() {
    if (!collective_->distributed()) return;
    timed_selector([&] { selector_->settle(ledger_); });
    consolidate(*collective_, counters_, ledger_);
  }

  // SIGINT/SIGTERM seen: here, or in a data-parallel run by any rank, as agreed in the last step's
  // first collective (train_on), so that every rank stops after the same iteration.
  bool stop_requested() const { return collective_->distributed() ? stop_agreed_ : signalled(); }
  bool signalled() const { return stop_ != nullptr && stop_->load(); }

  // Data, model, cost table, optimizer, selector: everything before the first step.
  void setup() {
    config_.validate();
    const dist::LaunchOptions launch = config_.dist.resolved();
    if (launch.world_size > 1 && uses_eif(config_.method) && config_.eif_batching == "accumulate")
      throw InputError("--eif-batching accumulate: not available in a data-parallel run (world size " +
                       std::to_string(launch.world_size) + "), whose ranks must step together; use shrink");
    device_ = resolve_device(config_.device, launch.local_rank);
    config_.device = device_.str();  // what the filter's network (methods/) is placed on too
    threads_ = configure_threads(config_.threads);
    collective_ = dist::connect(launch, device_);
    require_same_training(*collective_, config_);
    torch::manual_seed(config_.seed);

    const auto load_start = Clock::now();
    data_ = data::load(config_.dataset, data::resolve_data_dir(config_.dataset, config_.data_dir));
    data_s_ = seconds_since(load_start);

    data_.test = shard_of(data_.test, collective_->rank(), collective_->world_size());
    spec_ = {data_.info.in_channels, data_.info.image_size, data_.info.num_classes};
    counters_.by_class = ClassCounts(spec_.num_classes, device_);
    model_ = nn::make_model(config_.model, spec_);
    configure_layers(config_, *model_);
    table_ = cost::count(*model_, [&](const torch::Tensor& x) { return model_->forward(x); },
                         {1, spec_.in_channels, spec_.image_size, spec_.image_size});
    pruning_ = pruning_costs(table_);
    model_->to(device_);
    // Dense convs run fastest channels-last (oneDNN, cuDNN). On the CPU a pruned backward without a
    // channels-last kernel (ops/emp_conv2d.h) converts its tensors to NCHW, which costs more than
    // channels-last gains, so there a pruned model goes channels-last only when most of its pruned
    // work has that kernel; on a GPU the pruned backward is cuDNN on the kept slice, in either layout.
    channels_last_ = device_.is_cuda() || !pruning_.any || pruning_.channels_last_share >= 0.5;
    if (channels_last_) use_channels_last(*model_);
    dist::broadcast_module(*collective_, model_->parameters(), model_->buffers());  // one model on every rank
    optim::SgdOptions sgd{config_.lr, config_.momentum, config_.weight_decay};
    sgd.decay_rows_without_gradient = !uses_emp(config_.method) || config_.emp_decay_pruned;
    optimizer_ = std::make_unique<optim::Sgd>(model_->parameters(), sgd);
    lr_schedule_ = config_.lr_schedule();
    selector_ = make_selector(config_, spec_, *collective_);
    if (uses_eif(config_.method) && config_.eif_batching == "accumulate")
      batcher_ = std::make_unique<KeptBatcher>(config_.batch_size);

    data::StreamOptions stream_options;
    stream_options.batch_size = config_.batch_size;
    stream_options.seed = config_.seed;
    stream_options.shard = collective_->rank();
    stream_options.shards = collective_->world_size();
    stream_options.augment =
        config_.augment == "on" || (config_.augment == "auto" && data_.info.augment_by_default);
    stream_ = std::make_unique<data::Stream>(data_.train, data_.info, stream_options);
    total_iterations_ =
        config_.iterations > 0 ? config_.iterations : config_.epochs * stream_->batches_per_epoch();
    eval_every_ = config_.eval_every == -1 ? stream_->batches_per_epoch() : config_.eval_every;
    full_stream_from_ = total_iterations_ - std::llround(config_.full_stream_tail * total_iterations_);
    model_->train();
  }

  // One incoming batch: the selected step, or in the run's full-stream tail a dense one.
  void step(const data::Batch& batch) {
    optimizer_->set_lr(lr_schedule_.at(counters_.iteration));
    if (counters_.iteration >= full_stream_from_) {
      flush_gathered();  // the kept instances still gathering train first
      ledger_.add_dense(table_, batch.size());
      train_on(batch.images, batch.labels);
    } else {
      selected_step(batch);
    }
    counters_.iteration += 1;
    counters_.instances_seen += batch.size();
    counters_.by_class.add_seen(batch.labels);
  }

  // Plan, loss-only forwards, selection by loss (if asked), the main model's step, feedback.
  void selected_step(const data::Batch& batch) {
    Plan plan = timed_selector([&] { return selector_->plan(batch, ledger_); });
    ledger_.add_dense(table_, batch.size());

    // With accumulate batching the loss-only forward waits for the next training step (see
    // kept_batcher.h) unless the plan's selection needs the losses now.
    const bool defer_queries = batcher_ && !plan.select_by_loss;
    torch::Tensor loss_only_losses = defer_queries ? torch::Tensor() : torch::empty({0});
    if (plan.loss_only.numel() > 0 && !defer_queries)
      loss_only_losses = loss_only_forward(rows(batch.images, plan.loss_only), rows(batch.labels, plan.loss_only));
    if (plan.select_by_loss)
      plan.train = timed_selector([&] { return selector_->select(batch, plan, loss_only_losses, ledger_); });
    const torch::Tensor chosen_labels = rows(batch.labels, plan.train);
    counters_.by_class.add_selection(batch.labels, chosen_labels);

    if (batcher_) {
      batcher_->add(batch, plan, loss_only_losses);
      while (batcher_->full()) train_gathered();
      observe_completed();
    } else {
      torch::Tensor train_losses = torch::empty({0});
      // In a data-parallel run every rank takes part in every step, with or without instances.
      if (plan.train.numel() > 0 || collective_->distributed())
        train_losses = train_on(rows(batch.images, plan.train), chosen_labels, 0, plan.train_weight,
                                plan.loss_over_incoming ? batch.size() : 0);
      timed_selector([&] { selector_->observe(batch, plan, train_losses, loss_only_losses, ledger_); });
    }
    counters_.loss_only += plan.loss_only.numel();
  }

  // The main model's per-instance losses [q] without grad, in eval mode (a label-only pass must not
  // move BatchNorm statistics, and works for one instance); charges LossOnlyForward.
  torch::Tensor loss_only_forward(const torch::Tensor& images, const torch::Tensor& labels) {
    PhaseTimer timer(scores_.phase_s.loss_only);
    c10::InferenceMode inference;
    model_->eval();
    auto losses = per_instance_loss(images, labels);
    model_->train();
    ledger_.add_forward(cost::Phase::LossOnlyForward, table_, labels.size(0));
    return losses.to(torch::kCPU);
  }

  // Forward, loss, backward and optimizer step of the main model on one batch; charges the ledger.
  // The step's loss is the sum of the per-instance losses, each times its `weights` entry (when
  // defined), over `divisor` (the batch's size when 0), or, when `incoming` > 0, over the incoming
  // batch's size the batch was selected from (summed over the ranks, like the batch's size).
  // Returns the detached per-instance losses (on the run's device). Their mean goes to the running
  // loss (note_loss), on a GPU one step late (lagged_loss.h); a non-finite one stops the run.
  // In a data-parallel run the batch is this rank's part of the step, possibly empty: the batch
  // size is summed over the ranks first, each rank's loss divided by that total, and the
  // gradients summed, which is the gradient of the whole step's loss on one process.
  torch::Tensor train_on(const torch::Tensor& images, const torch::Tensor& labels, double divisor = 0,
                         const torch::Tensor& weights = {}, int64_t incoming = 0) {
    PhaseTimer timer(scores_.phase_s.main_step);
    const int64_t k = labels.size(0);
    double total = k;
    double incoming_total = incoming;
    if (collective_->distributed()) {
      // Every iteration of a data-parallel run has one such step: it carries the stop signal too.
      const auto sums = dist::sum_values(*collective_, {double(k), signalled() ? 1.0 : 0.0, double(incoming)});
      total = sums[0];
      stop_agreed_ = stop_agreed_ || sums[1] > 0;
      incoming_total = sums[2];
    }
    if (incoming_total > 0) divisor = incoming_total;
    if (total == 0) return torch::empty({0});
    optimizer_->zero_grad();
    torch::Tensor losses = torch::empty({0}, device_);
    const int64_t iteration = counters_.iteration + 1;
    if (k > 0) {
      losses = per_instance_loss(images, labels);
      if (!collective_->distributed()) note_loss(lagged_loss_.exchange(losses.detach().mean(), iteration));
      const auto weighted = weights.defined() ? losses * weights.to(losses.device(), losses.scalar_type()) : losses;
      (weighted.sum() / (divisor > 0 ? divisor : total)).backward();
    }
    if (collective_->distributed()) {
      const double loss_sum = k > 0 ? losses.detach().mean().item<double>() * k : 0;
      const auto sums = dist::sum_gradients(*collective_, model_->parameters(), model_->buffers(), {loss_sum});
      note_loss(StepLoss{sums[0] / total, iteration});
    }
    optimizer_->step();
    ledger_.add_forward(cost::Phase::MainForward, table_, k);
    ledger_.add_backward(cost::Phase::MainBackward, table_, k, pruning_.any ? &pruning_.kept_fraction : nullptr);
    if (pruning_.any && k > 0)
      ledger_.add_macs(cost::Phase::Selection,
                       pruning_.selection_macs_per_instance * k + pruning_.selection_macs_per_batch);
    counters_.instances_trained += k;
    counters_.by_class.add_trained(labels);
    return losses.detach();
  }

  // A step's mean loss, read back: it joins the running loss, or stops the run if not finite.
  void note_loss(const std::optional<StepLoss>& loss) {
    if (!loss) return;
    if (!std::isfinite(loss->value))
      diverged("loss is " + std::to_string(loss->value) + " at iteration " + std::to_string(loss->iteration));
    running_loss_.add(loss->value);
  }

  // --- accumulate batching (see kept_batcher.h) ------------------------------------------
  // A gathered batch trains with its loss summed over R_set * --batch-size (16 of 64 at R_set 0.25):
  // each kept instance weighs what it weighs under shrink batching, where the kept part of an
  // incoming batch averages over its ~R_set * m instances, so the main model moves as far per
  // incoming instance in R_set as many steps. Summed over --batch-size instead (the dense step
  // for a quarter of the steps), LeNet-5 on MNIST (R_set 0.25, lenet-filter-slim, 18,700
  // iterations, seeds 0-2) ended at 98.33% against 98.74% now and dense's 98.92%. A constant
  // divisor also lets the partial batch an evaluation flushes weigh its instances as a full batch
  // would; averaged over its own few (all hard) instances, one flush moved a LeNet from 98% to 68%.
  void train_gathered() {
    run_deferred_queries();
    const GatheredBatch gathered = batcher_->take();
    const double divisor = config_.eif.ratio * static_cast<double>(config_.batch_size);
    batcher_->report(gathered, train_on(gathered.images, gathered.labels, divisor, gathered.weights));
  }

  // The loss-only forwards the batcher holds back, as one forward, before the model changes.
  void run_deferred_queries() {
    if (batcher_->queries_waiting() == 0) return;
    const QueryBatch queries = batcher_->take_queries();
    batcher_->report_queries(loss_only_forward(queries.images, queries.labels));
  }

  void observe_completed() {
    CompletedBatch done;
    while (batcher_->pop_completed(done))
      timed_selector(
          [&] { selector_->observe(done.batch, done.plan, done.train_losses, done.loss_only_losses, ledger_); });
  }

  // Trains what still waits (one partial batch) and hands every loss to the Selector: before each
  // evaluation and checkpoint, so a checkpoint never holds half-gathered state.
  void flush_gathered() {
    if (!batcher_) return;
    run_deferred_queries();
    while (batcher_->waiting() > 0) train_gathered();
    observe_completed();
  }

  // x[which] along the first dimension (`which` on any device), without a copy when `which` is
  // every row in order.
  static torch::Tensor rows(const torch::Tensor& x, const torch::Tensor& which) {
    return which.numel() == x.size(0) ? x : x.index_select(0, which.to(x.device()));
  }

  // Stops the run before the diverged state can reach a checkpoint.
  [[noreturn]] void diverged(const std::string& what) const {
    throw TrainingError(what + ": training diverged; lower --lr (now " + std::to_string(config_.lr) +
                        ") and resume from the last checkpoint");
  }

  // Cross-entropy of each instance -> [N].
  torch::Tensor per_instance_loss(const torch::Tensor& images, const torch::Tensor& labels) {
    auto logits = model_->forward(images);
    return torch::nn::functional::cross_entropy(
        logits, labels, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
  }

  nlohmann::json evaluate_now(double train_loss) {
    const auto eval_start = Clock::now();
    const Evaluation e = sum_evaluations(*collective_, evaluate(*model_, data_.test, data_.info));
    eval_s_ += seconds_since(eval_start);
    // The last step's loss was finite but its update can still have left non-finite weights.
    if (!std::isfinite(e.loss))
      diverged("test loss is " + std::to_string(e.loss) + " after iteration " + std::to_string(counters_.iteration));
    scores_.best_acc = std::max(scores_.best_acc, e.accuracy);
    scores_.last_acc = e.accuracy;
    scores_.last_loss = e.loss;
    nlohmann::json r;
    r["iteration"] = counters_.iteration;
    r["epoch"] = epochs_done();
    r["lr"] = lr_schedule_.at(counters_.iteration);
    r["train_loss"] = std::isnan(train_loss) ? nlohmann::json() : nlohmann::json(train_loss);
    r["test_acc"] = e.accuracy;
    r["test_loss"] = e.loss;
    r["test_acc_by_class"] = e.accuracy_by_class();
    add_cost_figures(r);
    r["train_s"] = scores_.train_s;
    r["train_s_by_phase"] = scores_.phase_s.to_json();
    if (pruning_.any) r["emp_kept_channels"] = pruning_.kept_channels;
    selector_->add_metrics(r);
    return r;
  }

  // What the run has seen, trained and spent so far: shared by evaluation records and the summary.
  void add_cost_figures(nlohmann::json& j) const {
    j["instances_seen"] = counters_.instances_seen;
    j["instances_trained"] = counters_.instances_trained;
    j["instances_seen_by_class"] = counters_.by_class.seen();
    j["instances_trained_by_class"] = counters_.by_class.trained();
    j["class_mix_distance"] = counters_.by_class.mean_mix_distance();
    j["selected_batches"] = counters_.by_class.selected_batches();
    j["dense_macs"] = ledger_.dense_macs();
    j["spent_macs"] = ledger_.spent_macs();
    j["saving"] = ledger_.saving();
  }

  static std::string describe(const nlohmann::json& r) {
    char line[200];
    std::snprintf(line, sizeof line, "eval  iter %lld  epoch %.2f  test_acc %.4f  test_loss %.4f  saving %.4f",
                  (long long)r["iteration"].get<int64_t>(), r["epoch"].get<double>(), r["test_acc"].get<double>(),
                  r["test_loss"].get<double>(), r["saving"].get<double>());
    return line;
  }

  double epochs_done() const {
    return static_cast<double>(counters_.instances_seen) / std::max<int64_t>(1, data_.train.size());
  }

  // --- checkpoints (the layout: run_checkpoint.h) -------------------------------------
  // Rank 0 writes it, after settle_ranks(): every rank holds the same model, optimizer and filter.
  void save_checkpoint_if_asked() {
    if (!config_.checkpoint_path.empty() && collective_->rank() == 0) save_run_checkpoint(config_, spec_, run_state());
  }

  RunState run_state() {
    return {*model_, *optimizer_, *selector_, ledger_, *stream_, counters_, scores_, running_loss_};
  }

  // --- the final JSON object -----------------------------------------------------------
  nlohmann::json summary(double wall_s, bool interrupted) const {
    nlohmann::json s;
    s["model"] = config_.model;
    s["dataset"] = config_.dataset;
    s["method"] = config_.method;
    s["epochs"] = epochs_done();
    s["iterations"] = counters_.iteration;
    s["batch_size"] = config_.batch_size;
    s["threads"] = threads_;
    s["world_size"] = collective_->world_size();
    s["rank"] = collective_->rank();
    s["device"] = device_.str();
    s["seed"] = config_.seed;
    s["test_acc"] = scores_.last_acc;
    s["best_test_acc"] = scores_.best_acc;
    s["test_loss"] = scores_.last_loss;
    add_cost_figures(s);
    s["instances_loss_only"] = counters_.loss_only;
    s["spent_bitops"] = ledger_.spent_bitops();
    s["saving_bitops"] = ledger_.saving_bitops();
    s["quant_bits"] = config_.quant.bits;
    s["quant_grad_bits"] = config_.quant.grad_bits;
    nlohmann::json phases = nlohmann::json::object();
    for (const auto& [phase, macs] : ledger_.spent_by_phase()) phases[cost::phase_name(phase)] = macs;
    s["spent_by_phase"] = phases;
    s["model_forward_macs"] = table_.forward_macs();
    s["wall_s"] = wall_s;
    s["train_s"] = scores_.train_s;
    s["train_s_by_phase"] = scores_.phase_s.to_json();
    s["data_s"] = data_s_;
    s["eval_s"] = eval_s_;
    s["images_per_s"] = scores_.train_s > 0 ? counters_.instances_seen / scores_.train_s : 0.0;
    s["peak_rss_mb"] = peak_rss_mb();
    s["interrupted"] = interrupted;
    return s;
  }

  TrainConfig config_;
  const std::atomic<bool>* stop_;
  std::unique_ptr<dist::Collective> collective_;  // the run's ranks; a plain Collective for one process
  bool stop_agreed_ = false;                      // a rank was signalled (data-parallel runs)
  int64_t threads_ = 1;
  c10::Device device_ = c10::kCPU;
  data::TrainTest data_;
  nn::ModelSpec spec_;
  nn::Network model_;
  cost::CostTable table_;
  cost::Ledger ledger_;
  PruningCosts pruning_;
  bool channels_last_ = false;
  std::unique_ptr<optim::Sgd> optimizer_;
  optim::StepSchedule lr_schedule_;
  std::unique_ptr<Selector> selector_;
  std::unique_ptr<KeptBatcher> batcher_;  // accumulate batching only
  std::unique_ptr<data::Stream> stream_;
  int64_t total_iterations_ = 0;
  int64_t eval_every_ = 0;
  int64_t full_stream_from_ = 0;  // the first iteration of the --full-stream-tail
  Counters counters_;
  Scores scores_;
  RunningLoss running_loss_;
  LaggedLoss lagged_loss_;  // the last step's loss, still being read back from a GPU
  double data_s_ = 0, eval_s_ = 0;
};

}  // namespace

nlohmann::json run_training(const TrainConfig& config, const std::atomic<bool>* stop) {
  return Run(config, stop).execute();
}

}  // namespace skiptrain::train
