// `tapegrad experiment`: aggregation over seeds, the report-versus-tapegrad table
// cells, figures' data and script, and the result files' format, from known inputs.
#include <doctest/doctest.h>

#include <cmath>

#include "tapegrad/autograd/error.hpp"
#include "tapegrad/experiment/aggregate.hpp"
#include "tapegrad/experiment/figures.hpp"
#include "tapegrad/experiment/plot.hpp"
#include "tapegrad/experiment/report.hpp"

using namespace tapegrad::apps::experiment;

namespace {
const double kNan = std::nan("");

RunResult result(const std::string& id, uint64_t seed, double test_accuracy,
                 std::vector<double> train_losses = {0.5, 0.25}) {
  RunResult r;
  r.run_id = id;
  r.seed = seed;
  r.test_accuracy = test_accuracy;
  r.test_loss = 1 - test_accuracy;
  for (size_t e = 0; e < train_losses.size(); ++e) {
    EpochRow row;
    row.epoch = static_cast<int>(e + 1);
    row.train_loss = train_losses[e];
    row.val_accuracy = 0.5 + 0.1 * static_cast<double>(e);
    row.test_accuracy = test_accuracy;
    r.epochs.push_back(row);
  }
  r.best_epoch = static_cast<int>(train_losses.size());
  return r;
}
bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}
}  // namespace

TEST_CASE("summarize: mean and sample standard deviation of the finite values") {
  const std::vector<double> v = {1, 2, 3, 4};
  const Stats s = summarize(v);
  CHECK(s.n == 4);
  CHECK(s.mean == 2.5);
  CHECK(s.stddev == doctest::Approx(std::sqrt(5.0 / 3.0)));
  const std::vector<double> with_nan = {2, kNan, 4};
  const Stats t = summarize(with_nan);
  CHECK(t.n == 2);
  CHECK(t.missing == 1);
  CHECK(t.mean == 3);
  CHECK(t.stddev == doctest::Approx(std::sqrt(2.0)));
  const std::vector<double> one = {0.7};
  CHECK(summarize(one).stddev == 0);
  CHECK(summarize(std::vector<double>{}).n == 0);
}

TEST_CASE("compare: a published number differs when it lies beyond 2 std and the floor") {
  const Column acc{"Test accuracy", Metric::test_accuracy, true, 2, 0.003};
  const Published report{0.97, ""};
  CHECK(compare(report, {0.975, 0.001, 3, 0}, acc) == Agreement::differs);  // 0.005 > 0.003
  CHECK(compare(report, {0.975, 0.003, 3, 0}, acc) == Agreement::within);   // 0.005 <= 0.006
  CHECK(compare(report, {0.972, 0.0, 1, 0}, acc) == Agreement::within);     // under the floor
  CHECK(compare(report, {0.9, 0.0, 0, 3}, acc) == Agreement::none);         // no values
  CHECK(compare({std::nullopt, "converges"}, {0.5, 0.1, 3, 0}, acc) == Agreement::none);
  Column times = acc;
  times.floor = -1;  // not judged
  CHECK(compare(report, {0.5, 0.0, 3, 0}, times) == Agreement::none);
}

TEST_CASE("a table row aggregates its run's seeds and puts the report's number beside them") {
  Table t{
      "Accuracy",
      "",
      {{"Test accuracy", Metric::test_accuracy, true, 2, 0.003},
       {"Loss", Metric::train_loss, false, 3, 0.01}},
      {{"net a", "a", {{0.90, ""}, {0.25, ""}}}, {"net b", "b", {{std::nullopt, "about 90%"}}}}};
  const Results results = {result("a", 0, 0.96), result("b", 0, 0.5), result("a", 1, 0.98)};
  const AggregatedTable at = aggregate(t, results);
  REQUIRE(at.rows.size() == 2);
  const Cell& acc = at.rows[0].cells[0];
  CHECK(acc.stats.n == 2);
  CHECK(acc.stats.mean == doctest::Approx(0.97));
  CHECK(acc.stats.stddev == doctest::Approx(std::sqrt(2) * 0.01));
  CHECK(acc.agreement == Agreement::differs);                 // 0.07 away from 0.90
  CHECK(at.rows[0].cells[1].agreement == Agreement::within);  // loss 0.25 both
  CHECK(at.rows[1].cells[0].agreement == Agreement::none);

  const std::string md = markdown_table(at);
  CHECK(contains(md,
                 "| Setting | Test accuracy: report | Test accuracy: tapegrad | Loss: report | "
                 "Loss: tapegrad |"));
  CHECK(contains(md, "| net a | 90.00% | **97.00 ± 1.41%** | 0.250 | 0.250 ± 0.000 |"));
  CHECK(contains(md, "| net b | about 90% | 50.00% | - | 0.250 |"));
  const std::vector<std::string> diffs = differences(at);
  REQUIRE(diffs.size() == 1);
  CHECK(diffs[0] == "net a, Test accuracy: tapegrad 97.00 ± 1.41% vs report 90.00%");
}

TEST_CASE("a comparison repeated in several tables is listed once among the differences") {
  const std::vector<Column> columns = {{"Test accuracy", Metric::test_accuracy, true, 2, 0.003}};
  // The baseline "a" is a row of both tables, with the same published number.
  const Table first{"First", "", columns, {{"baseline", "a", {{0.90, ""}}}}};
  const Table second{"Second",
                     "",
                     columns,
                     {{"baseline (again)", "a", {{0.90, ""}}}, {"other", "b", {{0.90, ""}}}}};
  // The same run against another published number is another comparison.
  const Table third{"Third", "", columns, {{"baseline, elsewhere", "a", {{0.80, ""}}}}};
  const Results results = {result("a", 0, 0.96), result("b", 0, 0.5)};
  const std::vector<AggregatedTable> tables = {
      aggregate(first, results), aggregate(second, results), aggregate(third, results)};
  CHECK(differences(tables) ==
        std::vector<std::string>{"baseline, Test accuracy: tapegrad 96.00% vs report 90.00%",
                                 "other, Test accuracy: tapegrad 50.00% vs report 90.00%",
                                 "baseline, elsewhere, Test accuracy: tapegrad 96.00% vs report "
                                 "80.00%"});
  CHECK(differences(tables[1]).size() == 2);  // one table alone keeps every row
}

TEST_CASE("metrics of a run: the best epoch's validation accuracy, epochs to the target") {
  RunResult r = result("a", 0, 0.9, {0.5, 0.4, 0.3});
  r.best_epoch = 2;
  CHECK(metric_value(r, Metric::val_accuracy) == doctest::Approx(0.6));
  CHECK(metric_value(r, Metric::train_loss) == 0.3);
  CHECK(metric_value(r, Metric::epochs_run) == 3);
  CHECK(std::isnan(metric_value(r, Metric::epochs_to_target)));
  CHECK(metric_value(r, Metric::converged) == 0);
  r.reached_target = true;
  CHECK(metric_value(r, Metric::epochs_to_target) == 3);
  r.train_seconds = 90;
  CHECK(metric_value(r, Metric::train_minutes) == 1.5);
  // Train accuracy: the evaluated training split when measured.
  r.final_train_accuracy = 0.93;
  CHECK(metric_value(r, Metric::train_accuracy) == 0.93);

  const Column epochs{"Epochs", Metric::epochs_to_target, false, 0, -1};
  const std::vector<double> some = {10, kNan, 14};
  CHECK(format_stats(summarize(some), epochs) == "12 ± 3 (2 of 3)");
  const std::vector<double> none = {kNan, kNan};
  CHECK(format_stats(summarize(none), epochs) == "- (0 of 2)");
}

TEST_CASE("mean curves average the seeds that reached each epoch") {
  const Results results = {result("a", 0, 0.9, {1.0, 0.5}), result("a", 1, 0.9, {3.0, 0.7, 0.2})};
  const auto rows = mean_curve(runs_of(results, "a"), Curve::train_loss);
  REQUIRE(rows.size() == 3);
  CHECK(rows[0] == std::vector<double>{1, 2, std::sqrt(2.0), 2});
  CHECK(rows[1][1] == doctest::Approx(0.6));
  CHECK(rows[2] == std::vector<double>{3, 0.2, 0, 1});

  const DataFile f = curve_file("data/x.csv", results, {"a"}, Curve::train_loss, 10, true);
  CHECK(f.header == std::vector<std::string>{"epoch", "a_mean", "a_std"});
  REQUIRE(f.rows.size() == 2);  // the first seed alone
  CHECK(f.rows[1] == std::vector<double>{2, 5, 0});
  CHECK(csv_text({"d.csv", {"x", "y"}, {{1, 0.5}, {2, kNan}}}) == "x,y\n1,0.5\n2,nan\n");
}

TEST_CASE("split curves: loss and accuracy (in %) on the three splits, one file each") {
  const Results results = {result("a", 0, 0.9, {1.0, 0.5})};
  const auto [loss, accuracy] =
      split_curves("data/base", runs_of(results, "a"), {"training", "validation", "test"});
  CHECK(loss.name == "data/base_loss.csv");
  CHECK(accuracy.name == "data/base_accuracy.csv");
  const std::vector<std::string> header = {"epoch",           "training_mean",  "training_std",
                                           "validation_mean", "validation_std", "test_mean",
                                           "test_std"};
  CHECK(loss.header == header);
  CHECK(accuracy.header == header);
  REQUIRE(loss.rows.size() == 2);
  CHECK(loss.rows[1][1] == 0.5);                      // training loss, epoch 2
  CHECK(accuracy.rows[1][3] == doctest::Approx(60));  // validation accuracy x 100
  CHECK(accuracy.rows[0][5] == doctest::Approx(90));  // test accuracy x 100
  CHECK_THROWS_WITH_AS(split_curves("data/x", runs_of(results, "a"), {"training", "test"}),
                       doctest::Contains("split_curves: 2 labels for the 3 splits"),
                       tapegrad::Error);
}

TEST_CASE("a result survives its JSON file, missing values included") {
  RunResult r = result("relu-w16", 3, 0.91);
  r.config.model = "784-16-10";
  r.config.l2 = 1e-4;
  r.iteration_window = 18;
  r.iteration_loss = {2.3, 0.4};
  r.extras = {{"grid_size", 2}};
  const RunResult back = RunResult::from_json(nlohmann::json::parse(r.to_json().dump()));
  CHECK(back.run_id == "relu-w16");
  CHECK(back.seed == 3);
  CHECK(back.config.key() == r.config.key());
  CHECK(back.test_accuracy == 0.91);
  REQUIRE(back.epochs.size() == 2);
  CHECK(std::isnan(back.epochs[0].val_loss));  // stored as null
  CHECK(back.epochs[1].val_accuracy == doctest::Approx(0.6));
  CHECK(std::isnan(back.final_train_accuracy));
  CHECK(back.iteration_loss == std::vector<double>{2.3, 0.4});
  CHECK(back.extras["grid_size"] == 2);
}

TEST_CASE("the configuration table lists shared settings once and varying ones as columns") {
  StudyPlan p;
  RunConfig a;
  a.model = "784-16-10";
  RunConfig b = a;
  b.model = "784-32-10";
  b.lr = 0.5;
  CHECK(p.add("a", a) == "a");
  CHECK(p.add("b", b) == "b");
  CHECK(p.add("a-again", a) == "a");  // the same configuration is not planned twice
  CHECK(p.runs.size() == 2);
  const std::string md = configuration_table(p);
  CHECK(contains(md, "Common to all runs: "));
  CHECK(contains(md, "batch 64"));
  CHECK(contains(md, "| run | lr | model |"));
  CHECK(contains(md, "| b | 0.5 | 784-32-10 |"));
}

TEST_CASE("the gnuplot script draws every figure as SVG and PNG, quoting titles") {
  Figure f{"curves", "caption", 800, 400, 2, "It's a title", {}};
  f.panels.push_back(
      {"loss",
       "epoch",
       "loss",
       false,
       true,
       "",
       "[0:1]",
       {"set key left"},
       {{"data/c.csv", "1:2", "lines", "train", ""}, {"data/c.csv", "1:4", "lines", "", ""}},
       ""});
  f.panels.push_back({"raw", "", "", false, false, "", "", {}, {}, "plot 1 notitle"});
  const std::string gp = gnuplot_script({f});
  CHECK(contains(gp, "set terminal svg size 800,400"));
  CHECK(contains(gp, "set output 'curves.svg'"));
  CHECK(contains(gp, "set terminal pngcairo size 800,400"));
  CHECK(contains(gp, "set output 'curves.png'"));
  CHECK(contains(gp, "set multiplot layout 1,2 title 'It''s a title'"));
  CHECK(contains(gp, "set logscale y"));
  CHECK(contains(gp, "set yrange [0:1]"));
  CHECK(contains(gp,
                 "plot 'data/c.csv' using 1:2 with lines title 'train', \\\n     'data/c.csv' "
                 "using 1:4 with lines notitle\n"));
  CHECK(contains(gp, "plot 1 notitle\n"));
}

TEST_CASE("report.md and summary.json carry the run's facts and both sides' numbers") {
  Study s = find_study("mnist-depth-activation");
  StudyOptions o;
  o.seeds = 2;
  const StudyPlan plan = s.plan(o);
  Outcome outcome;
  for (uint64_t seed : plan.seeds) {
    for (const PlannedRun& r : plan.runs) {
      RunResult res = result(r.id, seed, 0.96 + 0.01 * static_cast<double>(seed));
      res.config = r.config;
      outcome.results.push_back(res);
    }
  }
  outcome.trained = 7;
  outcome.reused = 3;
  RunInfo info{"tapegrad experiment mnist-depth-activation --seeds 2", "0.1.0", 2, 2, 12, "today"};
  StudyReport parts;
  parts.notes = {"A note."};
  const std::string md = report_markdown(s, plan, outcome, info, parts, "no gnuplot here");
  CHECK(contains(md, "# MNIST: depth and activation of a small MLP (report 001)"));
  CHECK(contains(md, "- Command: `tapegrad experiment mnist-depth-activation --seeds 2`"));
  CHECK(contains(md, "- Seeds: 0, 1 (2 per configuration)"));
  CHECK(contains(md, "7 trained by this invocation, 3 reused"));
  CHECK(contains(md, "- Machine: 2 tapegrad threads, 2 hardware threads."));
  CHECK(contains(md, "tapegrad 0.1.0"));
  // 3-layer: report 0.9700; tapegrad mean 0.9650 ± 0.0071 over two seeds.
  CHECK(contains(md,
                 "| 3-layer (784-128-10) | 6.898 | 0.000 ± 0.000 | 0.0428 | **0.2500 ± 0.0000** | "
                 "0.9700 | 0.9650 ± 0.0071 |"));
  CHECK(contains(md, "Loss (last epoch): tapegrad 0.2500 ± 0.0000 vs report 0.0428"));
  CHECK(contains(md, "A note."));
  CHECK(contains(md, "no gnuplot here"));
  CHECK_FALSE(contains(md, "!["));  // no figures to embed

  const nlohmann::json j = summary_json(s, plan, outcome, info, parts, "");
  CHECK(j["study"] == "mnist-depth-activation");
  CHECK(j["seeds"] == std::vector<int>{0, 1});
  CHECK(j["runs"].size() == 5);
  CHECK(j["tables"][1]["rows"][0]["cells"][2]["report"] == 0.97);
  CHECK(j["tables"][1]["rows"][0]["cells"][2]["tapegrad"]["mean"] == doctest::Approx(0.965));
  CHECK(j["tables"][1]["rows"][0]["cells"][1]["agreement"] == "differs");
  CHECK(j["figure_status"] == "drawn");

  const std::string csv = metrics_csv(outcome.results);
  CHECK(contains(csv, "run_id,seed,epoch,train_loss,train_accuracy,val_loss,val_accuracy,"));
  CHECK(contains(csv, "\nsigmoid-3,0,1,0.5,0,,0.5,0,0.96,0,0\n"));
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + 2 * 10);  // header + epochs of 10 runs
}
