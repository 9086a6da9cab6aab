// Everything a training run is told, one commented field per trainer flag, with
// its default. The CLI fills it from flags (trainer/flags.cpp), tests fill it directly,
// and a checkpoint stores it as JSON (config_json.cpp, read back by `skiptrain eval`).
#pragma once

#include "skiptrain/dist/launch.h"
#include "skiptrain/filter/options.h"
#include "skiptrain/nn/conv2d.h"
#include "skiptrain/nn/emp_settings.h"
#include "skiptrain/nn/quant_settings.h"
#include "skiptrain/optim/step_schedule.h"
#include "skiptrain/train/methods/peer_options.h"

#include <cstdint>
#include <string>
#include <vector>

namespace skiptrain::train {

struct TrainConfig {
  // --model: a name from nn::model_names().
  std::string model = "lenet5";
  // --dataset: a name from data::dataset_names().
  std::string dataset = "fashion-mnist";
  // --data-dir: where the dataset's files are; empty = $SKIPTRAIN_DATA/<dataset> or the Debian path.
  std::string data_dir;
  // --method: the data-level method and layer settings (sgd, emp, eif, eif+emp, smb, smd, ohem, sb,
  // infobatch, infobatch+emp).
  std::string method = "sgd";
  // --epochs: passes over the incoming stream (ignored when iterations > 0).
  int64_t epochs = 1;
  // --iterations: incoming mini-batches to process; 0 = use epochs.
  int64_t iterations = 0;
  // --batch-size: instances per incoming mini-batch (m).
  int64_t batch_size = 64;
  // --lr: learning rate of the main model's SGD.
  double lr = 0.01;
  // --momentum: SGD momentum.
  double momentum = 0.9;
  // --weight-decay: L2 penalty added to the gradients.
  double weight_decay = 0.0;
  // --lr-milestones: iterations at which the learning rate is multiplied by lr_gamma; >= 0, strictly
  // increasing.
  std::vector<int64_t> lr_milestones;
  // --lr-gamma: the factor applied at each milestone; > 0.
  double lr_gamma = 0.1;
  // --lr-warmup: iterations over which the learning rate ramps linearly up to its schedule's; >= 0.
  int64_t lr_warmup = 0;
  // --full-stream-tail: the share of the run's last iterations in which every incoming instance
  // trains the main model and the data-level method rests (InfoBatch's annealing: the last steps,
  // at the smallest learning rates, see the whole distribution again); in [0, 1), 0 = none.
  double full_stream_tail = 0.0;
  // --augment: CIFAR-style augmentation (pad-4 crop, flip): "auto" (CIFAR only), "on", "off".
  std::string augment = "auto";
  // --seed: seeds the model's initialisation and the stream's order and augmentation.
  uint64_t seed = 0;
  // --threads: intra-op threads; 0 = all available cores.
  int64_t threads = 0;
  // --device: where the models train: "auto" (the first CUDA GPU when one is visible, else the CPU),
  // "cpu", "cuda" or "cuda:N". Checkpoints hold CPU tensors and resume on either device.
  std::string device = "auto";
  // --eval-every: evaluate on the test set every N iterations; -1 = once per epoch; 0 = only at the end.
  int64_t eval_every = -1;
  // --metrics: JSON-lines file with one record per evaluation; empty = none.
  std::string metrics_path;
  // --checkpoint: checkpoint file written atomically at each evaluation and at the end; empty = none.
  std::string checkpoint_path;
  // --resume: continue from --checkpoint (it must exist).
  bool resume = false;
  // --eif-*: the Early Instance Filter (methods eif, eif+emp); defaults and reasons in filter/options.h.
  filter::FilterOptions eif;
  // --eif-batching: how kept instances reach the main model: "shrink" trains on the kept part of each
  // incoming batch; "accumulate" gathers them into full --batch-size batches (train/kept_batcher.h).
  std::string eif_batching = "shrink";
  // --eif-model: the filter network; "auto" = lenet-filter for 28x28 inputs, resnet8 for 32x32.
  // lenet-filter-slim (widths 4/8/16) cuts the filter's counted share on MNIST from 5.6% to 2.4% of
  // dense: LeNet-5, R_set 0.25, accumulate, 18,700 iterations, seeds 0-2: saving 70.28% vs 67.04%,
  // accuracy 98.74% (lenet-filter, shrink: 98.78%; dense 98.92%). Not "auto": the paper's filter stays.
  std::string eif_model = "auto";
  // --eif-sees-label: the filter network gives a High/Low pair per class and each instance is judged by
  // its own class's pair, so that the filter sees the label as well as the image, as the main model's
  // loss does (off: the paper's filter, which sees the image only).
  bool eif_sees_label = false;
  // --eif-downsample N: the filter sees each image average-pooled N x N (N = 2: 16x16 for CIFAR-10),
  // with a network built for that size. Small layers cost more per MAC than large ones: ResNet-8 at
  // 16x16 (2 threads, a decision on 128 images and a training step on 64) took 17.5 ms where the
  // half-width ResNet-8 at 32x32, about the same MACs, took 43.7 ms. 1: the image as it is.
  int64_t eif_downsample = 1;
  // --emp-keep / --emp-gamma1 / --emp-gamma2 / --emp-sample: Error Map Pruning of the convs (methods emp,
  // eif+emp).
  nn::EmpSettings emp{0.5};
  // --emp-skip-first: leave the first conv (whose input is data) dense.
  bool emp_skip_first = true;
  // --emp-layer-keep PATTERN=KEEP ...: convs whose qualified name matches PATTERN (shell wildcards)
  // keep KEEP instead of --emp-keep; the first matching rule wins (nn/emp_settings.h). "auto" alone:
  // the model's default rules (nn::default_emp_layer_keep: the CIFAR ResNets prune stage 1 only);
  // "none" alone: no rules, every conv but the first at --emp-keep (the paper's rule).
  std::vector<std::string> emp_layer_keep{"auto"};
  // --emp-decay-pruned: weight decay also shrinks the weights of a channel pruned in this step
  // (true, as torch.optim.SGD would); false spares them (optim::SgdOptions), so that a channel
  // with small weights is not decayed further while pruning keeps it from learning.
  bool emp_decay_pruned = true;
  // --quant-bits / --quant-grad-bits: quantized training of every conv and linear layer, the
  // filter's included (32 / 0 = float; see nn/quant_settings.h). Composes with every method.
  nn::QuantSettings quant;
  // --smb-fraction, --smd-p, --ohem-ratio, --sb-beta, --sb-window, --infobatch-prune: the peer methods; see
  // methods/peer_options.h.
  PeerOptions peers;
  // --world-size, --rank, --master-addr, --master-port, --dist-backend, --dist-timeout: a
  // data-parallel run of several processes (dist/launch.h), torchrun's environment by default.
  // Not stored in checkpoints: a run may resume with another number of ranks.
  dist::LaunchOptions dist;
  // --progress: "auto" (a bar when stderr is a terminal, log lines otherwise), "bar", "log", "none".
  std::string progress = "auto";

  // Throws InputError naming the first invalid flag.
  void validate() const;

  // The main model's learning-rate schedule: lr, lr_milestones, lr_gamma, lr_warmup.
  optim::StepSchedule lr_schedule() const { return {lr, lr_milestones, lr_gamma, lr_warmup}; }

  // The --emp-layer-keep rules, parsed ("auto" resolved for --model); throws c10::ValueError naming
  // the flag and the bad rule.
  std::vector<nn::LayerKeep> emp_layer_rules() const;

  // The same rules as "PATTERN=KEEP" text, as checkpoints store them (run_checkpoint.h).
  std::vector<std::string> emp_layer_rules_text() const;
};

}  // namespace skiptrain::train
