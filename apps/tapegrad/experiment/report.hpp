// A study's output files: report.md, metrics.csv, summary.json and the figures'
// data and script. The texts are built by pure functions; write_outputs writes
// them (each atomically) and runs gnuplot.
#pragma once

#include <filesystem>
#include <string>

#include "tapegrad/experiment/runner.hpp"

namespace tapegrad::apps::experiment {

// How the study was run, for the report's first section.
struct RunInfo {
  std::string command_line;
  std::string version;
  int blas_threads = 0;
  unsigned hardware_threads = 0;
  double wall_seconds = 0;
  std::string date;  // e.g. "2026-11-23 17:40 UTC"
};

// One row per run per epoch: run_id, seed, epoch, train/val/test loss and accuracy,
// seconds, lr.
std::string metrics_csv(const Results& results);

// report.md. `figure_status` is empty when the figures were drawn, else the reason
// they were not (shown instead of the images).
std::string report_markdown(const Study& study, const StudyPlan& plan, const Outcome& outcome,
                            const RunInfo& info, const StudyReport& parts,
                            const std::string& figure_status);

nlohmann::json summary_json(const Study& study, const StudyPlan& plan, const Outcome& outcome,
                            const RunInfo& info, const StudyReport& parts,
                            const std::string& figure_status);

// Writes everything to `out` (the figures below out/figures) and returns the figure
// status: empty when gnuplot drew them, else why not.
std::string write_outputs(const std::filesystem::path& out, const Study& study,
                          const StudyPlan& plan, const Outcome& outcome, const RunInfo& info,
                          const StudyReport& parts);

}  // namespace tapegrad::apps::experiment
