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
