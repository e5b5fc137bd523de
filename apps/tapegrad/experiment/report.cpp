#include "tapegrad/experiment/report.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tapegrad/experiment/aggregate.hpp"
#include "tapegrad/experiment/plot.hpp"

namespace tapegrad::apps::experiment {

namespace {
std::string csv_number(double v) { return std::isfinite(v) ? fmt::format("{}", v) : ""; }

nlohmann::json stats_json(const Stats& s) {
  return {{"mean", s.n ? nlohmann::json(s.mean) : nlohmann::json(nullptr)},
          {"std", s.n ? nlohmann::json(s.stddev) : nlohmann::json(nullptr)},
          {"n", s.n},
          {"missing", s.missing}};
}

std::string seeds_text(const std::vector<uint64_t>& seeds) {
  std::string out;
  for (size_t i = 0; i < seeds.size(); ++i) {
    if (i == 6 && seeds.size() > 8) return out + fmt::format(", ..., {}", seeds.back());
    out += (i ? ", " : "") + std::to_string(seeds[i]);
  }
  return out;
}

std::string agreement_name(Agreement a) {
  switch (a) {
    case Agreement::within:
      return "within";
    case Agreement::differs:
      return "differs";
    default:
      return "none";
  }
}
}  // namespace

std::string metrics_csv(const Results& results) {
  std::string out =
      "run_id,seed,epoch,train_loss,train_accuracy,val_loss,val_accuracy,test_loss,"
      "test_accuracy,seconds,lr\n";
  for (const RunResult& r : results) {
    for (const EpochRow& e : r.epochs) {
      out +=
          fmt::format("{},{},{},{},{},{},{},{},{},{},{}\n", r.run_id, r.seed, e.epoch,
                      csv_number(e.train_loss), csv_number(e.train_accuracy),
                      csv_number(e.val_loss), csv_number(e.val_accuracy), csv_number(e.test_loss),
                      csv_number(e.test_accuracy), csv_number(e.seconds), csv_number(e.lr));
    }
  }
  return out;
}

std::string report_markdown(const Study& study, const StudyPlan& plan, const Outcome& outcome,
                            const RunInfo& info, const StudyReport& parts,
                            const std::string& figure_status) {
  std::string md = fmt::format("# {}\n\n", study.title);
  if (!plan.data_note.empty()) md += "> **Data:** " + plan.data_note + "\n\n";
  md += study.description + "\n\n";

  double train_seconds = 0;
  for (const RunResult& r : outcome.results) train_seconds += r.train_seconds;
  md += "## What was run\n\n";
  md += fmt::format("- Command: `{}`\n", info.command_line);
  md += fmt::format("- Mode: {}. {}\n", plan.mode == Mode::quick ? "--quick" : "--full",
                    plan.budget_note);
  const bool validation = std::any_of(plan.runs.begin(), plan.runs.end(),
                                      [](const PlannedRun& r) { return r.config.val_split > 0; });
  md += fmt::format(
      "- Seeds: {} ({} per configuration). A seed sets the initialisation and the minibatch "
      "order; the data{} the same for every run.\n",
      seeds_text(plan.seeds), plan.seeds.size(),
      validation ? " and its train/validation split are" : " are");
  md += fmt::format(
      "- Runs: {} configurations x {} seeds = {} runs; {} trained by this invocation, {} "
      "reused from earlier ones in this directory.\n",
      plan.runs.size(), plan.seeds.size(), outcome.results.size(), outcome.trained, outcome.reused);
  md += fmt::format("- Machine: {} tapegrad threads, {} hardware threads.\n", info.blas_threads,
                    info.hardware_threads);
  md += fmt::format(
      "- tapegrad {}; {}. Wall time of this invocation {:.0f} s; training time of all runs "
      "(including reused ones) {:.0f} s.\n\n",
      info.version, info.date, info.wall_seconds, train_seconds);

  md += "## Configurations\n\n" + configuration_table(plan) + "\n";

  md += "## Results\n\n";
  md +=
      "Each tapegrad cell is the mean ± standard deviation over the seeds. **Bold**: it differs "
      "from the report's number by more than twice the standard deviation (and more than the "
      "column's floor); see the notes. Times are not compared: they were measured on other "
      "machines with other software.\n\n";
  std::vector<AggregatedTable> tables;
  for (const Table& t : plan.tables) {
    tables.push_back(aggregate(t, outcome.results));
    md += "### " + t.title + "\n\n" + markdown_table(tables.back()) + "\n";
    if (!t.caption.empty()) md += t.caption + "\n\n";
  }
  // A row repeated in several tables (e.g. the baseline) is one comparison.
  const std::vector<std::string> diffs = differences(tables);

  for (const std::string& s : parts.sections) md += s + "\n";

  md += "## Notes\n\n";
  if (!diffs.empty()) {
    md += "Differences beyond the spread of the seeds:\n\n";
    for (const std::string& d : diffs) md += "- " + d + "\n";
    md += "\n";
  }
  for (const std::string& n : parts.notes) md += n + "\n\n";

  md += "## Figures\n\n";
  if (!figure_status.empty()) {
    md += figure_status + "\n\n";
  } else {
    for (const Figure& f : parts.figures) {
      md += fmt::format("![{}](figures/{}.png)\n\n{} ([SVG](figures/{}.svg))\n\n", f.caption,
                        f.name, f.caption, f.name);
    }
  }
  md +=
      "## Files\n\n- `metrics.csv`: one row per run per epoch.\n- `summary.json`: the "
      "configurations, the tables with both sides' numbers, and how the study was run.\n- "
      "`runs/`: one JSON file per run and seed (written when the run ended; a rerun reuses "
      "them).\n- `figures/`: the figures as SVG and PNG, their data (`data/*.csv`) and the "
      "gnuplot script that draws them (`figures.gp`).\n";
  return md;
}

nlohmann::json summary_json(const Study& study, const StudyPlan& plan, const Outcome& outcome,
                            const RunInfo& info, const StudyReport& parts,
                            const std::string& figure_status) {
  nlohmann::json j;
  j["study"] = study.name;
  j["report"] = study.report;
  j["title"] = study.title;
  j["mode"] = plan.mode == Mode::quick ? "quick" : "full";
  j["command"] = info.command_line;
  j["version"] = info.version;
  j["date"] = info.date;
  j["blas_threads"] = info.blas_threads;
  j["hardware_threads"] = info.hardware_threads;
  j["wall_seconds"] = info.wall_seconds;
  j["seeds"] = plan.seeds;
  j["data_note"] = plan.data_note;
  j["budget_note"] = plan.budget_note;
  j["runs_trained"] = outcome.trained;
  j["runs_reused"] = outcome.reused;
  nlohmann::json runs = nlohmann::json::array();
  for (const PlannedRun& run : plan.runs) {
    nlohmann::json r{{"id", run.id}, {"config", run.config.to_json()}};
    for (Metric m : {Metric::test_accuracy, Metric::test_loss, Metric::train_accuracy,
                     Metric::train_loss, Metric::train_minutes, Metric::epochs_run}) {
      std::vector<double> values;
      for (const RunResult* res : runs_of(outcome.results, run.id)) {
        values.push_back(metric_value(*res, m));
      }
      r[metric_name(m)] = stats_json(summarize(values));
    }
    runs.push_back(r);
  }
  j["runs"] = runs;
  nlohmann::json tables = nlohmann::json::array();
  for (const Table& t : plan.tables) {
    const AggregatedTable at = aggregate(t, outcome.results);
    nlohmann::json jt{{"title", t.title}, {"caption", t.caption}};
    for (const Column& c : t.columns) jt["columns"].push_back(metric_name(c.metric));
    jt["rows"] = nlohmann::json::array();
    for (const AggregatedRow& row : at.rows) {
      nlohmann::json jr{{"label", row.label}, {"run_id", row.run_id}};
      jr["cells"] = nlohmann::json::array();
      for (const Cell& cell : row.cells) {
        jr["cells"].push_back(
            {{"report", cell.published.value ? nlohmann::json(*cell.published.value)
                                             : nlohmann::json(nullptr)},
             {"report_text", cell.published.text},
             {"tapegrad", stats_json(cell.stats)},
             {"agreement", agreement_name(cell.agreement)}});
      }
      jt["rows"].push_back(jr);
    }
    tables.push_back(jt);
  }
  j["tables"] = tables;
  nlohmann::json figures = nlohmann::json::array();
  for (const Figure& f : parts.figures) figures.push_back(f.name);
  j["figures"] = figures;
  j["figure_status"] = figure_status.empty() ? "drawn" : figure_status;
  j["extra"] = parts.summary;
  return j;
}

std::string write_outputs(const std::filesystem::path& out, const Study& study,
                          const StudyPlan& plan, const Outcome& outcome, const RunInfo& info,
                          const StudyReport& parts) {
  const std::filesystem::path figures = out / "figures";
  for (const DataFile& d : parts.data) write_file_atomic(figures / d.name, csv_text(d));
  write_file_atomic(figures / "figures.gp", gnuplot_script(parts.figures));
  std::string status;
  if (!gnuplot_available()) {
    status = kGnuplotHint;
  } else if (std::string error = run_gnuplot(figures, "figures.gp"); !error.empty()) {
    status =
        "gnuplot failed, so the figures may be missing or incomplete:\n\n```\n" + error + "\n```";
  }
  write_file_atomic(out / "metrics.csv", metrics_csv(outcome.results));
  write_file_atomic(out / "summary.json",
                    summary_json(study, plan, outcome, info, parts, status).dump(2) + "\n");
  write_file_atomic(out / "report.md", report_markdown(study, plan, outcome, info, parts, status));
  return status;
}

}  // namespace tapegrad::apps::experiment
