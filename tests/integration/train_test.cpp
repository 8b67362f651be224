// canopy-train end to end, as a user runs it: generate field images, train a
// tiny detector for a few epochs, check the loss falls, evaluate the
// exported package through the inference engine, package it, and survive a
// kill -9 in the middle of training.
#include <gtest/gtest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "common/json.h"
#include "test_support.h"

namespace canopy {
namespace {

using testing::run_shell;
using testing::TempDir;
namespace fs = std::filesystem;

const std::string kTrain = testing::train_binary().string();

// Small enough for CI: 160 px input, a quarter-width network, 8-image batches.
std::string train_command(const fs::path& data, const fs::path& val, const fs::path& out, int epochs,
                          bool quiet = true) {
  return kTrain + " train --data " + data.string() + " --val " + val.string() + " --out " + out.string() +
         " --epochs " + std::to_string(epochs) + " --batch 8 --img 160 --width 0.25 --seed 3 --golden 1" +
         (quiet ? " -q" : "");
}

std::vector<Json> read_history(const fs::path& run) {
  std::vector<Json> lines;
  std::ifstream file(run / "history.jsonl");
  for (std::string line; std::getline(file, line);) lines.push_back(Json::parse(line));
  return lines;
}

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    const std::string canopy = testing::canopy_binary().string();
    for (auto [name, images, seed] : {std::tuple{"train", 96, 1}, std::tuple{"val", 24, 2}}) {
      const auto result = run_shell(canopy + " dataset generate --out " + (dir_->path() / name).string() + " --images " +
                                    std::to_string(images) + " --seed " + std::to_string(seed) + " -q");
      ASSERT_EQ(result.exit_code, 0) << result.output;
    }
  }
  static void TearDownTestSuite() { delete dir_; }
  static fs::path data(const std::string& name) { return dir_->path() / name; }
  static TempDir* dir_;
};
TempDir* TrainTest::dir_ = nullptr;

TEST_F(TrainTest, LossFallsAndThePackageEvaluatesOnTheEngine) {
  TempDir work;
  const fs::path run = work / "run";
  const auto trained = run_shell(train_command(data("train"), data("val"), run, 10));
  ASSERT_EQ(trained.exit_code, 0) << trained.output;
  const std::vector<Json> history = read_history(run);
  ASSERT_EQ(history.size(), 10u);
  EXPECT_LT(history.back()["loss"].get<double>(), history.front()["loss"].get<double>());
  for (const char* file : {"last.pt", "best.pt", "metrics.json", "pr_curve.png", "package/model.onnx",
                           "package/canopy.json", "package/golden/input_0.pb", "package/golden/output_0.pb"}) {
    EXPECT_TRUE(fs::exists(run / file)) << file;
  }
  const Json manifest = Json::parse(testing::read_bytes(run / "package/canopy.json"));
  EXPECT_EQ(manifest["labels"], Json({"healthy", "diseased", "water_stressed"}));
  EXPECT_EQ(manifest["output"]["decoder"], "yolov8-rows");
  EXPECT_TRUE(manifest["metrics"]["map50"].is_number());
  EXPECT_EQ(manifest["input"]["shape"], Json({1, 3, 160, 160}));

  // The device's numbers: the exported package through the inference
  // engine, boxes in image pixels, against validation run in libtorch.
  const auto evaluated = run_shell(kTrain + " eval --model " + (run / "package").string() + " --data " +
                                   data("val").string() + " --out " + (work / "eval").string() + " --json -q");
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const Json engine_metrics = Json::parse(testing::read_bytes(work / "eval/metrics.json"));
  const Json torch_metrics = Json::parse(testing::read_bytes(run / "metrics.json"));
  ASSERT_TRUE(engine_metrics["map50"].is_number());
  EXPECT_GT(torch_metrics["map50"].get<double>(), 0.05) << "ten tiny epochs learn the healthy plants at least";
  EXPECT_NEAR(engine_metrics["map50"].get<double>(), torch_metrics["map50"].get<double>(), 0.03);

  // The package directory is what `canopy package create` accepts.
  const auto packaged = run_shell(testing::canopy_binary().string() + " package create " + (run / "package").string() +
                                  " --output " + (work / "model.zip").string());
  EXPECT_EQ(packaged.exit_code, 0) << packaged.output;

  // Fine-tuning starts from the exported model, as retraining does.
  const auto tuned = run_shell(train_command(data("train"), data("val"), work / "tuned", 1) + " --init-from " +
                               (run / "package").string());
  ASSERT_EQ(tuned.exit_code, 0) << tuned.output;
  const std::vector<Json> tuned_history = read_history(work / "tuned");
  ASSERT_EQ(tuned_history.size(), 1u);
  // A warm start is already far better than the first epoch from scratch.
  EXPECT_LT(tuned_history[0]["loss"].get<double>(), history.front()["loss"].get<double>());
}

// kill -9 in the second epoch, then the same command again: the run resumes
// from the last checkpoint and ends exactly where an uninterrupted run ends.
// Checkpoints are written to a temp file, fsynced and renamed, so the kill
// either finds the old one or the new one, never half of one.
TEST_F(TrainTest, KilledRunResumesToTheSameResult) {
  TempDir work;
  const auto straight = run_shell(train_command(data("train"), data("val"), work / "straight", 3));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  const fs::path run = work / "killed";
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    execl("/bin/bash", "bash", "-c", ("exec " + train_command(data("train"), data("val"), run, 3)).c_str(), nullptr);
    _exit(127);
  }
  // Wait for the first epoch's checkpoint, then kill during the second.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(2);
  while (read_history(run).size() < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(kill(child, SIGKILL), 0);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "training ended before it could be killed";
  const size_t epochs_done = read_history(run).size();
  EXPECT_GE(epochs_done, 1u);
  EXPECT_LT(epochs_done, 3u);

  const auto resumed = run_shell(train_command(data("train"), data("val"), run, 3, false));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos) << resumed.output;
  const std::vector<Json> a = read_history(work / "straight"), b = read_history(run);
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_DOUBLE_EQ(a[i]["loss"].get<double>(), b[i]["loss"].get<double>()) << "epoch " << i + 1;
    EXPECT_EQ(a[i]["map50_95"], b[i]["map50_95"]) << "epoch " << i + 1;
  }
}

TEST_F(TrainTest, BadInputIsAClearError) {
  TempDir work;
  // A missing dataset.
  auto result = run_shell(kTrain + " train --data " + (work / "nope").string() + " --out " + (work / "r").string());
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("nope"), std::string::npos) << result.output;
  // An input size the network cannot take.
  result = run_shell(kTrain + " train --data " + data("train").string() + " --val " + data("val").string() +
                     " --out " + (work / "r").string() + " --img 100 -q");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("multiple of 32"), std::string::npos) << result.output;
  // Fine-tuning from a model canopy-train did not make.
  result = run_shell(train_command(data("train"), data("val"), work / "r2", 1) + " --init-from " +
                     "/usr/share/libonnx-testdata/data/node/test_basic_conv_with_padding/model.onnx");
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.output.find("not exported by canopy-train"), std::string::npos) << result.output;
  // --help works without anything else.
  result = run_shell(kTrain + " train --help");
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_NE(result.output.find("--init-from"), std::string::npos);
}

}  // namespace
}  // namespace canopy
