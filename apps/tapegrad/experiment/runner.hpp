// Running a study's plan: each (configuration, seed) once, its result written
// atomically to <out>/runs/ when it ends, and results already there reused, so an
// interrupted study resumes where it stopped.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "tapegrad/experiment/study.hpp"

namespace tapegrad::apps::experiment {

namespace fs = std::filesystem;

// Writes `content` to a temporary file beside `path`, then renames it over `path`:
// readers see the old file or the whole new one, never a part. Throws
// tapegrad::Error naming the path and the reason.
void write_file_atomic(const fs::path& path, const std::string& content);

// Creates `dir` (and runs/, figures/ below it) and checks that files can be written
// there; throws tapegrad::Error "--out DIR: cannot write ...: reason" otherwise.
void prepare_out_dir(const fs::path& dir);

// <out>/runs/<id>-<hash of the configuration>-s<seed>.json
fs::path run_file(const fs::path& out_dir, const PlannedRun& run, uint64_t seed);

// The result stored for this run and seed, when the file exists, parses and was made
// with the same configuration; nothing otherwise.
std::optional<RunResult> load_finished(const fs::path& file, const PlannedRun& run, uint64_t seed);

using TrainFn = std::function<RunResult(const PlannedRun& run, uint64_t seed)>;

struct RunEvent {
  size_t index = 0, total = 0;  // 1-based position among all (run, seed) pairs
  const PlannedRun* run = nullptr;
  uint64_t seed = 0;
  bool reused = false;  // read from an earlier invocation's file
  const RunResult* result = nullptr;
};

struct Outcome {
  Results results;  // seed-major: every configuration of seed 0, then seed 1, ...
  int reused = 0, trained = 0;
};

// Runs every configuration for every seed (seeds outermost, so a partial study has
// whole tables for its first seeds), reusing finished results and writing each new
// one as soon as it ends. `on_done` is called after each.
Outcome run_study(const StudyPlan& plan, const fs::path& out_dir, const TrainFn& train,
                  const std::function<void(const RunEvent&)>& on_done = {});

}  // namespace tapegrad::apps::experiment
