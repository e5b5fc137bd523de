#include "tapegrad/bench/train_bench.hpp"

#include <cblas.h>

#include <algorithm>
#include <chrono>

#include "tapegrad/autograd.hpp"
#include "tapegrad/bench/process_stats.hpp"
#include "tapegrad/data_source.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/optim.hpp"
#include "tapegrad/nn/train.hpp"

namespace tapegrad::apps::bench {

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

constexpr int64_t kSyntheticSamples = 4096;
constexpr int64_t kClasses = 10;
}  // namespace

nn::DataSplits load_bench_splits(const std::string& source, const std::string& data_dir) {
  if (source == "synthetic") {
    Generator gen(1234);
    nn::DataSplits splits;
    nn::Dataset& train = splits.train;
    train = {"synthetic", uniform({kSyntheticSamples, 784}, 0.0, 1.0, gen),
             std::vector<int64_t>(kSyntheticSamples), kClasses, Shape{784}};
    for (int64_t& y : train.labels) y = static_cast<int64_t>(gen.below(kClasses));
    splits.test = train;
    return splits;
  }
  if (source != "mnist") fail("bench: --data must be mnist or synthetic, got '{}'", source);
  DataRequest request;
  request.spec = "mnist";
  request.data_dir = data_dir;
  request.normalize = "unit";
  return load_data(request);
}

BenchData load_bench_data(const std::string& source, const std::string& data_dir) {
  nn::DataSplits splits = load_bench_splits(source, data_dir);
  return {source, splits.train.features, std::move(splits.train.labels)};
}

int64_t dataset_f32_bytes(const nn::DataSplits& splits) {
  int64_t elements = 0;
  std::vector<const TensorImpl*> counted;
  for (const nn::Dataset* d : {&splits.train, &splits.validation, &splits.test}) {
    const Tensor& f = d->features;
    if (!f.defined() || std::find(counted.begin(), counted.end(), f.impl()) != counted.end()) {
      continue;
    }
    counted.push_back(f.impl());
    elements += f.numel();
  }
  return elements * 4;
}

BenchInputs make_bench_inputs(const BenchConfig& config, const BenchData& data, uint64_t seed) {
  const auto n = static_cast<int64_t>(data.labels.size());
  if (n < config.batch) fail("bench: {} samples are fewer than one batch of {}", n, config.batch);
  if (data.features.shape()[1] != config.sizes.front()) {
    fail("bench: the data has {} features, the model {} inputs", data.features.shape()[1],
         config.sizes.front());
  }
  BenchInputs inputs;
  inputs.total_steps = config.warmup_steps + config.repeats * config.steps_per_repeat;
  Generator gen(seed);
  nn::BatchSampler sampler(n, config.batch, /*shuffle=*/true, gen);
  inputs.order.reserve(static_cast<size_t>(inputs.total_steps * config.batch));
  const int64_t full_batches = n / config.batch;
  for (int64_t step = 0; step < inputs.total_steps; ++step) {
    if (step % full_batches == 0) sampler.new_epoch();
    const auto batch = sampler.batch(step % full_batches);
    inputs.order.insert(inputs.order.end(), batch.begin(), batch.end());
  }
  auto model = nn::make_mlp({.sizes = config.sizes, .hidden = config.hidden});
  nn::init_module(*model, nn::InitSpec{}, gen);
  for (const Tensor& p : model->parameters()) inputs.parameters.push_back(p.detach().clone());
  return inputs;
}

StepTiming summarise_repeats(std::vector<double> repeat_step_seconds) {
  if (repeat_step_seconds.empty()) fail("bench: no repeats to summarise");
  StepTiming t;
  t.repeat_step_seconds = repeat_step_seconds;
  std::sort(repeat_step_seconds.begin(), repeat_step_seconds.end());
  const size_t n = repeat_step_seconds.size();
  t.median_step_seconds = n % 2
                              ? repeat_step_seconds[n / 2]
                              : 0.5 * (repeat_step_seconds[n / 2 - 1] + repeat_step_seconds[n / 2]);
  t.min_step_seconds = repeat_step_seconds.front();
  return t;
}

TapegradSteps::TapegradSteps(const BenchConfig& config, const BenchData& data,
                             const BenchInputs& inputs)
    : config_(config),
      data_(data),
      inputs_(inputs),
      model_(nn::make_mlp({.sizes = config.sizes, .hidden = config.hidden})),
      labels_(static_cast<size_t>(config.batch)) {
  const std::vector<Tensor> params = model_->parameters();
  {
    NoGradGuard no_grad;
    for (size_t i = 0; i < params.size(); ++i) Tensor(params[i]).copy_(inputs.parameters[i]);
  }
  optimizer_ = std::make_unique<nn::SGD>(
      params, nn::SGDOptions{.lr = config.lr, .momentum = config.momentum});
  // Reserved here so that recording a repeat is not counted as the steps' allocation.
  repeat_step_seconds_.reserve(static_cast<size_t>(config.repeats));
  train(config.warmup_steps);
}

void TapegradSteps::train(int64_t count) {
  const int64_t batch = config_.batch;
  for (int64_t s = 0; s < count; ++s, ++step_) {
    const std::span<const int64_t> idx(inputs_.order.data() + step_ * batch,
                                       static_cast<size_t>(batch));
    for (size_t i = 0; i < idx.size(); ++i) labels_[i] = data_.labels[static_cast<size_t>(idx[i])];
    const Tensor x = index_select(data_.features, 0, idx);
    loss_ = cross_entropy(model_->forward(x), labels_);
    optimizer_->zero_grad();
    loss_.backward();
    optimizer_->step();
  }
}

void TapegradSteps::time_repeat() {
  if (static_cast<int>(repeat_step_seconds_.size()) >= config_.repeats) {
    fail("bench: {} repeats of {} were planned, no more inputs", config_.repeats, config_.name);
  }
  if (repeat_step_seconds_.empty()) rss_before_ = resident_bytes();
  const int64_t allocations_before = allocation_count();
  const auto start = Clock::now();
  train(config_.steps_per_repeat);
  repeat_step_seconds_.push_back(seconds_since(start) /
                                 static_cast<double>(config_.steps_per_repeat));
  allocations_ += allocation_count() - allocations_before;
}

TrainStepResult TapegradSteps::result() const {
  TrainStepResult result;
  const auto steps = static_cast<double>(repeat_step_seconds_.size()) *
                     static_cast<double>(config_.steps_per_repeat);
  result.allocations_per_step = static_cast<double>(allocations_) / steps;
  result.rss_growth_bytes = resident_bytes() - rss_before_;
  result.timing = summarise_repeats(repeat_step_seconds_);
  result.last_loss = loss_.item();
  return result;
}

StepTiming run_gemm_only(const BenchConfig& config) {
  struct Gemm {
    CBLAS_TRANSPOSE ta, tb;
    blasint m, n, k;
    std::vector<float> a, b, c;
  };
  std::vector<Gemm> gemms;
  const auto batch = static_cast<blasint>(config.batch);
  auto add = [&](CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint m, blasint n, blasint k) {
    gemms.push_back({ta, tb, m, n, k, std::vector<float>(static_cast<size_t>(m) * k, 0.01f),
                     std::vector<float>(static_cast<size_t>(k) * n, 0.02f),
                     std::vector<float>(static_cast<size_t>(m) * n)});
  };
  for (size_t l = 0; l + 1 < config.sizes.size(); ++l) {
    const auto in = static_cast<blasint>(config.sizes[l]);
    const auto out = static_cast<blasint>(config.sizes[l + 1]);
    add(CblasNoTrans, CblasTrans, batch, out, in);               // Y = X W^T
    add(CblasTrans, CblasNoTrans, out, in, batch);               // dW = dY^T X
    if (l > 0) add(CblasNoTrans, CblasNoTrans, batch, in, out);  // dX = dY W
  }
  auto run = [&](int64_t steps) {
    for (int64_t s = 0; s < steps; ++s) {
      for (Gemm& g : gemms) {
        const blasint lda = g.ta == CblasTrans ? g.m : g.k;
        const blasint ldb = g.tb == CblasTrans ? g.k : g.n;
        cblas_sgemm(CblasRowMajor, g.ta, g.tb, g.m, g.n, g.k, 1.0f, g.a.data(), lda, g.b.data(),
                    ldb, 0.0f, g.c.data(), g.n);
      }
    }
  };
  // OpenBLAS with its own threads, as many as tapegrad uses (which otherwise keeps
  // OpenBLAS single-threaded and splits products itself). At one thread it already
  // is single-threaded: setting it again would restart its stopped threads, and one
  // of them would spin in sched_yield through the measurement.
  if (get_num_threads() > 1) openblas_set_num_threads(get_num_threads());
  run(config.warmup_steps);
  std::vector<double> repeats;
  for (int r = 0; r < config.repeats; ++r) {
    const auto start = Clock::now();
    run(config.steps_per_repeat);
    repeats.push_back(seconds_since(start) / static_cast<double>(config.steps_per_repeat));
  }
  set_num_threads(get_num_threads());  // OpenBLAS back to one thread, its threads stopped
  return summarise_repeats(std::move(repeats));
}

}  // namespace tapegrad::apps::bench
