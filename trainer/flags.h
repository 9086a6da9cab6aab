// The trainer's flags: each subcommand's flags bound to the fields of the struct
// it fills, so that a flag and its documented default live in one place.
#pragma once

#include "skiptrain/train/config.h"

#include <CLI/CLI.hpp>

namespace skiptrain::cli {

// `skiptrain train` flags, bound to `config`'s fields (defaults from TrainConfig).
void add_train_flags(CLI::App& command, train::TrainConfig& config);

// What `skiptrain model-info` is asked for.
struct ModelInfoRequest {
  std::string model = "lenet5";
  int64_t in_channels = 1;
  int64_t image_size = 28;
  int64_t num_classes = 10;
};
void add_model_info_flags(CLI::App& command, ModelInfoRequest& request);

}  // namespace skiptrain::cli
