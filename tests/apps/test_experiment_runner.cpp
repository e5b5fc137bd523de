// `tapegrad experiment`: results written atomically, finished runs reused, an
// interrupted study resumed, and an unwritable --out refused (no training involved).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "apps/run_command.hpp"
#include "tapegrad/autograd/error.hpp"
#include "tapegrad/experiment/runner.hpp"

using namespace tapegrad::apps::experiment;
namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
  const fs::path dir = temp_path(name);
  fs::remove_all(dir);
  return dir;
}
std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
StudyPlan two_by_two() {
  StudyPlan p;
  p.study = "test";
  p.seeds = {0, 1};
  RunConfig a;
  a.model = "2-4-2";
  a.data = "xor";
  RunConfig b = a;
  b.lr = 0.5;
  p.add("a", a);
  p.add("b", b);
  return p;
}
// A stand-in for training: records what it was asked to run.
struct FakeTrain {
  std::vector<std::string>* calls;
  int fail_at = -1;  // throw on this call (0-based), like an interrupted study
  RunResult operator()(const PlannedRun& run, uint64_t seed) {
    if (static_cast<int>(calls->size()) == fail_at) throw tapegrad::Error("interrupted");
    calls->push_back(run.id + "/" + std::to_string(seed));
    RunResult r;
    r.test_accuracy = 0.5 + static_cast<double>(seed) / 10;
    r.epochs.push_back({1, 0.7, 0.5});
    return r;
  }
};
}  // namespace

TEST_CASE("write_file_atomic replaces the file whole and leaves no temporary behind") {
  const fs::path dir = fresh_dir("exp-atomic");
  fs::create_directories(dir);
  const fs::path file = dir / "result.json";
  write_file_atomic(file, "first\n");
  CHECK(slurp(file) == "first\n");
  write_file_atomic(file, "second, longer\n");
  CHECK(slurp(file) == "second, longer\n");
  int entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++entries;
  CHECK(entries == 1);
  CHECK_THROWS_WITH_AS(write_file_atomic(dir / "missing" / "x.json", "x"),
                       doctest::Contains(("cannot write '" + (dir / "missing").string()).c_str()),
                       tapegrad::Error);
}

TEST_CASE("prepare_out_dir creates the layout, or names the directory it cannot write") {
  const fs::path dir = fresh_dir("exp-out");
  prepare_out_dir(dir);
  CHECK(fs::is_directory(dir / "runs"));
  CHECK(fs::is_directory(dir / "figures" / "data"));
  CHECK(fs::is_empty(dir / "runs"));  // the write probe is removed
  const fs::path file = dir / "a-file";
  write_file_atomic(file, "x");
  CHECK_THROWS_WITH_AS(prepare_out_dir(file / "sub"),
                       doctest::Contains(("--out " + (file / "sub").string() + ": cannot create '" +
                                          (file / "sub").string() + "': Not a directory")
                                             .c_str()),
                       tapegrad::Error);
}

TEST_CASE("run_study writes each result when it ends and resumes an interrupted study") {
  const fs::path dir = fresh_dir("exp-resume");
  prepare_out_dir(dir);
  const StudyPlan plan = two_by_two();
  std::vector<std::string> calls;
  // Interrupted during the third run: the first two are on disk.
  CHECK_THROWS_WITH(run_study(plan, dir, FakeTrain{&calls, 2}), "interrupted");
  CHECK(calls == std::vector<std::string>{"a/0", "b/0"});  // seeds outermost
  CHECK(fs::exists(run_file(dir, plan.runs[0], 0)));
  CHECK(fs::exists(run_file(dir, plan.runs[1], 0)));
  CHECK_FALSE(fs::exists(run_file(dir, plan.runs[0], 1)));

  calls.clear();
  std::vector<std::string> events;
  const Outcome o = run_study(plan, dir, FakeTrain{&calls}, [&](const RunEvent& e) {
    events.push_back(std::to_string(e.index) + "/" + std::to_string(e.total) +
                     (e.reused ? " reused" : " trained"));
  });
  CHECK(calls == std::vector<std::string>{"a/1", "b/1"});  // only what was missing
  CHECK(o.reused == 2);
  CHECK(o.trained == 2);
  CHECK(events ==
        std::vector<std::string>{"1/4 reused", "2/4 reused", "3/4 trained", "4/4 trained"});
  REQUIRE(o.results.size() == 4);
  CHECK(o.results[2].run_id == "a");
  CHECK(o.results[2].seed == 1);
  CHECK(o.results[2].config.key() == plan.runs[0].config.key());
  CHECK(o.results[3].test_accuracy == doctest::Approx(0.6));

  // A third invocation trains nothing.
  calls.clear();
  const Outcome again = run_study(plan, dir, FakeTrain{&calls});
  CHECK(calls.empty());
  CHECK(again.reused == 4);
  CHECK(again.results[1].run_id == "b");
}

TEST_CASE("a result is reused only for the same configuration and seed") {
  const fs::path dir = fresh_dir("exp-reuse");
  prepare_out_dir(dir);
  StudyPlan plan = two_by_two();
  std::vector<std::string> calls;
  run_study(plan, dir, FakeTrain{&calls});
  CHECK(calls.size() == 4);
  // Another budget is another configuration: its own file, trained anew.
  plan.runs[0].config.epochs = 3;
  CHECK(run_file(dir, plan.runs[0], 0) != run_file(dir, two_by_two().runs[0], 0));
  calls.clear();
  run_study(plan, dir, FakeTrain{&calls});
  CHECK(calls == std::vector<std::string>{"a/0", "a/1"});
  // A file whose recorded configuration does not match (or that does not parse) is
  // not trusted.
  const PlannedRun& b = plan.runs[1];
  CHECK(load_finished(run_file(dir, b, 0), b, 0).has_value());
  CHECK_FALSE(load_finished(run_file(dir, b, 0), b, 1).has_value());
  PlannedRun other = b;
  other.config.lr = 0.25;
  CHECK_FALSE(load_finished(run_file(dir, b, 0), other, 0).has_value());
  write_file_atomic(run_file(dir, b, 0), "{ truncated");
  CHECK_FALSE(load_finished(run_file(dir, b, 0), b, 0).has_value());
}
