// `tapegrad train`: trains an MLP on a data set and reports progress, per-epoch
// metrics and the final test accuracy; --metrics, --summary-json and --config
// make a run recorded and repeatable.
#include <fmt/format.h>
#include <fmt/os.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "config_json.hpp"
#include "data_source.hpp"
#include "progress.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/commands.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/train.hpp"
#include "tapegrad/output_file.hpp"

namespace tapegrad::apps {

namespace {

struct TrainCommand {
  DataRequest data;
  std::string model = "784-128-10";
  std::string act = "sigmoid";
  std::string head = "auto";
  std::string loss = "ce";
  std::string opt = "sgd";
  double lr = 0.1;
  double momentum = 0.0;
  double weight_decay = 0.0;
  int64_t batch = 64;
  int epochs = 20;
  uint64_t seed = 0;
  double l1 = 0.0, l2 = 0.0;
  int patience = 0;
  std::string init = "pytorch";
  std::string dtype = "f32";
  int threads = 1;
  bool flush_denormal = false;
  bool bias = true;
  double target_loss = 0.0;
  double clip_norm = 0.0;
  std::string schedule = "none";
  std::string metrics_path, summary_path, config_path;
  // Given explicitly (command line or config); otherwise the optimiser's default.
  bool momentum_given = false, weight_decay_given = false;
};

// The head that suits each loss when --head is auto.
nn::Activation default_head(nn::LossKind loss) {
  switch (loss) {
    case nn::LossKind::nll:
      return nn::Activation::log_softmax;
    case nn::LossKind::bce:
      return nn::Activation::sigmoid;
    default:
      return nn::Activation::identity;
  }
}

struct ScheduleSpec {
  std::string kind = "none";  // none, cosine, step
  int step = 0;
  double gamma = 0;
};

ScheduleSpec parse_schedule(const std::string& text) {
  ScheduleSpec s;
  if (text == "none" || text == "cosine") {
    s.kind = text;
    return s;
  }
  if (text.rfind("step:", 0) == 0 &&
      std::sscanf(text.c_str() + 5, "%d,%lf", &s.step, &s.gamma) == 2 && s.step > 0 &&
      s.gamma > 0) {
    s.kind = "step";
    return s;
  }
  fail("'{}' is not one of none, cosine, step:EPOCHS,GAMMA (e.g. step:10,0.1)", text);
}

std::unique_ptr<nn::LRScheduler> make_schedule(const ScheduleSpec& s, nn::Optimizer& opt,
                                               int epochs) {
  if (s.kind == "cosine") return std::make_unique<nn::CosineAnnealingLR>(opt, epochs);
  if (s.kind == "step") return std::make_unique<nn::StepLR>(opt, s.step, s.gamma);
  return nullptr;
}

double or_null(double v) { return v; }

int run_train(const TrainCommand& c, const CLI::App& cmd) {
  // Everything that can be checked without data is checked before loading it.
  const nn::Activation hidden = nn::parse_activation(c.act);
  const nn::LossKind loss = nn::parse_loss(c.loss);
  const nn::Activation head = c.head == "auto" ? default_head(loss) : nn::parse_activation(c.head);
  const std::vector<int64_t> sizes = nn::parse_layer_sizes(c.model);
  const nn::InitSpec init = nn::parse_init(c.init);
  const DType dtype = parse_dtype(c.dtype);
  if (c.threads > 0) set_num_threads(c.threads);
  if (c.flush_denormal) flush_denormals_or_fail();
  // Opened now, so that an unwritable path fails before training.
  std::ofstream metrics_file, summary_file;
  if (!c.metrics_path.empty()) metrics_file = open_output_file(c.metrics_path, "--metrics");
  if (!c.summary_path.empty()) summary_file = open_output_file(c.summary_path, "--summary-json");

  nn::DataSplits data = apps::load_data(c.data);
  const int64_t width = data.train.input_width();
  const int64_t classes = data.train.num_classes;
  if (sizes.front() != width) {
    throw UsageError(
        fmt::format("--model {}: the input size {} does not match the {} features of '{}'", c.model,
                    sizes.front(), width, c.data.spec));
  }
  const bool binary_single = sizes.back() == 1 && classes <= 2 &&
                             loss != nn::LossKind::cross_entropy && loss != nn::LossKind::nll;
  if (sizes.back() != classes && !binary_single) {
    throw UsageError(
        fmt::format("--model {}: the output size {} does not match the {} classes of '{}'{}",
                    c.model, sizes.back(), classes, c.data.spec,
                    classes == 2 ? " (one output works with --loss mse, bce or bce_logits)" : ""));
  }
  for (nn::Dataset* d : {&data.train, &data.validation, &data.test}) {
    if (d->size() > 0 && d->features.dtype() != dtype) d->features = d->features.to(dtype);
  }

  Generator gen(c.seed);
  auto model = nn::make_mlp({sizes, hidden, head, c.bias, dtype});
  nn::init_module(*model, init, gen);
  nn::OptimizerConfig oc;
  oc.lr = c.lr;
  if (c.momentum_given) oc.momentum = c.momentum;
  if (c.weight_decay_given) oc.weight_decay = c.weight_decay;
  auto optimizer = nn::make_optimizer(c.opt, model->parameters(), oc);
  auto scheduler = make_schedule(parse_schedule(c.schedule), *optimizer, c.epochs);

  nn::TrainOptions to;
  to.epochs = c.epochs;
  to.batch_size = c.batch;
  to.l1 = c.l1;
  to.l2 = c.l2;
  to.patience = c.patience;
  to.clip_norm = c.clip_norm;
  to.target_loss = c.target_loss;
  to.threshold = nn::decision_threshold(head);

  fmt::print("{}: {} train / {} validation / {} test samples, {} features, {} classes\n",
             c.data.spec, data.train.size(), data.validation.size(), data.test.size(), width,
             classes);
  fmt::print("model {} ({} parameters), {} hidden, {} head, loss {}, {} lr {}, batch {}, seed {}\n",
             c.model, model->num_parameters(), nn::activation_name(hidden),
             nn::activation_name(head), nn::loss_name(loss), optimizer->name(), c.lr, c.batch,
             c.seed);
  if (c.patience > 0 && data.validation.size() == 0) {
    fmt::print("note: --patience needs a validation split (--val-split); early stopping is off\n");
  }

  ProgressBar bar;
  if (metrics_file) {
    metrics_file << "epoch,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,"
                    "test_accuracy,seconds,samples_per_second,lr\n";
  }
  nn::TrainCallbacks callbacks;
  callbacks.on_batch = [&](int epoch, int64_t batch, int64_t, int64_t samples) {
    if (batch == 1) bar.start(epoch, c.epochs, data.train.size());
    bar.update(samples);
  };
  callbacks.on_epoch = [&](const nn::EpochReport& r) {
    bar.finish();
    std::string val = data.validation.size() > 0
                          ? fmt::format("  val loss {:.4f} acc {:.2f}%", r.validation.loss,
                                        100 * r.validation.accuracy)
                          : "";
    fmt::print("epoch {:3d}/{}  train loss {:.4f} acc {:.2f}%{}  test acc {:.2f}%  {:.1f} s\n",
               r.epoch, c.epochs, r.train_loss, 100 * r.train_accuracy, val, 100 * r.test.accuracy,
               r.seconds);
    std::fflush(stdout);
    if (metrics_file) {
      metrics_file << fmt::format("{},{},{},{},{},{},{},{},{},{}\n", r.epoch, r.train_loss,
                                  r.train_accuracy, r.validation.loss, r.validation.accuracy,
                                  r.test.loss, r.test.accuracy, r.seconds, r.samples_per_second,
                                  r.lr);
      metrics_file.flush();
    }
  };

  const nn::TrainResult result =
      nn::fit(*model, *optimizer, scheduler.get(), data, loss, to, gen, callbacks);
  const double samples_per_second = static_cast<double>(data.train.size()) *
                                    static_cast<double>(result.epochs.size()) /
                                    result.train_seconds;
  fmt::print(
      "test accuracy {:.2f}% (test loss {:.4f}) after {} epochs{}; {:.1f} s training, "
      "{:.0f} samples/s\n",
      100 * result.final_test.accuracy, result.final_test.loss, result.epochs.size(),
      result.stopped_early ? fmt::format(", stopped early, best epoch {}", result.best_epoch)
                           : (result.reached_target ? ", training loss target reached" : ""),
      result.train_seconds, samples_per_second);

  if (summary_file) {
    nlohmann::json s;
    s["test_accuracy"] = or_null(result.final_test.accuracy);
    s["test_loss"] = or_null(result.final_test.loss);
    s["final_train_loss"] = result.epochs.back().train_loss;
    s["train_seconds"] = result.train_seconds;
    s["samples_per_second"] = samples_per_second;
    s["epochs"] = result.epochs.size();
    s["best_epoch"] = result.best_epoch;
    s["stopped_early"] = result.stopped_early;
    s["reached_target_loss"] = result.reached_target;
    s["seed"] = c.seed;
    s["threads"] = get_num_threads();
    s["config"] = resolved_options(cmd, {"config", "metrics", "summary-json"});
    summary_file << s.dump(2) << "\n";
  }
  return 0;
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto c = std::make_shared<TrainCommand>();
  CLI::App* cmd = app.add_subcommand("train", "Train an MLP on a data set");
  cmd->add_option("--data", c->data.spec, std::string("Data set: ") + kDataSpecs)
      ->check(parsed_by(check_data_spec, "DATA"))
      ->capture_default_str();
  cmd->add_option("--data-dir", c->data.data_dir,
                  "Directory of fetched data sets (default: $TAPEGRAD_DATA_DIR or <source>/data)");
  cmd->add_option("--model", c->model, "Layer sizes, e.g. 784-128-64-10")
      ->check(parsed_by([](const std::string& v) { nn::parse_layer_sizes(v); }, "SPEC"))
      ->capture_default_str();
  const CLI::Validator activation =
      parsed_by([](const std::string& v) { nn::parse_activation(v); }, "ACTIVATION");
  cmd->add_option("--act", c->act, "Hidden activation: sigmoid, tanh, relu, leaky_relu, identity")
      ->check(activation)
      ->capture_default_str();
  cmd->add_option("--head", c->head,
                  "Output activation: auto (logits for ce, log_softmax for nll, sigmoid for bce), "
                  "identity, sigmoid, softmax, log_softmax")
      ->check(parsed_by(
          [](const std::string& v) {
            if (v != "auto") nn::parse_activation(v);
          },
          "HEAD"))
      ->capture_default_str();
  cmd->add_option("--loss", c->loss, "Loss: ce, nll, mse, bce, bce_logits")
      ->check(parsed_by([](const std::string& v) { nn::parse_loss(v); }, "LOSS"))
      ->capture_default_str();
  cmd->add_option("--opt", c->opt, "Optimiser: sgd, momentum, nesterov, adam, adamw, rmsprop")
      ->check(parsed_by(
          [](const std::string& v) {
            for (std::string_view name : nn::optimizer_names()) {
              if (v == name) return;
            }
            fail(
                "unknown optimiser '{}': expected one of sgd, momentum, nesterov, adam, adamw, "
                "rmsprop",
                v);
          },
          "OPTIMISER"))
      ->capture_default_str();
  cmd->add_option("--lr", c->lr, "Learning rate")->check(positive())->capture_default_str();
  cmd->add_option("--momentum", c->momentum,
                  "Momentum (sgd, momentum, nesterov, rmsprop; default: the optimiser's)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  cmd->add_option("--weight-decay", c->weight_decay, "Weight decay (default: the optimiser's)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--batch", c->batch, "Minibatch size")->check(positive())->capture_default_str();
  cmd->add_option("--epochs", c->epochs, "Epochs")->check(positive())->capture_default_str();
  cmd->add_option("--seed", c->seed, "Seed for initialisation, shuffling and splits")
      ->capture_default_str();
  cmd->add_option("--val-split", c->data.val_split,
                  "Fraction of the training set held out for validation")
      ->check(CLI::Range(0.0, 0.99))
      ->capture_default_str();
  cmd->add_option("--l1", c->l1, "L1 penalty lambda on weights: lambda * sum |w|")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--l2", c->l2, "L2 penalty lambda on weights: lambda * sum w^2")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--patience", c->patience,
                  "Early stopping patience in epochs on validation loss (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--init", c->init,
                  "Weight init: pytorch, glorot, glorot_normal, glorot_sigmoid, he, he_normal, "
                  "lecun, lecun_normal, zeros, constant:V, uniform:A,B, normal:STD")
      ->check(parsed_by([](const std::string& v) { nn::parse_init(v); }, "INIT"))
      ->capture_default_str();
  cmd->add_option("--dtype", c->dtype, "f32 or f64")
      ->check(parsed_by([](const std::string& v) { parse_dtype(v); }, "DTYPE"))
      ->capture_default_str();
  // One thread by default: a 784-128-10 network's products are small, and two
  // threads gain little on them (see README, Performance).
  add_threads_option(cmd, c->threads);
  cmd->add_flag("--flush-denormal", c->flush_denormal,
                "Treat subnormal floats as zero: faster per-sample SGD (set_flush_denormal)");
  cmd->add_option("--bias", c->bias, "Linear layers have biases")->capture_default_str();
  cmd->add_option("--normalize", c->data.normalize,
                  "Input scaling: auto, none, unit (x/255), zscore, zscore-image")
      ->check(parsed_by(check_normalize_mode, "MODE"))
      ->capture_default_str();
  cmd->add_option("--target-loss", c->target_loss,
                  "Stop once the epoch's training loss is below this (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--clip-norm", c->clip_norm, "Clip gradients to this global norm (0: off)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--schedule", c->schedule, "LR schedule: none, cosine, step:EPOCHS,GAMMA")
      ->check(parsed_by([](const std::string& v) { parse_schedule(v); }, "SCHEDULE"))
      ->capture_default_str();
  cmd->add_option("--limit-train", c->data.limit_train, "Use only the first N training samples")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--limit-test", c->data.limit_test, "Use only the first N test samples")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--metrics", c->metrics_path, "Write one CSV row per epoch to this file");
  cmd->add_option("--summary-json", c->summary_path,
                  "Write the final figures and the resolved configuration as JSON");
  cmd->add_option("--config", c->config_path,
                  "Read options from a JSON object (e.g. a --summary-json file's \"config\"); "
                  "command-line options win");
  cmd->callback([c, cmd]() {
    if (!c->config_path.empty()) apply_json_config(*cmd, c->config_path);
    c->data.seed = c->seed;
    c->momentum_given = cmd->count("--momentum") > 0;
    c->weight_decay_given = cmd->count("--weight-decay") > 0;
    const int status = run_train(*c, *cmd);
    if (status != 0) throw CLI::RuntimeError(status);
  });
}

}  // namespace tapegrad::apps
