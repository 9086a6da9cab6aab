// skiptrain: the standalone LibTorch trainer. Parse flags, then hand the run to the
// core (libskiptrain); print progress on stderr and one JSON summary as the last line
// on stdout (rank 0's, in a data-parallel run). Bad input exits 2 with a one-line error; a diverged run exits 3; an
// interrupted one (SIGINT/SIGTERM) saves its checkpoint and exits 130.
#include "flags.h"
#include "model_info.h"
#include "skiptrain/data/download.h"
#include "skiptrain/errors.h"
#include "skiptrain/skiptrain.h"
#include "skiptrain/train/trainer.h"

#include <CLI/CLI.hpp>

#include <atomic>
#include <csignal>
#include <iostream>

namespace {

std::atomic<bool> stop_requested{false};

void request_stop(int) { stop_requested.store(true); }

// Runs `body`, turning skiptrain's errors into one line on stderr and an exit code.
int guarded(const std::function<int()>& body) {
  try {
    return body();
  } catch (const skiptrain::InputError& e) {
    std::cerr << "skiptrain: error: " << e.what() << "\n";
    return 2;
  } catch (const skiptrain::TrainingError& e) {
    std::cerr << "skiptrain: training stopped: " << e.what() << "\n";
    return 3;
  } catch (const c10::Error& e) {
    std::cerr << "skiptrain: internal error: " << e.what_without_backtrace() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "skiptrain: internal error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skiptrain " + std::string(skiptrain::version()) +
               ": on-device CNN training with an Early Instance Filter and Error Map Pruning"};
  app.require_subcommand(1);

  skiptrain::train::TrainConfig config;
  auto* train = app.add_subcommand("train", "train a model; the last stdout line is a JSON summary");
  // A flag given twice takes its last value, so scripts can override a base command line.
  train->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  skiptrain::cli::add_train_flags(*train, config);

  std::string eval_checkpoint, eval_data_dir;
  int64_t eval_threads = 0;
  auto* eval = app.add_subcommand("eval", "test accuracy of a checkpoint's model");
  eval->add_option("--checkpoint", eval_checkpoint, "checkpoint file")->required();
  eval->add_option("--data-dir", eval_data_dir, "dataset directory (default: the one the run used)");
  eval->add_option("--threads", eval_threads, "intra-op threads (0: all cores)");

  std::string download_dataset, download_dir;
  auto* download = app.add_subcommand("download", "fetch a dataset's official files and check their checksums");
  download->add_option("dataset", download_dataset, "mnist, fashion-mnist, cifar10 or cifar100")->required();
  download->add_option("dir", download_dir, "directory to write the files to")->required();

  skiptrain::cli::ModelInfoRequest info_request;
  auto* info = app.add_subcommand("model-info", "a model's parameters and per-layer MACs as JSON");
  skiptrain::cli::add_model_info_flags(*info, info_request);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;  // --help exits 0; every bad flag exits 2
  }

  if (train->parsed()) {
    std::signal(SIGINT, request_stop);
    std::signal(SIGTERM, request_stop);
    return guarded([&] {
      const auto summary = skiptrain::train::run_training(config, &stop_requested);
      // In a data-parallel run rank 0 speaks for the run; the other ranks' counts are in its totals.
      if (summary.value("rank", 0) == 0) std::cout << summary.dump() << std::endl;
      return summary.value("interrupted", false) ? 130 : 0;
    });
  }
  if (eval->parsed())
    return guarded([&] {
      std::cout << skiptrain::train::run_evaluation(eval_checkpoint, eval_data_dir, eval_threads).dump() << std::endl;
      return 0;
    });
  if (download->parsed())
    return guarded([&] {
      skiptrain::data::download(download_dataset, download_dir);
      return 0;
    });
  return guarded([&] {
    std::cout << skiptrain::cli::model_info(info_request).dump() << std::endl;
    return 0;
  });
}
