#include "tapegrad/experiment/aggregate.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace tapegrad::apps::experiment {

Stats summarize(std::span<const double> values) {
  Stats s;
  double sum = 0;
  for (double v : values) {
    if (std::isfinite(v)) {
      sum += v;
      ++s.n;
    } else {
      ++s.missing;
    }
  }
  if (s.n == 0) return s;
  s.mean = sum / s.n;
  if (s.n > 1) {
    double sq = 0;
    for (double v : values) {
      if (std::isfinite(v)) sq += (v - s.mean) * (v - s.mean);
    }
    s.stddev = std::sqrt(sq / (s.n - 1));
  }
  return s;
}

Agreement compare(const Published& published, const Stats& stats, const Column& column) {
  if (!published.value || stats.n == 0 || column.floor < 0) return Agreement::none;
  const double allowed = std::max(2 * stats.stddev, column.floor);
  return std::abs(stats.mean - *published.value) <= allowed ? Agreement::within
                                                            : Agreement::differs;
}

AggregatedTable aggregate(const Table& table, const Results& results) {
  AggregatedTable out;
  out.table = &table;
  for (const Row& row : table.rows) {
    AggregatedRow ar{row.label, row.run_id, {}};
    const std::vector<const RunResult*> runs = runs_of(results, row.run_id);
    for (size_t c = 0; c < table.columns.size(); ++c) {
      const Column& column = table.columns[c];
      std::vector<double> values;
      for (const RunResult* r : runs) values.push_back(metric_value(*r, column.metric));
      Cell cell;
      if (c < row.published.size()) cell.published = row.published[c];
      cell.stats = summarize(values);
      cell.agreement = compare(cell.published, cell.stats, column);
      ar.cells.push_back(cell);
    }
    out.rows.push_back(std::move(ar));
  }
  return out;
}

namespace {
std::string number(double v, const Column& column) {
  return fmt::format("{:.{}f}", column.percent ? 100 * v : v, column.decimals);
}
}  // namespace

std::string format_stats(const Stats& s, const Column& column) {
  if (s.n == 0) return s.missing > 0 ? fmt::format("- (0 of {})", s.missing) : "-";
  std::string text = number(s.mean, column);
  if (s.n > 1) text += " ± " + number(s.stddev, column);
  if (column.percent) text += "%";
  if (s.missing > 0) text += fmt::format(" ({} of {})", s.n, s.n + s.missing);
  return text;
}

std::string format_published(const Published& p, const Column& column) {
  if (!p.value) return p.text.empty() ? "-" : p.text;
  std::string text = number(*p.value, column) + (column.percent ? "%" : "");
  if (!p.text.empty()) text += " (" + p.text + ")";
  return text;
}

std::string markdown_table(const AggregatedTable& t) {
  std::string out = "| Setting |";
  std::string rule = "|---|";
  for (const Column& c : t.table->columns) {
    out += fmt::format(" {}: report | {}: tapegrad |", c.header, c.header);
    rule += "---:|---:|";
  }
  out += "\n" + rule + "\n";
  for (const AggregatedRow& row : t.rows) {
    out += "| " + row.label + " |";
    for (size_t c = 0; c < row.cells.size(); ++c) {
      const Cell& cell = row.cells[c];
      const Column& column = t.table->columns[c];
      const std::string ours = format_stats(cell.stats, column);
      out += fmt::format(" {} | {} |", format_published(cell.published, column),
                         cell.agreement == Agreement::differs ? "**" + ours + "**" : ours);
    }
    out += "\n";
  }
  return out;
}

namespace {
std::string difference_line(const AggregatedRow& row, const Column& column, const Cell& cell) {
  return fmt::format("{}, {}: tapegrad {} vs report {}", row.label, column.header,
                     format_stats(cell.stats, column), format_published(cell.published, column));
}

// Calls fn(row, column, cell) for each cell of `t` that differs from the report.
template <typename Fn>
void for_each_difference(const AggregatedTable& t, Fn fn) {
  for (const AggregatedRow& row : t.rows) {
    for (size_t c = 0; c < row.cells.size(); ++c) {
      const Cell& cell = row.cells[c];
      if (cell.agreement == Agreement::differs) fn(row, t.table->columns[c], cell);
    }
  }
}
}  // namespace

std::vector<std::string> differences(const AggregatedTable& t) {
  std::vector<std::string> out;
  for_each_difference(t, [&](const AggregatedRow& row, const Column& column, const Cell& cell) {
    out.push_back(difference_line(row, column, cell));
  });
  return out;
}

std::vector<std::string> differences(const std::vector<AggregatedTable>& tables) {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const AggregatedTable& t : tables) {
    for_each_difference(t, [&](const AggregatedRow& row, const Column& column, const Cell& cell) {
      const std::string key = fmt::format("{}|{}|{}|{}", row.run_id, metric_name(column.metric),
                                          *cell.published.value, cell.published.text);
      if (seen.insert(key).second) out.push_back(difference_line(row, column, cell));
    });
  }
  return out;
}

double curve_value(const EpochRow& e, Curve c) {
  switch (c) {
    case Curve::train_loss:
      return e.train_loss;
    case Curve::train_accuracy:
      return e.train_accuracy;
    case Curve::val_loss:
      return e.val_loss;
    case Curve::val_accuracy:
      return e.val_accuracy;
    case Curve::test_loss:
      return e.test_loss;
    case Curve::test_accuracy:
      return e.test_accuracy;
  }
  return std::nan("");
}

std::vector<std::vector<double>> mean_curve(const std::vector<const RunResult*>& runs, Curve c) {
  size_t longest = 0;
  for (const RunResult* r : runs) longest = std::max(longest, r->epochs.size());
  std::vector<std::vector<double>> rows;
  for (size_t e = 0; e < longest; ++e) {
    std::vector<double> values;
    for (const RunResult* r : runs) {
      if (e < r->epochs.size()) values.push_back(curve_value(r->epochs[e], c));
    }
    const Stats s = summarize(values);
    if (s.n == 0) continue;
    rows.push_back({static_cast<double>(e + 1), s.mean, s.stddev, static_cast<double>(s.n)});
  }
  return rows;
}

std::string configuration_table(const StudyPlan& plan) {
  if (plan.runs.empty()) return "";
  // Fields shared by every run are listed once; the others get a column.
  const nlohmann::json first_config = plan.runs.front().config.to_json();
  std::vector<std::string> fields;
  for (const auto& item : first_config.items()) fields.push_back(item.key());
  auto text = [](const nlohmann::json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_float()) return fmt::format("{}", v.get<double>());
    return v.dump();
  };
  std::vector<std::string> shared, varying;
  for (const std::string& f : fields) {
    const nlohmann::json& first = first_config[f];
    const bool same = std::all_of(plan.runs.begin(), plan.runs.end(), [&](const PlannedRun& r) {
      return r.config.to_json()[f] == first;
    });
    if (same) {
      shared.push_back(f + " " + text(first));
    } else {
      varying.push_back(f);
    }
  }
  std::string out = "Common to all runs: " + fmt::format("{}", fmt::join(shared, ", "));
  out += ".\n\n| run |";
  std::string rule = "|---|";
  for (const std::string& f : varying) {
    out += " " + f + " |";
    rule += "---|";
  }
  out += "\n" + rule + "\n";
  for (const PlannedRun& r : plan.runs) {
    const nlohmann::json j = r.config.to_json();
    out += "| " + r.id + " |";
    for (const std::string& f : varying) out += fmt::format(" {} |", text(j[f]));
    out += "\n";
  }
  return out;
}

}  // namespace tapegrad::apps::experiment
