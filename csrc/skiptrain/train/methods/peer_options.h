// Options of the peer methods a user can pick instead of the paper's (method.md section 8):
// smb, smd, ohem, sb and infobatch, one field per trainer flag with its default and the reason for it.
// Every default trains the main model on about a quarter of the stream, the share that
// --eif-ratio's default keeps, so that the methods compare at similar budgets out of the box.
#pragma once

#include <cstdint>
#include <string>

namespace skiptrain::train {

struct PeerOptions {
  // --smb-fraction: smb (plain SGD on a smaller budget) trains on this fraction F of the incoming
  // mini-batches, evenly spaced (the first, then one every 1/F). The learning-rate schedule is written
  // in incoming iterations, so the F*N updates run the whole schedule compressed, as SGD run for F*N
  // iterations with milestones scaled by F would; in (0, 1].
  double smb_fraction = 0.25;
  // --smd-p: smd (E2-Train's stochastic mini-batch dropping) skips each incoming mini-batch with this
  // probability, drawn from the global generator (saved in checkpoints); in [0, 1).
  double smd_p = 0.75;
  // --ohem-ratio: ohem trains on the ceil(ratio * m) highest-loss instances of each incoming batch of m,
  // after a no-grad loss forward on all m; in (0, 1].
  double ohem_ratio = 0.25;
  // --sb-beta: sb (Selective-Backprop) trains an instance with probability percentile^beta, where the
  // percentile is the share of the recent-loss window at or below its loss. With uniform percentiles
  // the expected selected share is 1 / (beta + 1): 3 gives a quarter; > 0.
  double sb_beta = 3.0;
  // --sb-window: how many recent losses the percentile is taken over (every incoming instance's loss
  // enters it); 1024 is 16 batches of 64: enough for a stable percentile, recent enough to follow
  // the falling loss; >= 1.
  int64_t sb_window = 1024;
  // --infobatch-prune: infobatch drops each instance whose last training loss is below the mean of
  // all such losses with this probability, and weighs the kept ones of them 1 / (1 - p); InfoBatch's
  // default 0.5. Unlike the others it does not aim at a quarter: it prunes only the well-learned,
  // so its saving follows the loss distribution (pair it with --full-stream-tail 0.125, InfoBatch's
  // annealing); in (0, 1).
  double infobatch_prune = 0.5;

  // Throws InputError naming the flag of `method`'s option when it is out of range.
  void validate(const std::string& method) const;
};

}  // namespace skiptrain::train
