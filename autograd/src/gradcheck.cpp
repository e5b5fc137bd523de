// The gradient checker: analytic vector-Jacobian products (autograd's or the
// user's) against finite differences, in full or directional mode, with kink
// detection, structural checks of the backward pass and second-order checks.
#include "tapegrad/autograd/gradcheck.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>

#include "gradcheck_replay.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

std::string_view gradcheck_mode_name(GradcheckMode mode) {
  return mode == GradcheckMode::full ? "full" : "directional";
}

std::string_view stencil_name(Stencil stencil) {
  switch (stencil) {
    case Stencil::central:
      return "central";
    case Stencil::central4:
      return "central4";
    case Stencil::richardson:
      return "richardson";
  }
  return "?";
}

GradcheckMode parse_gradcheck_mode(std::string_view text) {
  if (text == "full") return GradcheckMode::full;
  if (text == "directional") return GradcheckMode::directional;
  fail("gradcheck: unknown mode '{}': expected full or directional", text);
}

Stencil parse_stencil(std::string_view text) {
  for (Stencil s : {Stencil::central, Stencil::central4, Stencil::richardson}) {
    if (text == stencil_name(s)) return s;
  }
  fail("gradcheck: unknown stencil '{}': expected central, central4 or richardson", text);
}

Tensor random_input(const Shape& shape, Generator& gen, const RandomInputOptions& o) {
  if (!(o.low < o.high)) fail("random_input: low {} must be below high {}", o.low, o.high);
  const auto n = static_cast<size_t>(shape.numel());
  std::vector<double> v(n);
  if (o.distinct) {
    // A shuffled grid with jitter: any two values are at least 0.4 cells apart.
    std::vector<size_t> cell(n);
    std::iota(cell.begin(), cell.end(), size_t{0});
    for (size_t i = n; i > 1; --i) std::swap(cell[i - 1], cell[gen.below(i)]);
    const double width = (o.high - o.low) / static_cast<double>(n);
    for (size_t i = 0; i < n; ++i) {
      v[i] = o.low + (static_cast<double>(cell[i]) + 0.2 + 0.6 * gen.uniform01()) * width;
    }
  } else {
    for (double& x : v) {
      for (int attempt = 0;; ++attempt) {
        if (attempt == 10000) {
          fail("random_input: no value in [{}, {}] stays {} away from [{}]", o.low, o.high,
               o.margin, fmt::join(o.avoid, ", "));
        }
        x = o.low + (o.high - o.low) * gen.uniform01();
        if (o.dyadic) x = std::round(x * 64.0) / 64.0;
        bool ok = true;
        for (double p : o.avoid) ok = ok && std::abs(x - p) >= o.margin;
        if (ok) break;
      }
    }
  }
  return from_data(std::span<const double>(v), shape, o.dtype);
}

namespace {

using gradcheck_detail::DirectEvaluator;
using gradcheck_detail::EvaluationMismatch;
using gradcheck_detail::Evaluator;
using gradcheck_detail::get_value;
using gradcheck_detail::Replay;
using gradcheck_detail::set_value;
using gradcheck_detail::Values;

constexpr double kTiny = 1e-300;
// Full mode keeps the analytic Jacobian in memory: refuse beyond this many entries.
constexpr double kMaxJacobianEntries = 1 << 28;

std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> index(static_cast<size_t>(shape.rank()));
  for (int d = shape.rank() - 1; d >= 0; --d) {
    index[static_cast<size_t>(d)] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

// nan rather than -nan.
std::string number_text(double x) {
  return std::isnan(x) ? std::string("nan") : fmt::format("{}", x);
}

std::vector<double> values_of(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = get_value(t, static_cast<int64_t>(i));
  return v;
}

struct Verdict {
  double abs = 0, rel = 0, ratio = 0;  // ratio: error over the allowed error
  bool pass = true;
};

struct Judge {
  double atol, rtol;
  Verdict operator()(double a, double n) const {
    Verdict v;
    v.abs = std::abs(a - n);
    v.rel = v.abs / std::max({std::abs(a), std::abs(n), kTiny});
    const double allowed = atol + rtol * std::abs(n);
    v.pass = v.abs <= allowed;  // false for NaN
    v.ratio = std::isnan(v.abs) ? std::numeric_limits<double>::infinity()
                                : v.abs / std::max(allowed, kTiny);
    if (std::isnan(v.rel)) v.rel = std::numeric_limits<double>::infinity();
    return v;
  }
};

// An entry's comparison fields; the caller fills in where it is.
GradcheckEntry entry_of(const char* kind, double analytic, double numeric, const Verdict& v,
                        double step, bool passed, bool kink = false) {
  GradcheckEntry e;
  e.kind = kind;
  e.analytic = analytic;
  e.numeric = numeric;
  e.abs_error = v.abs;
  e.rel_error = v.rel;
  e.step = step;
  e.kink = kink;
  e.passed = passed;
  return e;
}

class Accumulator {
 public:
  explicit Accumulator(GradcheckSummary& s) : s_(s) {}
  void add(const Verdict& v, bool passed, bool kink) {
    const double total = s_.mean_rel_error * static_cast<double>(s_.checked) + v.rel;
    ++s_.checked;
    if (!passed) ++s_.failing;
    if (kink) ++s_.kinks;
    if (!(v.rel <= s_.max_rel_error)) s_.max_rel_error = v.rel;
    if (!(v.abs <= s_.max_abs_error)) s_.max_abs_error = std::isnan(v.abs) ? INFINITY : v.abs;
    s_.mean_rel_error = total / static_cast<double>(s_.checked);
  }
  // Adds the counts of another summary of the same input.
  void merge(const GradcheckSummary& o) {
    if (o.checked == 0) return;
    const double total = s_.mean_rel_error * static_cast<double>(s_.checked) +
                         o.mean_rel_error * static_cast<double>(o.checked);
    s_.checked += o.checked;
    s_.failing += o.failing;
    s_.kinks += o.kinks;
    s_.max_rel_error = std::max(s_.max_rel_error, o.max_rel_error);
    s_.max_abs_error = std::max(s_.max_abs_error, o.max_abs_error);
    s_.mean_rel_error = total / static_cast<double>(s_.checked);
  }

 private:
  GradcheckSummary& s_;
};

// The K worst entries: failing first, then kinks, then by error over tolerance.
class WorstList {
 public:
  explicit WorstList(int k) : k_(static_cast<size_t>(std::max(k, 0))) {}
  static std::pair<int, double> key(bool passed, bool kink, double ratio) {
    return {passed ? (kink ? 1 : 0) : 2, ratio};
  }
  bool wants(std::pair<int, double> key) const {
    return k_ > 0 && (items_.size() < k_ || items_.back().first < key);
  }
  void add(std::pair<int, double> key, GradcheckEntry entry) {
    if (!wants(key)) return;
    auto pos = std::upper_bound(items_.begin(), items_.end(), key,
                                [](const auto& k, const auto& item) { return k > item.first; });
    items_.insert(pos, {key, std::move(entry)});
    if (items_.size() > k_) items_.pop_back();
  }
  std::vector<GradcheckEntry> take() {
    std::vector<GradcheckEntry> out;
    for (auto& item : items_) out.push_back(std::move(item.second));
    return out;
  }

 private:
  size_t k_;
  std::vector<std::pair<std::pair<int, double>, GradcheckEntry>> items_;
};

struct Output {
  std::string name;
  Shape shape;
  int64_t offset = 0;  // into the flattened output values
};

struct Input {
  size_t arg = 0;  // position among the function's inputs
  std::string name;
  Tensor original;
  Tensor value;        // the f64 tensor given to the function
  bool usable = true;  // false after a structural problem that rules out comparisons
};

// ---- The analytic side ----

class Analytic {
 public:
  virtual ~Analytic() = default;
  // sum_o <grad_outputs[o], d outputs[o]> for each checked input, at the check point.
  std::vector<Tensor> vjp(const std::vector<Tensor>& grad_outputs) {
    ++passes;
    return run(grad_outputs);
  }
  // What grad_outputs must look like (shape and dtype).
  virtual const std::vector<Tensor>& outputs() const = 0;
  int64_t passes = 0;

 protected:
  virtual std::vector<Tensor> run(const std::vector<Tensor>& grad_outputs) = 0;
};

// Autograd: backward through the recorded graph of f at the check point.
class AutogradAnalytic final : public Analytic {
 public:
  AutogradAnalytic(std::vector<Tensor> outputs, std::vector<Tensor> leaves)
      : outputs_(std::move(outputs)), leaves_(std::move(leaves)) {}
  const std::vector<Tensor>& outputs() const override { return outputs_; }

 protected:
  std::vector<Tensor> run(const std::vector<Tensor>& grad_outputs) override {
    std::vector<Tensor> outs, gos;
    for (size_t o = 0; o < outputs_.size(); ++o) {
      if (!outputs_[o].requires_grad()) continue;  // constant: contributes nothing
      outs.push_back(outputs_[o]);
      gos.push_back(grad_outputs[o]);
    }
    if (outs.empty()) {
      std::vector<Tensor> zero;
      for (const Tensor& l : leaves_) zero.push_back(zeros_like(l));
      return zero;
    }
    GradOptions options;
    options.retain_graph = true;
    return grad(outs, leaves_, gos, options);
  }

 private:
  std::vector<Tensor> outputs_;
  std::vector<Tensor> leaves_;
};

// A user-supplied vector-Jacobian product.
class UserAnalytic final : public Analytic {
 public:
  UserAnalytic(const VjpFunction& fn, std::vector<Tensor> args, std::vector<size_t> checked,
               std::vector<Tensor> outputs)
      : fn_(fn),
        args_(std::move(args)),
        checked_(std::move(checked)),
        outputs_(std::move(outputs)) {}
  const std::vector<Tensor>& outputs() const override { return outputs_; }
  // The VJP at the current values of the inputs, optionally recorded.
  std::vector<Tensor> call(const std::vector<Tensor>& grad_outputs) const {
    const std::vector<Tensor> all = fn_(args_, grad_outputs);
    if (all.size() != args_.size()) {
      fail("gradcheck: the analytic gradient function returned {} tensors for {} inputs",
           all.size(), args_.size());
    }
    std::vector<Tensor> selected;
    for (size_t a : checked_) selected.push_back(all[a]);
    return selected;
  }

 protected:
  std::vector<Tensor> run(const std::vector<Tensor>& grad_outputs) override {
    NoGradGuard no_grad;
    return call(grad_outputs);
  }

 private:
  const VjpFunction& fn_;
  std::vector<Tensor> args_;
  std::vector<size_t> checked_;
  std::vector<Tensor> outputs_;
};

// ---- Finite differences ----

class Differences {
 public:
  Differences(Stencil stencil, const GradcheckOptions& o) : stencil_(stencil), options_(o) {}

  // The step at x (see GradcheckOptions::step).
  double step(double x) const {
    const double scale = options_.relative_step ? std::max(1.0, std::abs(x)) : 1.0;
    if (options_.step > 0) return options_.step * scale;
    const double eps = std::numeric_limits<double>::epsilon();
    const double h = (stencil_ == Stencil::central ? std::cbrt(eps) : std::pow(eps, 0.2)) * scale;
    return std::exp2(std::round(std::log2(h)));
  }
  std::string rule() const {
    const char* scale = options_.relative_step ? " * max(1, |x|)" : "";
    if (options_.step > 0) return fmt::format("h = {:g}{}", options_.step, scale);
    return fmt::format("h = {}{}, rounded to a power of 2",
                       stencil_ == Stencil::central ? "cbrt(eps)" : "eps^(1/5)", scale);
  }
  // Offsets from x at which f is evaluated: +h and -h first (used for kinks).
  int points() const { return stencil_ == Stencil::central ? 2 : 4; }
  std::array<double, 4> offsets(double h) const {
    if (stencil_ == Stencil::central4) return {h, -h, 2 * h, -2 * h};
    return {h, -h, h / 2, -h / 2};
  }
  // The derivative estimate of value j from f at x + t[p] (actual offsets t).
  double derivative(const std::array<Values, 4>& f, const std::array<double, 4>& t,
                    size_t j) const {
    const double d1 = (f[0][j] - f[1][j]) / (t[0] - t[1]);
    if (stencil_ == Stencil::central) return d1;
    if (stencil_ == Stencil::central4) {
      return (-f[2][j] + 8 * f[0][j] - 8 * f[1][j] + f[3][j]) / (6 * (t[0] - t[1]));
    }
    const double d2 = (f[2][j] - f[3][j]) / (t[2] - t[3]);
    return (4 * d2 - d1) / 3;
  }

 private:
  Stencil stencil_;
  const GradcheckOptions& options_;
};

// ---- The check ----

class Checker {
 public:
  Checker(const CheckedFunction& f, const std::vector<NamedInput>& inputs,
          const GradcheckOptions& options)
      : f_(f),
        options_(options),
        judge_{options.atol, options.rtol},
        diff_(options.stencil, options),
        worst_(options.worst),
        gen_(options.seed) {
    validate(inputs);
  }

  GradcheckReport run();

 private:
  void validate(const std::vector<NamedInput>& inputs);
  void record();
  bool finite_at_check_point();
  void choose_evaluator();
  void structural_checks();
  void full_mode();
  void directional_mode();
  void second_order();
  // Compares analytic rows [row_begin, row_end) of the Jacobian with numerical
  // columns for the given entries of one input.
  void compare_columns(Input& in, GradcheckSummary& summary, const std::vector<int64_t>& entries,
                       size_t row_begin, size_t row_end, const std::vector<double>& rows);
  // Rows [row_begin, row_end) of the analytic Jacobian, per checked input:
  // rows[c][(r - row_begin) * numel + k].
  std::vector<std::vector<double>> jacobian_rows(size_t row_begin, size_t row_end);
  std::vector<int64_t> entries_of(const Input& in);
  std::string where_in_output(size_t row, std::vector<int64_t>* index) const;
  void problem(std::string text) { report_.problems.push_back(std::move(text)); }
  std::pair<int, double> key_of(const GradcheckEntry& e) const {
    return WorstList::key(e.passed, e.kink, judge_(e.analytic, e.numeric).ratio);
  }
  // Offers an entry to the report's worst list and to its summary's worst entry;
  // make() builds it only when one of them takes it.
  template <typename Make>
  void offer(GradcheckSummary& s, std::pair<int, double> key, Make make) {
    const bool for_summary = s.worst.kind.empty() || key_of(s.worst) < key;
    if (!for_summary && !worst_.wants(key)) return;
    GradcheckEntry e = make();
    if (for_summary) s.worst = e;
    worst_.add(key, std::move(e));
  }
  void note_step(double h) {
    report_.min_step = report_.min_step == 0 ? h : std::min(report_.min_step, h);
    report_.max_step = std::max(report_.max_step, h);
  }
  std::vector<Tensor> random_like(const std::vector<Tensor>& like);

  const CheckedFunction& f_;
  const GradcheckOptions& options_;
  Judge judge_;
  Differences diff_;
  WorstList worst_;
  Generator gen_;
  GradcheckReport report_;

  std::vector<Tensor> args_;       // what f receives (f64)
  std::vector<Tensor> originals_;  // the inputs as given
  std::vector<bool> checked_arg_;
  std::vector<Input> inputs_;  // the checked ones
  std::vector<Tensor> outputs_;
  std::vector<Output> out_info_;
  Values f0_;  // outputs at the check point, flattened
  std::unique_ptr<Replay> replay_;
  std::unique_ptr<DirectEvaluator> direct_;
  Evaluator* eval_ = nullptr;
  std::unique_ptr<Analytic> analytic_;
  std::vector<Tensor> native_args_;  // analytic_in_input_dtype
};

void Checker::validate(const std::vector<NamedInput>& inputs) {
  const GradcheckOptions& o = options_;
  if (!(o.atol >= 0)) fail("gradcheck: atol must be >= 0, got {}", o.atol);
  if (!(o.rtol >= 0)) fail("gradcheck: rtol must be >= 0, got {}", o.rtol);
  if (!(o.step >= 0) || std::isinf(o.step)) fail("gradcheck: step must be >= 0, got {}", o.step);
  if (o.worst < 0) fail("gradcheck: worst must be >= 0, got {}", o.worst);
  if (o.max_entries < 0) fail("gradcheck: max_entries must be >= 0, got {}", o.max_entries);
  if (inputs.empty()) fail("gradcheck: no inputs given");
  std::vector<std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NamedInput& in = inputs[i];
    if (!in.value.defined()) fail("gradcheck: input '{}' (index {}) is undefined", in.name, i);
    for (size_t j = 0; j < i; ++j) {
      if (inputs[j].value.impl() == in.value.impl()) {
        fail("gradcheck: inputs '{}' and '{}' are the same tensor; pass it once", inputs[j].name,
             in.name);
      }
    }
    names.push_back(fmt::format("'{}'", in.name));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const NamedInput& in = inputs[i];
    const bool checked = in.value.requires_grad();
    Tensor value = in.value;
    if (in.value.dtype() != DType::f64 || !in.value.is_leaf()) {
      NoGradGuard no_grad;
      value = in.value.detach().to(DType::f64);
      if (checked) value.requires_grad_();
    }
    args_.push_back(value);
    originals_.push_back(in.value);
    checked_arg_.push_back(checked);
    if (checked) inputs_.push_back(Input{i, in.name, in.value, value, true});
  }
  if (inputs_.empty()) {
    fail(
        "gradcheck: none of the {} inputs ({}) requires grad: mark the ones to check with "
        "requires_grad_()",
        inputs.size(), fmt::join(names, ", "));
  }
}

void Checker::record() {
  replay_ = std::make_unique<Replay>(args_, checked_arg_);
  {
    GradModeGuard grad_on(true);
    replay_->start();
    try {
      outputs_ = f_(args_);
    } catch (const std::exception& e) {
      replay_->abort();
      fail("gradcheck: the function threw at the check point: {}", e.what());
    }
    replay_->finish(outputs_);
  }
  if (outputs_.empty()) fail("gradcheck: the function returned no outputs");
  for (size_t o = 0; o < outputs_.size(); ++o) {
    if (!outputs_[o].defined()) fail("gradcheck: output {} is undefined", o);
  }
  if (!options_.output_names.empty() && options_.output_names.size() != outputs_.size()) {
    fail("gradcheck: {} output names given for {} outputs", options_.output_names.size(),
         outputs_.size());
  }
  int64_t offset = 0;
  for (size_t o = 0; o < outputs_.size(); ++o) {
    Output info;
    info.name = !options_.output_names.empty() ? options_.output_names[o]
                : outputs_.size() == 1         ? std::string("output")
                                               : fmt::format("output {}", o);
    info.shape = outputs_[o].shape();
    info.offset = offset;
    offset += info.shape.numel();
    out_info_.push_back(std::move(info));
  }
  gradcheck_detail::flatten_into(outputs_, f0_);
  for (size_t o = 0; o < outputs_.size(); ++o) {
    if (outputs_[o].dtype() == DType::f64) continue;
    report_.notes.push_back(fmt::format(
        "{} is {}: its finite differences carry {} rounding (about {:.0e} relative per step h)",
        out_info_[o].name, outputs_[o].dtype(), outputs_[o].dtype(),
        std::numeric_limits<float>::epsilon() / std::cbrt(std::numeric_limits<double>::epsilon())));
  }

  std::vector<size_t> checked;
  std::vector<Tensor> leaves;
  for (const Input& in : inputs_) {
    checked.push_back(in.arg);
    leaves.push_back(in.value);
  }
  if (options_.analytic) {
    analytic_ = std::make_unique<UserAnalytic>(options_.analytic, args_, checked, outputs_);
    return;
  }
  bool native = false;
  for (const Input& in : inputs_) native = native || !(in.original.impl() == in.value.impl());
  if (!options_.analytic_in_input_dtype || !native) {
    analytic_ = std::make_unique<AutogradAnalytic>(outputs_, leaves);
    return;
  }
  // The analytic side on the inputs as given (e.g. f32); the reference stays f64.
  std::vector<Tensor> native_leaves;
  for (size_t i = 0; i < args_.size(); ++i) {
    Tensor given = originals_[i];
    if (!given.is_leaf()) {
      NoGradGuard no_grad;
      given = given.detach().clone();
      if (checked_arg_[i]) given.requires_grad_();
    }
    native_args_.push_back(given);
    if (checked_arg_[i]) native_leaves.push_back(given);
  }
  std::vector<Tensor> outs;
  {
    GradModeGuard grad_on(true);
    try {
      outs = f_(native_args_);
    } catch (const std::exception& e) {
      fail("gradcheck: the function threw on the inputs in their own dtype: {}", e.what());
    }
  }
  if (outs.size() != outputs_.size()) {
    fail(
        "gradcheck: the function returned {} outputs on the inputs in their own dtype, {} on "
        "the f64 copies",
        outs.size(), outputs_.size());
  }
  analytic_ = std::make_unique<AutogradAnalytic>(outs, native_leaves);
}

bool Checker::finite_at_check_point() {
  bool finite = true;
  for (const Output& o : out_info_) {
    int64_t bad = 0, first = -1;
    for (int64_t j = 0; j < o.shape.numel(); ++j) {
      if (std::isfinite(f0_[static_cast<size_t>(o.offset + j)])) continue;
      if (bad++ == 0) first = j;
    }
    if (bad == 0) continue;
    finite = false;
    problem(fmt::format(
        "{} is not finite at the check point: {} of its {} values (the first, {} at [{}]); "
        "derivatives there are meaningless",
        o.name, bad, o.shape.numel(), number_text(f0_[static_cast<size_t>(o.offset + first)]),
        fmt::join(unravel(first, o.shape), ", ")));
  }
  return finite;
}

void Checker::choose_evaluator() {
  direct_ = std::make_unique<DirectEvaluator>(f_, args_, outputs_);
  eval_ = direct_.get();
  if (!options_.replay) {
    report_.evaluation = "direct";
    report_.notes.push_back("the function is called for every perturbation (replay off)");
    return;
  }
  if (!replay_->usable()) {
    report_.evaluation = "direct";
    report_.notes.push_back(fmt::format(
        "the function is called for every perturbation: the recorded ops cannot replay it: {}",
        replay_->unusable_reason()));
    return;
  }
  // Spot checks: the replay must agree with calling the function.
  std::array<Values, 4> by_replay, by_call;
  for (const Input& in : inputs_) {
    const int64_t n = in.value.numel();
    if (n == 0) continue;
    const std::array<int64_t, 2> picks = {
        static_cast<int64_t>(gen_.below(static_cast<uint64_t>(n))), n - 1};
    for (int64_t k : picks) {
      const double x0 = get_value(in.value, k);
      const double h = diff_.step(x0);
      std::array<double, 4> t{};
      std::string mismatch;
      try {
        for (int s = 0; s < 2; ++s) {
          const double x = x0 + (s == 0 ? h : -h);
          t[static_cast<size_t>(s)] = x - x0;
          replay_->entry(in.arg, k, x, by_replay[static_cast<size_t>(s)]);
          direct_->entry(in.arg, k, x, by_call[static_cast<size_t>(s)]);
        }
        report_.evaluations += 4;
        for (size_t j = 0; j < f0_.size() && mismatch.empty(); ++j) {
          const double dr = (by_replay[0][j] - by_replay[1][j]) / (t[0] - t[1]);
          const double dc = (by_call[0][j] - by_call[1][j]) / (t[0] - t[1]);
          // Far below the tolerance, and above the round-off of the two ways.
          const double allowed =
              0.01 * (options_.atol + options_.rtol * std::abs(dc)) +
              64 * std::numeric_limits<double>::epsilon() * std::max(1.0, std::abs(f0_[j])) / h;
          if (!(std::abs(dr - dc) <= allowed)) {
            mismatch = fmt::format("at {}[{}] the replay gives {:.6g}, calling the function {:.6g}",
                                   in.name, fmt::join(unravel(k, in.value.shape()), ", "), dr, dc);
          }
        }
      } catch (const std::exception& e) {
        mismatch = e.what();
      }
      if (!mismatch.empty()) {
        report_.evaluation = "direct";
        report_.notes.push_back(
            fmt::format("the function is called for every perturbation: replaying its recorded ops "
                        "disagreed with calling it ({})",
                        mismatch));
        return;
      }
    }
  }
  eval_ = replay_.get();
  report_.evaluation = "replay";
}

std::vector<Tensor> Checker::random_like(const std::vector<Tensor>& like) {
  std::vector<Tensor> r;
  for (const Tensor& t : like) r.push_back(normal(t.shape(), 0.0, 1.0, gen_, t.dtype()));
  return r;
}

void Checker::structural_checks() {
  const std::vector<Tensor>& outs = analytic_->outputs();
  const std::vector<Tensor> v = random_like(outs);
  auto add = [&](std::string name, bool passed, std::string detail) {
    report_.structural.push_back({std::move(name), passed, std::move(detail)});
  };
  const std::vector<Tensor> g = analytic_->vjp(v);
  if (g.size() != inputs_.size()) {
    fail("gradcheck: the analytic side gave {} gradients for {} checked inputs", g.size(),
         inputs_.size());
  }

  // Shape and dtype.
  std::vector<std::string> bad;
  for (size_t c = 0; c < inputs_.size(); ++c) {
    Input& in = inputs_[c];
    const DType want =
        options_.analytic || !options_.analytic_in_input_dtype ? DType::f64 : in.original.dtype();
    std::string why;
    if (!g[c].defined()) {
      why = "undefined";
    } else if (!(g[c].shape() == in.value.shape()) || g[c].dtype() != want) {
      why = fmt::format("{} {} for an input of {} {}", g[c].shape(), g[c].dtype(), in.value.shape(),
                        want);
    }
    if (why.empty()) continue;
    in.usable = false;
    bad.push_back(fmt::format("'{}': {}", in.name, why));
    problem(fmt::format("the gradient of '{}' is {}: it cannot be compared", in.name, why));
  }
  add("gradients have the input's shape and dtype", bad.empty(),
      bad.empty() ? std::string("all match") : fmt::format("{}", fmt::join(bad, "; ")));
  auto usable = [&](size_t c) { return inputs_[c].usable; };

  // Zero grad_output.
  {
    std::vector<Tensor> zero;
    for (const Tensor& t : outs) zero.push_back(zeros_like(t));
    const std::vector<Tensor> g0 = analytic_->vjp(zero);
    std::vector<std::string> nonzero;
    for (size_t c = 0; c < inputs_.size(); ++c) {
      if (!usable(c) || !g0[c].defined()) continue;
      const std::vector<double> values = values_of(g0[c]);
      const auto it = std::find_if(values.begin(), values.end(), [](double x) { return x != 0; });
      if (it != values.end()) {
        nonzero.push_back(fmt::format(
            "'{}'[{}] = {:.6g}", inputs_[c].name,
            fmt::join(unravel(it - values.begin(), inputs_[c].value.shape()), ", "), *it));
      }
    }
    add("zero grad_output gives exactly zero gradients", nonzero.empty(),
        nonzero.empty() ? std::string("all zero") : fmt::format("{}", fmt::join(nonzero, "; ")));
  }
  // Doubling grad_output; and the same backward twice.
  {
    std::vector<Tensor> twice;
    for (const Tensor& t : v) twice.push_back(mul(t, 2.0));
    const std::vector<Tensor> g2 = analytic_->vjp(twice);
    const std::vector<Tensor> again = analytic_->vjp(v);
    double worst = 0, scale = 0;
    std::vector<std::string> differ;
    for (size_t c = 0; c < inputs_.size(); ++c) {
      if (!usable(c)) continue;
      const std::vector<double> a = values_of(g[c]), b = values_of(g2[c]), r = values_of(again[c]);
      for (size_t k = 0; k < a.size(); ++k) {
        const double dev = std::abs(b[k] - 2 * a[k]);
        if (!(dev <= worst)) worst = std::isnan(dev) ? INFINITY : dev;
        scale = std::max(scale, std::abs(2 * a[k]));
      }
      if (g[c].numel() > 0 &&
          std::memcmp(g[c].raw_data(), again[c].raw_data(),
                      static_cast<size_t>(g[c].numel()) * dtype_size(g[c].dtype())) != 0) {
        differ.push_back(fmt::format("'{}'", inputs_[c].name));
      }
    }
    // Scaling by 2 is exact in binary floating point; allow a few rounding steps.
    const bool doubles = worst <= 1e-13 * scale;
    add("doubling grad_output doubles the gradients", doubles,
        fmt::format("max |g(2v) - 2 g(v)| = {:.3g}, max |2 g(v)| = {:.3g}", worst, scale));
    add("backward run twice gives bitwise the same gradients", differ.empty(),
        differ.empty() ? std::string("identical")
                       : fmt::format("differ for {}", fmt::join(differ, ", ")));
  }
  // Inputs that the outputs do not depend on.
  {
    std::vector<std::string> unused, nonzero;
    for (size_t c = 0; c < inputs_.size(); ++c) {
      if (replay_->reaches_output(inputs_[c].arg)) continue;
      unused.push_back(fmt::format("'{}'", inputs_[c].name));
      if (!usable(c)) continue;
      const std::vector<double> values = values_of(g[c]);
      if (std::any_of(values.begin(), values.end(), [](double x) { return x != 0; })) {
        nonzero.push_back(fmt::format("'{}'", inputs_[c].name));
      }
    }
    add("inputs the outputs do not depend on get zero gradients", nonzero.empty(),
        unused.empty()    ? std::string("every checked input reaches an output")
        : nonzero.empty() ? fmt::format("zero for {}", fmt::join(unused, ", "))
                          : fmt::format("not zero for {}", fmt::join(nonzero, ", ")));
  }
}

std::vector<int64_t> Checker::entries_of(const Input& in) {
  const int64_t n = in.value.numel();
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), int64_t{0});
  if (options_.max_entries == 0 || n <= options_.max_entries) return all;
  const auto m = static_cast<size_t>(options_.max_entries);
  for (size_t i = 0; i < m; ++i) {
    const size_t j = i + static_cast<size_t>(gen_.below(static_cast<uint64_t>(all.size() - i)));
    std::swap(all[i], all[j]);
  }
  all.resize(m);
  std::sort(all.begin(), all.end());
  return all;
}

std::string Checker::where_in_output(size_t row, std::vector<int64_t>* index) const {
  for (const Output& o : out_info_) {
    const auto r = static_cast<int64_t>(row);
    if (r < o.offset || r >= o.offset + o.shape.numel()) continue;
    if (o.shape.numel() > 1) *index = unravel(r - o.offset, o.shape);
    return o.name;
  }
  return {};
}

std::vector<std::vector<double>> Checker::jacobian_rows(size_t row_begin, size_t row_end) {
  const std::vector<Tensor>& outs = analytic_->outputs();
  std::vector<Tensor> gos;
  for (const Tensor& t : outs) gos.push_back(zeros_like(t));
  std::vector<std::vector<double>> rows(inputs_.size());
  for (size_t c = 0; c < inputs_.size(); ++c) {
    rows[c].resize((row_end - row_begin) * static_cast<size_t>(inputs_[c].value.numel()));
  }
  for (size_t r = row_begin; r < row_end; ++r) {
    size_t o = 0;
    while (static_cast<int64_t>(r) >= out_info_[o].offset + out_info_[o].shape.numel()) ++o;
    const int64_t j = static_cast<int64_t>(r) - out_info_[o].offset;
    set_value(gos[o], j, 1.0);
    const std::vector<Tensor> g = analytic_->vjp(gos);
    for (size_t c = 0; c < inputs_.size(); ++c) {
      if (!inputs_[c].usable) continue;
      const auto n = static_cast<size_t>(inputs_[c].value.numel());
      double* dst = rows[c].data() + (r - row_begin) * n;
      for (size_t k = 0; k < n; ++k) dst[k] = get_value(g[c], static_cast<int64_t>(k));
    }
    // After the copy: a gradient may share the grad_output's storage (e.g. for add).
    set_value(gos[o], j, 0.0);
  }
  return rows;
}

void Checker::compare_columns(Input& in, GradcheckSummary& summary,
                              const std::vector<int64_t>& entries, size_t row_begin, size_t row_end,
                              const std::vector<double>& rows) {
  Accumulator acc(summary);
  const auto n = static_cast<size_t>(in.value.numel());
  std::array<Values, 4> f;
  std::array<double, 4> t{};
  std::array<Values, 4> fine;  // at x0 +- h/2 and x0 +- h/4, for kinks
  std::array<double, 4> fine_t{};
  for (int64_t k : entries) {
    const double x0 = get_value(in.value, k);
    const double h = diff_.step(x0);
    note_step(h);
    // Evaluates f at x0 + offsets[p] into out[p], recording the actual offsets.
    auto evaluate = [&](const std::array<double, 4>& offsets, int points,
                        std::array<Values, 4>& out, std::array<double, 4>& actual) {
      for (int p = 0; p < points; ++p) {
        const auto pu = static_cast<size_t>(p);
        const double x = x0 + offsets[pu];
        actual[pu] = x - x0;
        try {
          eval_->entry(in.arg, k, x, out[pu]);
        } catch (const std::exception& e) {
          problem(fmt::format(
              "evaluating the function with {}[{}] = {:.17g} (check point {:.17g}{:+.3g}): {}",
              in.name, fmt::join(unravel(k, in.value.shape()), ", "), x, x0, offsets[pu],
              e.what()));
          summary.failing += 1;
          return false;
        }
      }
      report_.evaluations += points;
      return true;
    };
    if (!evaluate(diff_.offsets(h), diff_.points(), f, t)) return;
    bool have_fine = false;
    for (size_t r = row_begin; r < row_end; ++r) {
      const double a = rows[(r - row_begin) * n + static_cast<size_t>(k)];
      const double num = diff_.derivative(f, t, r);
      Verdict v = judge_(a, num);
      bool passed = v.pass, kink = false;
      if (!passed && options_.kinks) {
        // A kink: the analytic value lies between the one-sided differences, which
        // differ by more than the curvature of a smooth function would make them
        // (checked at h/2 and h/4, where a kink's jump stays and curvature shrinks).
        const double left = (f0_[r] - f[1][r]) / (0 - t[1]);
        const double right = (f[0][r] - f0_[r]) / t[0];
        const double lo = std::min(left, right), hi = std::max(left, right);
        const double tol =
            options_.atol + options_.rtol * std::max(std::abs(left), std::abs(right));
        if (hi - lo > tol && a >= lo - tol && a <= hi + tol) {
          if (!have_fine && !evaluate({h / 2, -h / 2, h / 4, -h / 4}, 4, fine, fine_t)) return;
          have_fine = true;
          const double jump = right - left;
          const double scale = std::max({std::abs(f0_[r]), std::abs(f[0][r]), std::abs(f[1][r])});
          bool smooth = true;
          for (size_t q = 0; q < 2; ++q) {
            const double part = fine_t[2 * q] / t[0];  // 1/2, then 1/4
            const double jump_q = (fine[2 * q][r] - f0_[r]) / fine_t[2 * q] -
                                  (f0_[r] - fine[2 * q + 1][r]) / (0 - fine_t[2 * q + 1]);
            const double noise = 8 * std::numeric_limits<double>::epsilon() * scale / fine_t[2 * q];
            smooth = smooth && std::abs(jump_q - part * jump) <= 0.05 * std::abs(jump) + noise;
          }
          if (!smooth) passed = kink = true;
        }
      }
      acc.add(v, passed, kink);
      offer(summary, WorstList::key(passed, kink, v.ratio), [&] {
        GradcheckEntry e = entry_of("gradient", a, num, v, h, passed, kink);
        e.input = in.name;
        e.index = unravel(k, in.value.shape());
        e.output = where_in_output(r, &e.output_index);
        e.input_value = x0;
        return e;
      });
    }
  }
}

void Checker::full_mode() {
  double entries = 0;
  for (const Input& in : inputs_) entries += static_cast<double>(in.value.numel());
  if (entries * static_cast<double>(f0_.size()) > kMaxJacobianEntries) {
    fail(
        "gradcheck: full mode needs a Jacobian of {} x {} entries; use directional mode or "
        "max_entries",
        f0_.size(), entries);
  }
  const std::vector<std::vector<double>> rows = jacobian_rows(0, f0_.size());
  for (size_t c = 0; c < inputs_.size(); ++c) {
    Input& in = inputs_[c];
    GradcheckSummary& s = report_.inputs[c];
    if (!in.usable) continue;
    compare_columns(in, s, entries_of(in), 0, f0_.size(), rows[c]);
  }
}

void Checker::directional_mode() {
  // u: a random unit direction per checked input; v: a random weight per output.
  std::vector<Tensor> u;
  for (const Input& in : inputs_) {
    Tensor d = normal(in.value.shape(), 0.0, 1.0, gen_, DType::f64);
    double norm = 0;
    for (double x : values_of(d)) norm += x * x;
    u.push_back(norm > 0 ? mul(d, 1.0 / std::sqrt(norm)) : d);
  }
  const std::vector<Tensor>& outs = analytic_->outputs();
  const std::vector<Tensor> v = random_like(outs);
  // Analytic: v_o^T J_o u_c from one backward pass per output.
  std::vector<std::vector<double>> analytic(out_info_.size(), std::vector<double>(inputs_.size()));
  for (size_t o = 0; o < out_info_.size(); ++o) {
    std::vector<Tensor> gos;
    for (size_t q = 0; q < outs.size(); ++q) gos.push_back(q == o ? v[q] : zeros_like(outs[q]));
    const std::vector<Tensor> g = analytic_->vjp(gos);
    for (size_t c = 0; c < inputs_.size(); ++c) {
      if (!inputs_[c].usable) continue;
      double dot = 0;
      for (int64_t k = 0; k < g[c].numel(); ++k) dot += get_value(g[c], k) * get_value(u[c], k);
      analytic[o][c] = dot;
    }
  }
  std::array<Values, 4> f;
  std::array<double, 4> t{};
  for (size_t c = 0; c < inputs_.size(); ++c) {
    Input& in = inputs_[c];
    if (!in.usable) continue;
    double largest = 0;
    for (double x : values_of(in.value)) largest = std::max(largest, std::abs(x));
    const double h = diff_.step(largest);
    note_step(h);
    const std::array<double, 4> offsets = diff_.offsets(h);
    bool ok = true;
    for (int p = 0; p < diff_.points() && ok; ++p) {
      const auto pu = static_cast<size_t>(p);
      t[pu] = offsets[pu];
      std::vector<Tensor> repl(args_.size());
      repl[in.arg] = add(in.value.detach(), mul(u[c], offsets[pu]));
      try {
        eval_->dense(repl, f[pu]);
      } catch (const std::exception& e) {
        problem(
            fmt::format("evaluating the function with '{}' moved by {:.3g} along a random "
                        "direction: {}",
                        in.name, offsets[pu], e.what()));
        report_.inputs[c].failing += 1;
        ok = false;
      }
    }
    if (!ok) continue;
    report_.evaluations += diff_.points();
    Accumulator acc(report_.inputs[c]);
    for (size_t o = 0; o < out_info_.size(); ++o) {
      // n = v_o^T (difference quotient of f_o): a weighted sum of the per-entry estimates.
      const std::vector<double> vo = values_of(v[o]);
      double num = 0;
      for (size_t j = 0; j < vo.size(); ++j) {
        num += vo[j] * diff_.derivative(f, t, static_cast<size_t>(out_info_[o].offset) + j);
      }
      const double a = analytic[o][c];
      const Verdict ver = judge_(a, num);
      GradcheckEntry e = entry_of("direction", a, num, ver, h, ver.pass);
      e.input = in.name;
      e.output = out_info_[o].name;
      if (ver.pass || !options_.locate) {
        acc.add(ver, ver.pass, false);
        offer(report_.inputs[c], WorstList::key(ver.pass, false, ver.ratio), [&] { return e; });
        continue;
      }
      // Locate: full mode for this input/output pair.
      const auto first = static_cast<size_t>(out_info_[o].offset);
      const size_t last = first + static_cast<size_t>(out_info_[o].shape.numel());
      const std::vector<std::vector<double>> rows = jacobian_rows(first, last);
      GradcheckSummary located;
      compare_columns(in, located, entries_of(in), first, last, rows[c]);
      if (located.failing == 0) {
        // Every entry passes (or sits on a kink): the direction crossed a kink.
        report_.notes.push_back(fmt::format(
            "'{}' -> {}: the directional check failed (analytic {:.6g}, numeric {:.6g}) but "
            "every entry passes in full mode{}",
            in.name, out_info_[o].name, a, num,
            located.kinks > 0 ? fmt::format(" ({} on kinks)", located.kinks) : std::string()));
      }
      e.passed = located.failing == 0;
      acc.add(ver, e.passed, false);
      acc.merge(located);
      // The input's worst entry is the located one: it says where.
      GradcheckSummary& s = report_.inputs[c];
      if (!located.worst.kind.empty() && (s.worst.kind.empty() || s.worst.kind == "direction" ||
                                          key_of(s.worst) < key_of(located.worst))) {
        s.worst = located.worst;
      }
      worst_.add(WorstList::key(e.passed, false, ver.ratio), std::move(e));
    }
  }
}

void Checker::second_order() {
  // w: a random weight per output; v: a random direction per checked input.
  std::vector<Tensor> w_leaves;
  for (const Tensor& t : outputs_) {
    w_leaves.push_back(normal(t.shape(), 0.0, 1.0, gen_, t.dtype()).requires_grad_());
  }
  std::vector<Tensor> v, leaves;
  double largest = 0;
  for (const Input& in : inputs_) {
    v.push_back(normal(in.value.shape(), 0.0, 1.0, gen_, DType::f64));
    leaves.push_back(in.value);
    for (double x : values_of(in.value)) largest = std::max(largest, std::abs(x));
  }
  std::vector<size_t> checked;
  for (const Input& in : inputs_) checked.push_back(in.arg);
  const UserAnalytic* user = dynamic_cast<const UserAnalytic*>(analytic_.get());
  std::unique_ptr<UserAnalytic> user_f64;
  if (options_.analytic) {
    user_f64 = std::make_unique<UserAnalytic>(options_.analytic, args_, checked, outputs_);
    user = user_f64.get();
  }
  // First-order gradients <w, d f> at the current input values, recorded or not.
  auto gradients = [&](const std::vector<Tensor>& w, bool create_graph,
                       const std::vector<Tensor>& outputs) {
    ++report_.backward_passes;
    if (user) {
      GradModeGuard mode(create_graph);
      return user->call(w);
    }
    std::vector<Tensor> outs, gos;
    for (size_t o = 0; o < outputs.size(); ++o) {
      if (!outputs[o].requires_grad()) continue;
      outs.push_back(outputs[o]);
      gos.push_back(w[o]);
    }
    std::vector<Tensor> g;
    if (outs.empty()) {
      for (const Tensor& l : leaves) g.push_back(zeros_like(l));
      return g;
    }
    GradOptions o;
    o.retain_graph = true;
    o.create_graph = create_graph;
    return grad(outs, leaves, gos, o);
  };

  // Analytic: s = sum_c <g_c, v_c> with g recorded; ds/dx = H v, ds/dw = J v.
  std::vector<Tensor> hvp, jvp;
  {
    GradModeGuard grad_on(true);
    const std::vector<Tensor> g = gradients(w_leaves, true, outputs_);
    Tensor s;
    for (size_t c = 0; c < g.size(); ++c) {
      if (!g[c].defined()) continue;
      const Tensor term = sum(mul(g[c], v[c]));
      s = s.defined() ? add(s, term) : term;
    }
    std::vector<Tensor> wrt = leaves;
    wrt.insert(wrt.end(), w_leaves.begin(), w_leaves.end());
    std::vector<Tensor> h;
    if (s.defined() && s.requires_grad()) {
      ++report_.backward_passes;
      h = grad({s}, wrt);
    } else {
      if (user) {
        report_.notes.push_back(
            "the analytic gradient function's result does not depend on its inputs through "
            "recorded ops: its Hessian-vector products are taken as zero");
      }
      for (const Tensor& t : wrt) h.push_back(zeros_like(t));
    }
    hvp.assign(h.begin(), h.begin() + static_cast<std::ptrdiff_t>(leaves.size()));
    jvp.assign(h.begin() + static_cast<std::ptrdiff_t>(leaves.size()), h.end());
  }

  // Numeric: central differences along v of the gradients (H v) and of f (J v).
  const double hs = Differences(Stencil::central, options_).step(largest);
  note_step(hs);
  std::vector<std::vector<double>> g_at[2];
  Values f_at[2];
  for (int side = 0; side < 2; ++side) {
    const double t = side == 0 ? hs : -hs;
    std::vector<Tensor> repl(args_.size());
    for (size_t c = 0; c < inputs_.size(); ++c)
      repl[inputs_[c].arg] = add(inputs_[c].value.detach(), mul(v[c], t));
    try {
      eval_->dense(repl, f_at[side]);
      ++report_.evaluations;
      // The gradients at the moved point: the inputs are written in place and restored.
      std::vector<std::vector<unsigned char>> saved;
      for (const Input& in : inputs_) {
        const auto bytes = static_cast<size_t>(in.value.numel()) * dtype_size(in.value.dtype());
        saved.emplace_back(bytes);
        std::memcpy(saved.back().data(), in.value.raw_data(), bytes);
      }
      auto put_back = [&] {
        for (size_t c = 0; c < inputs_.size(); ++c) {
          std::memcpy(inputs_[c].value.raw_data(), saved[c].data(), saved[c].size());
        }
      };
      try {
        for (size_t c = 0; c < inputs_.size(); ++c) {
          for (int64_t k = 0; k < inputs_[c].value.numel(); ++k) {
            set_value(inputs_[c].value, k, get_value(repl[inputs_[c].arg], k));
          }
        }
        std::vector<Tensor> w;
        for (const Tensor& t : w_leaves) w.push_back(t.detach());
        std::vector<Tensor> outs;
        if (!user) {
          GradModeGuard grad_on(true);
          outs = f_(args_);
        }
        const std::vector<Tensor> g = gradients(w, false, outs);
        for (size_t c = 0; c < g.size(); ++c) g_at[side].push_back(values_of(g[c]));
      } catch (...) {
        put_back();
        throw;
      }
      put_back();
    } catch (const std::exception& e) {
      problem(
          fmt::format("second order: evaluating at the check point moved by {:.3g} along a "
                      "random direction: {}",
                      t, e.what()));
      return;
    }
  }
  // Compares analytic_at(k) with numeric_at(k) for every entry k of s.shape into s.
  auto compare = [&](GradcheckSummary s, const char* kind, auto analytic_at, auto numeric_at,
                     auto locate) {
    Accumulator acc(s);
    for (int64_t k = 0; k < s.shape.numel(); ++k) {
      const double a = analytic_at(k), num = numeric_at(k);
      const Verdict ver = judge_(a, num);
      acc.add(ver, ver.pass, false);
      offer(s, WorstList::key(ver.pass, false, ver.ratio), [&] {
        GradcheckEntry e = entry_of(kind, a, num, ver, hs, ver.pass);
        locate(k, e);
        return e;
      });
    }
    report_.second_order.push_back(std::move(s));
  };
  for (size_t c = 0; c < inputs_.size(); ++c) {
    const Input& in = inputs_[c];
    GradcheckSummary s;
    s.name = in.name + " (HVP)";
    s.shape = in.value.shape();
    s.dtype = in.original.dtype();
    compare(
        s, "hvp", [&](int64_t k) { return get_value(hvp[c], k); },
        [&](int64_t k) {
          const auto ku = static_cast<size_t>(k);
          return (g_at[0][c][ku] - g_at[1][c][ku]) / (2 * hs);
        },
        [&](int64_t k, GradcheckEntry& e) {
          e.input = in.name;
          e.index = unravel(k, in.value.shape());
          e.input_value = get_value(in.value, k);
        });
  }
  for (size_t o = 0; o < out_info_.size(); ++o) {
    const Output& out = out_info_[o];
    GradcheckSummary s;
    s.name = out.name + " (J v through the recorded backward)";
    s.shape = out.shape;
    s.dtype = outputs_[o].dtype();
    compare(
        s, "jvp", [&](int64_t j) { return get_value(jvp[o], j); },
        [&](int64_t j) {
          const auto r = static_cast<size_t>(out.offset + j);
          return (f_at[0][r] - f_at[1][r]) / (2 * hs);
        },
        [&](int64_t j, GradcheckEntry& e) {
          e.output = out.name;
          if (out.shape.numel() > 1) e.output_index = unravel(j, out.shape);
        });
  }
}

GradcheckReport Checker::run() {
  const auto start = std::chrono::steady_clock::now();
  report_.mode = options_.mode;
  report_.stencil = options_.stencil;
  report_.atol = options_.atol;
  report_.rtol = options_.rtol;
  report_.seed = options_.seed;
  report_.step_rule = diff_.rule();
  record();
  for (const Input& in : inputs_) {
    GradcheckSummary s;
    s.name = in.name;
    s.shape = in.value.shape();
    s.dtype = in.original.dtype();
    report_.inputs.push_back(s);
  }
  if (finite_at_check_point()) {
    choose_evaluator();
    if (options_.structural) structural_checks();
    if (options_.mode == GradcheckMode::full) {
      full_mode();
    } else {
      directional_mode();
    }
    if (options_.second_order) second_order();
  } else {
    report_.evaluation = "none";
  }
  report_.worst = worst_.take();
  report_.backward_passes += analytic_->passes;
  bool passed = report_.problems.empty();
  for (const StructuralCheck& s : report_.structural) passed = passed && s.passed;
  for (const GradcheckSummary& s : report_.inputs) passed = passed && s.passed();
  for (const GradcheckSummary& s : report_.second_order) passed = passed && s.passed();
  report_.passed = passed;
  report_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::move(report_);
}

}  // namespace

GradcheckReport gradcheck(const CheckedFunction& f, const std::vector<NamedInput>& inputs,
                          const GradcheckOptions& options) {
  if (!f) fail("gradcheck: the function is empty");
  Checker checker(f, inputs, options);
  return checker.run();
}

GradcheckReport gradcheck(const CheckedFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options) {
  std::vector<NamedInput> named;
  for (size_t i = 0; i < inputs.size(); ++i)
    named.push_back({fmt::format("input {}", i), inputs[i]});
  return gradcheck(f, named, options);
}

}  // namespace tapegrad
