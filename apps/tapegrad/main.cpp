// The tapegrad command: one executable, one subcommand per job.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <exception>

#include "tapegrad/autograd/error.hpp"
#include "tapegrad/autograd/threads.hpp"
#include "tapegrad/commands.hpp"

namespace tapegrad::apps {
const CLI::Validator& positive() {
  static const CLI::Validator validator(
      [](std::string& input) -> std::string {
        try {
          size_t used = 0;
          const double value = std::stod(input, &used);
          if (used == input.size() && value > 0) return {};
        } catch (const std::exception&) {
        }
        return "must be a number greater than 0, got '" + input + "'";
      },
      "POSITIVE");
  return validator;
}

void add_threads_option(CLI::App* cmd, int& threads) {
  cmd->add_option("--threads", threads,
                  "Threads for large matrix products (set_num_threads; 0: leave the default)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

void flush_denormals_or_fail() {
  if (!set_flush_denormal(true)) {
    throw UsageError("--flush-denormal: this processor has no flush-to-zero mode");
  }
}

CLI::Validator parsed_by(std::function<void(const std::string&)> parse, std::string name) {
  return CLI::Validator(
      [parse](std::string& input) -> std::string {
        try {
          parse(input);
        } catch (const Error& e) {
          return e.what();
        }
        return {};
      },
      std::move(name));
}
}  // namespace tapegrad::apps

int main(int argc, char** argv) {
  CLI::App app{"tapegrad: tape-based reverse-mode autograd for C++"};
  app.require_subcommand(1);
  tapegrad::apps::add_example_command(app);
  tapegrad::apps::add_train_command(app);
  tapegrad::apps::add_gradcheck_command(app);
  tapegrad::apps::add_experiment_command(app);
  tapegrad::apps::add_bench_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::RuntimeError& e) {
    // A subcommand's own status (e.g. gradcheck: 1 when a check fails).
    return e.get_exit_code();
  } catch (const CLI::ParseError& e) {
    // --help exits 0; every bad argument exits 2.
    return app.exit(e) == 0 ? 0 : 2;
  } catch (const tapegrad::apps::UsageError& e) {
    fmt::print(stderr, "tapegrad: error: {}\nRun with --help for more information.\n", e.what());
    return 2;
  } catch (const tapegrad::Error& e) {
    fmt::print(stderr, "tapegrad: error: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "tapegrad: unexpected error: {}\n", e.what());
    return 1;
  }
  return 0;
}
