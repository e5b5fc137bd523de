#include "tapegrad/experiment/study.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad::apps::experiment {

std::string RunConfig::key() const {
  return fmt::format(
      "data={};normalize={};val_split={};limit_train={};model={};act={};head={};loss={};opt={};"
      "lr={};momentum={};batch={};epochs={};patience={};l1={};l2={};init={};bias={};"
      "target_loss={}",
      data, normalize, val_split, limit_train, model, act, head, loss, opt, lr, momentum, batch,
      epochs, patience, l1, l2, init, bias, target_loss);
}

nlohmann::json RunConfig::to_json() const {
  return {{"data", data},
          {"normalize", normalize},
          {"val_split", val_split},
          {"limit_train", limit_train},
          {"model", model},
          {"act", act},
          {"head", head},
          {"loss", loss},
          {"opt", opt},
          {"lr", lr},
          {"momentum", momentum},
          {"batch", batch},
          {"epochs", epochs},
          {"patience", patience},
          {"l1", l1},
          {"l2", l2},
          {"init", init},
          {"bias", bias},
          {"target_loss", target_loss}};
}

RunConfig RunConfig::from_json(const nlohmann::json& j) {
  RunConfig c;
  c.data = j.at("data").get<std::string>();
  c.normalize = j.at("normalize").get<std::string>();
  c.val_split = j.at("val_split").get<double>();
  c.limit_train = j.at("limit_train").get<int64_t>();
  c.model = j.at("model").get<std::string>();
  c.act = j.at("act").get<std::string>();
  c.head = j.at("head").get<std::string>();
  c.loss = j.at("loss").get<std::string>();
  c.opt = j.at("opt").get<std::string>();
  c.lr = j.at("lr").get<double>();
  c.momentum = j.at("momentum").get<double>();
  c.batch = j.at("batch").get<int64_t>();
  c.epochs = j.at("epochs").get<int>();
  c.patience = j.at("patience").get<int>();
  c.l1 = j.at("l1").get<double>();
  c.l2 = j.at("l2").get<double>();
  c.init = j.at("init").get<std::string>();
  c.bias = j.at("bias").get<bool>();
  c.target_loss = j.at("target_loss").get<double>();
  return c;
}

std::string short_hash(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char ch : text) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return fmt::format("{:08x}", static_cast<uint32_t>(h ^ (h >> 32)));
}

std::string StudyPlan::add(const std::string& id, const RunConfig& config) {
  const std::string key = config.key();
  for (const PlannedRun& r : runs) {
    if (r.config.key() == key) return r.id;
  }
  if (find(id)) fail("experiment {}: run id '{}' is used by two configurations", study, id);
  runs.push_back({id, config});
  return id;
}

const PlannedRun* StudyPlan::find(const std::string& id) const {
  for (const PlannedRun& r : runs) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

std::string metric_name(Metric m) {
  switch (m) {
    case Metric::test_accuracy:
      return "test_accuracy";
    case Metric::test_loss:
      return "test_loss";
    case Metric::train_accuracy:
      return "train_accuracy";
    case Metric::train_loss:
      return "train_loss";
    case Metric::val_accuracy:
      return "val_accuracy";
    case Metric::train_minutes:
      return "train_minutes";
    case Metric::epochs_run:
      return "epochs_run";
    case Metric::epochs_to_target:
      return "epochs_to_target";
    case Metric::converged:
      return "converged";
  }
  return "?";
}

double metric_value(const RunResult& r, Metric m) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  switch (m) {
    case Metric::test_accuracy:
      return r.test_accuracy;
    case Metric::test_loss:
      return r.test_loss;
    case Metric::train_accuracy:
      if (std::isfinite(r.final_train_accuracy)) return r.final_train_accuracy;
      return r.epochs.empty() ? nan : r.epochs.back().train_accuracy;
    case Metric::train_loss:
      return r.epochs.empty() ? nan : r.epochs.back().train_loss;
    case Metric::val_accuracy: {
      for (const EpochRow& e : r.epochs) {
        if (e.epoch == r.best_epoch) return e.val_accuracy;
      }
      return r.epochs.empty() ? nan : r.epochs.back().val_accuracy;
    }
    case Metric::train_minutes:
      return r.train_seconds / 60.0;
    case Metric::epochs_run:
      return static_cast<double>(r.epochs.size());
    case Metric::epochs_to_target:
      return r.reached_target ? static_cast<double>(r.epochs.size()) : nan;
    case Metric::converged:
      return r.reached_target ? 1.0 : 0.0;
  }
  return nan;
}

std::vector<const RunResult*> runs_of(const Results& results, const std::string& run_id) {
  std::vector<const RunResult*> out;
  for (const RunResult& r : results) {
    if (r.run_id == run_id) out.push_back(&r);
  }
  std::sort(out.begin(), out.end(),
            [](const RunResult* a, const RunResult* b) { return a->seed < b->seed; });
  return out;
}

namespace {
// JSON has no NaN: missing values are stored as null.
nlohmann::json number_or_null(double v) {
  return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
}
double number_from(const nlohmann::json& j) {
  return j.is_number() ? j.get<double>() : std::numeric_limits<double>::quiet_NaN();
}
}  // namespace

nlohmann::json RunResult::to_json() const {
  nlohmann::json e = nlohmann::json::array();
  for (const EpochRow& r : epochs) {
    e.push_back({r.epoch, number_or_null(r.train_loss), number_or_null(r.train_accuracy),
                 number_or_null(r.val_loss), number_or_null(r.val_accuracy),
                 number_or_null(r.test_loss), number_or_null(r.test_accuracy), r.seconds, r.lr});
  }
  nlohmann::json it = nlohmann::json::array();
  for (double v : iteration_loss) it.push_back(number_or_null(v));
  return {{"run_id", run_id},
          {"config", config.to_json()},
          {"config_key", config.key()},
          {"seed", seed},
          {"test_loss", number_or_null(test_loss)},
          {"test_accuracy", number_or_null(test_accuracy)},
          {"final_train_loss", number_or_null(final_train_loss)},
          {"final_train_accuracy", number_or_null(final_train_accuracy)},
          {"train_seconds", train_seconds},
          {"best_epoch", best_epoch},
          {"stopped_early", stopped_early},
          {"reached_target", reached_target},
          {"epoch_columns",
           {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "test_loss",
            "test_accuracy", "seconds", "lr"}},
          {"epochs", e},
          {"iteration_window", iteration_window},
          {"iteration_loss", it},
          {"extras", extras}};
}

RunResult RunResult::from_json(const nlohmann::json& j) {
  RunResult r;
  r.run_id = j.at("run_id").get<std::string>();
  r.config = RunConfig::from_json(j.at("config"));
  r.seed = j.at("seed").get<uint64_t>();
  r.test_loss = number_from(j.at("test_loss"));
  r.test_accuracy = number_from(j.at("test_accuracy"));
  r.final_train_loss = number_from(j.at("final_train_loss"));
  r.final_train_accuracy = number_from(j.at("final_train_accuracy"));
  r.train_seconds = j.at("train_seconds").get<double>();
  r.best_epoch = j.at("best_epoch").get<int>();
  r.stopped_early = j.at("stopped_early").get<bool>();
  r.reached_target = j.at("reached_target").get<bool>();
  for (const auto& e : j.at("epochs")) {
    EpochRow row;
    row.epoch = e.at(0).get<int>();
    row.train_loss = number_from(e.at(1));
    row.train_accuracy = number_from(e.at(2));
    row.val_loss = number_from(e.at(3));
    row.val_accuracy = number_from(e.at(4));
    row.test_loss = number_from(e.at(5));
    row.test_accuracy = number_from(e.at(6));
    row.seconds = number_from(e.at(7));
    row.lr = number_from(e.at(8));
    r.epochs.push_back(row);
  }
  r.iteration_window = j.at("iteration_window").get<int64_t>();
  for (const auto& v : j.at("iteration_loss")) r.iteration_loss.push_back(number_from(v));
  r.extras = j.at("extras");
  return r;
}

const std::vector<Study>& studies() {
  static const std::vector<Study> all = {mnist_width_depth_study(), mnist_depth_activation_study(),
                                         mnist_sgd_small_study(), cifar10_regularization_study(),
                                         xor_linear_study()};
  return all;
}

std::string study_names() {
  std::string names;
  for (const Study& s : studies()) names += (names.empty() ? "" : ", ") + s.name;
  return names;
}

const Study& find_study(const std::string& name) {
  for (const Study& s : studies()) {
    if (s.name == name) return s;
  }
  fail("unknown study '{}': expected one of {}", name, study_names());
}

std::vector<uint64_t> seed_list(const StudyOptions& o, int quick_default, int full_default) {
  const int n = o.seeds.value_or(o.mode == Mode::quick ? quick_default : full_default);
  if (n < 1) fail("--seeds must be at least 1, got {}", n);
  std::vector<uint64_t> seeds;
  for (int i = 0; i < n; ++i) seeds.push_back(static_cast<uint64_t>(i));
  return seeds;
}

RunConfig capped(RunConfig c, const StudyOptions& o) {
  if (o.max_epochs > 0) c.epochs = std::min(c.epochs, o.max_epochs);
  return c;
}

}  // namespace tapegrad::apps::experiment
