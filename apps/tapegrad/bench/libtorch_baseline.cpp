#include "tapegrad/bench/libtorch_baseline.hpp"

#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "tapegrad/commands.hpp"

namespace tapegrad::apps::bench {

namespace fs = std::filesystem;

namespace {
template <typename T>
void write_raw(const fs::path& path, const T* data, int64_t count) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(count * sizeof(T)));
  if (!out) fail("bench: cannot write {}", path.string());
}
}  // namespace

std::string libtorch_baseline_path() {
  if (const char* env = std::getenv("TAPEGRAD_LIBTORCH_BENCH")) return env;
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  const fs::path beside = self.parent_path() / "tapegrad-libtorch-bench";
  if (!ec && fs::exists(beside)) return beside.string();
  throw UsageError(
      "--vs-libtorch needs the libtorch baseline program, which is not built: install "
      "libtorch-dev and configure with -DTAPEGRAD_BENCH_LIBTORCH=ON (cmake -B build "
      "-DTAPEGRAD_BENCH_LIBTORCH=ON && cmake --build build), or point "
      "TAPEGRAD_LIBTORCH_BENCH at it");
}

LibtorchResult run_libtorch_steps(const std::string& program, const BenchConfig& config,
                                  const BenchData& data, const BenchInputs& inputs, int threads,
                                  bool flush_denormal, const std::string& exchange_dir) {
  const fs::path dir(exchange_dir);
  const int64_t samples = static_cast<int64_t>(data.labels.size());
  if (!fs::exists(dir / "features.f32")) {
    write_raw(dir / "features.f32", data.features.data<float>(), data.features.numel());
    write_raw(dir / "labels.i64", data.labels.data(), samples);
  }
  write_raw(dir / "order.i64", inputs.order.data(), static_cast<int64_t>(inputs.order.size()));
  {
    std::ofstream out(dir / "params.f32", std::ios::binary | std::ios::trunc);
    for (const Tensor& p : inputs.parameters) {
      out.write(reinterpret_cast<const char*>(p.data<float>()),
                static_cast<std::streamsize>(p.numel() * 4));
    }
    if (!out) fail("bench: cannot write {}", (dir / "params.f32").string());
  }
  // libtorch's matrix products run in its OpenBLAS, whose threads torch::set_num_threads
  // does not set: the environment gives OpenBLAS the `threads`, and torch's own
  // (OpenMP) pool stays at one. With both pools at two threads on a 2-core machine
  // they preempt each other and libtorch's step got up to 4x slower than with one
  // thread (measured; see README, Performance), which would flatter tapegrad.
  const std::string command = fmt::format(
      "OPENBLAS_NUM_THREADS={} OMP_NUM_THREADS=1 '{}' --dir '{}' --sizes {} --act {} --batch {} "
      "--samples {} --warmup {} "
      "--steps-per-repeat {} --repeats {} --lr {} --momentum {} --threads 1 --flush-denormal {}",
      threads, program, dir.string(), sizes_text(config), nn::activation_name(config.hidden),
      config.batch, samples, config.warmup_steps, config.steps_per_repeat, config.repeats,
      config.lr, config.momentum, flush_denormal ? 1 : 0);
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) fail("bench: cannot start {}", program);
  std::string output;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = pclose(pipe);
  if (status != 0) {
    fail("bench: the libtorch baseline failed (exit status {}) for {}: {}",
         WIFEXITED(status) ? WEXITSTATUS(status) : -1, config.name, output);
  }
  LibtorchResult result;
  try {
    const auto json = nlohmann::json::parse(output);
    result.timing = summarise_repeats(json.at("repeat_step_seconds").get<std::vector<double>>());
    result.peak_rss_bytes = json.at("peak_rss_bytes").get<int64_t>();
    result.last_loss = json.at("last_loss").get<double>();
    result.torch_version = json.at("torch_version").get<std::string>();
  } catch (const nlohmann::json::exception& e) {
    fail("bench: cannot read the libtorch baseline's report ({}): {}", e.what(), output);
  }
  return result;
}

}  // namespace tapegrad::apps::bench
