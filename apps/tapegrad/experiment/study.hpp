// `tapegrad experiment`: the five reports' studies as data. A study is a plan (the
// unique training configurations, the seeds, and the tables that compare the
// report's published numbers with tapegrad's) plus the figures and notes drawn
// from the finished runs. Everything here is a pure function of its inputs, so
// the studies can be tested without training.
#pragma once

#include <cstdint>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace tapegrad::nn {
struct DataSplits;
class Module;
}  // namespace tapegrad::nn

namespace tapegrad::apps::experiment {

// One training run's settings, everything but the seed. Two runs with the same
// key() are the same computation: a study trains each configuration once per seed.
struct RunConfig {
  std::string data = "mnist";        // a --data spec of `tapegrad train`
  std::string normalize = "unit";    // none, unit, zscore, zscore-image
  double val_split = 0.0;            // fraction of the training split held out
  int64_t limit_train = 0;           // first N training samples (0: all)
  std::string model = "784-128-10";  // layer sizes
  std::string act = "sigmoid";       // hidden activation
  std::string head = "identity";     // output activation
  std::string loss = "ce";
  std::string opt = "sgd";
  double lr = 0.1;
  double momentum = 0.0;  // sgd and momentum only
  int64_t batch = 64;
  int epochs = 10;
  int patience = 0;  // early stopping on validation loss (0: off)
  double l1 = 0.0, l2 = 0.0;
  std::string init = "pytorch";
  bool bias = true;
  double target_loss = 0.0;  // stop once the epoch's training loss is below (0: off)

  // Canonical text of every field, e.g. "data=mnist;normalize=unit;...".
  std::string key() const;
  nlohmann::json to_json() const;
  static RunConfig from_json(const nlohmann::json& j);
};

// The first 8 hex digits of a 64-bit FNV-1a hash of `text` (stable everywhere).
std::string short_hash(const std::string& text);

// A configuration the study trains, under a short readable id ("relu-w64").
struct PlannedRun {
  std::string id;
  RunConfig config;
};

// What is compared in a table column.
enum class Metric {
  test_accuracy,     // after training (best weights restored under early stopping)
  test_loss,         //
  train_accuracy,    // the training split evaluated after training
  train_loss,        // last epoch's mean training loss
  val_accuracy,      // at the epoch whose weights were kept
  train_minutes,     // wall time of the training epochs
  epochs_run,        // epochs trained before stopping
  epochs_to_target,  // epochs until the target loss (missing when never reached)
  converged,         // 1 when the target loss was reached, else 0
};
std::string metric_name(Metric m);

struct Column {
  std::string header;
  Metric metric = Metric::test_accuracy;
  bool percent = false;  // shown x100 with a % sign
  int decimals = 2;
  // Differences below this are never flagged (in the metric's own units, e.g. 0.003
  // for 0.3 percentage points); negative: the column is not judged (e.g. times
  // measured on different machines).
  double floor = 0.003;
};

// A number (or a remark) printed in a report, in the column's units.
struct Published {
  std::optional<double> value;
  std::string text;  // shown when there is no value, or beside it
};

struct Row {
  std::string label;
  std::string run_id;
  std::vector<Published> published;  // one per column (may be shorter: the rest are empty)
};

struct Table {
  std::string title;
  std::string caption;  // under the table: where the report's numbers are from
  std::vector<Column> columns;
  std::vector<Row> rows;
};

enum class Mode { quick, full };

// What the command line chose.
struct StudyOptions {
  Mode mode = Mode::quick;
  std::optional<int> seeds;     // --seeds: overrides the mode's default
  int max_epochs = 0;           // --max-epochs: caps every run (0: no cap)
  std::string cifar_spec;       // a --data spec for CIFAR-10 when it was found, else empty
  std::string fallback_reason;  // why CIFAR-10 was not used (shown in the report)
};

struct StudyPlan {
  std::string study;
  Mode mode = Mode::quick;
  std::vector<uint64_t> seeds;
  std::vector<PlannedRun> runs;  // unique configurations, in training order
  std::vector<Table> tables;
  std::string data_note;           // shown at the top of the report (e.g. a data-set fallback)
  std::string budget_note;         // what --quick leaves out, or the full budget
  bool record_iterations = false;  // keep the loss of every training batch

  // Adds a run unless one with the same configuration exists; returns the id to use.
  std::string add(const std::string& id, const RunConfig& config);
  const PlannedRun* find(const std::string& id) const;
};

// A finished run, as stored in runs/<id>-<hash>-s<seed>.json.
struct EpochRow {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0;
  double val_loss = std::numeric_limits<double>::quiet_NaN();
  double val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double test_loss = 0, test_accuracy = 0;
  double seconds = 0, lr = 0;
};

struct RunResult {
  std::string run_id;
  RunConfig config;
  uint64_t seed = 0;
  std::vector<EpochRow> epochs;
  double test_loss = 0, test_accuracy = 0;  // final, after restoring the best weights
  // The whole training split evaluated with the final weights (NaN when not measured).
  double final_train_loss = std::numeric_limits<double>::quiet_NaN();
  double final_train_accuracy = std::numeric_limits<double>::quiet_NaN();
  double train_seconds = 0;
  int best_epoch = 0;
  bool stopped_early = false, reached_target = false;
  int64_t iteration_window = 0;                      // batches averaged per entry of iteration_loss
  std::vector<double> iteration_loss;                // mean loss of each window of batches
  nlohmann::json extras = nlohmann::json::object();  // study-specific (probabilities, grids)

  nlohmann::json to_json() const;
  static RunResult from_json(const nlohmann::json& j);
};

// A value of `m` for one run; NaN when the run has none (e.g. epochs_to_target when
// the target was not reached).
double metric_value(const RunResult& r, Metric m);

// The results of every run of a study.
using Results = std::vector<RunResult>;
// Those of one configuration, in seed order.
std::vector<const RunResult*> runs_of(const Results& results, const std::string& run_id);

// A figure: a gnuplot multiplot of panels, written as NAME.svg and NAME.png.
struct Series {
  std::string file;    // data file relative to the figures directory
  std::string using_;  // gnuplot "using" clause, e.g. "1:2" or "1:2:3"
  std::string style;   // e.g. "lines lw 2", "yerrorlines", "boxes"
  std::string title;   // legend entry (empty: notitle)
  std::string extra;   // anything after the title, e.g. "lc rgb '#1f77b4'"
};
struct Panel {
  std::string title, xlabel, ylabel;
  bool logx = false, logy = false;
  std::string xrange, yrange;         // e.g. "[0:1]"; empty = automatic
  std::vector<std::string> settings;  // raw gnuplot "set ..." lines for this panel
  std::vector<Series> series;
  std::string raw_plot;  // when set, used verbatim instead of series (e.g. "plot ... matrix")
};
struct Figure {
  std::string name;               // file stem
  std::string caption;            // shown under it in report.md
  int width = 900, height = 560;  // pixels
  int columns = 1;                // panels per row
  std::string title;              // over all panels
  std::vector<Panel> panels;
};

// A data file for the figures: header names and rows of numbers (NaN allowed).
struct DataFile {
  std::string name;  // relative to the figures directory, e.g. "data/width.csv"
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
};

// What a study adds to its report once the runs are done.
struct StudyReport {
  std::vector<std::string> notes;     // markdown paragraphs or bullets
  std::vector<std::string> sections;  // extra markdown sections (e.g. the gradient table)
  std::vector<Figure> figures;
  std::vector<DataFile> data;
  nlohmann::json summary = nlohmann::json::object();  // extra entries for summary.json
};

struct Study {
  std::string name;
  std::string report;  // e.g. "000"
  std::string title;
  std::string description;                // one paragraph for --list
  std::string quick_budget, full_budget;  // for --list
  std::function<StudyPlan(const StudyOptions&)> plan;
  // Optional: called after each run with the trained model and its data; returns
  // the run's extras (e.g. class probabilities of some test images).
  std::function<nlohmann::json(nn::Module&, const nn::DataSplits&, const RunConfig&)> probe;
  // Optional: computed once per invocation from the plan (e.g. report 003's
  // numerical gradient table), as a markdown section and a summary entry.
  std::function<std::pair<std::string, nlohmann::json>(const StudyPlan&,
                                                       const std::string& data_dir)>
      extra_section;
  // Notes, figures and their data from the finished runs.
  std::function<StudyReport(const StudyPlan&, const Results&)> report_parts;
};

// The five studies, in report order.
const std::vector<Study>& studies();
// The study called `name`; throws tapegrad::Error listing the valid names.
const Study& find_study(const std::string& name);
// "mnist-width-depth, mnist-depth-activation, ..." for messages.
std::string study_names();

// The definitions, one per report (study_*.cpp).
Study mnist_width_depth_study();
Study mnist_depth_activation_study();
Study mnist_sgd_small_study();
Study cifar10_regularization_study();
Study xor_linear_study();

// Helpers shared by the definitions.
std::vector<uint64_t> seed_list(const StudyOptions& o, int quick_default, int full_default);
// Applies --max-epochs to a configuration.
RunConfig capped(RunConfig c, const StudyOptions& o);

}  // namespace tapegrad::apps::experiment
