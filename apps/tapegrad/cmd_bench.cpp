// `tapegrad bench`: times the training steps the performance targets are stated
// for (bench/configs.cpp), against the GEMM-only roofline and, with
// --vs-libtorch, against the libtorch baseline on the same inputs.
#include <cblas.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "bench/configs.hpp"
#include "bench/libtorch_baseline.hpp"
#include "bench/process_stats.hpp"
#include "bench/train_bench.hpp"
#include "data_source.hpp"
#include "gradcheck_run.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/commands.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/train.hpp"
#include "tapegrad/output_file.hpp"

namespace tapegrad::apps {

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace bench;

struct BenchCommand {
  std::string config = "all";
  std::vector<int> threads{1};
  std::string json_path;
  bool vs_libtorch = false;
  bool flush_denormal = false;
  std::string data = "mnist";
  std::string data_dir;
  int repeats = 0;    // 0: the config's own
  int64_t steps = 0;  // steps per repeat; 0: the config's own
  int epochs = 0;     // memory config; 0: its own
  uint64_t seed = 0;
};

double mib(int64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  }
  return "unknown";
}

json machine_description() {
  return {{"cpu", cpu_model()},
          {"online_cores", sysconf(_SC_NPROCESSORS_ONLN)},
          {"openblas", openblas_get_config()},
          {"tapegrad_version", TAPEGRAD_VERSION}};
}

BenchConfig with_overrides(BenchConfig config, const BenchCommand& c) {
  if (c.repeats > 0) config.repeats = c.repeats;
  // The warm-up stays the config's own: the tape and pool reach their steady size in it.
  if (c.steps > 0) config.steps_per_repeat = c.steps;
  if (c.epochs > 0) config.epochs = c.epochs;
  return config;
}

// One thread count's figures, with its GEMM-only time and libtorch run (at the
// current thread count).
json describe_train_step(const BenchConfig& config, const BenchData& data, int threads,
                         const TrainStepResult& ours, const BenchInputs& inputs,
                         const BenchCommand& c, const std::string& exchange_dir) {
  const StepTiming gemm = run_gemm_only(config);
  const double flops = gemm_flops_per_step(config);
  const double step = ours.timing.median_step_seconds;
  json r = {{"config", config.name},
            {"model", sizes_text(config)},
            {"activation", nn::activation_name(config.hidden)},
            {"batch", config.batch},
            {"threads", threads},
            {"data", data.source},
            {"steps_per_repeat", config.steps_per_repeat},
            {"repeats", config.repeats},
            {"step_seconds", step},
            {"repeat_step_seconds", ours.timing.repeat_step_seconds},
            {"samples_per_second", static_cast<double>(config.batch) / step},
            {"gemm_gflops_per_step", flops * 1e-9},
            {"gflops", flops / step * 1e-9},
            {"gemm_only_step_seconds", gemm.median_step_seconds},
            {"gemm_only_gflops", flops / gemm.median_step_seconds * 1e-9},
            {"step_over_gemm_only", step / gemm.median_step_seconds},
            {"allocations_per_step", ours.allocations_per_step},
            {"rss_growth_bytes", ours.rss_growth_bytes},
            {"peak_rss_bytes", peak_resident_bytes()},
            {"last_loss", ours.last_loss}};
  if (c.vs_libtorch) {
    const LibtorchResult torch = run_libtorch_steps(libtorch_baseline_path(), config, data, inputs,
                                                    threads, c.flush_denormal, exchange_dir);
    r["libtorch"] = {{"step_seconds", torch.timing.median_step_seconds},
                     {"repeat_step_seconds", torch.timing.repeat_step_seconds},
                     {"samples_per_second",
                      static_cast<double>(config.batch) / torch.timing.median_step_seconds},
                     {"peak_rss_bytes", torch.peak_rss_bytes},
                     {"last_loss", torch.last_loss},
                     {"version", torch.torch_version}};
    r["speedup_vs_libtorch"] = torch.timing.median_step_seconds / step;
  }
  return r;
}

// A train-step config at each thread count: tapegrad, the GEMM-only time and
// optionally libtorch. The thread counts take turns repeat by repeat (see
// TapegradSteps), so their ratio is not skewed by the load changing between runs.
std::vector<json> bench_train_step(const BenchConfig& config, const BenchData& data,
                                   const BenchCommand& c, const std::string& exchange_dir) {
  const BenchInputs inputs = make_bench_inputs(config, data, c.seed);
  std::vector<std::unique_ptr<TapegradSteps>> runs;
  for (int threads : c.threads) {
    set_num_threads(threads);
    runs.push_back(std::make_unique<TapegradSteps>(config, data, inputs));
  }
  for (int r = 0; r < config.repeats; ++r) {
    for (size_t i = 0; i < runs.size(); ++i) {
      set_num_threads(c.threads[i]);
      runs[i]->time_repeat();
    }
  }
  std::vector<json> results;
  for (size_t i = 0; i < runs.size(); ++i) {
    set_num_threads(c.threads[i]);
    results.push_back(describe_train_step(config, data, c.threads[i], runs[i]->result(), inputs, c,
                                          exchange_dir));
  }
  return results;
}

// `tapegrad train`'s loop (fit) on MNIST for a few epochs: RSS after each.
json bench_memory(const BenchConfig& config, const BenchCommand& c, int threads) {
  const nn::DataSplits splits = load_bench_splits(c.data, c.data_dir);
  const int64_t dataset_bytes = dataset_f32_bytes(splits);
  Generator gen(c.seed);
  auto model = nn::make_mlp({.sizes = config.sizes, .hidden = config.hidden});
  nn::init_module(*model, nn::InitSpec{}, gen);
  nn::SGD optimizer(model->parameters(), {.lr = config.lr, .momentum = config.momentum});
  nn::TrainOptions options;
  options.epochs = config.epochs;
  options.batch_size = config.batch;
  std::vector<int64_t> epoch_rss;
  std::vector<double> epoch_seconds;
  nn::TrainCallbacks callbacks;
  callbacks.on_epoch = [&](const nn::EpochReport& e) {
    epoch_rss.push_back(resident_bytes());
    epoch_seconds.push_back(e.seconds);
  };
  // Allocations of fit's steps after the first epoch: counted from the end of an
  // epoch's first batch to the end of its last, so that evaluation is left out.
  int64_t steady_allocations = 0, steady_batches = 0, at_first_batch = 0;
  callbacks.on_batch = [&](int epoch, int64_t batch, int64_t batches, int64_t) {
    if (epoch < 2) return;
    if (batch == 1) at_first_batch = allocation_count();
    if (batch == batches && batches > 1) {
      steady_allocations += allocation_count() - at_first_batch;
      steady_batches += batches - 1;
    }
  };
  const int64_t rss_before_training = resident_bytes();
  const nn::TrainResult result = nn::fit(*model, optimizer, nullptr, splits,
                                         nn::LossKind::cross_entropy, options, gen, callbacks);
  const int64_t limit = dataset_bytes + 50 * 1024 * 1024;
  return {{"config", config.name},
          {"model", sizes_text(config)},
          {"threads", threads},
          {"data", c.data},
          {"epochs", config.epochs},
          {"dataset_f32_bytes", dataset_bytes},
          {"rss_before_training_bytes", rss_before_training},
          {"rss_after_each_epoch_bytes", epoch_rss},
          {"epoch_seconds", epoch_seconds},
          {"peak_rss_bytes", peak_resident_bytes()},
          {"peak_rss_limit_bytes", limit},
          {"test_accuracy", result.final_test.accuracy},
          {"allocations_per_step_after_epoch_1",
           steady_batches > 0
               ? static_cast<double>(steady_allocations) / static_cast<double>(steady_batches)
               : 0.0}};
}

json bench_gradcheck(const BenchConfig& config, const BenchCommand& c, int threads) {
  GradcheckCommand check;
  check.model = sizes_text(config);
  check.act = nn::activation_name(config.hidden);
  check.batch = config.batch;
  check.seed = c.seed;
  std::vector<double> seconds;
  int status = 0;
  for (int r = 0; r < config.repeats; ++r) {
    std::ostringstream sink;
    const auto start = std::chrono::steady_clock::now();
    status = run_gradcheck(check, sink);
    seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  const StepTiming t = summarise_repeats(seconds);
  return {{"config", config.name},
          {"model", check.model},
          {"threads", threads},
          {"batch", config.batch},
          {"mode", "full"},
          {"seconds", t.median_step_seconds},
          {"repeat_seconds", seconds},
          {"passed", status == 0},
          {"peak_rss_bytes", peak_resident_bytes()}};
}

void print_train_step(const json& r) {
  fmt::print(
      "{:<16} {:>2} thr  tapegrad {:>10.1f} us/step {:>9.0f} samples/s {:>5.1f} GFLOP/s | "
      "GEMM-only {:.1f} us, step/GEMM-only {:.2f} | {:.2f} allocs/step | peak RSS {:.1f} MiB\n",
      r["config"].get<std::string>(), r["threads"].get<int>(),
      r["step_seconds"].get<double>() * 1e6, r["samples_per_second"].get<double>(),
      r["gflops"].get<double>(), r["gemm_only_step_seconds"].get<double>() * 1e6,
      r["step_over_gemm_only"].get<double>(), r["allocations_per_step"].get<double>(),
      mib(r["peak_rss_bytes"].get<int64_t>()));
  if (r.contains("libtorch")) {
    const json& t = r["libtorch"];
    fmt::print(
        "{:<16} {:>2} thr  libtorch {:>10.1f} us/step {:>9.0f} samples/s                 | "
        "tapegrad {:.2f}x libtorch | last loss {:.6f} vs libtorch {:.6f} | peak RSS {:.1f} MiB\n",
        "", r["threads"].get<int>(), t["step_seconds"].get<double>() * 1e6,
        t["samples_per_second"].get<double>(), r["speedup_vs_libtorch"].get<double>(),
        r["last_loss"].get<double>(), t["last_loss"].get<double>(),
        mib(t["peak_rss_bytes"].get<int64_t>()));
  }
}

void print_memory(const json& r) {
  std::vector<std::string> per_epoch;
  for (int64_t b : r["rss_after_each_epoch_bytes"])
    per_epoch.push_back(fmt::format("{:.1f}", mib(b)));
  fmt::print(
      "{:<16} {:>2} thr  peak RSS {:.1f} MiB (limit: data {:.1f} MiB + 50 = {:.1f} MiB);"
      " RSS after each epoch [{}] MiB; {:.2f} allocs/step after epoch 1; test accuracy {:.2f}%\n",
      r["config"].get<std::string>(), r["threads"].get<int>(),
      mib(r["peak_rss_bytes"].get<int64_t>()), mib(r["dataset_f32_bytes"].get<int64_t>()),
      mib(r["peak_rss_limit_bytes"].get<int64_t>()), fmt::join(per_epoch, ", "),
      r["allocations_per_step_after_epoch_1"].get<double>(),
      100.0 * r["test_accuracy"].get<double>());
}

void print_gradcheck(const json& r) {
  fmt::print("{:<16} {:>2} thr  full-mode check of {} (batch {}): {:.2f} s median, {}\n",
             r["config"].get<std::string>(), r["threads"].get<int>(), r["model"].get<std::string>(),
             r["batch"].get<int64_t>(), r["seconds"].get<double>(),
             r["passed"].get<bool>() ? "passed" : "FAILED");
}

// Speedup of the most threads over one thread, per train-step config.
void print_thread_speedups(const json& results, const std::vector<int>& threads) {
  if (threads.size() < 2) return;
  const int low = threads.front(), high = threads.back();
  for (const json& a : results) {
    if (!a.contains("samples_per_second") || a["threads"] != low) continue;
    for (const json& b : results) {
      if (b["config"] == a["config"] && b["threads"] == high) {
        fmt::print("{:<16} {} threads vs {}: {:.2f}x samples/s\n", a["config"].get<std::string>(),
                   high, low,
                   b["samples_per_second"].get<double>() / a["samples_per_second"].get<double>());
      }
    }
  }
}

void run_bench(const BenchCommand& c) {
  std::vector<BenchConfig> configs;
  if (c.config == "all") {
    for (const BenchConfig& b : bench_configs()) configs.push_back(with_overrides(b, c));
  } else {
    configs.push_back(with_overrides(find_bench_config(c.config), c));
  }
  std::string program;
  if (c.vs_libtorch) program = libtorch_baseline_path();  // fail before any work
  if (c.flush_denormal) flush_denormals_or_fail();
  // Checked before any benchmark runs; the file itself is written at the end.
  if (!c.json_path.empty()) prepare_output_file(c.json_path, "--json");
  json machine = machine_description();
  machine["flush_denormal"] = c.flush_denormal;
  fmt::print("tapegrad bench on {} ({} cores online), {}\n", machine["cpu"].get<std::string>(),
             machine["online_cores"].get<long>(), machine["openblas"].get<std::string>());
  fmt::print(
      "Train steps: SGD (momentum {}) on {} batches, cross-entropy, medians of timed repeats"
      " after a warm-up.\n",
      configs.front().momentum, c.data);
  if (c.vs_libtorch) {
    fmt::print(
        "libtorch runs the same steps in its own process: the same data, batch order, initial "
        "weights and optimiser settings, with the same thread count for its matrix products "
        "(OPENBLAS_NUM_THREADS; torch::set_num_threads(1), so that its two thread pools do not "
        "contend).\n");
  }
  fmt::print("Subnormal floats: {}.\n", c.flush_denormal
                                            ? "flushed to zero (FTZ/DAZ) in both engines"
                                            : "computed as such (the default of both engines)");

  BenchData data;  // loaded for the train-step configs, dropped for the memory one

  fs::path exchange;
  if (c.vs_libtorch) {
    exchange = fs::temp_directory_path() / fmt::format("tapegrad-bench-{}", getpid());
    fs::create_directories(exchange);
  }
  json results = json::array();
  try {
    for (const BenchConfig& b : configs) {
      switch (b.kind) {
        case BenchKind::train_step:
          if (!data.features.defined()) data = load_bench_data(c.data, c.data_dir);
          for (json& r : bench_train_step(b, data, c, exchange.string())) {
            print_train_step(r);
            results.push_back(std::move(r));
          }
          break;
        case BenchKind::memory: {
          // Once, with the first thread count: memory does not depend on threads.
          // Measured from here: without the other configs' copy of the data, and
          // with the kernel's peak RSS counter reset.
          set_num_threads(c.threads.front());
          data = BenchData{};
          release_cached_memory();
          reset_peak_resident_bytes();
          json r = bench_memory(b, c, c.threads.front());
          print_memory(r);
          results.push_back(std::move(r));
          break;
        }
        case BenchKind::gradcheck:
          for (int threads : c.threads) {
            set_num_threads(threads);
            json r = bench_gradcheck(b, c, threads);
            print_gradcheck(r);
            results.push_back(std::move(r));
          }
          break;
      }
      std::fflush(stdout);
    }
  } catch (...) {
    if (!exchange.empty()) fs::remove_all(exchange);
    throw;
  }
  if (!exchange.empty()) fs::remove_all(exchange);
  print_thread_speedups(results, c.threads);
  if (!c.json_path.empty()) {
    std::ofstream out = open_output_file(c.json_path, "--json");
    out << json{{"machine", machine}, {"results", results}}.dump(2) << "\n";
    if (!out) fail("--json: cannot write '{}'", c.json_path);
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto c = std::make_shared<BenchCommand>();
  CLI::App* cmd = app.add_subcommand(
      "bench", "Time training steps (and the GEMM-only roofline, and libtorch) on this machine");
  std::vector<std::string> names{"all"};
  for (const BenchConfig& b : bench_configs()) names.push_back(b.name);
  cmd->add_option("--config", c->config,
                  "One configuration or all: " + fmt::format("{}", fmt::join(names, ", ")))
      ->check(parsed_by(
          [](const std::string& v) {
            if (v != "all") find_bench_config(v);
          },
          "NAME"))
      ->capture_default_str();
  cmd->add_option("--threads", c->threads,
                  "Thread counts to run each configuration with, e.g. 1,2 (train steps: the counts "
                  "take turns repeat by repeat)")
      ->delimiter(',')
      ->check(positive())
      ->capture_default_str();
  cmd->add_option("--json", c->json_path, "Also write every figure as JSON to this file");
  cmd->add_flag(
      "--vs-libtorch", c->vs_libtorch,
      "Run the libtorch baseline on the same inputs (needs -DTAPEGRAD_BENCH_LIBTORCH=ON)");
  cmd->add_flag("--flush-denormal", c->flush_denormal,
                "Treat subnormal floats as zero (set_flush_denormal; libtorch too)");
  cmd->add_option("--data", c->data, "mnist, or synthetic (uniform random inputs, 4,096 samples)")
      ->check(CLI::IsMember({"mnist", "synthetic"}))
      ->capture_default_str();
  cmd->add_option("--data-dir", c->data_dir,
                  "Directory of fetched data sets (default: $TAPEGRAD_DATA_DIR or <source>/data)");
  cmd->add_option("--repeats", c->repeats, "Timed repeats per configuration (median reported)")
      ->check(positive());
  cmd->add_option("--steps", c->steps, "Training steps per repeat (default: the config's own)")
      ->check(positive());
  cmd->add_option("--epochs", c->epochs, "Epochs of the memory configuration")->check(positive());
  cmd->add_option("--seed", c->seed, "Seed of the initial weights and batch order")
      ->capture_default_str();
  cmd->callback([c] { run_bench(*c); });
}

}  // namespace tapegrad::apps
