#include "gradcheck_run.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>

#include "data_source.hpp"
#include "tapegrad/autograd.hpp"
#include "tapegrad/commands.hpp"
#include "tapegrad/nn/closed_form.hpp"
#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/loss.hpp"
#include "tapegrad/output_file.hpp"

namespace tapegrad::apps {

namespace {

using Tensors = std::vector<Tensor>;
using nlohmann::json;

// The network, data and loss being checked.
struct Problem {
  nn::MlpSpec spec;
  nn::LossKind loss = nn::LossKind::cross_entropy;
  double l1 = 0, l2 = 0;
  std::string data_text;
  std::shared_ptr<nn::Sequential> model;    // in --dtype
  std::shared_ptr<nn::Sequential> model64;  // the same values in f64 (the model itself for f64)
  Tensor x, x64;
  std::vector<int64_t> labels;
};

// The loss the checker differentiates: the batch-mean loss plus the penalties.
Tensor total_loss(const Problem& p, nn::Module& model, const Tensor& x) {
  Tensor loss = nn::compute_loss(p.loss, model(x), p.labels);
  const Tensors weights = nn::weights_only(model.named_parameters());
  if (p.l1 != 0) loss = add(loss, nn::l1_penalty(weights, p.l1));
  if (p.l2 != 0) loss = add(loss, nn::l2_penalty(weights, p.l2));
  return loss;
}

Problem make_problem(const GradcheckCommand& c) {
  Problem p;
  if (!c.closed_form.empty()) {
    nn::ReportNetwork net;
    try {
      net = nn::report_network(c.closed_form);
    } catch (const Error& e) {
      throw UsageError(fmt::format("--closed-form: {}", e.what()));
    }
    p.spec = net.spec;
    p.loss = net.loss;
    p.l1 = net.l1;
    p.l2 = net.l2;
    if (c.loss_given && nn::parse_loss(c.loss) != net.loss) {
      throw UsageError(fmt::format("--loss {}: report {}'s closed form is for the loss {}", c.loss,
                                   net.id, nn::loss_name(net.loss)));
    }
  } else {
    p.loss = nn::parse_loss(c.loss);
    // The head that suits the loss, as `tapegrad train --head auto`.
    p.spec.head = p.loss == nn::LossKind::nll   ? nn::Activation::log_softmax
                  : p.loss == nn::LossKind::bce ? nn::Activation::sigmoid
                                                : nn::Activation::identity;
  }
  const bool own = c.closed_form.empty();
  if (own || c.model_given) p.spec.sizes = nn::parse_layer_sizes(c.model);
  if (own || c.act_given) p.spec.hidden = nn::parse_activation(c.act);
  if (own || c.bias_given) p.spec.bias = c.bias;
  if (own || c.l1_given) p.l1 = c.l1;
  if (own || c.l2_given) p.l2 = c.l2;
  p.spec.dtype = parse_dtype(c.dtype);
  const nn::InitSpec init = nn::parse_init(c.init);
  const int64_t inputs = p.spec.sizes.front(), outputs = p.spec.sizes.back();

  Generator gen(c.seed);
  p.model = nn::make_mlp(p.spec);
  nn::init_module(*p.model, init, gen);
  if (c.data == "random") {
    p.x = normal({c.batch, inputs}, 0.0, 1.0, gen, p.spec.dtype);
    for (int64_t i = 0; i < c.batch; ++i) {
      p.labels.push_back(
          static_cast<int64_t>(gen.below(static_cast<uint64_t>(outputs == 1 ? 2 : outputs))));
    }
    p.data_text = fmt::format("{} random samples (inputs N(0, 1), labels uniform)", c.batch);
  } else {
    DataRequest r;
    r.spec = c.data;
    r.data_dir = c.data_dir;
    r.seed = c.seed;
    r.limit_train = c.batch;
    const nn::Dataset d = load_data(r).train;
    if (d.input_width() != inputs) {
      throw UsageError(
          fmt::format("--model: the input size {} does not match the {} features of '{}'", inputs,
                      d.input_width(), c.data));
    }
    if (d.num_classes > std::max<int64_t>(outputs, 2) ||
        (outputs > 1 && d.num_classes != outputs)) {
      throw UsageError(
          fmt::format("--model: the output size {} does not match the {} classes of '{}'", outputs,
                      d.num_classes, c.data));
    }
    if (d.size() < c.batch) {
      throw UsageError(
          fmt::format("--batch {}: '{}' has only {} training samples", c.batch, c.data, d.size()));
    }
    p.x = d.features.to(p.spec.dtype);
    p.labels = d.labels;
    p.data_text = fmt::format("the first {} training samples of '{}'", c.batch, c.data);
  }
  p.x64 = p.x.to(DType::f64);
  if (p.spec.dtype == DType::f64) {
    p.model64 = p.model;
  } else {
    nn::MlpSpec spec64 = p.spec;
    spec64.dtype = DType::f64;
    p.model64 = nn::make_mlp(spec64);
    const auto from = p.model->parameters();
    const auto to = p.model64->parameters();
    NoGradGuard no_grad;
    for (size_t i = 0; i < to.size(); ++i) Tensor(to[i]).copy_(from[i]);
  }
  return p;
}

// Autograd's gradients of the model in its own dtype at the values the checker
// gives (an f32 model gets them copied in), in f64, optionally altered.
VjpFunction model_vjp(const Problem& p, const std::function<void(Tensors&)>& alter) {
  return [&p, alter](const Tensors& inputs, const Tensors& grad_outputs) {
    const Tensors params = p.model->parameters();
    if (p.model != p.model64) {
      NoGradGuard no_grad;
      for (size_t i = 0; i < params.size(); ++i) Tensor(params[i]).copy_(inputs[i]);
    }
    Tensors g;
    {
      GradModeGuard grad_on(true);
      g = grad({total_loss(p, *p.model, p.x)}, params);
    }
    for (Tensor& t : g) t = t.to(DType::f64);
    if (alter) alter(g);
    const double scale = grad_outputs[0].item();
    for (Tensor& t : g) t = mul(t, scale);
    return g;
  };
}

GradcheckOptions base_options(const GradcheckCommand& c) {
  GradcheckOptions o;
  o.mode = parse_gradcheck_mode(c.mode);
  o.stencil = parse_stencil(c.stencil);
  o.atol = c.atol;
  o.rtol = c.rtol;
  o.seed = c.seed;
  o.worst = c.worst;
  o.max_entries = c.max_entries;
  o.output_names = {"loss"};
  return o;
}

std::string index_text(const std::vector<int64_t>& index) {
  return fmt::format("[{}]", fmt::join(index, ", "));
}

// Columns: the first (and with left_last the last) left-aligned, the others right-aligned.
std::string columns(const std::vector<std::vector<std::string>>& rows, bool left_last = false) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()), 0);
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line = " ";
    for (size_t i = 0; i < row.size(); ++i) {
      const bool left = i == 0 || (left_last && i + 1 == row.size());
      line += left ? fmt::format(" {:<{}}", row[i], width[i])
                   : fmt::format("  {:>{}}", row[i], width[i]);
    }
    while (line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

// The closed form of a report: checked against finite differences like autograd,
// and compared with autograd entry by entry.
json closed_form_section(const GradcheckCommand& c, const Problem& p,
                         const std::vector<NamedInput>& inputs, bool& passed, std::ostream& out) {
  const nn::ReportNetwork net = nn::report_network(c.closed_form);
  GradcheckOptions o = base_options(c);
  o.analytic = [&](const Tensors&, const Tensors& grad_outputs) {
    const double scale = grad_outputs[0].item();
    Tensors g;
    for (const auto& [name, t] :
         nn::closed_form_gradients(c.closed_form, *p.model64, p.x64, p.labels, p.l1, p.l2)) {
      g.push_back(mul(t, scale));
    }
    return g;
  };
  const GradcheckReport r = gradcheck(
      [&](const Tensors&) { return Tensors{total_loss(p, *p.model64, p.x64)}; }, inputs, o);
  passed = r.passed;

  Tensors params;
  for (const NamedInput& in : inputs) params.push_back(in.value);
  const Tensors autograd = grad({total_loss(p, *p.model64, p.x64)}, params);
  const auto closed =
      nn::closed_form_gradients(c.closed_form, *p.model64, p.x64, p.labels, p.l1, p.l2);
  double max_abs = 0, max_rel = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    const std::vector<double> a = autograd[i].to_vector(), b = closed[i].second.to_vector();
    for (size_t k = 0; k < a.size(); ++k) {
      const double d = std::abs(a[k] - b[k]);
      max_abs = std::max(max_abs, d);
      max_rel = std::max(max_rel, d / std::max({std::abs(a[k]), std::abs(b[k]), 1e-300}));
    }
  }

  out << fmt::format("\nclosed form of report {} ({}): {} against finite differences\n", net.id,
                     net.title, r.passed ? "PASS" : "FAIL");
  out << fmt::format(
      "max |closed form - autograd| = {:.3g} (relative {:.3g}) over all {} entries\n", max_abs,
      max_rel, [&] {
        int64_t n = 0;
        for (const Tensor& t : params) n += t.numel();
        return n;
      }());
  // Report 003's table: for each parameter, its entry where the closed form is
  // furthest from the finite difference.
  std::vector<std::vector<std::string>> rows = {{"weight", "autograd", "numeric", "closed form",
                                                 "|autograd - numeric|", "|closed - autograd|",
                                                 ""}};
  json table = json::array();
  for (size_t i = 0; i < r.inputs.size(); ++i) {
    const GradcheckEntry& e = r.inputs[i].worst;
    if (e.kind.empty()) continue;
    int64_t flat = 0;
    for (size_t d = 0; d < e.index.size(); ++d)
      flat = flat * params[i].shape()[static_cast<int>(d)] + e.index[d];
    const double a = autograd[i].to_vector()[static_cast<size_t>(flat)];
    rows.push_back({e.input + " " + index_text(e.index), fmt::format("{:.10g}", a),
                    fmt::format("{:.10g}", e.numeric), fmt::format("{:.10g}", e.analytic),
                    fmt::format("{:.2e}", std::abs(a - e.numeric)),
                    fmt::format("{:.2e}", std::abs(e.analytic - a)),
                    e.kink ? "kink" : (e.passed ? "ok" : "FAIL")});
    table.push_back({{"weight", e.input},
                     {"index", e.index},
                     {"autograd", a},
                     {"numeric", e.numeric},
                     {"closed_form", e.analytic},
                     {"kink", e.kink},
                     {"passed", e.passed}});
  }
  out << columns(rows);
  if (!r.passed) out << r.to_table();
  return {{"report", json::parse(r.to_json())},
          {"table", table},
          {"max_abs_difference", max_abs},
          {"max_rel_difference", max_rel}};
}

// Error against a fixed step h over 1e-1 .. 1e-12: truncation error falls as h
// shrinks until round-off takes over.
json sweep_section(const GradcheckCommand& c, const std::vector<NamedInput>& inputs,
                   const CheckedFunction& f, const VjpFunction& analytic, std::ostream& out) {
  GradcheckOptions o = base_options(c);
  o.mode = GradcheckMode::full;
  o.relative_step = false;
  o.max_entries = c.sweep_entries;
  o.worst = 0;
  o.structural = false;
  o.kinks = false;
  o.analytic = analytic;
  std::vector<std::vector<std::string>> rows = {
      {"h", "max abs err", "mean rel err", "max rel err", "log10", "(max abs err, log scale)"}};
  json points = json::array();
  int64_t entries = 0;
  for (int e = 1; e <= 12; ++e) {
    o.step = std::pow(10.0, -e);
    const GradcheckReport r = gradcheck(f, inputs, o);
    double max_abs = 0, max_rel = 0, rel_sum = 0;
    entries = 0;
    for (const GradcheckSummary& s : r.inputs) {
      max_abs = std::max(max_abs, s.max_abs_error);
      max_rel = std::max(max_rel, s.max_rel_error);
      rel_sum += s.mean_rel_error * static_cast<double>(s.checked);
      entries += s.checked;
    }
    const double mean_rel = entries > 0 ? rel_sum / static_cast<double>(entries) : 0;
    const double lg = std::log10(std::max(max_abs, 1e-300));
    const auto bar = static_cast<size_t>(std::clamp(std::round(2 * (lg + 17)), 0.0, 40.0));
    rows.push_back({fmt::format("1e-{:02d}", e), fmt::format("{:.2e}", max_abs),
                    fmt::format("{:.2e}", mean_rel), fmt::format("{:.2e}", max_rel),
                    fmt::format("{:.1f}", lg), std::string(bar, '#')});
    points.push_back({{"h", o.step},
                      {"max_abs_error", max_abs},
                      {"mean_rel_error", mean_rel},
                      {"max_rel_error", max_rel}});
  }
  out << fmt::format(
      "\nstep sweep: {} differences with a fixed h, the same {} entries for every h\n",
      stencil_name(o.stencil), entries);
  out << columns(rows, true);
  return points;
}

}  // namespace

int run_gradcheck(const GradcheckCommand& c, std::ostream& out) {
  if (c.batch <= 0) throw UsageError(fmt::format("--batch must be positive, got {}", c.batch));
  const Problem p = make_problem(c);
  if (c.second_order && p.spec.dtype != DType::f64) {
    throw UsageError("--second-order needs --dtype f64 (the f32 gradients are not recorded)");
  }
  std::ofstream json_file;
  if (!c.json_path.empty()) json_file = open_output_file(c.json_path, "--json");

  std::vector<NamedInput> inputs;
  for (const auto& [name, t] : p.model64->named_parameters()) inputs.push_back({name, t});
  const CheckedFunction f = [&p](const Tensors&) {
    return Tensors{total_loss(p, *p.model64, p.x64)};
  };
  GradcheckOptions o = base_options(c);
  o.second_order = c.second_order;
  // Autograd's own gradients unless they come from an f32 model or are altered.
  if (p.spec.dtype != DType::f64 || c.alter_gradients) o.analytic = model_vjp(p, c.alter_gradients);

  const std::string penalty = p.l1 == 0 && p.l2 == 0 ? std::string("no penalty")
                                                     : fmt::format("l1 {:g}, l2 {:g}", p.l1, p.l2);
  out << fmt::format(
      "gradcheck of a {} MLP ({} parameters): {} hidden, {} head, {} biases, loss {}, {}\n",
      fmt::join(p.spec.sizes, "-"), p.model->num_parameters(), nn::activation_name(p.spec.hidden),
      nn::activation_name(p.spec.head), p.spec.bias ? "with" : "no", nn::loss_name(p.loss),
      penalty);
  out << fmt::format(
      "data: {}; init {}, seed {}; model {}{}\n\n", p.data_text, c.init, c.seed, p.spec.dtype,
      p.spec.dtype == DType::f64
          ? std::string()
          : ": analytic gradients from the f32 model, finite differences of an f64 copy");
  const GradcheckReport r = gradcheck(f, inputs, o);
  out << r.to_table();
  bool passed = r.passed;

  json result = {{"model", fmt::format("{}", fmt::join(p.spec.sizes, "-"))},
                 {"act", nn::activation_name(p.spec.hidden)},
                 {"head", nn::activation_name(p.spec.head)},
                 {"loss", nn::loss_name(p.loss)},
                 {"dtype", std::string(dtype_name(p.spec.dtype))},
                 {"batch", c.batch},
                 {"data", c.data},
                 {"seed", c.seed},
                 {"report", json::parse(r.to_json())},
                 {"closed_form", nullptr},
                 {"sweep", nullptr}};
  if (!c.closed_form.empty()) {
    bool closed_passed = true;
    result["closed_form"] = closed_form_section(c, p, inputs, closed_passed, out);
    passed = passed && closed_passed;
  }
  if (c.sweep_step) result["sweep"] = sweep_section(c, inputs, f, o.analytic, out);
  result["passed"] = passed;
  out << fmt::format("\n{}\n", passed ? "PASS" : "FAIL");
  if (json_file) json_file << result.dump(2) << "\n";
  return passed ? 0 : 1;
}

}  // namespace tapegrad::apps
