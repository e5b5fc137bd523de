// Timed training steps of an MLP in tapegrad, the same steps' GEMMs alone in
// OpenBLAS (the roofline), and the inputs both engines share: data, batch order
// and initial weights.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/autograd/tensor.hpp"
#include "tapegrad/bench/configs.hpp"
#include "tapegrad/nn/dataset.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/optim.hpp"

namespace tapegrad::apps::bench {

// Features [N, D] f32 in [0, 1] and labels in [0, 10).
struct BenchData {
  std::string source;  // "mnist" (the training split) or "synthetic"
  Tensor features;
  std::vector<int64_t> labels;
};

// "mnist" loads MNIST (x / 255) from `data_dir` (empty: the default data
// directory); "synthetic" draws 4,096 uniform samples of width 784 (for machines
// without the data, and for tests), used as both the training and the test split.
nn::DataSplits load_bench_splits(const std::string& source, const std::string& data_dir);
// The training split of load_bench_splits, for the timed steps.
BenchData load_bench_data(const std::string& source, const std::string& data_dir);
// The bytes of the splits' features as f32, a tensor shared by two splits counted once.
int64_t dataset_f32_bytes(const nn::DataSplits& splits);

// What both engines start from: the batches of every step (warm-up included), one
// shuffled pass after another with each epoch's last partial batch dropped, and
// the initial parameters in the model's order (PyTorch's default Linear init).
struct BenchInputs {
  std::vector<int64_t> order;  // steps * batch sample indices
  std::vector<Tensor> parameters;
  int64_t total_steps = 0;
};
BenchInputs make_bench_inputs(const BenchConfig& config, const BenchData& data, uint64_t seed);

// Medians over repeats; a repeat times config.steps_per_repeat steps.
struct StepTiming {
  std::vector<double> repeat_step_seconds;  // seconds per step in each repeat
  double median_step_seconds = 0;
  double min_step_seconds = 0;
};
StepTiming summarise_repeats(std::vector<double> repeat_step_seconds);

struct TrainStepResult {
  StepTiming timing;
  double allocations_per_step = 0;  // operator new calls and pool system allocations
  int64_t rss_growth_bytes = 0;     // VmRSS after the timed steps minus before
  double last_loss = 0;             // the loss of the last step, to compare engines
};

// config's MLP (SGD with momentum, cross-entropy) trained from `inputs`, timed one
// repeat at a time, so that runs with several thread counts can take turns repeat
// by repeat: a change in the machine's load then falls on all of them alike.
class TapegradSteps {
 public:
  // Builds the model and runs the warm-up steps, with the current thread count.
  TapegradSteps(const BenchConfig& config, const BenchData& data, const BenchInputs& inputs);
  // Times the next config.steps_per_repeat steps, counting their allocations.
  void time_repeat();
  // The repeats timed so far (at least one).
  TrainStepResult result() const;

 private:
  void train(int64_t steps);

  const BenchConfig& config_;
  const BenchData& data_;
  const BenchInputs& inputs_;
  std::shared_ptr<nn::Module> model_;
  std::unique_ptr<nn::SGD> optimizer_;
  std::vector<int64_t> labels_;
  Tensor loss_;
  int64_t step_ = 0;
  std::vector<double> repeat_step_seconds_;
  int64_t allocations_ = 0;
  int64_t rss_before_ = 0;
};

// The same step's GEMMs (shapes and transpose flags as the tape issues them) on
// preallocated buffers through cblas_sgemm, with OpenBLAS's own threads (as many
// as get_num_threads()): the time no framework can beat.
StepTiming run_gemm_only(const BenchConfig& config);

}  // namespace tapegrad::apps::bench
