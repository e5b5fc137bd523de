#include "tapegrad/nn/train.hpp"

#include <chrono>
#include <numeric>

namespace tapegrad::nn {

// ---- BatchSampler ----
BatchSampler::BatchSampler(int64_t n, int64_t batch_size, bool shuffle, Generator& gen)
    : n_(n), batch_(batch_size), shuffle_(shuffle), gen_(gen), order_(static_cast<size_t>(n)) {
  if (n <= 0) fail("BatchSampler: the data set is empty");
  if (batch_size <= 0) fail("BatchSampler: batch size must be positive, got {}", batch_size);
  std::iota(order_.begin(), order_.end(), 0);
}

void BatchSampler::new_epoch() {
  if (!shuffle_) return;
  // Fisher-Yates with the project's generator: the same seed gives the same order everywhere.
  for (int64_t i = n_ - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(gen_.below(static_cast<uint64_t>(i + 1)));
    std::swap(order_[static_cast<size_t>(i)], order_[static_cast<size_t>(j)]);
  }
}

std::span<const int64_t> BatchSampler::batch(int64_t b) const {
  const int64_t start = b * batch_;
  const int64_t end = std::min(n_, start + batch_);
  return std::span<const int64_t>(order_).subspan(static_cast<size_t>(start),
                                                  static_cast<size_t>(end - start));
}

// ---- Metrics ----
namespace {
// predict_classes into `classes`, resized: a buffer kept across batches is not
// reallocated, so a training step allocates nothing.
void predict_into(const Tensor& output, double threshold, std::vector<int64_t>& classes) {
  if (output.dim() != 2) fail("predict_classes: expects [batch, outputs], got {}", output.shape());
  classes.resize(static_cast<size_t>(output.shape()[0]));
  if (output.shape()[1] > 1) {
    argmax_rows(output, classes);
  } else {
    threshold_rows(output, threshold, classes);
  }
}

int64_t count_correct(const Tensor& output, std::span<const int64_t> labels, double threshold,
                      std::vector<int64_t>& predicted) {
  predict_into(output, threshold, predicted);
  int64_t correct = 0;
  for (size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == labels[i] ? 1 : 0;
  return correct;
}

std::span<const int64_t> label_span(const Dataset& d, int64_t start, int64_t count) {
  return std::span<const int64_t>(d.labels).subspan(static_cast<size_t>(start),
                                                    static_cast<size_t>(count));
}
}  // namespace

std::vector<int64_t> predict_classes(const Tensor& output, double threshold) {
  std::vector<int64_t> classes;
  predict_into(output, threshold, classes);
  return classes;
}

double decision_threshold(Activation head) { return head == Activation::sigmoid ? 0.5 : 0.0; }

Metrics evaluate(Module& model, const Dataset& data, LossKind loss, int64_t batch_size,
                 double threshold) {
  Metrics m;
  if (data.size() == 0) return m;
  if (batch_size <= 0) fail("evaluate: batch size must be positive, got {}", batch_size);
  NoGradGuard no_grad;
  const bool was_training = model.is_training();
  model.eval();
  double loss_sum = 0;
  int64_t correct = 0;
  std::vector<int64_t> predicted;
  for (int64_t start = 0; start < data.size(); start += batch_size) {
    const int64_t count = std::min(batch_size, data.size() - start);
    const Tensor x = narrow(data.features, 0, start, count);
    const Tensor out = model.forward(x);
    const auto labels = label_span(data, start, count);
    loss_sum += compute_loss(loss, out, labels).item() * static_cast<double>(count);
    correct += count_correct(out, labels, threshold, predicted);
  }
  model.train(was_training);
  m.count = data.size();
  m.loss = loss_sum / static_cast<double>(data.size());
  m.accuracy = static_cast<double>(correct) / static_cast<double>(data.size());
  return m;
}

std::vector<std::vector<int64_t>> confusion_matrix(std::span<const int64_t> predicted,
                                                   std::span<const int64_t> labels,
                                                   int64_t num_classes) {
  if (predicted.size() != labels.size()) {
    fail("confusion_matrix: {} predictions for {} labels", predicted.size(), labels.size());
  }
  std::vector<std::vector<int64_t>> counts(static_cast<size_t>(num_classes),
                                           std::vector<int64_t>(static_cast<size_t>(num_classes)));
  for (size_t i = 0; i < labels.size(); ++i) {
    const int64_t t = labels[i], p = predicted[i];
    if (t < 0 || t >= num_classes || p < 0 || p >= num_classes) {
      fail("confusion_matrix: entry {} (label {}, prediction {}) is outside [0, {})", i, t, p,
           num_classes);
    }
    ++counts[static_cast<size_t>(t)][static_cast<size_t>(p)];
  }
  return counts;
}

// ---- EarlyStopping ----
EarlyStopping::EarlyStopping(int patience, double min_delta)
    : patience_(patience), min_delta_(min_delta) {
  if (patience <= 0) fail("EarlyStopping: patience must be positive, got {}", patience);
}

bool EarlyStopping::update(double loss, int epoch, const Module& model) {
  if (loss < best_loss_ - min_delta_) {
    best_loss_ = loss;
    best_epoch_ = epoch;
    bad_epochs_ = 0;
    NoGradGuard no_grad;
    const std::vector<Tensor> params = model.parameters();
    if (best_.size() != params.size()) {
      best_.clear();
      for (const Tensor& p : params) best_.push_back(p.detach().clone());
    } else {
      for (size_t i = 0; i < params.size(); ++i) best_[i].copy_(params[i]);
    }
    return false;
  }
  return ++bad_epochs_ >= patience_;
}

void EarlyStopping::restore_best(Module& model) const {
  if (best_.empty()) return;
  NoGradGuard no_grad;
  std::vector<Tensor> params = model.parameters();
  for (size_t i = 0; i < params.size(); ++i) params[i].copy_(best_[i]);
}

// ---- fit ----
TrainResult fit(Module& model, Optimizer& optimizer, LRScheduler* scheduler, const DataSplits& data,
                LossKind loss, const TrainOptions& options, Generator& gen,
                const TrainCallbacks& callbacks) {
  if (options.epochs <= 0) fail("fit: epochs must be positive, got {}", options.epochs);
  const Dataset& train = data.train;
  BatchSampler sampler(train.size(), options.batch_size, options.shuffle, gen);
  const bool penalised = options.l1 > 0 || options.l2 > 0;
  const std::vector<Tensor> penalised_weights =
      penalised ? weights_only(model.named_parameters()) : std::vector<Tensor>{};
  const std::vector<Tensor> params = model.parameters();
  std::optional<EarlyStopping> stopper;
  if (options.patience > 0) stopper.emplace(options.patience);

  TrainResult result;
  using clock = std::chrono::steady_clock;
  std::vector<int64_t> y, predicted;  // reused: a step allocates nothing once warm
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start = clock::now();
    model.train();
    sampler.new_epoch();
    double loss_sum = 0;
    int64_t correct = 0, seen = 0;
    for (int64_t b = 0; b < sampler.num_batches(); ++b) {
      const std::span<const int64_t> idx = sampler.batch(b);
      const Tensor x = index_select(train.features, 0, idx);
      y.resize(idx.size());
      for (size_t i = 0; i < idx.size(); ++i) y[i] = train.labels[static_cast<size_t>(idx[i])];
      const Tensor out = model.forward(x);
      Tensor objective = compute_loss(loss, out, y);
      const double batch_loss = objective.item();
      if (options.l1 > 0) objective = add(objective, l1_penalty(penalised_weights, options.l1));
      if (options.l2 > 0) objective = add(objective, l2_penalty(penalised_weights, options.l2));
      optimizer.zero_grad();
      objective.backward();
      if (options.clip_norm > 0) clip_grad_norm(params, options.clip_norm);
      optimizer.step();
      loss_sum += batch_loss * static_cast<double>(idx.size());
      correct += count_correct(out.detach(), y, options.threshold, predicted);
      seen += static_cast<int64_t>(idx.size());
      if (callbacks.on_batch_loss) callbacks.on_batch_loss(epoch, b + 1, batch_loss);
      if (callbacks.on_batch) callbacks.on_batch(epoch, b + 1, sampler.num_batches(), seen);
    }
    const double train_seconds = std::chrono::duration<double>(clock::now() - start).count();
    result.train_seconds += train_seconds;

    EpochReport report;
    report.epoch = epoch;
    report.train_loss = loss_sum / static_cast<double>(seen);
    report.train_accuracy = static_cast<double>(correct) / static_cast<double>(seen);
    report.lr = optimizer.lr();
    report.validation =
        evaluate(model, data.validation, loss, options.eval_batch_size, options.threshold);
    report.test = evaluate(model, data.test, loss, options.eval_batch_size, options.threshold);
    report.seconds = std::chrono::duration<double>(clock::now() - start).count();
    report.samples_per_second = static_cast<double>(seen) / train_seconds;
    result.epochs.push_back(report);
    if (callbacks.on_epoch) callbacks.on_epoch(report);
    if (scheduler) scheduler->step();

    if (options.target_loss > 0 && report.train_loss < options.target_loss) {
      result.reached_target = true;
      break;
    }
    if (stopper && data.validation.size() > 0 &&
        stopper->update(report.validation.loss, epoch, model)) {
      result.stopped_early = true;
      break;
    }
  }
  result.best_epoch = static_cast<int>(result.epochs.size());
  if (stopper && data.validation.size() > 0) {
    stopper->restore_best(model);
    result.best_epoch = stopper->best_epoch();
  }
  result.final_test = evaluate(model, data.test, loss, options.eval_batch_size, options.threshold);
  return result;
}

}  // namespace tapegrad::nn
