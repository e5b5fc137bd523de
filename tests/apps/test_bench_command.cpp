// `tapegrad bench` end to end, on the synthetic data (CI has no MNIST) with few
// steps: the JSON figures and how they relate, the GEMM flop count worked out by
// hand, several thread counts, the memory run, and the argument errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "apps/run_command.hpp"
#include "test_helpers.hpp"

namespace {
using nlohmann::json;
using test_helpers::contains;
namespace fs = std::filesystem;

// Runs `tapegrad bench <args> --json <temp file>` and reads the file back (null
// when the run failed or wrote nothing).
json run_bench_json(const std::string& args, const std::string& file, CommandResult& r) {
  const std::string path = temp_path(file);
  fs::remove(path);
  r = run_tapegrad("bench " + args + " --json " + path);
  std::ifstream in(path);
  if (r.status != 0 || !in) return nullptr;
  return json::parse(in);
}

// The number printed right after `prefix` in `text`, if any.
std::optional<double> number_after(const std::string& text, const std::string& prefix) {
  const size_t at = text.find(prefix);
  if (at == std::string::npos) return std::nullopt;
  std::istringstream in(text.substr(at + prefix.size()));
  double value = 0;
  if (!(in >> value)) return std::nullopt;
  return value;
}

bool rel_close(double a, double b, double rel) {
  return std::abs(a - b) <= rel * std::max(std::abs(a), std::abs(b));
}
}  // namespace

TEST_CASE("tapegrad bench: one train-step config, its JSON figures and how they relate") {
  CommandResult r;
  const json j = run_bench_json("--config mlp-small-b64 --data synthetic --steps 20 --repeats 3",
                                "bench_step.json", r);
  INFO(r.output);
  REQUIRE(r.status == 0);
  REQUIRE(j.is_object());
  CHECK(contains(r.output, "tapegrad bench on "));
  CHECK(contains(r.output, "mlp-small-b64"));
  CHECK(contains(r.output, "us/step"));
  CHECK_FALSE(contains(r.output, "threads vs"));  // one thread count: no speedup line

  REQUIRE(j["machine"]["cpu"].is_string());
  CHECK_FALSE(j["machine"]["cpu"].get<std::string>().empty());
  CHECK(j["machine"]["online_cores"].get<int>() >= 1);

  REQUIRE(j["results"].size() == 1);
  const json& b = j["results"][0];
  CHECK(b["config"] == "mlp-small-b64");
  CHECK(b["model"] == "784-128-10");
  CHECK(b["activation"] == "sigmoid");
  CHECK(b["data"] == "synthetic");
  CHECK(b["batch"] == 64);
  CHECK(b["threads"] == 1);
  CHECK(b["steps_per_repeat"] == 20);
  CHECK(b["repeats"] == 3);

  const double step = b["step_seconds"].get<double>();
  CHECK(step > 0);
  CHECK(rel_close(b["samples_per_second"].get<double>(), 64.0 / step, 1e-9));
  const double gemm = b["gemm_only_step_seconds"].get<double>();
  CHECK(gemm > 0);
  CHECK(rel_close(b["step_over_gemm_only"].get<double>(), step / gemm, 1e-9));
  CHECK(rel_close(b["gflops"].get<double>(), b["gemm_gflops_per_step"].get<double>() / step, 1e-9));

  // Three repeats; the step time reported is their median.
  REQUIRE(b["repeat_step_seconds"].size() == 3);
  std::vector<double> repeats = b["repeat_step_seconds"].get<std::vector<double>>();
  for (double s : repeats) CHECK(s > 0);
  std::sort(repeats.begin(), repeats.end());
  CHECK(step == repeats[1]);

  // The steady-state step makes no heap allocation (operator new or pool growth).
  CHECK(b["allocations_per_step"].get<double>() == 0.0);
  REQUIRE(b["last_loss"].is_number());  // NaN or infinity would be written as null
  CHECK(std::isfinite(b["last_loss"].get<double>()));
  CHECK(b["last_loss"].get<double>() > 0);
  CHECK(b["peak_rss_bytes"].get<int64_t>() > 0);
}

TEST_CASE("tapegrad bench: the GEMM flops per step, worked out from the layer sizes") {
  // mlp-small-b64: 784-128-10, batch 64. Each GEMM is 2*M*N*K flops; every layer
  // has its forward and its dW GEMM, every layer but the first its dX GEMM.
  const double small = 2.0 * 64 * 784 * 128    // layer 1 forward
                       + 2.0 * 64 * 784 * 128  // layer 1 dW
                       + 2.0 * 64 * 128 * 10   // layer 2 forward
                       + 2.0 * 64 * 128 * 10   // layer 2 dW
                       + 2.0 * 64 * 128 * 10;  // layer 2 dX
  CHECK(small == 26'181'632.0);
  CommandResult r;
  json j = run_bench_json("--config mlp-small-b64 --data synthetic --steps 20 --repeats 1",
                          "bench_flops_small.json", r);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(rel_close(j["results"][0]["gemm_gflops_per_step"].get<double>(), small * 1e-9, 1e-12));

  // mlp-large-b256: 784-1024-1024-10, batch 256; two layers past the first have a dX.
  const double large = 2 * (2.0 * 256 * 784 * 1024)     // layer 1: forward, dW
                       + 3 * (2.0 * 256 * 1024 * 1024)  // layer 2: forward, dW, dX
                       + 3 * (2.0 * 256 * 1024 * 10);   // layer 3: forward, dW, dX
  CHECK(large == 2'448'424'960.0);
  j = run_bench_json("--config mlp-large-b256 --data synthetic --steps 1 --repeats 1",
                     "bench_flops_large.json", r);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(j["results"][0]["model"] == "784-1024-1024-10");
  CHECK(rel_close(j["results"][0]["gemm_gflops_per_step"].get<double>(), large * 1e-9, 1e-12));
}

TEST_CASE("tapegrad bench: --threads 1,2 runs the config twice and prints the speedup") {
  CommandResult r;
  const json j =
      run_bench_json("--config mlp-small-b64 --data synthetic --steps 20 --repeats 3 --threads 1,2",
                     "bench_threads.json", r);
  INFO(r.output);
  REQUIRE(r.status == 0);
  REQUIRE(j["results"].size() == 2);
  const json& one = j["results"][0];
  const json& two = j["results"][1];
  CHECK(one["config"] == "mlp-small-b64");
  CHECK(two["config"] == "mlp-small-b64");
  CHECK(one["threads"] == 1);
  CHECK(two["threads"] == 2);
  // The two runs take turns repeat by repeat, each on its own model: both trained
  // on the same batches from the same weights (nothing is split at this size), so
  // they end at the same loss, and each timed all of its repeats.
  CHECK(one["last_loss"].get<double>() == two["last_loss"].get<double>());
  CHECK(one["repeat_step_seconds"].size() == 3);
  CHECK(two["repeat_step_seconds"].size() == 3);
  CHECK(contains(r.output, " 1 thr  tapegrad"));
  CHECK(contains(r.output, " 2 thr  tapegrad"));
  // "mlp-small-b64    2 threads vs 1: 1.20x samples/s": the 2-thread rate over the 1-thread one.
  const std::optional<double> speedup = number_after(r.output, "2 threads vs 1: ");
  REQUIRE(speedup.has_value());
  CHECK(contains(r.output, "x samples/s"));
  const double ratio =
      two["samples_per_second"].get<double>() / one["samples_per_second"].get<double>();
  CHECK(std::abs(*speedup - ratio) <= 0.0051);
}

TEST_CASE("tapegrad bench: the memory config reports RSS after each epoch and fit's allocations") {
  CommandResult r;
  const json j =
      run_bench_json("--config memory --data synthetic --epochs 2", "bench_memory.json", r);
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK(contains(r.output, "peak RSS"));
  REQUIRE(j["results"].size() == 1);
  const json& m = j["results"][0];
  CHECK(m["config"] == "memory");
  CHECK(m["data"] == "synthetic");
  CHECK(m["epochs"] == 2);
  // The synthetic set's 4,096 samples of 784 f32 features serve as train and test.
  const int64_t dataset = int64_t{4096} * 784 * 4;  // train and test share one tensor
  CHECK(m["dataset_f32_bytes"].get<int64_t>() == dataset);
  CHECK(m["peak_rss_limit_bytes"].get<int64_t>() == dataset + 50 * 1024 * 1024);
  REQUIRE(m["rss_after_each_epoch_bytes"].size() == 2);
  REQUIRE(m["epoch_seconds"].size() == 2);
  const auto peak = m["peak_rss_bytes"].get<int64_t>();
  for (const json& rss : m["rss_after_each_epoch_bytes"]) {
    CHECK(rss.get<int64_t>() > 0);
    CHECK(peak >= rss.get<int64_t>());
  }
  for (const json& s : m["epoch_seconds"]) CHECK(s.get<double>() > 0);
  CHECK(m["rss_before_training_bytes"].get<int64_t>() > 0);
  CHECK(m["test_accuracy"].get<double>() >= 0);
  CHECK(m["test_accuracy"].get<double>() <= 1);
  // fit (`tapegrad train`'s loop), once warm, allocates nothing per step: counted by
  // the tapegrad program's counting operator new and the pool's system allocations.
  CHECK(m["allocations_per_step_after_epoch_1"].get<double>() == 0.0);
  CHECK(contains(r.output, "0.00 allocs/step after epoch 1"));
}

TEST_CASE("tapegrad bench: argument errors exit 2 before any benchmark runs") {
  // A regular file where --json needs a directory.
  const std::string plain = temp_path("plain.txt");
  std::ofstream(plain) << "a file\n";
  const std::pair<std::string, std::string> bad[] = {
      {"--config foo",
       "--config: unknown benchmark configuration 'foo'; valid: memory, mlp-small-b64, "
       "mlp-small-b1, mlp-large-b256, gradcheck, all"},
      {"--threads 0", "--threads: must be a number greater than 0, got '0'"},
      {"--threads 1,0", "--threads: must be a number greater than 0, got '0'"},
      {"--data foo", "--data: foo not in"},
      {"--repeats 0", "--repeats: must be a number greater than 0, got '0'"},
      {"--steps 0", "--steps: must be a number greater than 0, got '0'"},
      {"--config mlp-small-b64 --data synthetic --steps 20 --repeats 1 --json " + plain + "/b.json",
       "--json: cannot write '" + plain + "/b.json': cannot create directory '" + plain +
           "': Not a directory"},
  };
  for (const auto& [args, message] : bad) {
    CAPTURE(args);
    const CommandResult r = run_tapegrad("bench " + args);
    CHECK(r.status == 2);
    CHECK_MESSAGE(contains(r.output, message), r.output);
    CHECK_FALSE(contains(r.output, "tapegrad bench on"));  // nothing was timed
    CHECK_FALSE(contains(r.output, "us/step"));
  }
}

TEST_CASE("tapegrad bench: --vs-libtorch without the baseline program says how to build it") {
  const fs::path beside = fs::path(TAPEGRAD_BIN).parent_path() / "tapegrad-libtorch-bench";
  if (fs::exists(beside)) {
    MESSAGE("the libtorch baseline is built (" << beside.string() << "): nothing to check");
    return;
  }
  // The variable would name the baseline program: run without it.
  const char* env = std::getenv("TAPEGRAD_LIBTORCH_BENCH");
  const std::optional<std::string> saved = env ? std::optional<std::string>(env) : std::nullopt;
  unsetenv("TAPEGRAD_LIBTORCH_BENCH");
  const CommandResult r = run_tapegrad(
      "bench --vs-libtorch --config mlp-small-b64 --data synthetic --steps 20 --repeats 1");
  if (saved) setenv("TAPEGRAD_LIBTORCH_BENCH", saved->c_str(), 1);
  CHECK(r.status == 2);
  CHECK(contains(r.output, "--vs-libtorch needs the libtorch baseline program"));
  CHECK(contains(r.output, "-DTAPEGRAD_BENCH_LIBTORCH=ON"));
  CHECK(contains(r.output, "TAPEGRAD_LIBTORCH_BENCH"));
  CHECK_FALSE(contains(r.output, "tapegrad bench on"));  // it fails before any work
  CHECK_FALSE(contains(r.output, "us/step"));
}
