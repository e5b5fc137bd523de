// `tapegrad experiment`: every study's figures, from made-up results, are drawn by
// gnuplot without errors (or, without gnuplot, the report says how to install it).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/run_command.hpp"
#include "tapegrad/experiment/plot.hpp"
#include "tapegrad/experiment/report.hpp"

using namespace tapegrad::apps::experiment;
namespace fs = std::filesystem;

namespace {
// Three epochs of plausible numbers, and the extras the studies' probes write.
RunResult fake_result(const PlannedRun& run, uint64_t seed) {
  RunResult r;
  r.run_id = run.id;
  r.config = run.config;
  r.seed = seed;
  const double s = 0.01 * static_cast<double>(seed);
  for (int e = 1; e <= 3; ++e) {
    const double t = static_cast<double>(e);
    r.epochs.push_back({e, 0.6 / t + s, 0.7 + 0.05 * t, 0.65 / t, 0.68 + 0.05 * t, 0.66 / t,
                        0.69 + 0.05 * t, 1.0, 0.1});
  }
  r.test_accuracy = 0.85 + s;
  r.test_loss = 0.3;
  r.final_train_accuracy = 0.86 + s;
  r.train_seconds = 3;
  r.best_epoch = 3;
  r.reached_target = seed == 0;
  r.iteration_window = 2;
  r.iteration_loss = {2.3, 1.0, 0.5, 0.4};
  nlohmann::json image{{"index", 4}, {"label", 3}, {"predicted", 5}};
  for (int k = 0; k < 10; ++k) image["probabilities"].push_back(k == 5 ? 0.6 : 0.04);
  for (int k = 0; k < 784; ++k) image["pixels"].push_back((k % 28) / 28.0);
  r.extras = {{"images", {image, image}},
              {"grid_size", 3},
              {"grid", {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9}},
              {"points", {{0.1, 0.2, 0}, {0.8, 0.3, 1}}}};
  return r;
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

TEST_CASE("every study's figures are drawn from its results") {
  for (const Study& study : studies()) {
    CAPTURE(study.name);
    StudyOptions o;
    o.seeds = 2;
    const StudyPlan plan = study.plan(o);
    Outcome outcome;
    for (uint64_t seed : plan.seeds) {
      for (const PlannedRun& run : plan.runs) outcome.results.push_back(fake_result(run, seed));
    }
    const StudyReport parts = study.report_parts(plan, outcome.results);
    CHECK_FALSE(parts.figures.empty());
    CHECK_FALSE(parts.notes.empty());
    const fs::path out = temp_path("exp-figures-" + study.name);
    fs::remove_all(out);
    prepare_out_dir(out);
    const std::string status = write_outputs(out, study, plan, outcome, RunInfo{}, parts);
    for (const DataFile& d : parts.data) CHECK(fs::exists(out / "figures" / d.name));
    const std::string md = slurp(out / "report.md");
    if (gnuplot_available()) {
      CHECK_MESSAGE(status.empty(), status);
      for (const Figure& f : parts.figures) {
        CAPTURE(f.name);
        CHECK(fs::file_size(out / "figures" / (f.name + ".png")) > 2000);
        CHECK(fs::file_size(out / "figures" / (f.name + ".svg")) > 2000);
        CHECK(md.find("![" + f.caption + "](figures/" + f.name + ".png)") != std::string::npos);
      }
    } else {
      CHECK(status == kGnuplotHint);
      CHECK(md.find("apt-get install gnuplot-nox") != std::string::npos);
    }
  }
}

TEST_CASE("figures are drawn into an output directory given as a relative path") {
  // The default --out is runs/NAME, relative to the working directory.
  if (!gnuplot_available()) return;
  const Study& study = find_study("xor-linear");
  const StudyPlan plan = study.plan(StudyOptions{});
  Outcome outcome;
  for (const PlannedRun& run : plan.runs) outcome.results.push_back(fake_result(run, 0));
  const StudyReport parts = study.report_parts(plan, outcome.results);
  const fs::path base = temp_path("exp-relative");
  fs::remove_all(base);
  fs::create_directories(base);
  const fs::path previous = fs::current_path();
  fs::current_path(base);
  const fs::path out = "runs/xor-linear";
  prepare_out_dir(out);
  const std::string status = write_outputs(out, study, plan, outcome, RunInfo{}, parts);
  fs::current_path(previous);
  CHECK_MESSAGE(status.empty(), status);
  for (const Figure& f : parts.figures) {
    CHECK(fs::exists(base / out / "figures" / (f.name + ".png")));
  }
}

// ---- What the studies write, from made-up results ----

namespace {
struct Built {
  StudyPlan plan;
  Outcome outcome;
  StudyReport parts;
  std::string markdown;
};
// A study's plan (two seeds), made-up results for every run and seed, its report parts
// and report.md (as if gnuplot had drawn the figures).
Built build(const std::string& name, StudyOptions o = {}) {
  const Study& study = find_study(name);
  o.seeds = 2;
  Built b;
  b.plan = study.plan(o);
  for (uint64_t seed : b.plan.seeds) {
    for (const PlannedRun& run : b.plan.runs) b.outcome.results.push_back(fake_result(run, seed));
  }
  b.parts = study.report_parts(b.plan, b.outcome.results);
  b.markdown = report_markdown(study, b.plan, b.outcome, RunInfo{}, b.parts, "");
  return b;
}
const Figure& figure(const StudyReport& parts, const std::string& name) {
  const auto it = std::find_if(parts.figures.begin(), parts.figures.end(),
                               [&](const Figure& f) { return f.name == name; });
  REQUIRE_MESSAGE(it != parts.figures.end(), name);
  return *it;
}
const DataFile& data_file(const StudyReport& parts, const std::string& name) {
  const auto it = std::find_if(parts.data.begin(), parts.data.end(),
                               [&](const DataFile& d) { return d.name == name; });
  REQUIRE_MESSAGE(it != parts.data.end(), name);
  return *it;
}
std::string notes(const StudyReport& parts) {
  std::string out;
  for (const std::string& n : parts.notes) out += n + "\n";
  return out;
}
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
size_t count(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (size_t pos = text.find(part); pos != std::string::npos; pos = text.find(part, pos + 1)) ++n;
  return n;
}
std::vector<std::string> series_titles(const Panel& p) {
  std::vector<std::string> out;
  for (const Series& s : p.series) out.push_back(s.title);
  return out;
}
}  // namespace

TEST_CASE("mnist-sgd-small: figures name both learning rates; a repeated row is one difference") {
  const Built b = build("mnist-sgd-small");
  const Figure& rates = figure(b.parts, "learning_rates");
  REQUIRE(rates.panels.size() == 2);
  for (const Panel& p : rates.panels) {
    CHECK(series_titles(p) == std::vector<std::string>{"report's lr 1e-3 (tapegrad lr 1.28)",
                                                       "report's lr 1e-4 (tapegrad lr 0.128)",
                                                       "report's lr 1e-5 (tapegrad lr 0.0128)"});
  }
  CHECK(contains(rates.title, "x 1280"));
  CHECK(contains(rates.caption, "1.28, 0.128, 0.0128"));
  CHECK(contains(figure(b.parts, "architectures").title, "report's lr 1e-3 (tapegrad lr 1.28)"));
  // 784-20-10 at lr 1e-3 is in both tables; its test accuracy (85%) differs from the
  // report's 90.25% once.
  CHECK(count(b.markdown, "| **85.50 ± 0.71%** |") == 2);  // bold in both tables
  CHECK(count(b.markdown, "Test accuracy: tapegrad 85.50 ± 0.71% vs report 90.25%") == 1);
  CHECK(contains(b.markdown, "- 784-20-10, lr 1e-3, Test accuracy: tapegrad"));
  // This study holds out a validation split (xor-linear, below, does not).
  CHECK(contains(b.markdown, "the data and its train/validation split are the same"));
}

TEST_CASE(
    "mnist-depth-activation: notes phrase the budget per metric; the bar colours have a key") {
  const Built b = build("mnist-depth-activation");
  const std::string n = notes(b.parts);
  CHECK(contains(n, "--quick trains at most 10 epochs where the report trained 20 epochs"));
  CHECK(contains(n,
                 "accuracies below the report's and losses above the report's may only need "
                 "more training"));
  CHECK(contains(n,
                 "The learning rate 0.03 was chosen against the report's loss after its 20 "
                 "epochs"));
  CHECK(contains(n, "0.0428"));
  CHECK(contains(n,
                 "After the 10 epochs trained here that loss is still falling, so the sigmoid "
                 "networks' losses are expected to be higher than the report's."));
  const Figure& probs = figure(b.parts, "class_probabilities");
  for (const char* key :
       {"green = the true class", "red = a wrong prediction", "grey = the other classes"}) {
    CHECK(contains(probs.title, key));
  }
  CHECK(contains(probs.caption, "grey: the other classes"));
  // The sigmoid network is a row of all three tables: its loss differs once.
  CHECK(count(b.markdown, "vs report 0.0428") == 1);
  CHECK(contains(b.markdown, "the data are the same for every run"));

  // With the report's 20 epochs the loss is not expected to be higher.
  StudyOptions full;
  full.mode = Mode::full;
  const std::string full_notes = notes(build("mnist-depth-activation", full).parts);
  CHECK(contains(full_notes, "The learning rate 0.03 was chosen"));
  CHECK_FALSE(contains(full_notes, "still falling"));
  CHECK_FALSE(contains(full_notes, "--quick"));
}

TEST_CASE("mnist-width-depth: both of the report's budgets; loss and accuracy learning curves") {
  const Built b = build("mnist-width-depth");
  CHECK(contains(notes(b.parts),
                 "--quick trains at most 8 epochs where the report trained 100 "
                 "epochs for the width study and 300 for the depth study"));
  for (const char* name : {"loss_curves", "train_accuracy_curves", "test_accuracy_curves"}) {
    CAPTURE(name);
    const Figure& f = figure(b.parts, name);
    CHECK(contains(f.title, "mean over 2 seeds"));
    CHECK(contains(f.caption, "mean over 2 seeds"));
    REQUIRE(f.panels.size() == 4);  // sigmoid and ReLU, width and depth
    CHECK(f.panels[0].xlabel == "epoch");
    CHECK_FALSE(f.panels[0].ylabel.empty());
  }
  // Loss: training (solid, with a key entry) and test (dashed, same colour) per network.
  const Panel& loss = figure(b.parts, "loss_curves").panels[0];
  REQUIRE(loss.series.size() == 10);
  CHECK(loss.series[0].title == "784-16-10");
  CHECK(loss.series[0].extra == "lc 1");
  CHECK(loss.series[5].title.empty());
  CHECK(loss.series[5].extra == "lc 1 dt 2");
  CHECK(loss.logy);
  // The data: the mean over both seeds of each epoch (fake train loss 0.6 / epoch + 0.01 seed).
  const DataFile& d = data_file(b.parts, loss.series[0].file);
  CHECK(d.header[1] == "sigmoid-w16_mean");
  REQUIRE(d.rows.size() == 3);
  CHECK(d.rows[0][1] == doctest::Approx(0.605));
  CHECK(d.rows[0][11] == doctest::Approx(0.66));  // test loss of the same network
  const Panel& train = figure(b.parts, "train_accuracy_curves").panels[3];
  CHECK(series_titles(train) ==
        std::vector<std::string>{"784-128-10", "784-128-128-10", "784-128-128-128-10"});
  CHECK(data_file(b.parts, train.series[0].file).rows[2][1] == doctest::Approx(85.0));
}

TEST_CASE("cifar10-regularization: the fallback plots no CIFAR-10 numbers; the baseline has test") {
  const Built b = build("cifar10-regularization");
  const Figure& acc = figure(b.parts, "test_accuracy");
  REQUIRE(acc.panels.size() == 1);
  const Panel& p = acc.panels[0];
  CHECK(series_titles(p) == std::vector<std::string>{"tapegrad"});
  CHECK_FALSE(p.xlabel.empty());
  for (const std::string& s : p.settings) CHECK_FALSE(contains(s, "bmargin"));
  CHECK(contains(acc.caption, "not plotted"));
  CHECK(data_file(b.parts, "data/test_accuracy.csv").header ==
        std::vector<std::string>{"index", "tapegrad_mean", "tapegrad_std"});
  // The report's numbers stay in the tables, the two given in words too.
  CHECK(contains(b.markdown, "| tanh, 128 units, batch 128 (best model) | 40.97% |"));
  CHECK(contains(b.markdown, "| lr 0.001 | around 38% (in words; not compared) |"));
  CHECK(contains(b.markdown, "| two hidden layers of 128 | about 39% (in words; not compared) |"));
  CHECK(contains(notes(b.parts), "only in words"));

  const Figure& curves = figure(b.parts, "baseline_curves");
  for (const Panel& panel : curves.panels) {
    CHECK(series_titles(panel) == std::vector<std::string>{"training", "validation", "test"});
  }
  CHECK(contains(curves.caption, "test"));

  // On CIFAR-10 the report's numbers are plotted, those given in words as hollow points.
  StudyOptions cifar;
  cifar.cifar_spec = "cifar10:/nowhere";
  const Built c = build("cifar10-regularization", cifar);
  const Panel& q = figure(c.parts, "test_accuracy").panels[0];
  CHECK(series_titles(q) ==
        std::vector<std::string>{"tapegrad", "report 003", "report 003, in words"});
  const DataFile& bars = data_file(c.parts, "data/test_accuracy.csv");
  REQUIRE(bars.header.size() == 5);
  REQUIRE(bars.rows.size() == 13);
  CHECK(bars.rows[0][3] == doctest::Approx(40.97));  // tanh-128
  CHECK(std::isnan(bars.rows[0][4]));
  CHECK(std::isnan(bars.rows[2][3]));  // lr-0.001: in words only
  CHECK(bars.rows[2][4] == doctest::Approx(38));
  CHECK(bars.rows[12][4] == doctest::Approx(39));  // tanh-128-128
  CHECK(contains(notes(c.parts), "hollow points"));
}

TEST_CASE("xor-linear: the seeds line mentions no validation split") {
  const Built b = build("xor-linear");
  CHECK(contains(b.markdown, "the minibatch order; the data are the same for every run."));
  CHECK_FALSE(contains(b.markdown, "validation split"));
}
