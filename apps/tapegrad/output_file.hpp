// Output files named on the command line (bench and gradcheck --json, train --metrics
// and --summary-json): missing directories are created, and a path that cannot be
// written is a UsageError, "OPTION: cannot write 'PATH': REASON", raised before any
// work.
#pragma once

#include <fstream>
#include <string>
#include <string_view>

namespace tapegrad::apps {

// Creates the missing directories of `path` and checks that a file can be created in
// its directory, without creating the file (for results written only at the end).
void prepare_output_file(const std::string& path, std::string_view option);

// prepare_output_file, then opens the file for writing (truncated).
std::ofstream open_output_file(const std::string& path, std::string_view option);

}  // namespace tapegrad::apps
