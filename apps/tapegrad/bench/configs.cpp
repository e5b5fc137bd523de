#include "tapegrad/bench/configs.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad::apps::bench {

const std::vector<BenchConfig>& bench_configs() {
  static const std::vector<BenchConfig> configs = [] {
    std::vector<BenchConfig> c;
    BenchConfig small;
    small.sizes = {784, 128, 10};
    small.hidden = nn::Activation::sigmoid;

    BenchConfig b64 = small;
    b64.name = "mlp-small-b64";
    b64.description = "784-128-10 sigmoid, batch 64, SGD momentum 0.9 (overhead and small GEMMs)";
    b64.batch = 64;
    b64.steps_per_repeat = 200;
    b64.warmup_steps = 50;
    c.push_back(b64);

    BenchConfig b1 = small;
    b1.name = "mlp-small-b1";
    b1.description = "784-128-10 sigmoid, batch 1: per-sample SGD, the teaching setting";
    b1.batch = 1;
    b1.steps_per_repeat = 2000;
    b1.warmup_steps = 200;
    c.push_back(b1);

    BenchConfig large;
    large.name = "mlp-large-b256";
    large.description = "784-1024-1024-10 ReLU, batch 256 (GEMM-bound: the roofline case)";
    large.sizes = {784, 1024, 1024, 10};
    large.hidden = nn::Activation::relu;
    large.batch = 256;
    large.steps_per_repeat = 10;
    large.warmup_steps = 3;
    large.lr = 0.01;
    c.push_back(large);

    BenchConfig memory = small;
    memory.name = "memory";
    memory.description =
        "784-128-10 sigmoid trained on MNIST with tapegrad train's loop: peak RSS and RSS per "
        "epoch";
    memory.kind = BenchKind::memory;
    memory.batch = 64;
    memory.epochs = 3;
    memory.repeats = 1;
    c.push_back(memory);

    BenchConfig check = small;
    check.name = "gradcheck";
    check.description =
        "full-mode gradient check of a 784-128-10 sigmoid MLP, 8 samples, f64 (all 101,770 "
        "parameters)";
    check.kind = BenchKind::gradcheck;
    check.batch = 8;
    check.repeats = 3;
    c.push_back(check);
    return c;
  }();
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
