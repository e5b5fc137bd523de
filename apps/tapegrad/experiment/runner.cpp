#include "tapegrad/experiment/runner.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad::apps::experiment {

void write_file_atomic(const fs::path& path, const std::string& content) {
  const fs::path tmp = path.string() + fmt::format(".tmp-{}", ::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) fail("cannot write '{}': {}", tmp.string(), std::strerror(errno));
    out << content;
    out.flush();
    if (!out) fail("cannot write '{}': {}", tmp.string(), std::strerror(errno));
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    fs::remove(tmp, ec);
    fail("cannot write '{}': {}", path.string(), ec.message());
  }
}

void prepare_out_dir(const fs::path& dir) {
  std::error_code ec;
  for (const fs::path& d : {dir, dir / "runs", dir / "figures" / "data"}) {
    fs::create_directories(d, ec);
    if (ec) fail("--out {}: cannot create '{}': {}", dir.string(), d.string(), ec.message());
  }
  const fs::path probe = dir / "runs" / ".write-test";
  try {
    write_file_atomic(probe, "ok\n");
  } catch (const Error& e) {
    fail("--out {}: {}", dir.string(), e.what());
  }
  fs::remove(probe, ec);
}

fs::path run_file(const fs::path& out_dir, const PlannedRun& run, uint64_t seed) {
  return out_dir / "runs" /
         fmt::format("{}-{}-s{}.json", run.id, short_hash(run.config.key()), seed);
}

std::optional<RunResult> load_finished(const fs::path& file, const PlannedRun& run, uint64_t seed) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  try {
    nlohmann::json j;
    in >> j;
    if (j.at("config_key").get<std::string>() != run.config.key()) return std::nullopt;
    RunResult r = RunResult::from_json(j);
    if (r.seed != seed) return std::nullopt;
    r.run_id = run.id;  // the id is a label: the configuration is what must match
    return r;
  } catch (const std::exception&) {
    return std::nullopt;  // unreadable or from an older format: run it again
  }
}

Outcome run_study(const StudyPlan& plan, const fs::path& out_dir, const TrainFn& train,
                  const std::function<void(const RunEvent&)>& on_done) {
  Outcome outcome;
  const size_t total = plan.seeds.size() * plan.runs.size();
  size_t index = 0;
  for (uint64_t seed : plan.seeds) {
    for (const PlannedRun& run : plan.runs) {
      ++index;
      const fs::path file = run_file(out_dir, run, seed);
      RunEvent event{index, total, &run, seed, false, nullptr};
      if (std::optional<RunResult> done = load_finished(file, run, seed)) {
        outcome.results.push_back(std::move(*done));
        ++outcome.reused;
        event.reused = true;
      } else {
        RunResult r = train(run, seed);
        r.run_id = run.id;
        r.config = run.config;
        r.seed = seed;
        write_file_atomic(file, r.to_json().dump() + "\n");
        outcome.results.push_back(std::move(r));
        ++outcome.trained;
      }
      event.result = &outcome.results.back();
      if (on_done) on_done(event);
    }
  }
  return outcome;
}

}  // namespace tapegrad::apps::experiment
