// The training loop and its helpers: seeded minibatch order, evaluation metrics,
// early stopping that restores the best weights, and fit().
#pragma once

#include <cmath>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "tapegrad/nn/dataset.hpp"
#include "tapegrad/nn/loss.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/optim.hpp"

namespace tapegrad::nn {

// Minibatches of indices 0..n-1, reshuffled by new_epoch() from the generator.
class BatchSampler {
 public:
  BatchSampler(int64_t n, int64_t batch_size, bool shuffle, Generator& gen);
  void new_epoch();
  int64_t num_batches() const { return (n_ + batch_ - 1) / batch_; }
  std::span<const int64_t> batch(int64_t b) const;

 private:
  int64_t n_, batch_;
  bool shuffle_;
  Generator& gen_;
  std::vector<int64_t> order_;
};

// Class per row: argmax for outputs wider than 1; for one output, 1 when it
// exceeds `threshold` (0.5 for a sigmoid head, 0 for logits).
std::vector<int64_t> predict_classes(const Tensor& output, double threshold = 0.5);
// The threshold for a one-output model with this head: 0.5 for a sigmoid (its
// output is a probability), 0 otherwise (a logit or a raw score).
double decision_threshold(Activation head);

struct Metrics {
  double loss = std::numeric_limits<double>::quiet_NaN();
  double accuracy = std::numeric_limits<double>::quiet_NaN();
  int64_t count = 0;
};
// Loss and accuracy of a model on a data set, in evaluation mode without recording.
Metrics evaluate(Module& model, const Dataset& data, LossKind loss, int64_t batch_size = 1000,
                 double threshold = 0.5);
// counts[true][predicted].
std::vector<std::vector<int64_t>> confusion_matrix(std::span<const int64_t> predicted,
                                                   std::span<const int64_t> labels,
                                                   int64_t num_classes);

// Stops after `patience` epochs without the monitored loss improving by more than
// min_delta, keeping a copy of the best parameters to restore.
class EarlyStopping {
 public:
  explicit EarlyStopping(int patience, double min_delta = 0.0);
  // Records an epoch's loss; returns true when training should stop.
  bool update(double loss, int epoch, const Module& model);
  void restore_best(Module& model) const;
  int best_epoch() const { return best_epoch_; }
  double best_loss() const { return best_loss_; }

 private:
  int patience_;
  double min_delta_;
  int bad_epochs_ = 0;
  int best_epoch_ = 0;
  double best_loss_ = std::numeric_limits<double>::infinity();
  std::vector<Tensor> best_;
};

struct TrainOptions {
  int epochs = 10;
  int64_t batch_size = 64;
  bool shuffle = true;
  double l1 = 0.0;         // lambda of the L1 penalty on Linear weights
  double l2 = 0.0;         // lambda of the L2 penalty on Linear weights
  int patience = 0;        // early stopping on validation loss; 0 disables it
  double clip_norm = 0.0;  // gradient clipping by global norm; 0 disables it
  double threshold = 0.5;  // decision threshold for one-output models
  // Stop once an epoch's mean training loss falls below this (report 004); 0 disables.
  double target_loss = 0.0;
  int64_t eval_batch_size = 1000;
};

struct EpochReport {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0;
  Metrics validation, test;
  double seconds = 0, samples_per_second = 0, lr = 0;
};

struct TrainResult {
  std::vector<EpochReport> epochs;
  int best_epoch = 0;  // with early stopping: the epoch whose weights were restored
  bool stopped_early = false;
  bool reached_target = false;
  double train_seconds = 0;
  Metrics final_test;  // after restoring the best weights
};

struct TrainCallbacks {
  std::function<void(int epoch, int64_t batch, int64_t batches, int64_t samples)> on_batch;
  std::function<void(const EpochReport&)> on_epoch;
  // Each training batch's mean loss (before any penalty), in the order of the updates.
  std::function<void(int epoch, int64_t batch, double loss)> on_batch_loss;
};

// Trains `model` on data.train with minibatches from `gen`, evaluating on
// data.validation (when not empty) and data.test after every epoch.
TrainResult fit(Module& model, Optimizer& optimizer, LRScheduler* scheduler, const DataSplits& data,
                LossKind loss, const TrainOptions& options, Generator& gen,
                const TrainCallbacks& callbacks = {});

}  // namespace tapegrad::nn
