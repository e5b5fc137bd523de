// Delimited text files of numbers with one integer label column.
#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "tapegrad/nn/data.hpp"

namespace tapegrad::nn {

namespace {

// Splits a line at the delimiter, trimming blanks (and a trailing '\r') around each field.
std::vector<std::string_view> split_fields(std::string_view line, char delimiter) {
  auto blank = [delimiter](char c) {
    return (c == ' ' || c == '\t' || c == '\r') && c != delimiter;
  };
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    const size_t end = std::min(line.find(delimiter, start), line.size());
    std::string_view field = line.substr(start, end - start);
    while (!field.empty() && blank(field.front())) field.remove_prefix(1);
    while (!field.empty() && blank(field.back())) field.remove_suffix(1);
    fields.push_back(field);
    if (end == line.size()) break;
    start = end + 1;
  }
  return fields;
}

// Parses a whole field as a finite number.
bool parse_number(std::string_view text, double& value) {
  if (text.empty()) return false;
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (*first == '+') ++first;  // from_chars does not take a leading '+'
  const auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && ptr == last && std::isfinite(value);
}

bool is_blank(std::string_view line) {
  return line.find_first_not_of(" \t\r") == std::string_view::npos;
}

}  // namespace

Dataset read_csv(const std::string& path, const CsvOptions& opts) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot open {}: {}", path, std::strerror(errno));

  std::vector<std::string> header;
  size_t width = 0;        // fields per line, fixed by the first non-blank line
  int64_t first_line = 0;  // line number of that line
  size_t label_col = 0;
  std::vector<float> features;
  std::vector<int64_t> labels;
  int64_t max_label = -1;

  auto column_name = [&](size_t c) {
    std::string s = fmt::format("column {} of {}", c + 1, width);
    if (!header.empty()) s += fmt::format(" ('{}')", header[c]);
    return s;
  };

  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (is_blank(line)) continue;
    const std::vector<std::string_view> fields = split_fields(line, opts.delimiter);
    if (width == 0) {
      width = fields.size();
      first_line = line_no;
      if (width < 2) {
        fail(
            "{}:{}: found {} field (delimiter '{}'), expected at least a feature and a label "
            "column",
            path, line_no, width, opts.delimiter);
      }
      const auto w = static_cast<int64_t>(width);
      const int64_t lc = opts.label_column < 0 ? w + opts.label_column : opts.label_column;
      if (lc < 0 || lc >= w) {
        fail("{}:{}: label column {} is out of range for {} columns (0-based; -1 is the last)",
             path, line_no, opts.label_column, width);
      }
      label_col = static_cast<size_t>(lc);
      bool numeric = true;
      double unused = 0;
      for (const std::string_view f : fields) numeric = numeric && parse_number(f, unused);
      if (opts.has_header.value_or(!numeric)) {
        header.assign(fields.begin(), fields.end());
        continue;
      }
    }
    if (fields.size() != width) {
      fail("{}:{}: found {} fields, expected {} (as on line {})", path, line_no, fields.size(),
           width, first_line);
    }
    for (size_t c = 0; c < width; ++c) {
      double value = 0;
      const bool ok = parse_number(fields[c], value);
      if (c == label_col) {
        if (!ok || value < 0 || value != std::floor(value) || value > 2147483647.0) {
          fail("{}:{}: {}, the label: '{}' is not a non-negative integer", path, line_no,
               column_name(c), fields[c]);
        }
        const auto label = static_cast<int64_t>(value);
        labels.push_back(label);
        max_label = std::max(max_label, label);
      } else {
        if (!ok) {
          fail("{}:{}: {}: '{}' is not a number", path, line_no, column_name(c), fields[c]);
        }
        features.push_back(static_cast<float>(value));
      }
    }
  }
  if (in.bad()) fail("cannot read {} (after line {})", path, line_no);
  if (labels.empty()) {
    if (header.empty()) fail("{}: no data rows: the file is empty", path);
    fail("{}: no data rows: only a header on line {}", path, first_line);
  }

  Dataset ds;
  ds.name = opts.name.empty() ? std::filesystem::path(path).stem().string() : opts.name;
  const auto n = static_cast<int64_t>(labels.size());
  const auto d = static_cast<int64_t>(width - 1);
  ds.features = from_data(std::span<const float>(features), Shape{n, d});
  ds.labels = std::move(labels);
  ds.num_classes = max_label + 1;
  ds.sample_shape = Shape{d};
  return ds;
}

}  // namespace tapegrad::nn
