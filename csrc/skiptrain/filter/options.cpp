// Validation of the Early Instance Filter's options: each message names the
// trainer flag, the allowed range and the value found, so the CLI can print it as is.
#include "skiptrain/filter/options.h"

#include "skiptrain/errors.h"

#include <cmath>

namespace skiptrain::filter {

void FilterOptions::validate() const {
  // Written so that NaN fails every check (comparisons with NaN are false).
  if (!(ratio > 0 && ratio < 1)) reject_flag("--eif-ratio", "in (0, 1)", ratio);
  if (!(lr > 0 && std::isfinite(lr))) reject_flag("--eif-lr", "> 0", lr);
  if (!(momentum >= 0 && momentum < 1)) reject_flag("--eif-momentum", "in [0, 1)", momentum);
  if (!(weight_decay >= 0 && std::isfinite(weight_decay))) reject_flag("--eif-weight-decay", ">= 0", weight_decay);
  lr_schedule().validate("--eif-lr-milestones", "--eif-lr-factor");
  if (!(entropy_threshold >= 0 && entropy_threshold <= std::log(2.0)))
    reject_flag("--eif-entropy", "in [0, ln 2 = 0.6931] nats", entropy_threshold);
  if (control != "budget" && control != "kept" && control != "paper")
    throw InputError("--eif-control must be budget, kept or paper, got '" + control + "'");
  if (!(random_share >= 0 && random_share <= 1)) reject_flag("--eif-random-share", "in [0, 1]", random_share);
  if (rank_within != "batch" && rank_within != "class")
    throw InputError("--eif-rank-within must be batch or class, got '" + rank_within + "'");
  if (rank_within == "class" && control != "budget")
    throw InputError("--eif-rank-within class needs --eif-control budget (the other rules keep by threshold), got " +
                     control);
  if (!(min_query >= 0 && min_query <= 1)) reject_flag("--eif-min-query", "in [0, 1]", min_query);
  if (!(a1 > 1 && std::isfinite(a1))) reject_flag("--eif-a1", "> 1", a1);
  if (!(a2 > 0 && a2 < 1)) reject_flag("--eif-a2", "in (0, 1)", a2);
  if (window < 1) reject_flag("--eif-window", ">= 1", window);
  if (!(init_threshold > 0 && std::isfinite(init_threshold)))
    reject_flag("--eif-init-threshold", "> 0", init_threshold);
  if (!(threshold_min > 0 && threshold_min <= init_threshold))
    reject_flag("--eif-threshold-min", "> 0 and <= --eif-init-threshold", threshold_min);
  if (!(threshold_max >= init_threshold && std::isfinite(threshold_max)))
    reject_flag("--eif-threshold-max", "finite and >= --eif-init-threshold", threshold_max);
  if (warmup_batches < 0) reject_flag("--eif-warmup", ">= 0", warmup_batches);
  if (train_batch < 0) reject_flag("--eif-train-batch", ">= 0", train_batch);
  if (!(train_share > 0 && train_share <= 1)) reject_flag("--eif-train-share", "in (0, 1]", train_share);
}

FilterOptions FilterOptions::validated() const {
  validate();
  return *this;
}

}  // namespace skiptrain::filter
