// JSON configuration for subcommands: every option of a subcommand can be given
// in a JSON object under its long name, and the resolved options can be written
// back, so that a run can be repeated exactly.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>

namespace tapegrad::apps {

// Applies the options in JSON file `path` to `cmd`, except those given on the
// command line (they win). The file is an object of options, or a --summary-json
// file whose "config" object holds them. Unknown keys and unreadable files are
// errors naming them.
void apply_json_config(CLI::App& cmd, const std::string& path);
// The resolved value of every option of `cmd` (but help and the listed ones),
// typed: numbers as numbers, true/false as booleans, the rest as strings.
nlohmann::json resolved_options(const CLI::App& cmd, const std::vector<std::string>& skip);

}  // namespace tapegrad::apps
