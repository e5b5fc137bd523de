#include "tapegrad/experiment/figures.hpp"

#include <fmt/format.h>

#include <cmath>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad::apps::experiment {

DataFile curve_file(const std::string& name, const Results& results,
                    const std::vector<std::string>& ids, Curve curve, double scale,
                    bool first_seed_only) {
  std::vector<CurveColumn> columns;
  for (const std::string& id : ids) {
    std::vector<const RunResult*> runs = runs_of(results, id);
    if (first_seed_only && runs.size() > 1) runs.erase(runs.begin() + 1, runs.end());
    columns.push_back({id, runs, curve});
  }
  return curve_file(name, columns, scale);
}

DataFile curve_file(const std::string& name, const std::vector<CurveColumn>& columns,
                    double scale) {
  DataFile f{name, {"epoch"}, {}};
  std::vector<std::vector<std::vector<double>>> curves;
  size_t longest = 0;
  for (const CurveColumn& c : columns) {
    f.header.push_back(c.label + "_mean");
    f.header.push_back(c.label + "_std");
    curves.push_back(mean_curve(c.runs, c.curve));
    longest = std::max(longest, curves.back().size());
  }
  const double nan = std::nan("");
  for (size_t e = 0; e < longest; ++e) {
    std::vector<double> row{static_cast<double>(e + 1)};
    for (const auto& c : curves) {
      const bool has = e < c.size();
      row.push_back(has ? scale * c[e][1] : nan);
      row.push_back(has ? scale * c[e][2] : nan);
    }
    f.rows.push_back(std::move(row));
  }
  return f;
}

SplitCurves split_curves(const std::string& stem, const std::vector<const RunResult*>& runs,
                         const std::vector<std::string>& labels) {
  if (labels.size() != 3) tapegrad::fail("split_curves: {} labels for the 3 splits", labels.size());
  return {curve_file(stem + "_loss.csv", {{labels[0], runs, Curve::train_loss},
                                          {labels[1], runs, Curve::val_loss},
                                          {labels[2], runs, Curve::test_loss}}),
          curve_file(stem + "_accuracy.csv",
                     {{labels[0], runs, Curve::train_accuracy},
                      {labels[1], runs, Curve::val_accuracy},
                      {labels[2], runs, Curve::test_accuracy}},
                     100)};
}

std::vector<Series> curve_series(const std::string& file, const std::vector<std::string>& titles,
                                 const std::string& style, size_t first, size_t stride) {
  std::vector<Series> out;
  for (size_t k = 0; k < titles.size(); ++k) {
    out.push_back({file, fmt::format("1:{}", first + stride * k), style, titles[k], ""});
  }
  return out;
}

Panel epoch_panel(const std::string& title, const std::string& ylabel, const DataFile& file,
                  std::vector<Series> series, const std::string& key, bool logy) {
  const size_t epochs = std::max<size_t>(1, file.rows.size());
  const size_t step = (epochs + 9) / 10;
  return {title,
          "epoch",
          ylabel,
          false,
          logy,
          fmt::format("[1:{}]", std::max<size_t>(2, epochs)),
          "",
          {fmt::format("set xtics {}", step), "set key " + key + " box opaque"},
          std::move(series),
          ""};
}

Stats stats_of(const Results& results, const std::string& id, Metric metric) {
  std::vector<double> values;
  for (const RunResult* r : runs_of(results, id)) values.push_back(metric_value(*r, metric));
  return summarize(values);
}

const RunResult* first_run(const Results& results, const std::string& id) {
  const std::vector<const RunResult*> runs = runs_of(results, id);
  return runs.empty() ? nullptr : runs.front();
}

std::string percent(double fraction, int decimals) {
  return fmt::format("{:.{}f}%", 100 * fraction, decimals);
}

std::string quick_reason(const StudyPlan& plan, const std::string& report_training) {
  if (plan.mode != Mode::quick) return "";
  int epochs = 0;
  for (const PlannedRun& r : plan.runs) epochs = std::max(epochs, r.config.epochs);
  return fmt::format(
      "--quick trains at most {} epochs where the report trained {}: tapegrad accuracies below "
      "the report's and losses above the report's may only need more training (run with "
      "--full), while accuracies above and losses below the report's are not explained by the "
      "budget.",
      epochs, report_training);
}

}  // namespace tapegrad::apps::experiment
