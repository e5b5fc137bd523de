#include "tapegrad/bench/configs.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad::apps::bench {

const std::vector<BenchConfig>& bench_configs() {
  using nn::Activation;
  // The memory run comes first, so that `--config all` measures it in a process that
  // has not yet held another copy of the data.
  static const std::vector<BenchConfig> configs{
      {.name = "memory",
       .description = "784-128-10 sigmoid trained on MNIST with tapegrad train's loop: peak RSS "
                      "and RSS per epoch",
       .kind = BenchKind::memory,
       .sizes = {784, 128, 10},
       .repeats = 1,
       .epochs = 3},
      {.name = "mlp-small-b64",
       .description = "784-128-10 sigmoid, batch 64, SGD momentum 0.9 (overhead and small GEMMs)",
       .sizes = {784, 128, 10},
       .batch = 64,
       .steps_per_repeat = 200,
       .warmup_steps = 50},
      {.name = "mlp-small-b1",
       .description = "784-128-10 sigmoid, batch 1: per-sample SGD, the teaching setting",
       .sizes = {784, 128, 10},
       .batch = 1,
       .steps_per_repeat = 2000,
       .warmup_steps = 200},
      {.name = "mlp-large-b256",
       .description = "784-1024-1024-10 ReLU, batch 256 (GEMM-bound: the roofline case)",
       .sizes = {784, 1024, 1024, 10},
       .hidden = Activation::relu,
       .batch = 256,
       .steps_per_repeat = 10,
       .warmup_steps = 10,
       .lr = 0.01},
      {.name = "gradcheck",
       .description = "full-mode gradient check of a 784-128-10 sigmoid MLP, 8 samples, f64 (all "
                      "101,770 parameters)",
       .kind = BenchKind::gradcheck,
       .sizes = {784, 128, 10},
       .batch = 8,
       .repeats = 3},
  };
  return configs;
}

const BenchConfig& find_bench_config(const std::string& name) {
  std::vector<std::string> names;
  for (const BenchConfig& c : bench_configs()) {
    if (c.name == name) return c;
    names.push_back(c.name);
  }
  fail("unknown benchmark configuration '{}'; valid: {}, all", name, fmt::join(names, ", "));
}

std::string sizes_text(const BenchConfig& config) {
  return fmt::format("{}", fmt::join(config.sizes, "-"));
}

double gemm_flops_per_step(const BenchConfig& config) {
  double flops = 0;
  const double b = static_cast<double>(config.batch);
  for (size_t l = 0; l + 1 < config.sizes.size(); ++l) {
    const double in = static_cast<double>(config.sizes[l]);
    const double out = static_cast<double>(config.sizes[l + 1]);
    const int gemms = l == 0 ? 2 : 3;  // forward, dW, and dX past the first layer
    flops += gemms * 2.0 * b * in * out;
  }
  return flops;
}

}  // namespace tapegrad::apps::bench
