// Each subcommand of the tapegrad program registers itself on the CLI11 app.
#pragma once

#include <CLI/CLI.hpp>

#include <string>

namespace tapegrad::apps {

// Accepts numbers greater than zero, with a short message otherwise (CLI11's
// PositiveNumber prints the whole double range).
const CLI::Validator& positive();

// Adds `tapegrad example`: a small network written directly with autograd ops.
void add_example_command(CLI::App& app);
// Adds `tapegrad train`: trains an MLP on a data set.
void add_train_command(CLI::App& app);

}  // namespace tapegrad::apps
