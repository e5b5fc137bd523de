// `tapegrad experiment` end to end on tiny budgets: the listing, bad input, the
// files a study writes, reuse of finished runs, and the CIFAR-10 fallback.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/run_command.hpp"
#include "tapegrad/nn/data.hpp"

namespace fs = std::filesystem;

namespace {
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = temp_path(name);
  fs::remove_all(dir);
  return dir;
}
size_t count_files(const fs::path& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
  return n;
}
std::vector<uint8_t> noise(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) {
    seed = seed * 1664525u + 1013904223u;
    b = static_cast<uint8_t>(seed >> 24);
  }
  return v;
}
std::vector<uint8_t> labels(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i % 10);
  return v;
}
// A tiny Fashion-MNIST in IDX format: 60 training and 20 test images of noise.
void write_fake_fashion(const fs::path& dir) {
  fs::create_directories(dir / "fashion-mnist");
  for (const auto& [stem, n] : {std::pair{"train", 60}, std::pair{"t10k", 20}}) {
    const std::vector<int64_t> image_dims = {n, 28, 28}, label_dims = {n};
    tapegrad::nn::write_idx(
        (dir / "fashion-mnist" / (std::string(stem) + "-images-idx3-ubyte")).string(),
        noise(static_cast<size_t>(n) * 784, 7), image_dims);
    tapegrad::nn::write_idx(
        (dir / "fashion-mnist" / (std::string(stem) + "-labels-idx1-ubyte")).string(),
        labels(static_cast<size_t>(n)), label_dims);
  }
}
// A tiny CIFAR-10 binary version: 12 records per batch file.
void write_fake_cifar(const fs::path& dir) {
  const fs::path bin = dir / "cifar-10-batches-bin";
  fs::create_directories(bin);
  for (const std::string name : {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                 "data_batch_5", "test_batch"}) {
    std::vector<uint8_t> bytes;
    for (int r = 0; r < 12; ++r) {
      bytes.push_back(static_cast<uint8_t>(r % 10));
      const std::vector<uint8_t> pixels = noise(3072, static_cast<uint32_t>(r + 1));
      bytes.insert(bytes.end(), pixels.begin(), pixels.end());
    }
    tapegrad::nn::write_bytes((bin / (name + ".bin")).string(), bytes);
  }
}
}  // namespace

TEST_CASE("experiment --list describes the five studies") {
  const CommandResult r = run_tapegrad("experiment --list");
  CHECK(r.status == 0);
  for (const char* name : {"mnist-width-depth  (report 000)",
                           "mnist-depth-activation  (report 001)", "mnist-sgd-small  (report 002)",
                           "cifar10-regularization  (report 003)", "xor-linear  (report 004)"}) {
    CHECK(contains(r.output, name));
  }
  CHECK(contains(r.output, "--quick: "));
  CHECK(contains(r.output, "--full: "));
}

TEST_CASE("experiment rejects a bad NAME or options with exit 2, listing the studies") {
  CommandResult r = run_tapegrad("experiment mnist-wide");
  CHECK(r.status == 2);
  CHECK(contains(r.output,
                 "NAME: unknown study 'mnist-wide': expected one of mnist-width-depth, "
                 "mnist-depth-activation, mnist-sgd-small, cifar10-regularization, "
                 "xor-linear"));
  r = run_tapegrad("experiment");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "experiment: give a study NAME (one of mnist-width-depth,"));
  CHECK(contains(r.output, ") or --list"));
  r = run_tapegrad("experiment xor-linear --quick --full");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "--quick excludes --full"));
  r = run_tapegrad("experiment xor-linear --seeds 0");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "--seeds: must be a number greater than 0, got '0'"));
}

TEST_CASE("experiment fails before training when --out cannot be written") {
  const fs::path dir = fresh_dir("exp-cmd-unwritable");
  fs::create_directories(dir);
  std::ofstream(dir / "file") << "x";
  const std::string out = (dir / "file" / "study").string();
  const CommandResult r = run_tapegrad("experiment xor-linear --out " + out);
  CHECK(r.status == 1);
  CHECK(contains(r.output, "--out " + out + ": cannot create '" + out + "': Not a directory"));
  CHECK_FALSE(contains(r.output, "[1/"));  // no run started
}

TEST_CASE("experiment writes report, metrics, summary, runs and figures, then reuses the runs") {
  const fs::path out = fresh_dir("exp-cmd-xor");
  const std::string args = "experiment xor-linear --seeds 1 --max-epochs 4 --out " + out.string();
  CommandResult r = run_tapegrad(args);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(
      contains(r.output, "experiment xor-linear (--quick): 14 configurations x 1 seeds = 14 runs"));
  CHECK(contains(r.output, "[14/14] xor-zeros seed 0: test accuracy"));
  CHECK(contains(r.output, "(14 runs trained, 0 reused;"));
  CHECK(count_files(out / "runs") == 14);

  const std::string md = slurp(out / "report.md");
  CHECK(contains(md, "# Two toy sets: a 2-3-3-1 sigmoid network without biases (report 004)"));
  CHECK(contains(md, "- Command: `tapegrad experiment xor-linear --quick --seeds 1 --out " +
                         out.string() + " --max-epochs 4`"));
  CHECK(contains(md, "### Training until the loss is below 0.04"));
  CHECK(contains(md, "| linear (n = 100), zero init, lr 0.8 | harder to converge |"));

  // One row per run per epoch.
  const std::string csv = slurp(out / "metrics.csv");
  const nlohmann::json summary = nlohmann::json::parse(slurp(out / "summary.json"));
  size_t epochs = 0;
  for (const auto& entry : fs::directory_iterator(out / "runs")) {
    epochs += nlohmann::json::parse(slurp(entry.path()))["epochs"].size();
  }
  CHECK(static_cast<size_t>(std::count(csv.begin(), csv.end(), '\n')) == 1 + epochs);
  CHECK(summary["study"] == "xor-linear");
  CHECK(summary["runs_trained"] == 14);
  CHECK(summary["runs"].size() == 14);
  CHECK(summary["runs"][0]["config"]["epochs"] == 4);

  CHECK(fs::exists(out / "figures" / "figures.gp"));
  CHECK(fs::exists(out / "figures" / "data" / "lr_xor.csv"));
  if (summary["figure_status"] == "drawn") {  // gnuplot is installed
    for (const char* f : {"decision_boundaries", "learning_rates", "initialisation"}) {
      CHECK(fs::file_size(out / "figures" / (std::string(f) + ".png")) > 1000);
      CHECK(fs::file_size(out / "figures" / (std::string(f) + ".svg")) > 1000);
      CHECK(contains(md, "!["));
    }
  } else {
    CHECK(contains(md, "apt-get install gnuplot-nox"));
  }

  // A second invocation reuses every finished run.
  r = run_tapegrad(args);
  REQUIRE(r.status == 0);
  CHECK(contains(r.output, "(finished earlier, reused)"));
  CHECK(contains(r.output, "(0 runs trained, 14 reused;"));
  CHECK(contains(slurp(out / "report.md"), "0 trained by this invocation, 14 reused"));
}

TEST_CASE("cifar10-regularization falls back to Fashion-MNIST without CIFAR-10, and says so") {
  const fs::path data = fresh_dir("exp-cmd-data");
  write_fake_fashion(data);
  const fs::path out = fresh_dir("exp-cmd-fallback");
  const CommandResult r = run_tapegrad(
      "experiment cifar10-regularization --seeds 1 --max-epochs 1 "
      "--data-dir " +
      data.string() + " --out " + out.string());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(r.output, "note: CIFAR-10 was not found: '" + data.string() +
                               "' holds no cifar-10-batches-bin directory"));
  const std::string md = slurp(out / "report.md");
  // Said at the top, before anything else.
  CHECK(md.find("> **Data:** CIFAR-10 was not found") < md.find("## What was run"));
  CHECK(contains(md, "ran on **Fashion-MNIST** instead of CIFAR-10"));
  CHECK(contains(md, "data fashion-mnist"));
  CHECK(contains(md, "| tanh-128 | tanh | 128 | 0 | 0 | 0.01 | 784-128-10 |"));
  CHECK(contains(md, "## Numerical gradient check (report section 4)"));
  CHECK(contains(md, "| Hidden bias | 1.23e-05 | 0.000323 | 0.000311 |"));
  CHECK(contains(md, "tapegrad's f64 gradient check"));
  CHECK(contains(md, "| 0.weight | [128, 784] |"));

  // With CIFAR-10 in --data-dir, the study runs on it.
  write_fake_cifar(data);
  const fs::path out2 = fresh_dir("exp-cmd-cifar");
  const CommandResult c = run_tapegrad(
      "experiment cifar10-regularization --seeds 1 --max-epochs 1 "
      "--data-dir " +
      data.string() + " --out " + out2.string());
  REQUIRE_MESSAGE(c.status == 0, c.output);
  CHECK_FALSE(contains(c.output, "CIFAR-10 was not found"));
  const std::string md2 = slurp(out2 / "report.md");
  CHECK(contains(md2, "> **Data:** CIFAR-10 (cifar10)."));
  CHECK(contains(md2, "3072-128-10"));
  CHECK(contains(md2, "| 0.weight | [128, 3072] |"));
}
