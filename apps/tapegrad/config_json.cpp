#include "config_json.hpp"

#include <algorithm>
#include <fstream>

#include "tapegrad/autograd/error.hpp"

namespace tapegrad::apps {

namespace {
std::string scalar_text(const nlohmann::json& v, const std::string& key, const std::string& path) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number()) return fmt::format("{}", v.get<double>());
  fail("--config {}: option '{}' must be a string, number or boolean, got {}", path, key,
       v.type_name());
}

nlohmann::json typed(const std::string& text) {
  if (text == "true") return true;
  if (text == "false") return false;
  try {
    size_t used = 0;
    const long long i = std::stoll(text, &used);
    if (used == text.size()) return i;
    const double d = std::stod(text, &used);
    if (used == text.size()) return d;
  } catch (const std::exception&) {
  }
  return text;
}
}  // namespace

void apply_json_config(CLI::App& cmd, const std::string& path) {
  std::ifstream in(path);
  if (!in) fail("--config: cannot open '{}'", path);
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    fail("--config {}: not valid JSON: {}", path, e.what());
  }
  if (!j.is_object()) fail("--config {}: expected a JSON object of options", path);
  // A --summary-json file holds the options under "config": repeat that run.
  if (j.contains("config") && j["config"].is_object()) j = j["config"];
  for (const auto& [key, value] : j.items()) {
    CLI::Option* opt = cmd.get_option_no_throw("--" + key);
    if (!opt || key == "config" || key == "help") {
      fail("--config {}: unknown option '{}' for '{}'", path, key, cmd.get_name());
    }
    if (opt->count() > 0) continue;  // the command line wins
    opt->add_result(scalar_text(value, key, path));
    try {
      opt->run_callback();
    } catch (const CLI::Error& e) {
      fail("--config {}: option '{}': {}", path, key, e.what());
    }
  }
}

nlohmann::json resolved_options(const CLI::App& cmd, const std::vector<std::string>& skip) {
  nlohmann::json out = nlohmann::json::object();
  for (const CLI::Option* opt : cmd.get_options()) {
    const std::string name = opt->get_single_name();
    if (name == "help" || std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    const std::string text = opt->count() > 0 && !opt->results().empty() ? opt->results().back()
                                                                         : opt->get_default_str();
    out[name] = typed(text);
  }
  return out;
}

}  // namespace tapegrad::apps
