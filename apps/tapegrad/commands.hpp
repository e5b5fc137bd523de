// Each subcommand of the tapegrad program registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad::apps {

// A bad command-line argument found after parsing (e.g. a model that does not fit
// the data): reported like a parse error, with exit status 2.
class UsageError : public Error {
 public:
  using Error::Error;
};

// A validator that runs `parse` on the option's text and reports its tapegrad::Error
// message, so that e.g. --act swish is rejected while parsing, naming the option.
CLI::Validator parsed_by(std::function<void(const std::string&)> parse, std::string name);

// Accepts numbers greater than zero, with a short message otherwise (CLI11's
// PositiveNumber prints the whole double range).
const CLI::Validator& positive();

// --flush-denormal: set_flush_denormal(true), or a UsageError on processors
// without the mode.
void flush_denormals_or_fail();

// --threads N of train and experiment: the threads of large matrix products
// (set_num_threads), 0 to leave the default.
void add_threads_option(CLI::App* cmd, int& threads);

// Adds `tapegrad example`: a small network written directly with autograd ops.
void add_example_command(CLI::App& app);
// Adds `tapegrad train`: trains an MLP on a data set.
void add_train_command(CLI::App& app);
// Adds `tapegrad gradcheck`: checks an MLP's gradients against finite differences.
void add_gradcheck_command(CLI::App& app);
// Adds `tapegrad experiment`: reruns one of the five reports' studies.
void add_experiment_command(CLI::App& app);
// Adds `tapegrad bench`: times training steps against the GEMM roofline and libtorch.
void add_bench_command(CLI::App& app);

}  // namespace tapegrad::apps
