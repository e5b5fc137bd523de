// The named configurations of `tapegrad bench`: the training steps the
// performance targets are stated for, the memory run and the gradient check.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/nn/module.hpp"

namespace tapegrad::apps::bench {

enum class BenchKind {
  train_step,  // timed SGD-with-momentum steps of an MLP on MNIST batches
  memory,      // whole epochs of `tapegrad train`'s loop, RSS after each
  gradcheck,   // the full-mode gradient check of a 784-128-10 MLP
};

struct BenchConfig {
  std::string name;
  std::string description;
  BenchKind kind = BenchKind::train_step;
  std::vector<int64_t> sizes;  // layer widths, input first
  nn::Activation hidden = nn::Activation::sigmoid;
  int64_t batch = 64;
  int64_t steps_per_repeat = 100;  // training steps timed together
  int64_t warmup_steps = 20;
  int repeats = 7;  // the median over these is reported
  int epochs = 0;   // memory: epochs to train
  double lr = 0.1;  // SGD learning rate
  double momentum = 0.9;
};

const std::vector<BenchConfig>& bench_configs();
// The configuration called `name`; throws a tapegrad::Error listing the valid names.
const BenchConfig& find_bench_config(const std::string& name);
// "784-128-10" for the config's layer sizes.
std::string sizes_text(const BenchConfig& config);

// Floating-point operations of the GEMMs of one training step: forward X W^T,
// dW = dY^T X and dX = dY W for every layer but the first (its input needs none).
double gemm_flops_per_step(const BenchConfig& config);

}  // namespace tapegrad::apps::bench
