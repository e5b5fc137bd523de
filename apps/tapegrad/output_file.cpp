#include "tapegrad/output_file.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "tapegrad/commands.hpp"

namespace tapegrad::apps {

namespace fs = std::filesystem;

namespace {
[[noreturn]] void cannot_write(const std::string& path, std::string_view option,
                               const std::string& reason) {
  throw UsageError(fmt::format("{}: cannot write '{}': {}", option, path, reason));
}
}  // namespace

void prepare_output_file(const std::string& path, std::string_view option) {
  if (path.empty()) cannot_write(path, option, "the path is empty");
  // The directory as the user wrote it, so that messages name it the same way.
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  // create_directories reports an existing directory as success.
  fs::create_directories(dir, ec);
  if (ec) {
    cannot_write(path, option,
                 fmt::format("cannot create directory '{}': {}", dir.string(), ec.message()));
  }
  if (access(dir.c_str(), W_OK) != 0) {
    cannot_write(path, option, fmt::format("directory '{}' is not writable", dir.string()));
  }
  if (fs::is_directory(path, ec)) cannot_write(path, option, "it is a directory");
}

std::ofstream open_output_file(const std::string& path, std::string_view option) {
  prepare_output_file(path, option);
  std::ofstream out(path, std::ios::trunc);
  if (!out) cannot_write(path, option, std::strerror(errno));
  return out;
}

}  // namespace tapegrad::apps
