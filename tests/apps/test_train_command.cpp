// `tapegrad train` end to end: option errors, a short real run, its files, and
// repeating a run from its summary.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/run_command.hpp"
#include "test_helpers.hpp"

namespace {
using test_helpers::contains;
namespace fs = std::filesystem;
std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
// Report 004's linear set: small and quick.
const std::string kToy =
    "--data linear --model 2-3-3-1 --act sigmoid --head sigmoid --loss mse "
    "--bias false --init glorot_sigmoid --lr 0.8 --batch 1 ";
}  // namespace

TEST_CASE("train rejects bad option values before any work, naming the option") {
  const std::pair<const char*, const char*> cases[] = {
      {"--lr -1", "--lr: must be a number greater than 0, got '-1'"},
      {"--lr 0", "--lr: must be a number greater than 0"},
      {"--batch 0", "--batch: must be a number greater than 0, got '0'"},
      {"--epochs 0", "--epochs: must be a number greater than 0"},
      {"--act swish", "--act: unknown activation 'swish'"},
      {"--head maxout", "--head: unknown activation 'maxout'"},
      {"--loss hinge", "--loss: unknown loss 'hinge'"},
      {"--opt lbfgs", "--opt: unknown optimiser 'lbfgs'"},
      {"--init orthogonal", "--init: unknown init 'orthogonal'"},
      {"--dtype f16", "--dtype: unknown dtype 'f16'"},
      {"--model 784-x-10", "--model: model spec '784-x-10': 'x' is not a positive layer size"},
      {"--schedule step:0", "--schedule: 'step:0' is not one of"},
      {"--data foo", "--data: unknown data set 'foo'"},
      {"--normalize bar", "--normalize: unknown mode 'bar'"},
      {"--val-split 1.5", "--val-split"},
      {"--momentum 2", "--momentum"},
  };
  for (const auto& [args, message] : cases) {
    CAPTURE(args);
    const CommandResult r = run_tapegrad(std::string("train ") + args);
    CHECK(r.status == 2);
    CHECK(contains(r.output, message));
    CHECK_FALSE(contains(r.output, "train loss"));  // nothing was trained
  }
}

TEST_CASE("train rejects a model that does not fit the data, naming both") {
  CommandResult r = run_tapegrad("train --data xor --model 784-10");
  CHECK(r.status == 2);
  CHECK(contains(r.output,
                 "--model 784-10: the input size 784 does not match the 2 features of 'xor'"));
  r = run_tapegrad("train --data xor --model 2-4-3");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "the output size 3 does not match the 2 classes of 'xor'"));
  r = run_tapegrad("train --data xor --model 2-4-1 --loss ce");
  CHECK(r.status == 2);
  CHECK(contains(r.output, "one output works with --loss mse, bce or bce_logits"));
}

TEST_CASE("train names missing data and how to fetch it") {
  const CommandResult r = run_tapegrad("train --data mnist --data-dir /nonexistent-tapegrad");
  CHECK(r.status == 1);
  CHECK(contains(r.output, "/nonexistent-tapegrad/mnist"));
  CHECK(contains(r.output, "cmake/fetch_data.sh mnist"));
}

TEST_CASE("train fails before training when an output file cannot be written") {
  const std::string plain = temp_path("train_plain.txt");  // a file where a directory must be
  std::ofstream(plain) << "a file\n";
  const CommandResult r =
      run_tapegrad("train " + kToy + "--epochs 2 --metrics " + plain + "/m.csv");
  CHECK(r.status == 2);
  CHECK_MESSAGE(contains(r.output, "--metrics: cannot write '" + plain +
                                       "/m.csv': cannot create "
                                       "directory '" +
                                       plain + "': Not a directory"),
                r.output);
  CHECK_FALSE(contains(r.output, "train loss"));
}

TEST_CASE("train creates the missing directories of its output files") {
  const fs::path dir = temp_path("train_outputs");
  fs::remove_all(dir);
  const CommandResult r = run_tapegrad("train " + kToy + "--epochs 2 --metrics " +
                                       (dir / "m" / "metrics.csv").string() + " --summary-json " +
                                       (dir / "s" / "summary.json").string());
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(contains(read_file((dir / "m" / "metrics.csv").string()), "epoch,train_loss"));
  CHECK(nlohmann::json::parse(read_file((dir / "s" / "summary.json").string()))
            .contains("test_accuracy"));
}

TEST_CASE("train on report 004's linear set converges below the target loss") {
  const std::string metrics = temp_path("linear_metrics.csv");
  const std::string summary = temp_path("linear_summary.json");
  const CommandResult r =
      run_tapegrad("train " + kToy + "--epochs 500 --target-loss 0.04 --seed 1 " + "--metrics " +
                   metrics + " --summary-json " + summary);
  REQUIRE(r.status == 0);
  CHECK(contains(r.output, "training loss target reached"));
  const nlohmann::json s = nlohmann::json::parse(read_file(summary));
  CHECK(s["final_train_loss"].get<double>() < 0.04);
  CHECK(s["reached_target_loss"].get<bool>());
  CHECK(s["config"]["lr"].get<double>() == doctest::Approx(0.8));
  CHECK(s["config"]["model"].get<std::string>() == "2-3-3-1");
  CHECK(s["config"]["seed"].get<int>() == 1);
  // One CSV row per epoch after the header.
  const std::string csv = read_file(metrics);
  const auto rows = std::count(csv.begin(), csv.end(), '\n');
  CHECK(rows == s["epochs"].get<int64_t>() + 1);
  CHECK(csv.rfind("epoch,train_loss,train_accuracy,", 0) == 0);
}

TEST_CASE("a summary's config repeats the run exactly; the command line overrides it") {
  const std::string first = temp_path("first.json"), second = temp_path("second.json");
  REQUIRE(run_tapegrad("train " + kToy + "--epochs 5 --seed 7 --summary-json " + first).status ==
          0);
  REQUIRE(run_tapegrad("train --config " + first + " --summary-json " + second).status == 0);
  const auto a = nlohmann::json::parse(read_file(first));
  const auto b = nlohmann::json::parse(read_file(second));
  CHECK(a["final_train_loss"].get<double>() == b["final_train_loss"].get<double>());
  CHECK(a["test_accuracy"].get<double>() == b["test_accuracy"].get<double>());
  CHECK(a["config"] == b["config"]);
  const std::string third = temp_path("third.json");
  REQUIRE(run_tapegrad("train --config " + first + " --seed 8 --summary-json " + third).status ==
          0);
  const auto c = nlohmann::json::parse(read_file(third));
  CHECK(c["config"]["seed"].get<int>() == 8);
  CHECK(c["final_train_loss"].get<double>() != a["final_train_loss"].get<double>());
}

TEST_CASE("--config errors name the file and the key") {
  const std::string bad = temp_path("bad_config.json");
  std::ofstream(bad) << R"({"learning_rate": 0.1})";
  CommandResult r = run_tapegrad("train --config " + bad);
  CHECK(r.status != 0);
  CHECK(contains(r.output, "unknown option 'learning_rate'"));
  std::ofstream(bad) << "{not json";
  r = run_tapegrad("train --config " + bad);
  CHECK(contains(r.output, "not valid JSON"));
  r = run_tapegrad("train --config /nonexistent.json");
  CHECK(contains(r.output, "cannot open '/nonexistent.json'"));
  std::ofstream(bad) << R"({"lr": -3})";
  r = run_tapegrad("train --config " + bad);
  CHECK(contains(r.output, "option 'lr'"));
  CHECK(contains(r.output, "greater than 0"));
}

TEST_CASE("train reads a CSV file and reports a bad field with its line") {
  const std::string good = temp_path("points.csv");
  {
    std::ofstream out(good);
    out << "x,y,label\n";
    for (int i = 0; i < 40; ++i)
      out << i % 7 << "," << (i * 3) % 5 << "," << (i % 7 > 3 ? 1 : 0) << "\n";
  }
  CommandResult r =
      run_tapegrad("train --data csv:" + good + " --model 2-4-2 --act tanh --epochs 3 --lr 0.1");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "test accuracy"));
  const std::string bad = temp_path("bad.csv");
  std::ofstream(bad) << "1,2,0\n3,oops,1\n";
  r = run_tapegrad("train --data csv:" + bad + " --model 2-2");
  CHECK(r.status == 1);
  CHECK(contains(r.output, "bad.csv:2: column 2 of 3"));
  CHECK(contains(r.output, "oops"));
}

TEST_CASE("train --flush-denormal trains as without it where no subnormal float arises") {
  const CommandResult plain = run_tapegrad("train " + kToy + "--epochs 3 --seed 1");
  const CommandResult flushed =
      run_tapegrad("train " + kToy + "--epochs 3 --seed 1 --flush-denormal");
  REQUIRE(plain.status == 0);
  REQUIRE(flushed.status == 0);
  auto final_line = [](const std::string& out) { return out.substr(out.rfind("test accuracy")); };
  CHECK(final_line(flushed.output).substr(0, 40) == final_line(plain.output).substr(0, 40));
}
