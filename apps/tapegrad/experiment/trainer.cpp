#include "tapegrad/experiment/trainer.hpp"

#include <fmt/format.h>

#include "tapegrad/autograd.hpp"
#include "tapegrad/data_source.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/train.hpp"
#include "tapegrad/progress.hpp"

namespace tapegrad::apps::experiment {

const nn::DataSplits& DataCache::get(const RunConfig& c) {
  const std::string key =
      fmt::format("{}|{}|{}|{}", c.data, c.normalize, c.val_split, c.limit_train);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
  DataRequest request;
  request.spec = c.data;
  request.data_dir = data_dir_;
  request.val_split = c.val_split;
  request.seed = 0;
  request.normalize = c.normalize;
  request.limit_train = c.limit_train;
  return cache_.emplace(key, load_data(request)).first->second;
}

namespace {
// Means of consecutive groups of `window` values (the last group may be shorter).
std::vector<double> window_means(const std::vector<double>& values, int64_t window) {
  std::vector<double> out;
  for (size_t start = 0; start < values.size(); start += static_cast<size_t>(window)) {
    const size_t end = std::min(values.size(), start + static_cast<size_t>(window));
    double sum = 0;
    for (size_t i = start; i < end; ++i) sum += values[i];
    out.push_back(sum / static_cast<double>(end - start));
  }
  return out;
}
}  // namespace

RunResult Trainer::operator()(const PlannedRun& run, uint64_t seed) {
  const RunConfig& c = run.config;
  const nn::DataSplits& data = data_.get(c);
  const std::vector<int64_t> sizes = nn::parse_layer_sizes(c.model);
  if (sizes.front() != data.train.input_width()) {
    fail("experiment {}: model {} takes {} inputs but '{}' has {} features", run.id, c.model,
         sizes.front(), c.data, data.train.input_width());
  }
  const nn::Activation head = nn::parse_activation(c.head);
  const nn::LossKind loss = nn::parse_loss(c.loss);

  Generator gen(seed);
  auto model = nn::make_mlp({sizes, nn::parse_activation(c.act), head, c.bias, DType::f32});
  nn::init_module(*model, nn::parse_init(c.init), gen);
  nn::OptimizerConfig oc;
  oc.lr = c.lr;
  if (c.opt == "sgd" || c.opt == "momentum" || c.opt == "nesterov") oc.momentum = c.momentum;
  auto optimizer = nn::make_optimizer(c.opt, model->parameters(), oc);

  const nn::TrainOptions options{.epochs = c.epochs,
                                 .batch_size = c.batch,
                                 .l1 = c.l1,
                                 .l2 = c.l2,
                                 .patience = c.patience,
                                 .threshold = nn::decision_threshold(head),
                                 .target_loss = c.target_loss};

  ProgressBar bar;
  std::vector<double> batch_losses;
  nn::TrainCallbacks callbacks;
  if (progress_) {
    callbacks.on_batch = [&](int epoch, int64_t batch, int64_t, int64_t samples) {
      if (batch == 1) bar.start(epoch, c.epochs, data.train.size());
      bar.update(samples);
    };
    callbacks.on_epoch = [&](const nn::EpochReport&) { bar.finish(); };
  }
  if (plan_.record_iterations) {
    callbacks.on_batch_loss = [&](int, int64_t, double l) { batch_losses.push_back(l); };
  }
  const nn::TrainResult tr =
      nn::fit(*model, *optimizer, nullptr, data, loss, options, gen, callbacks);

  RunResult r;
  r.run_id = run.id;
  r.config = c;
  r.seed = seed;
  for (const nn::EpochReport& e : tr.epochs) {
    r.epochs.push_back({e.epoch, e.train_loss, e.train_accuracy, e.validation.loss,
                        e.validation.accuracy, e.test.loss, e.test.accuracy, e.seconds, e.lr});
  }
  r.test_loss = tr.final_test.loss;
  r.test_accuracy = tr.final_test.accuracy;
  const nn::Metrics train_metrics =
      nn::evaluate(*model, data.train, loss, options.eval_batch_size, options.threshold);
  r.final_train_loss = train_metrics.loss;
  r.final_train_accuracy = train_metrics.accuracy;
  r.train_seconds = tr.train_seconds;
  r.best_epoch = tr.best_epoch;
  r.stopped_early = tr.stopped_early;
  r.reached_target = tr.reached_target;
  if (!batch_losses.empty()) {
    const int64_t per_epoch = (data.train.size() + c.batch - 1) / c.batch;
    r.iteration_window = std::max<int64_t>(1, per_epoch / 50);
    r.iteration_loss = window_means(batch_losses, r.iteration_window);
  }
  if (study_.probe) r.extras = study_.probe(*model, data, c);
  return r;
}

}  // namespace tapegrad::apps::experiment
