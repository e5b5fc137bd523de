// Output files named on the command line: missing directories are created, and each
// path that cannot be written gets its own message.
#include "tapegrad/output_file.hpp"

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "apps/run_command.hpp"
#include "tapegrad/commands.hpp"

namespace fs = std::filesystem;
using tapegrad::apps::open_output_file;
using tapegrad::apps::prepare_output_file;
using tapegrad::apps::UsageError;

namespace {
// A regular file, so that a path below it names a directory that cannot exist.
std::string regular_file(const std::string& name) {
  const std::string path = temp_path(name);
  std::ofstream(path) << "not a directory\n";
  return path;
}
}  // namespace

TEST_CASE("prepare_output_file creates the missing directories but not the file") {
  const fs::path root = temp_path("output_file_new");
  fs::remove_all(root);
  const std::string path = (root / "a" / "b" / "results.json").string();
  prepare_output_file(path, "--json");
  CHECK(fs::is_directory(root / "a" / "b"));
  CHECK_FALSE(fs::exists(path));

  std::ofstream out = open_output_file(path, "--json");
  out << "written\n";
  out.close();
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  CHECK(line == "written");
}

TEST_CASE("open_output_file truncates an existing file") {
  const std::string path = temp_path("output_file_truncate.txt");
  std::ofstream(path) << "old contents that are longer\n";
  open_output_file(path, "--metrics") << "new\n";
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(all == "new\n");
}

TEST_CASE("output paths that cannot be written are usage errors naming the option and why") {
  const std::string file = regular_file("output_file_plain.txt");
  CHECK_THROWS_WITH_AS(prepare_output_file(file + "/sub/x.json", "--json"),
                       ("--json: cannot write '" + file +
                        "/sub/x.json': cannot create directory '" + file + "/sub': Not a directory")
                           .c_str(),
                       UsageError);

  const fs::path dir = temp_path("output_file_is_dir");
  fs::create_directories(dir);
  CHECK_THROWS_WITH_AS(
      open_output_file(dir.string(), "--summary-json"),
      ("--summary-json: cannot write '" + dir.string() + "': it is a directory").c_str(),
      UsageError);

  CHECK_THROWS_WITH_AS(prepare_output_file("", "--metrics"),
                       "--metrics: cannot write '': the path is empty", UsageError);
}

TEST_CASE("an output directory without write permission is a usage error") {
  const fs::path dir = temp_path("output_file_read_only");
  fs::create_directories(dir);
  REQUIRE(chmod(dir.c_str(), 0500) == 0);
  if (access(dir.c_str(), W_OK) == 0) {
    // root may write anywhere: the permission check cannot fail here.
    MESSAGE("running with write access to a 0500 directory (root): nothing to check");
  } else {
    const std::string path = (dir / "x.csv").string();
    CHECK_THROWS_WITH_AS(
        prepare_output_file(path, "--metrics"),
        ("--metrics: cannot write '" + path + "': directory '" + dir.string() + "' is not writable")
            .c_str(),
        UsageError);
  }
  chmod(dir.c_str(), 0700);
}
