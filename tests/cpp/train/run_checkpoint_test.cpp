// A run's checkpoint: every part (model, optimizer, ledger, stream position, counters, scores,
// running loss, generator) comes back as saved, under the keys and shapes of format version 1,
// and a checkpoint of another method, or of a run that pruned other convs, is refused.
#include "skiptrain/errors.h"
#include "skiptrain/train/checkpoint.h"
#include "skiptrain/train/methods/methods.h"
#include "skiptrain/train/run_checkpoint.h"
#include "support/test_support.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <memory>
#include <string>

namespace {

namespace st = skiptrain::train;
namespace sd = skiptrain::data;

// The parts of a run on a synthetic MNIST-shaped dataset, as trainer.cpp's Run holds them.
struct Parts {
  Parts(const st::TrainConfig& config, const sd::Dataset& data, uint64_t seed) {
    torch::manual_seed(seed);
    model = skiptrain::nn::make_model(config.model, spec);
    optimizer = std::make_unique<skiptrain::optim::Sgd>(model->parameters(), skiptrain::optim::SgdOptions{0.1, 0.9, 0});
    selector = st::make_selector(config, spec);
    stream = std::make_unique<sd::Stream>(data, sd::dataset_info("mnist"), sd::StreamOptions{});
    counters.by_class = st::ClassCounts(spec.num_classes, torch::kCPU);  // as the trainer's setup does
  }
  st::RunState state() { return {*model, *optimizer, *selector, ledger, *stream, counters, scores, running_loss}; }

  skiptrain::nn::ModelSpec spec{1, 28, 10};
  skiptrain::nn::Network model;
  std::unique_ptr<skiptrain::optim::Sgd> optimizer;
  std::unique_ptr<st::Selector> selector;
  skiptrain::cost::Ledger ledger;
  std::unique_ptr<sd::Stream> stream;
  st::Counters counters;
  st::Scores scores;
  st::RunningLoss running_loss;
};

sd::Dataset synthetic(int64_t n) {
  sd::Dataset d;
  d.images = torch::randint(0, 256, {n, 1, 28, 28}, torch::kUInt8);
  d.labels = torch::randint(0, 10, {n}, torch::kInt64);
  return d;
}

class RunCheckpoint : public ::testing::Test {
 protected:
  RunCheckpoint() {
    config.model = "lenet5";
    config.dataset = "mnist";
    config.method = "sgd";
    config.checkpoint_path = dir.file("run.pt");
  }
  skiptrain::test::TempDir dir;
  st::TrainConfig config;
  sd::Dataset data = synthetic(300);
};

TEST_F(RunCheckpoint, EveryPartComesBackAsSaved) {
  Parts saved(config, data, 1);
  sd::Batch batch;
  for (int i = 0; i < 3; ++i) saved.stream->next(batch);
  auto loss = saved.model->forward(batch.images.to(torch::kFloat).div(255)).logsumexp(1).mean();
  loss.backward();
  saved.optimizer->step();  // creates the momentum buffers
  saved.ledger.add_macs(skiptrain::cost::Phase::Selection, 1234);
  saved.counters = {3, 192, 150, 20, st::ClassCounts(10, torch::kCPU)};
  saved.counters.by_class.add_seen(torch::tensor({4, 4, 9}));
  saved.counters.by_class.add_trained(torch::tensor({9}));
  saved.counters.by_class.add_selection(torch::tensor({4, 9}), torch::tensor({9}));
  saved.scores = {0.9, 0.85, 0.4, 12.5, {0.25, 2.0, 0.5, 9.5}};
  saved.running_loss = {3.5, 4};
  st::save_run_checkpoint(config, saved.spec, saved.state());
  const auto draw_after_save = torch::rand({4});

  Parts resumed(config, data, 2);
  st::resume_run_checkpoint(config, resumed.state());
  EXPECT_TRUE(torch::equal(torch::rand({4}), draw_after_save));
  EXPECT_EQ(resumed.counters.iteration, 3);
  EXPECT_EQ(resumed.counters.instances_seen, 192);
  EXPECT_EQ(resumed.counters.instances_trained, 150);
  EXPECT_EQ(resumed.counters.loss_only, 20);
  EXPECT_EQ(resumed.counters.by_class.seen(), saved.counters.by_class.seen());
  EXPECT_EQ(resumed.counters.by_class.trained(), (std::vector<int64_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 1}));
  EXPECT_EQ(resumed.counters.by_class.mean_mix_distance(), 0.5);
  EXPECT_EQ(resumed.stream->epoch(), saved.stream->epoch());
  EXPECT_EQ(resumed.stream->position(), 3);
  EXPECT_EQ(resumed.scores.best_acc, 0.9);
  EXPECT_EQ(resumed.scores.last_acc, 0.85);
  EXPECT_EQ(resumed.scores.last_loss, 0.4);
  EXPECT_EQ(resumed.scores.train_s, 12.5);
  EXPECT_EQ(resumed.scores.phase_s.values(), (std::vector<double>{0.25, 2.0, 0.5, 9.5}));
  EXPECT_EQ(resumed.running_loss.sum, 3.5);
  EXPECT_EQ(resumed.running_loss.count, 4);
  EXPECT_EQ(resumed.ledger.state(), saved.ledger.state());
  const auto a = saved.model->parameters(), b = resumed.model->parameters();
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(torch::equal(a[i], b[i])) << "parameter " << i;
  const auto sa = saved.optimizer->state(), sb = resumed.optimizer->state();
  ASSERT_EQ(sa.size(), sb.size());
  for (const auto& [key, value] : sa) EXPECT_TRUE(torch::equal(value, sb.at(key))) << key;
}

TEST_F(RunCheckpoint, KeysAndShapesOfFormatVersion1) {
  Parts run(config, data, 1);
  st::save_run_checkpoint(config, run.spec, run.state());
  const st::Checkpoint c = st::load_checkpoint(config.checkpoint_path);
  EXPECT_EQ(c.model, "lenet5");
  EXPECT_EQ(c.method, "sgd");
  EXPECT_EQ(c.tensors.at("counters").numel(), 6);
  EXPECT_EQ(c.tensors.at("counters").scalar_type(), torch::kLong);
  EXPECT_EQ(c.tensors.at("scores").numel(), 8);  // accuracies, loss, train_s and train_s by phase
  EXPECT_EQ(c.tensors.at("scores").scalar_type(), torch::kDouble);
  EXPECT_EQ(c.tensors.at("running_loss").numel(), 2);
  EXPECT_EQ(c.tensors.at("class_counts.counts").sizes(), (std::vector<int64_t>{2, 10}));  // seen, trained
  EXPECT_EQ(c.tensors.at("class_counts.mix").sizes(), (std::vector<int64_t>{2}));         // distance sum, batches
  EXPECT_EQ(c.tensors.at("ledger").scalar_type(), torch::kDouble);
  EXPECT_EQ(c.tensors.count("rng"), 1u);
  EXPECT_EQ(c.tensors.count("optimizer.lr"), 1u);
  EXPECT_EQ(c.tensors.count("model.conv1.weight"), 1u);
}

// Checkpoints written before train_s was split by phase hold four scores, and those written before
// classes were counted no "class_counts": they resume with the phases and class counts at zero.
// Any other count of scores is a corrupt file.
TEST_F(RunCheckpoint, OlderCheckpointsResumeWithPhasesAndClassCountsAtZero) {
  Parts saved(config, data, 1);
  saved.scores = {0.9, 0.85, 0.4, 12.5, {0.25, 2.0, 0.5, 9.5}};
  st::save_run_checkpoint(config, saved.spec, saved.state());
  st::Checkpoint c = st::load_checkpoint(config.checkpoint_path);
  c.tensors["scores"] = c.tensors.at("scores").slice(0, 0, 4).clone();
  ASSERT_EQ(c.tensors.erase("class_counts.counts") + c.tensors.erase("class_counts.mix"), 2u);
  st::save_checkpoint(config.checkpoint_path, c);

  Parts resumed(config, data, 2);
  resumed.scores.phase_s = {1, 1, 1, 1};
  resumed.counters.by_class.add_seen(torch::tensor({3}));
  st::resume_run_checkpoint(config, resumed.state());
  EXPECT_EQ(resumed.scores.train_s, 12.5);
  EXPECT_EQ(resumed.scores.phase_s.values(), (std::vector<double>{0, 0, 0, 0}));
  EXPECT_EQ(resumed.counters.by_class.seen(), std::vector<int64_t>(10, 0));

  c.tensors["scores"] = torch::zeros({5}, torch::kDouble);
  st::save_checkpoint(config.checkpoint_path, c);
  try {
    st::resume_run_checkpoint(config, resumed.state());
    FAIL() << "expected InputError";
  } catch (const skiptrain::InputError& e) {
    EXPECT_NE(std::string(e.what()).find("corrupt run counters"), std::string::npos) << e.what();
  }
}

TEST_F(RunCheckpoint, AnotherMethodsCheckpointIsRefused) {
  Parts run(config, data, 1);
  st::save_run_checkpoint(config, run.spec, run.state());
  st::TrainConfig other = config;
  other.method = "smb";
  try {
    st::resume_run_checkpoint(other, run.state());
    FAIL() << "expected InputError";
  } catch (const skiptrain::InputError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find(config.checkpoint_path), std::string::npos) << message;
    EXPECT_NE(message.find("--method smb"), std::string::npos) << message;
  }
}

// Resumes `config` from its checkpoint; "" when it resumes, else the InputError's message.
std::string resume_error(const st::TrainConfig& config, Parts& run) {
  try {
    st::resume_run_checkpoint(config, run.state());
    return "";
  } catch (const skiptrain::InputError& e) {
    return e.what();
  }
}

TEST_F(RunCheckpoint, ResumingWithOtherEmpLayerRulesIsRefusedNamingTheRulesOfTheRun) {
  config.method = "emp";
  config.emp_layer_keep = {"conv2=0.25"};
  Parts run(config, data, 1);
  st::save_run_checkpoint(config, run.spec, run.state());
  EXPECT_EQ(resume_error(config, run), "");
  st::TrainConfig other = config;
  other.emp_layer_keep = {"none"};
  const std::string message = resume_error(other, run);
  EXPECT_NE(message.find(config.checkpoint_path), std::string::npos) << message;
  EXPECT_NE(message.find("resume with --emp-layer-keep conv2=0.25"), std::string::npos) << message;
  other.emp_layer_keep = {"auto"};  // lenet5's auto is no rules: still not conv2=0.25
  EXPECT_NE(resume_error(other, run), "");
}

TEST_F(RunCheckpoint, AResNetCheckpointFromBeforeAutoResumesOnlyWithTheRulesItRanWith) {
  config.model = "resnet20";
  config.method = "emp";
  Parts run(config, data, 1);
  st::save_run_checkpoint(config, run.spec, run.state());
  EXPECT_EQ(resume_error(config, run), "");  // auto, stored resolved: layer2.*=1,layer3.*=1
  // As written before --emp-layer-keep auto existed: no rules stored.
  st::Checkpoint old = st::load_checkpoint(config.checkpoint_path);
  auto json = nlohmann::json::parse(old.config_json);
  json.erase("emp_layer_rules");
  old.config_json = json.dump();
  st::save_checkpoint(config.checkpoint_path, old);
  const std::string message = resume_error(config, run);
  EXPECT_NE(message.find("--emp-layer-keep none"), std::string::npos) << message;
  st::TrainConfig papers = config;
  papers.emp_layer_keep = {"none"};
  EXPECT_EQ(resume_error(papers, run), "");
}

}  // namespace
