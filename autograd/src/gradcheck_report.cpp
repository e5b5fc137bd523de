// GradcheckReport as a table for people and as JSON for scripts.
#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "tapegrad/autograd/gradcheck.hpp"

namespace tapegrad {

namespace {

// Columns of text: right-aligned except those listed as left-aligned.
std::string layout(const std::vector<std::vector<std::string>>& rows, size_t left_columns,
                   const std::string& indent) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    if (width.size() < row.size()) width.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = indent;
    for (size_t c = 0; c < row.size(); ++c) {
      if (c > 0) line += "  ";
      line += c < left_columns ? fmt::format("{:<{}}", row[c], width[c])
                               : fmt::format("{:>{}}", row[c], width[c]);
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string index_text(const std::vector<int64_t>& index) {
  return fmt::format("[{}]", fmt::join(index, ", "));
}

std::string where_text(const GradcheckEntry& e) {
  if (e.kind == "jvp") {
    return e.output + (e.output_index.empty() ? "" : index_text(e.output_index));
  }
  std::string s = e.input;
  if (e.kind == "direction") return s + " along u";
  if (!e.index.empty() || e.kind == "gradient" || e.kind == "hvp") s += index_text(e.index);
  return s;
}

std::string output_text(const GradcheckEntry& e) {
  if (e.kind == "hvp") return "(H v)";
  if (e.kind == "jvp") return "(J v)";
  return e.output + (e.output_index.empty() ? "" : index_text(e.output_index));
}

std::string status_text(const GradcheckEntry& e) {
  if (!e.passed) return "FAIL";
  return e.kink ? "kink" : "ok";
}

// ---- JSON ----

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    switch (ch) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(ch) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(ch));
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string number(double x) { return std::isfinite(x) ? fmt::format("{}", x) : "null"; }

std::string ints(const std::vector<int64_t>& v) { return fmt::format("[{}]", fmt::join(v, ",")); }

std::string strings(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const std::string& s : v) q.push_back(quoted(s));
  return fmt::format("[{}]", fmt::join(q, ","));
}

std::string entry_json(const GradcheckEntry& e);

std::string summary_json(const GradcheckSummary& s) {
  return fmt::format(
      "{{\"name\":{},\"shape\":{},\"dtype\":\"{}\",\"checked\":{},\"failing\":{},\"kinks\":{},"
      "\"max_rel_error\":{},\"mean_rel_error\":{},\"max_abs_error\":{},\"passed\":{},"
      "\"worst\":{}}}",
      quoted(s.name), ints(s.shape.to_vector()), s.dtype, s.checked, s.failing, s.kinks,
      number(s.max_rel_error), number(s.mean_rel_error), number(s.max_abs_error), s.passed(),
      s.worst.kind.empty() ? std::string("null") : entry_json(s.worst));
}

std::string entry_json(const GradcheckEntry& e) {
  return fmt::format(
      "{{\"kind\":{},\"input\":{},\"index\":{},\"output\":{},\"output_index\":{},"
      "\"input_value\":{},\"analytic\":{},\"numeric\":{},\"abs_error\":{},\"rel_error\":{},"
      "\"step\":{},\"kink\":{},\"passed\":{}}}",
      quoted(e.kind), quoted(e.input), ints(e.index), quoted(e.output), ints(e.output_index),
      number(e.input_value), number(e.analytic), number(e.numeric), number(e.abs_error),
      number(e.rel_error), number(e.step), e.kink, e.passed);
}

template <typename T, typename F>
std::string array(const std::vector<T>& items, F each) {
  std::vector<std::string> parts;
  for (const T& item : items) parts.push_back(each(item));
  return fmt::format("[{}]", fmt::join(parts, ","));
}

}  // namespace

std::string GradcheckReport::to_table() const {
  int64_t checked = 0;
  for (const GradcheckSummary& s : inputs) checked += s.checked;
  std::string out = fmt::format(
      "gradcheck {}: {} mode, {} differences, {} entries checked in {:.2f} s ({} evaluation, {} "
      "function values, {} backward passes)\n",
      passed ? "PASS" : "FAIL", gradcheck_mode_name(mode), stencil_name(stencil), checked, seconds,
      evaluation, evaluations, backward_passes);
  out += fmt::format(
      "an entry passes when |a - n| <= {:g} + {:g} |n|; rel err = |a - n| / max(|a|, |n|); {} "
      "(from {:.3g} to {:.3g}); seed {}\n",
      atol, rtol, step_rule, min_step, max_step, seed);

  auto summary_rows = [](const std::vector<GradcheckSummary>& list, const char* first) {
    std::vector<std::vector<std::string>> rows = {{first, "shape", "dtype", "checked", "failing",
                                                   "kinks", "max rel err", "mean rel err",
                                                   "max abs err", ""}};
    for (const GradcheckSummary& s : list) {
      rows.push_back({s.name, s.shape.str(), std::string(dtype_name(s.dtype)),
                      fmt::format("{}", s.checked), fmt::format("{}", s.failing),
                      fmt::format("{}", s.kinks), fmt::format("{:.2e}", s.max_rel_error),
                      fmt::format("{:.2e}", s.mean_rel_error),
                      fmt::format("{:.2e}", s.max_abs_error), s.passed() ? "ok" : "FAIL"});
    }
    return rows;
  };
  out += "\n";
  out += layout(summary_rows(inputs, "input"), 3, "");
  if (!second_order.empty()) {
    out += "\nsecond order (Hessian-vector products against differences of gradients):\n";
    out += layout(summary_rows(second_order, "check"), 3, "  ");
  }
  if (!worst.empty()) {
    out += fmt::format("\nworst {} entries:\n", worst.size());
    std::vector<std::vector<std::string>> rows = {
        {"entry", "output", "x", "analytic", "numeric", "abs err", "rel err", "h", ""}};
    for (const GradcheckEntry& e : worst) {
      rows.push_back({where_text(e), output_text(e),
                      e.kind == "gradient" || e.kind == "hvp" ? fmt::format("{:.6g}", e.input_value)
                                                              : std::string("-"),
                      fmt::format("{:.10g}", e.analytic), fmt::format("{:.10g}", e.numeric),
                      fmt::format("{:.2e}", e.abs_error), fmt::format("{:.2e}", e.rel_error),
                      fmt::format("{:.2g}", e.step), status_text(e)});
    }
    out += layout(rows, 2, "  ");
  }
  if (!structural.empty()) {
    out += "\nstructural checks:\n";
    for (const StructuralCheck& s : structural) {
      out += fmt::format("  {:<4}  {}: {}\n", s.passed ? "ok" : "FAIL", s.name, s.detail);
    }
  }
  if (!problems.empty()) {
    out += "\nproblems:\n";
    for (const std::string& p : problems) out += "  - " + p + "\n";
  }
  if (!notes.empty()) {
    out += "\nnotes:\n";
    for (const std::string& n : notes) out += "  - " + n + "\n";
  }
  return out;
}

std::string GradcheckReport::to_json() const {
  return fmt::format(
      "{{\"passed\":{},\"mode\":\"{}\",\"stencil\":\"{}\",\"atol\":{},\"rtol\":{},"
      "\"step\":{{\"rule\":{},\"min\":{},\"max\":{}}},\"seed\":{},\"evaluation\":{},"
      "\"evaluations\":{},\"backward_passes\":{},\"seconds\":{},\"inputs\":{},"
      "\"second_order\":{},\"worst\":{},\"structural\":{},\"problems\":{},\"notes\":{}}}",
      passed, gradcheck_mode_name(mode), stencil_name(stencil), number(atol), number(rtol),
      quoted(step_rule), number(min_step), number(max_step), seed, quoted(evaluation), evaluations,
      backward_passes, number(seconds), array(inputs, summary_json),
      array(second_order, summary_json), array(worst, entry_json),
      array(structural,
            [](const StructuralCheck& s) {
              return fmt::format("{{\"name\":{},\"passed\":{},\"detail\":{}}}", quoted(s.name),
                                 s.passed, quoted(s.detail));
            }),
      strings(problems), strings(notes));
}

}  // namespace tapegrad
