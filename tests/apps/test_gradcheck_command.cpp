// `tapegrad gradcheck`: the command's core run in-process (run_gradcheck), with a
// planted wrong backward rule, every report's closed form, the JSON file and the
// step sweep; and the executable's exit statuses and argument errors.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "apps/run_command.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/commands.hpp"
#include "tapegrad/gradcheck_run.hpp"

namespace {

using namespace tapegrad;
using apps::GradcheckCommand;
namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A small network: quick to check in full.
GradcheckCommand small() {
  GradcheckCommand c;
  c.model = "12-6-4";
  c.model_given = true;
  c.batch = 3;
  return c;
}

// The whitespace-separated words of the first line that starts with `prefix`.
std::vector<std::string> words_of_line(const std::string& text, const std::string& prefix) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind(prefix, 0) != 0) continue;
    std::istringstream words(line);
    std::vector<std::string> out;
    for (std::string w; words >> w;) out.push_back(w);
    return out;
  }
  return {};
}

int run(const GradcheckCommand& c, std::string& output) {
  std::ostringstream out;
  const int status = apps::run_gradcheck(c, out);
  output = out.str();
  return status;
}

}  // namespace

TEST_CASE("gradcheck command: a small MLP passes, with the per-parameter table") {
  std::string out;
  CHECK(run(small(), out) == 0);
  CHECK(contains(out,
                 "gradcheck of a 12-6-4 MLP (106 parameters): sigmoid hidden, identity head, "
                 "with biases, loss ce, no penalty"));
  CHECK(contains(out, "data: 3 random samples"));
  CHECK(contains(out, "gradcheck PASS: full mode, central differences, 106 entries checked"));
  CHECK(contains(out, "replay evaluation"));
  for (const char* row : {"0.weight  [6, 12]  f64", "0.bias    [6]      f64",
                          "2.weight  [4, 6]   f64", "2.bias    [4]      f64"}) {
    CHECK_MESSAGE(contains(out, row), row);
  }
  CHECK(contains(out, "worst 10 entries:"));
  CHECK(contains(out, "structural checks:"));
  CHECK(contains(out, "\nPASS\n"));
}

TEST_CASE("gradcheck command: a planted wrong backward rule fails, pointing at its entry") {
  GradcheckCommand c = small();
  c.alter_gradients = [](std::vector<Tensor>& g) {
    NoGradGuard no_grad;
    g[0] = g[0].clone();
    g[0].data<double>()[3 * 12 + 5] += 1e-3;  // 0.weight[3, 5]
  };
  std::string out;
  CHECK(run(c, out) == 1);
  CHECK(contains(out, "gradcheck FAIL"));
  // 0.weight [6, 12] f64: 72 checked, 1 failing.
  const std::vector<std::string> row = words_of_line(out, "0.weight  [6, 12]");
  REQUIRE(row.size() == 11);
  CHECK(row[4] == "72");
  CHECK(row[5] == "1");
  CHECK(row[10] == "FAIL");
  // The worst entry, first in its list, is the planted one.
  const size_t list = out.find("worst 10 entries:");
  REQUIRE(list != std::string::npos);
  const size_t first = out.find('\n', out.find('\n', list) + 1) + 1;
  const std::string line = out.substr(first, out.find('\n', first) - first);
  CHECK_MESSAGE(contains(line, "0.weight[3, 5]"), line);
  CHECK_MESSAGE(contains(line, "FAIL"), line);
  CHECK(contains(out, "\nFAIL\n"));
  // Unaltered, the same path (gradients through the hook) passes.
  c.alter_gradients = [](std::vector<Tensor>&) {};
  CHECK(run(c, out) == 0);
}

TEST_CASE("gradcheck command: f32 models, directional mode, penalties and real data") {
  std::string out;
  GradcheckCommand c = small();
  c.dtype = "f32";
  CHECK(run(c, out) == 0);
  CHECK(contains(out,
                 "model f32: analytic gradients from the f32 model, finite differences of an "
                 "f64 copy"));
  c = small();
  c.mode = "directional";
  CHECK(run(c, out) == 0);
  CHECK(contains(out, "gradcheck PASS: directional mode"));
  c = small();
  c.act = "tanh";
  c.loss = "nll";
  c.l1 = 1e-2;
  c.l2 = 1e-3;
  c.stencil = "richardson";
  c.second_order = true;
  CHECK(run(c, out) == 0);
  CHECK(contains(out, "tanh hidden, log_softmax head, with biases, loss nll, l1 0.01, l2 0.001"));
  CHECK(contains(out, "richardson differences"));
  CHECK(contains(out, "second order"));
  c = small();
  c.model = "2-5-1";
  c.loss = "bce";
  c.data = "xor";
  CHECK(run(c, out) == 0);
  CHECK(contains(out, "data: the first 3 training samples of 'xor'"));
  CHECK(contains(out, "sigmoid head"));
}

TEST_CASE("gradcheck command: every report's closed form agrees with autograd and differences") {
  for (const char* id : {"000", "001", "002", "003", "004"}) {
    CAPTURE(id);
    GradcheckCommand c;
    c.closed_form = id;
    c.batch = 3;
    // The report's network with smaller sizes (004's 2-3-3-1 as it is).
    if (std::string(id) != "004") {
      c.model = std::string(id) == "003" ? "30-7-10" : "20-7-10";
      c.model_given = true;
    }
    std::string out;
    CHECK(run(c, out) == 0);
    CHECK(contains(out, fmt::format("closed form of report {} (", id)));
    CHECK(contains(out, "PASS against finite differences"));
    CHECK(contains(out, "max |closed form - autograd| = "));
    CHECK(contains(out, "weight  "));
    CHECK(contains(out, "closed form  |autograd - numeric|  |closed - autograd|"));
  }
  std::string out;
  GradcheckCommand c;
  c.closed_form = "003";
  c.model = "30-7-10";
  c.model_given = true;
  c.batch = 2;
  CHECK(run(c, out) == 0);
  // Report 003's network: tanh hidden and its headline L1 penalty.
  CHECK(contains(out, "tanh hidden, identity head, with biases, loss ce, l1 0.01, l2 0"));
  c.loss = "mse";
  c.loss_given = true;
  CHECK_THROWS_WITH_AS(run(c, out), "--loss mse: report 003's closed form is for the loss ce",
                       apps::UsageError);
}

TEST_CASE("gradcheck command: --json writes every section; --sweep-step shows the step's effect") {
  GradcheckCommand c = small();
  c.closed_form = "001";
  c.sweep_step = true;
  c.sweep_entries = 5;
  c.json_path = temp_path("gradcheck.json");
  std::string out;
  REQUIRE(run(c, out) == 0);
  CHECK(contains(out,
                 "step sweep: central differences with a fixed h, the same 19 entries for "
                 "every h"));
  for (const char* h : {"1e-01", "1e-06", "1e-12"}) CHECK(contains(out, h));
  std::ifstream in(c.json_path);
  const auto j = nlohmann::json::parse(in);
  CHECK(j["passed"] == true);
  CHECK(j["model"] == "12-6-4");
  CHECK(j["report"]["passed"] == true);
  CHECK(j["report"]["inputs"].size() == 4);
  CHECK(j["closed_form"]["report"]["passed"] == true);
  CHECK(j["closed_form"]["table"].size() == 4);
  CHECK(j["closed_form"]["max_rel_difference"].get<double>() < 1e-9);
  REQUIRE(j["sweep"].size() == 12);
  // Truncation error shrinks with h, then round-off grows: the best h lies inside.
  std::vector<double> errors;
  for (const auto& point : j["sweep"]) errors.push_back(point["max_abs_error"].get<double>());
  const auto best = std::min_element(errors.begin(), errors.end()) - errors.begin();
  CHECK(best > 1);
  CHECK(best < 10);
  CHECK(errors.front() > 100 * errors[static_cast<size_t>(best)]);
  CHECK(errors.back() > 100 * errors[static_cast<size_t>(best)]);
}

TEST_CASE("gradcheck command: argument errors found while running are UsageErrors") {
  std::string out;
  GradcheckCommand c = small();
  c.dtype = "f32";
  c.second_order = true;
  CHECK_THROWS_WITH_AS(run(c, out),
                       "--second-order needs --dtype f64 (the f32 gradients are not recorded)",
                       apps::UsageError);
  c = small();
  c.data = "xor";
  CHECK_THROWS_WITH_AS(run(c, out),
                       "--model: the input size 12 does not match the 2 features of 'xor'",
                       apps::UsageError);
  c.model = "2-4-3";
  CHECK_THROWS_WITH_AS(run(c, out),
                       "--model: the output size 3 does not match the 2 classes of 'xor'",
                       apps::UsageError);
  c.model = "2-4-2";
  c.batch = 50;
  CHECK_THROWS_WITH_AS(run(c, out), "--batch 50: 'xor' has only 21 training samples",
                       apps::UsageError);
  c = small();
  c.json_path = temp_path("gradcheck_results.json");  // a directory where the file must be
  fs::create_directories(c.json_path);
  CHECK_THROWS_WITH_AS(run(c, out),
                       ("--json: cannot write '" + c.json_path + "': it is a directory").c_str(),
                       apps::UsageError);
  c = small();
  c.closed_form = "009";
  CHECK_THROWS_WITH_AS(
      run(c, out), "--closed-form: unknown report '009': expected one of 000, 001, 002, 003, 004",
      apps::UsageError);
}

TEST_CASE("tapegrad gradcheck: exit 0 on pass, 1 on fail, 2 on bad arguments") {
  CommandResult r = run_tapegrad("gradcheck --model 10-4-3 --batch 2");
  CHECK(r.status == 0);
  CHECK(contains(r.output, "gradcheck PASS"));
  // No tolerance at all: round-off alone fails entries.
  r = run_tapegrad("gradcheck --model 10-4-3 --batch 2 --atol 0 --rtol 0");
  CHECK(r.status == 1);
  CHECK(contains(r.output, "gradcheck FAIL"));
  const std::pair<const char*, const char*> bad[] = {
      {"--mode fast", "--mode: gradcheck: unknown mode 'fast': expected full or directional"},
      {"--closed-form 007", "--closed-form: unknown report '007'"},
      {"--stencil forward", "--stencil: gradcheck: unknown stencil 'forward'"},
      {"--act swish", "--act: unknown activation 'swish'"},
      {"--batch 0", "--batch: must be a number greater than 0"},
      {"--dtype f16", "--dtype: unknown dtype 'f16'"},
      {"--data foo", "--data: unknown data set 'foo'"},
      {"--loss mse --closed-form 000", "--loss mse: report 000's closed form is for the loss ce"},
      {"--second-order --dtype f32", "--second-order needs --dtype f64"},
  };
  for (const auto& [args, message] : bad) {
    CAPTURE(args);
    r = run_tapegrad(std::string("gradcheck --model 10-4-3 ") + args);
    CHECK(r.status == 2);
    CHECK(contains(r.output, message));
    CHECK_FALSE(contains(r.output, "gradcheck PASS"));
  }
}
