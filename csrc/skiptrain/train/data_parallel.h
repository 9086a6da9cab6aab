// The bookkeeping of a data-parallel run (trainer.cpp): which part of the test set a rank
// evaluates, and how the ranks' counts become the run's. Each rank adds what it does to its
// own counters and ledger; the run's figure is their sum, which consolidate() moves onto
// rank 0 (the rank that reports and writes checkpoints) before each record and checkpoint.
#pragma once

#include "skiptrain/cost/ledger.h"
#include "skiptrain/data/dataset.h"
#include "skiptrain/dist/collective.h"
#include "skiptrain/train/config.h"
#include "skiptrain/train/evaluate.h"
#include "skiptrain/train/run_checkpoint.h"

namespace skiptrain::train {

// Every rank must run the same training (the same flags, but for where its files are, its threads
// and its device): else their collectives would not match. Throws InputError on every rank when
// one rank's flags differ from rank 0's.
void require_same_training(dist::Collective& collective, const TrainConfig& config);

// Rank `rank` of `ranks`' contiguous share of `dataset` (all of it for one rank).
data::Dataset shard_of(const data::Dataset& dataset, int rank, int ranks);

// The evaluation of the whole test set from each rank's evaluation of its shard.
Evaluation sum_evaluations(dist::Collective& collective, const Evaluation& shard);

// Sums the counts that add up over ranks (instances seen, trained, loss-only, by class; the ledger) onto
// rank 0 and zeroes them on the others: afterwards rank 0 holds the run's totals.
void consolidate(dist::Collective& collective, Counters& counters, cost::Ledger& ledger);

// After a resume from a checkpoint of the run's totals: rank 0 keeps them, other ranks start
// their own counts from zero, so that the sum over ranks stays the run's.
void keep_totals_on_rank_zero(const dist::Collective& collective, Counters& counters, cost::Ledger& ledger);

}  // namespace skiptrain::train
