// Aggregation of a study's runs over seeds: mean and standard deviation, the
// report-versus-tapegrad comparison of each table cell, markdown tables, and
// per-epoch mean curves for the figures.
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tapegrad/experiment/study.hpp"

namespace tapegrad::apps::experiment {

// Mean and sample standard deviation (n - 1 in the denominator; 0 for one value)
// of the finite values; `missing` counts the NaNs left out.
struct Stats {
  double mean = 0, stddev = 0;
  int n = 0, missing = 0;
};
Stats summarize(std::span<const double> values);

// How a published number compares with tapegrad's runs.
enum class Agreement {
  none,     // nothing to compare (no published number, no runs, or column not judged)
  within,   // |mean - published| <= max(2 std, floor)
  differs,  // beyond that
};
Agreement compare(const Published& published, const Stats& stats, const Column& column);

struct Cell {
  Published published;
  Stats stats;
  Agreement agreement = Agreement::none;
};
struct AggregatedRow {
  std::string label, run_id;
  std::vector<Cell> cells;  // one per column
};
struct AggregatedTable {
  const Table* table = nullptr;
  std::vector<AggregatedRow> rows;
};
AggregatedTable aggregate(const Table& table, const Results& results);

// "97.53 ± 0.12%" (percent columns), "0.0431 ± 0.0010"; "-" without values; a
// trailing "(k of n)" when some seeds had no value (e.g. never converged).
std::string format_stats(const Stats& s, const Column& column);
std::string format_published(const Published& p, const Column& column);
// A markdown table: the row label, then for each column the report's number and
// tapegrad's; tapegrad cells that differ beyond the spread are bold.
std::string markdown_table(const AggregatedTable& t);
// One line per differing cell: "Row, column: tapegrad X vs report Y".
std::vector<std::string> differences(const AggregatedTable& t);
// The same for several tables, where a comparison that appears in more than one (the
// same run, metric and published number, e.g. a baseline row repeated in each table)
// is listed once, under the label of its first row.
std::vector<std::string> differences(const std::vector<AggregatedTable>& tables);

// Per-epoch mean and std of a metric over runs (runs stopped early count only for
// the epochs they ran). Row: epoch, mean, std, n.
enum class Curve { train_loss, train_accuracy, val_loss, val_accuracy, test_loss, test_accuracy };
std::vector<std::vector<double>> mean_curve(const std::vector<const RunResult*>& runs, Curve c);
double curve_value(const EpochRow& e, Curve c);

// A markdown table of plan.runs: id, model, activations, loss, optimiser, lr, batch,
// epochs and the rest of what varies.
std::string configuration_table(const StudyPlan& plan);

}  // namespace tapegrad::apps::experiment
