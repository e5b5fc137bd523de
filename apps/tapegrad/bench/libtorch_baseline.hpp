// Runs the libtorch baseline program (apps/baselines/libtorch_bench.cpp) on the
// inputs tapegrad's own run used, and reads back its timings.
#pragma once

#include <cstdint>
#include <string>

#include "tapegrad/bench/configs.hpp"
#include "tapegrad/bench/train_bench.hpp"

namespace tapegrad::apps::bench {

// The baseline program's path: $TAPEGRAD_LIBTORCH_BENCH, else
// tapegrad-libtorch-bench beside the running tapegrad executable. Throws
// UsageError saying how to build it when it is missing.
std::string libtorch_baseline_path();

struct LibtorchResult {
  StepTiming timing;
  int64_t peak_rss_bytes = 0;
  double last_loss = 0;
  std::string torch_version;
};

// Writes the data (once per directory), the batch order and initial parameters to
// `exchange_dir`, runs the baseline with `threads` OpenBLAS threads and one torch
// (intra-op) thread (and subnormals flushed to zero when `flush_denormal`) and parses
// its report.
LibtorchResult run_libtorch_steps(const std::string& program, const BenchConfig& config,
                                  const BenchData& data, const BenchInputs& inputs, int threads,
                                  bool flush_denormal, const std::string& exchange_dir);

}  // namespace tapegrad::apps::bench
