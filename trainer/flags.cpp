// Flag definitions of the trainer's subcommands.
#include "flags.h"

namespace skiptrain::cli {

void add_train_flags(CLI::App& cmd, train::TrainConfig& c) {
  cmd.add_option("--model", c.model, "model from the zoo (lenet5, resnet20, ..., vgg16)")->capture_default_str();
  cmd.add_option("--dataset", c.dataset, "mnist, fashion-mnist, cifar10 or cifar100")->capture_default_str();
  cmd.add_option("--data-dir", c.data_dir, "directory of the dataset's files (default: $SKIPTRAIN_DATA/<dataset>)");
  cmd.add_option("--method", c.method, "training method")->capture_default_str();
  cmd.add_option("--epochs", c.epochs, "passes over the data (ignored with --iterations)")->capture_default_str();
  cmd.add_option("--iterations", c.iterations, "incoming mini-batches to process (0: use --epochs)")
      ->capture_default_str();
  cmd.add_option("--batch-size", c.batch_size, "instances per incoming mini-batch")->capture_default_str();
  cmd.add_option("--lr", c.lr, "learning rate")->capture_default_str();
  cmd.add_option("--momentum", c.momentum, "SGD momentum")->capture_default_str();
  cmd.add_option("--weight-decay", c.weight_decay, "L2 weight decay")->capture_default_str();
  cmd.add_option("--lr-milestones", c.lr_milestones, "iterations at which lr is multiplied by --lr-gamma")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--lr-gamma", c.lr_gamma, "learning-rate factor at each milestone")->capture_default_str();
  cmd.add_option("--lr-warmup", c.lr_warmup,
                 "incoming batches over which lr ramps linearly up to its schedule's (0: none)")
      ->capture_default_str();
  cmd.add_option("--full-stream-tail", c.full_stream_tail,
                 "share of the run's last iterations that train on every instance (the method rests)")
      ->capture_default_str();
  cmd.add_option("--augment", c.augment, "auto (CIFAR only), on or off")->capture_default_str();
  cmd.add_option("--seed", c.seed, "seed of initialisation, order and augmentation")->capture_default_str();
  cmd.add_option("--threads", c.threads, "intra-op threads (0: all cores)")->capture_default_str();
  cmd.add_option("--device", c.device, "auto (a CUDA GPU when one is visible), cpu, cuda or cuda:N")
      ->capture_default_str();
  cmd.add_option("--eval-every", c.eval_every, "evaluate every N iterations (-1: each epoch, 0: at the end)")
      ->capture_default_str();
  cmd.add_option("--metrics", c.metrics_path, "JSON-lines file, one record per evaluation");
  cmd.add_option("--checkpoint", c.checkpoint_path, "checkpoint file, written atomically at each evaluation");
  cmd.add_flag("--resume", c.resume, "continue the run stored in --checkpoint");
  cmd.add_option("--emp-keep", c.emp.keep, "fraction of each conv's error-map channels kept in backward")
      ->capture_default_str();
  cmd.add_option("--emp-gamma1", c.emp.gamma1, "weight of the filter-norm term of the channel score")
      ->capture_default_str();
  cmd.add_option("--emp-gamma2", c.emp.gamma2, "weight of the error-map-norm term of the channel score")
      ->capture_default_str();
  cmd.add_option("--emp-sample", c.emp.sample,
                 "draw the kept channels in proportion to their scores, gradients scaled by 1/probability "
                 "(unbiased; true/false), instead of keeping the best scorers")
      ->capture_default_str();
  cmd.add_option("--emp-skip-first", c.emp_skip_first, "leave the first conv dense (true/false)")
      ->capture_default_str();
  cmd.add_option("--emp-layer-keep", c.emp_layer_keep,
                 "PATTERN=KEEP rules: convs whose name matches PATTERN (wildcards: layer1.*) keep KEEP instead "
                 "of --emp-keep (1: dense); the first matching rule wins. auto: the model's rules (CIFAR "
                 "ResNets: stage 1 only, as layer2.*=1,layer3.*=1); none: every conv but the first at --emp-keep")
      ->default_str("auto")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--emp-decay-pruned", c.emp_decay_pruned,
                 "weight decay also shrinks the channels pruned in a step (true/false)")
      ->capture_default_str();
  cmd.add_option("--quant-bits", c.quant.bits, "width of quantized activations and weights (2..16; 32: float)")
      ->capture_default_str();
  cmd.add_option("--quant-grad-bits", c.quant.grad_bits,
                 "width of quantized error maps, stochastic rounding (2..16; 0: float)")
      ->capture_default_str();
  auto& f = c.eif;
  cmd.add_option("--eif-ratio", f.ratio, "R_set: fraction of the stream that should train the main model")
      ->capture_default_str();
  cmd.add_option("--eif-batching", c.eif_batching,
                 "shrink (train on each batch's kept part) or accumulate (gather full batches)")
      ->capture_default_str();
  cmd.add_option("--eif-model", c.eif_model,
                 "filter network (auto: lenet-filter for 28x28, resnet8 for 32x32; "
                 "lenet-filter-slim, resnet8-slim: narrower)")
      ->capture_default_str();
  cmd.add_option("--eif-downsample", c.eif_downsample,
                 "the filter sees each image average-pooled N x N (2: 16x16 for 32x32 images); 1: as it is")
      ->capture_default_str();
  cmd.add_flag("--eif-sees-label", c.eif_sees_label,
               "the filter judges each instance with a High/Low pair for its own class (sees the label)");
  cmd.add_option("--eif-lr", f.lr, "filter learning rate")->capture_default_str();
  cmd.add_option("--eif-momentum", f.momentum, "filter SGD momentum")->capture_default_str();
  cmd.add_option("--eif-lr-milestones", f.lr_milestones, "iterations at which the filter lr is multiplied by --eif-lr-factor")
      ->delimiter(',')
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--eif-lr-factor", f.lr_factor, "filter lr factor at each milestone")->capture_default_str();
  cmd.add_option("--eif-entropy", f.entropy_threshold, "entropy_T (nats): uncertain predicted-Low get a loss-only forward")
      ->capture_default_str();
  cmd.add_option("--eif-min-query", f.min_query, "fraction of each batch always queried among the dropped")
      ->capture_default_str();
  cmd.add_option("--eif-random-share", f.random_share,
                 "share of the kept drawn at random from the rest, loss-weighted to stay unbiased (budget rule)")
      ->capture_default_str();
  cmd.add_option("--eif-rank-within", f.rank_within,
                 "budget rule: rank the kept share within the whole batch or within each class")
      ->capture_default_str();
  cmd.add_option("--eif-control", f.control, "decision rule: budget (top R_set per batch), kept or paper")
      ->capture_default_str();
  cmd.add_option("--eif-a1", f.a1, "T_l growth factor when R_TH >= R_set")->capture_default_str();
  cmd.add_option("--eif-a2", f.a2, "T_l shrink factor when R_TH < R_set")->capture_default_str();
  cmd.add_option("--eif-window", f.window, "batches in the R_TH window (n)")->capture_default_str();
  cmd.add_option("--eif-init-threshold", f.init_threshold, "initial loss threshold T_l")->capture_default_str();
  cmd.add_option("--eif-train-batch", f.train_batch, "labelled instances gathered per filter step (0: every batch)")
      ->capture_default_str();
  cmd.add_option("--eif-train-share", f.train_share, "share of each batch's labelled instances the filter trains on")
      ->capture_default_str();
  cmd.add_option("--eif-warmup", f.warmup_batches, "first batches kept whole to start the filter")->capture_default_str();
  auto& p = c.peers;
  cmd.add_option("--smb-fraction", p.smb_fraction, "smb: share of incoming batches that train (schedule compressed)")
      ->capture_default_str();
  cmd.add_option("--smd-p", p.smd_p, "smd: probability of dropping an incoming batch")->capture_default_str();
  cmd.add_option("--ohem-ratio", p.ohem_ratio, "ohem: share of each batch (highest losses) that trains")
      ->capture_default_str();
  cmd.add_option("--sb-beta", p.sb_beta, "sb: train with probability loss-percentile^beta")->capture_default_str();
  cmd.add_option("--sb-window", p.sb_window, "sb: recent losses the percentile is taken over")->capture_default_str();
  cmd.add_option("--infobatch-prune", p.infobatch_prune,
                 "infobatch: probability of dropping an instance whose last loss is below the mean")
      ->capture_default_str();
  cmd.add_option("--progress", c.progress, "auto, bar, log or none")->capture_default_str();
  // A data-parallel run: every rank is started with the same flags plus its own --rank (torchrun
  // sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, read where these are left at their defaults).
  dist::LaunchOptions& d = c.dist;
  cmd.add_option("--world-size", d.world_size, "processes in a data-parallel run (0: $WORLD_SIZE, else 1)")
      ->capture_default_str();
  cmd.add_option("--rank", d.rank, "this process's rank in [0, world size) (-1: $RANK, else 0)")->capture_default_str();
  cmd.add_option("--master-addr", d.master_addr, "host of rank 0, the rendezvous ($MASTER_ADDR, else 127.0.0.1)");
  cmd.add_option("--master-port", d.master_port, "rendezvous port (0: $MASTER_PORT, else 29500)")
      ->capture_default_str();
  cmd.add_option("--dist-backend", d.backend, "auto (nccl for CUDA devices, else gloo), gloo or nccl")
      ->capture_default_str();
  cmd.add_option("--dist-timeout", d.timeout_s, "seconds a rank waits for the others before it stops")
      ->capture_default_str();
}

void add_model_info_flags(CLI::App& cmd, ModelInfoRequest& r) {
  cmd.add_option("--model", r.model, "model from the zoo")->capture_default_str();
  cmd.add_option("--in-channels", r.in_channels, "input channels")->capture_default_str();
  cmd.add_option("--image-size", r.image_size, "input height and width")->capture_default_str();
  cmd.add_option("--num-classes", r.num_classes, "outputs of the head")->capture_default_str();
}

}  // namespace skiptrain::cli
