// What the CLI (trainer/) runs: the training loop (trainer.cpp: stream -> selector
// -> main model step -> ledger -> metrics -> checkpoint), the evaluation of a saved
// model (eval_command.cpp), and TrainConfig as JSON (config_json.cpp), as stored in
// checkpoints. The CLI is its one caller: Python users write their own loop around the pieces.
#pragma once

#include "skiptrain/train/config.h"

#include <nlohmann/json.hpp>

#include <atomic>

namespace skiptrain::train {

// Runs the training described by `config` and returns the summary (the JSON object
// the CLI prints last). When `stop` becomes true (SIGINT/SIGTERM), the loop stops
// after the current iteration, writes its checkpoint and returns with "interrupted": true.
nlohmann::json run_training(const TrainConfig& config, const std::atomic<bool>* stop = nullptr);

// Evaluates the model stored in `checkpoint_path` on its dataset's test split
// (`data_dir` overrides where the data is read from) and returns a JSON summary.
nlohmann::json run_evaluation(const std::string& checkpoint_path, const std::string& data_dir, int64_t threads);

// TrainConfig <-> JSON, as stored in checkpoints.
nlohmann::json config_to_json(const TrainConfig& config);
TrainConfig config_from_json(const nlohmann::json& json);

}  // namespace skiptrain::train
