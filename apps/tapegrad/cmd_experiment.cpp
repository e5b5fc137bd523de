// `tapegrad experiment NAME`: reruns one of the five reports' studies and writes a
// report with the report's numbers beside tapegrad's, figures, metrics.csv and
// summary.json. The studies themselves are defined in experiment/.
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <thread>

#include "data_source.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/commands.hpp"
#include "tapegrad/experiment/report.hpp"
#include "tapegrad/experiment/trainer.hpp"

namespace tapegrad::apps {

namespace {

namespace ex = experiment;
namespace fs = std::filesystem;

struct ExperimentCommand {
  std::string name;
  bool list = false, quick = false, full = false;
  int seeds = 0;
  std::string out;
  int threads = 1;  // as tapegrad train: these GEMMs are small
  std::string data_dir;
  int max_epochs = 0;
};

// `text` in lines of at most `width` characters, each starting with `indent`.
std::string wrap(const std::string& text, const std::string& indent, size_t width = 88) {
  std::string out, line;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(' ', start);
    if (end == std::string::npos) end = text.size();
    const std::string word = text.substr(start, end - start);
    if (!line.empty() && indent.size() + line.size() + 1 + word.size() > width) {
      out += indent + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    start = end + 1;
  }
  return line.empty() ? out : out + indent + line + "\n";
}

void print_list() {
  for (const ex::Study& s : ex::studies()) {
    fmt::print("{}  (report {})\n{}{}  --quick: {}\n  --full:  {}\n\n", s.name, s.report,
               wrap(s.title, "  "), wrap(s.description, "  "), s.quick_budget, s.full_budget);
  }
}

// Where CIFAR-10 is: a --data spec, or empty with the reason in `why`.
std::string find_cifar(const std::string& dir, std::string& why) {
  if (fs::exists(fs::path(dir) / "cifar-10-batches-bin" / "data_batch_1.bin")) return "cifar10";
  if (fs::exists(fs::path(dir) / "data_batch_1.bin")) return "cifar10:" + dir;
  why = fmt::format(
      "CIFAR-10 was not found: '{}' holds no cifar-10-batches-bin directory (nor "
      "data_batch_1.bin). This study therefore ran on **Fashion-MNIST** instead of CIFAR-10, with "
      "the same networks and settings (784 inputs instead of 3072), so its accuracies are not "
      "comparable with the report's; only the comparisons between settings are. To run it on "
      "CIFAR-10, download the CIFAR-10 binary version (cifar-10-binary.tar.gz) from the "
      "University of Toronto's CIFAR page, extract it, and pass --data-dir DIR where "
      "DIR/cifar-10-batches-bin holds the batch files.",
      dir);
  return "";
}

std::string command_line(const ExperimentCommand& c, const CLI::App& cmd) {
  std::string line = "tapegrad experiment " + c.name + (c.full ? " --full" : " --quick");
  if (cmd.count("--seeds")) line += fmt::format(" --seeds {}", c.seeds);
  if (cmd.count("--out")) line += " --out " + c.out;
  if (cmd.count("--threads")) line += fmt::format(" --threads {}", c.threads);
  if (cmd.count("--data-dir")) line += " --data-dir " + c.data_dir;
  if (cmd.count("--max-epochs")) line += fmt::format(" --max-epochs {}", c.max_epochs);
  return line;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M UTC", &tm);
  return buffer;
}

void run_experiment(const ExperimentCommand& c, const CLI::App& cmd) {
  if (c.list) {
    print_list();
    return;
  }
  if (c.name.empty()) {
    throw UsageError("experiment: give a study NAME (one of " + ex::study_names() + ") or --list");
  }
  const auto start = std::chrono::steady_clock::now();
  const ex::Study& study = ex::find_study(c.name);
  const std::string data_dir = c.data_dir.empty() ? default_data_dir() : c.data_dir;

  ex::StudyOptions options;
  options.mode = c.full ? ex::Mode::full : ex::Mode::quick;
  if (cmd.count("--seeds")) options.seeds = c.seeds;
  options.max_epochs = c.max_epochs;
  if (study.name == "cifar10-regularization") {
    options.cifar_spec = find_cifar(data_dir, options.fallback_reason);
  }
  const ex::StudyPlan plan = study.plan(options);

  // Everything that can fail without training fails here.
  const fs::path out = c.out.empty() ? fs::path("runs") / study.name : fs::path(c.out);
  ex::prepare_out_dir(out);
  if (c.threads > 0) set_num_threads(c.threads);

  const size_t total = plan.runs.size() * plan.seeds.size();
  fmt::print("experiment {} ({}): {} configurations x {} seeds = {} runs, writing to {}\n",
             study.name, c.full ? "--full" : "--quick", plan.runs.size(), plan.seeds.size(), total,
             out.string());
  if (!options.fallback_reason.empty()) {
    fmt::print("note: {}\n", options.fallback_reason);
  }
  std::fflush(stdout);

  ex::DataCache data(data_dir);
  ex::Trainer trainer(study, plan, data);
  double trained_seconds = 0;
  int trained = 0;
  const ex::Outcome outcome =
      ex::run_study(plan, out, std::ref(trainer), [&](const ex::RunEvent& e) {
        const ex::RunResult& r = *e.result;
        std::string line =
            fmt::format("[{}/{}] {} seed {}: test accuracy {:.2f}%, {} epochs", e.index, e.total,
                        e.run->id, e.seed, 100 * r.test_accuracy, r.epochs.size());
        if (e.reused) {
          line += " (finished earlier, reused)";
        } else {
          trained_seconds += r.train_seconds;
          ++trained;
          const double left = trained_seconds / trained * static_cast<double>(e.total - e.index);
          line += fmt::format(", {:.1f} s; about {:.0f} s left", r.train_seconds, left);
        }
        fmt::print("{}\n", line);
        std::fflush(stdout);
      });

  ex::StudyReport parts = study.report_parts(plan, outcome.results);
  if (study.extra_section) {
    auto [section, summary] = study.extra_section(plan, data_dir);
    parts.sections.insert(parts.sections.begin(), section);
    parts.summary["extra_section"] = summary;
  }
  ex::RunInfo info;
  info.command_line = command_line(c, cmd);
  info.version = TAPEGRAD_VERSION;
  info.blas_threads = get_num_threads();
  info.hardware_threads = std::thread::hardware_concurrency();
  info.date = utc_now();
  info.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string status = ex::write_outputs(out, study, plan, outcome, info, parts);
  fmt::print("wrote {} ({} runs trained, {} reused; {:.0f} s)\n", (out / "report.md").string(),
             outcome.trained, outcome.reused, info.wall_seconds);
  if (!status.empty()) fmt::print("note: {}\n", status);
}

}  // namespace

void add_experiment_command(CLI::App& app) {
  auto c = std::make_shared<ExperimentCommand>();
  CLI::App* cmd = app.add_subcommand(
      "experiment", "Rerun one of the five reports' studies and write a report with figures");
  cmd->add_option("NAME", c->name, "Study: " + ex::study_names())
      ->check(parsed_by([](const std::string& v) { ex::find_study(v); }, "NAME"));
  cmd->add_flag("--list", c->list, "Describe the studies and their budgets");
  CLI::Option* quick =
      cmd->add_flag("--quick", c->quick, "Small budget, under about 10 minutes (default)");
  CLI::Option* full = cmd->add_flag("--full", c->full, "The report's own budget");
  quick->excludes(full);
  cmd->add_option("--seeds", c->seeds, "Seeds per configuration (default: the mode's)")
      ->check(positive());
  cmd->add_option("--out", c->out, "Output directory (default: runs/NAME)");
  add_threads_option(cmd, c->threads);
  cmd->add_option("--data-dir", c->data_dir,
                  "Directory of data sets (default: $TAPEGRAD_DATA_DIR or <source>/data); for "
                  "cifar10-regularization, where cifar-10-batches-bin is");
  cmd->add_option("--max-epochs", c->max_epochs,
                  "Cap every run at this many epochs (0: no cap), for smoke tests")
      ->check(CLI::NonNegativeNumber);
  cmd->callback([c, cmd]() { run_experiment(*c, *cmd); });
}

}  // namespace tapegrad::apps
