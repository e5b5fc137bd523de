// The library's gradient checker (gradcheck.hpp): it passes correct gradients,
// fails and points at the right entry for wrong ones, handles kinks, checks f32
// inputs in f64, runs the structural and second-order checks, reports as a table
// and as JSON, refuses misuse with clear errors, and checks every op in
// all_ops() (first and second order) through the shared op table.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "autograd/op_cases.hpp"
#include "tapegrad/autograd.hpp"

namespace {

using namespace tapegrad;
using Tensors = std::vector<Tensor>;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A function of one output.
CheckedFunction single(std::function<Tensor(const Tensors&)> f) {
  return [f](const Tensors& in) { return Tensors{f(in)}; };
}

Tensor leaf(std::initializer_list<double> values, const Shape& shape, DType dtype = DType::f64) {
  Tensor t = from_data(values, shape, dtype);
  t.requires_grad_();
  return t;
}

const StructuralCheck& structural(const GradcheckReport& r, const std::string& prefix) {
  for (const StructuralCheck& s : r.structural) {
    if (s.name.rfind(prefix, 0) == 0) return s;
  }
  FAIL("no structural check named '" << prefix << "...'");
  static StructuralCheck none;
  return none;
}

const GradcheckSummary& summary(const std::vector<GradcheckSummary>& list,
                                const std::string& name) {
  for (const GradcheckSummary& s : list) {
    if (s.name == name) return s;
  }
  FAIL("no summary named '" << name << "'");
  static GradcheckSummary none;
  return none;
}

// f(w, x) = sum(tanh(x w^T)) with w checked and x a constant.
struct Small {
  Tensor w, x;
  Small() {
    Generator gen(7);
    w = random_input({3, 4}, gen).requires_grad_();
    x = random_input({5, 4}, gen);
  }
  static CheckedFunction f() {
    return single([](const Tensors& in) { return sum(tanh(matmul(in[1], in[0], false, true))); });
  }
  std::vector<NamedInput> inputs() const { return {{"w", w}, {"x", x}}; }
};

// The gradient of Small by hand: (1 - tanh^2(x w^T))^T x, times the grad_output.
Tensors small_vjp(const Tensors& in, const Tensors& go) {
  const Tensor y = tanh(matmul(in[1], in[0], false, true));
  const Tensor d = mul(sub(1.0, square(y)), go[0]);
  return {matmul(d, in[1], true, false), Tensor()};
}

// ---- Correct gradients pass ----

TEST_CASE("gradcheck: a correct function passes, with every report field filled") {
  Small s;
  GradcheckOptions o;
  o.seed = 11;
  const GradcheckReport r = gradcheck(Small::f(), s.inputs(), o);
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.mode == GradcheckMode::full);
  CHECK(r.stencil == Stencil::central);
  CHECK(r.atol == 1e-5);
  CHECK(r.rtol == 1e-3);
  CHECK(r.seed == 11);
  CHECK(r.evaluation == "replay");
  CHECK(contains(r.step_rule, "cbrt(eps) * max(1, |x|)"));
  // h = cbrt(2^-52) * max(1, |x|) rounded to a power of 2: 2^-17 for |x| <= 1.
  CHECK(r.min_step == std::exp2(-17));
  CHECK(r.max_step <= std::exp2(-16));
  REQUIRE(r.inputs.size() == 1);  // x does not require grad: a constant
  CHECK(r.inputs[0].name == "w");
  CHECK(r.inputs[0].shape == Shape{3, 4});
  CHECK(r.inputs[0].checked == 12);
  CHECK(r.inputs[0].failing == 0);
  CHECK(r.inputs[0].max_rel_error < 1e-7);
  CHECK(r.inputs[0].mean_rel_error <= r.inputs[0].max_rel_error);
  CHECK(r.evaluations >= 24);  // two per entry
  CHECK(r.worst.size() == 10);
  for (const GradcheckEntry& e : r.worst) {
    CHECK(e.kind == "gradient");
    CHECK(e.input == "w");
    CHECK(e.index.size() == 2);
    CHECK(e.output == "output");
    CHECK(e.passed);
    CHECK(e.abs_error == doctest::Approx(std::abs(e.analytic - e.numeric)));
    CHECK(e.input_value == s.w.at({e.index[0], e.index[1]}));
  }
  REQUIRE(r.structural.size() == 5);
  for (const StructuralCheck& c : r.structural) CHECK_MESSAGE(c.passed, c.name << ": " << c.detail);
  CHECK(r.problems.empty());
}

TEST_CASE("gradcheck: unnamed inputs, several outputs, and inputs left bitwise unchanged") {
  Generator gen(3);
  Tensor a = random_input({2, 3}, gen).requires_grad_();
  Tensor b = random_input({3}, gen).requires_grad_();
  const std::vector<double> a_before = a.to_vector(), b_before = b.to_vector();
  const CheckedFunction f = [](const Tensors& in) {
    return Tensors{mul(in[0], exp(in[1])), sum(square(in[0]), {1})};
  };
  const GradcheckReport r = gradcheck(f, Tensors{a, b});
  CHECK_MESSAGE(r.passed, r.to_table());
  REQUIRE(r.inputs.size() == 2);
  CHECK(r.inputs[0].name == "input 0");
  CHECK(r.inputs[1].name == "input 1");
  // Every (input entry, output entry) pair: 6 x 8 and 3 x 8.
  CHECK(r.inputs[0].checked == 48);
  CHECK(r.inputs[1].checked == 24);
  CHECK(r.backward_passes >= 8);  // one per output entry, plus the structural checks
  CHECK(a.to_vector() == a_before);
  CHECK(b.to_vector() == b_before);
  CHECK(a.requires_grad());
  CHECK_FALSE(a.grad().defined());  // grad() is used, never .grad
}

TEST_CASE("gradcheck: a function may reach f64 inputs through a closure") {
  // As with PyTorch's gradcheck, f64 leaves are perturbed in place.
  Generator gen(5);
  Tensor w = random_input({4}, gen).requires_grad_();
  const CheckedFunction f = [&w](const Tensors&) { return Tensors{sum(sigmoid(mul(w, w)))}; };
  for (bool replay : {true, false}) {
    GradcheckOptions o;
    o.replay = replay;
    const GradcheckReport r = gradcheck(f, {{"w", w}}, o);
    CHECK_MESSAGE(r.passed, r.to_table());
    CHECK(r.evaluation == (replay ? "replay" : "direct"));
  }
}

// ---- Wrong gradients fail and are located ----

TEST_CASE("gradcheck: a wrong hand-derived gradient fails at the entry that is wrong") {
  Small s;
  GradcheckOptions o;
  o.analytic = small_vjp;
  GradcheckReport r = gradcheck(Small::f(), s.inputs(), o);
  CHECK_MESSAGE(r.passed, r.to_table());  // the hand derivation is right

  o.analytic = [](const Tensors& in, const Tensors& go) {
    Tensors g = small_vjp(in, go);
    NoGradGuard no_grad;
    Tensor bad = g[0].detach().clone();
    bad.data<double>()[1 * 4 + 2] += 0.05;  // entry [1, 2]
    g[0] = bad;
    return g;
  };
  r = gradcheck(Small::f(), s.inputs(), o);
  CHECK_FALSE(r.passed);
  CHECK(r.inputs[0].failing == 1);
  REQUIRE_FALSE(r.worst.empty());
  const GradcheckEntry& e = r.worst[0];
  CHECK_FALSE(e.passed);
  CHECK(e.input == "w");
  CHECK(e.index == std::vector<int64_t>{1, 2});
  CHECK(e.analytic - e.numeric == doctest::Approx(0.05).epsilon(1e-6));
  CHECK(r.worst[1].passed);                                      // only that one
  CHECK(r.inputs[0].worst.index == std::vector<int64_t>{1, 2});  // the input's own worst entry
  const std::string table = r.to_table();
  CHECK(contains(table, "gradcheck FAIL"));
  CHECK(contains(table, "w[1, 2]"));
}

TEST_CASE("gradcheck: a custom op with a wrong backward written with detach tricks fails") {
  // y = sigmoid(x) in value; its gradient is that of `g`: correct with g = sigmoid,
  // wrong with g = x / 4 (the slope of sigmoid at 0 only).
  auto custom = [](std::function<Tensor(const Tensor&)> g) {
    return single([g](const Tensors& in) {
      const Tensor x = in[0];
      const Tensor y = add(sigmoid(x).detach(), sub(g(x), g(x).detach()));
      return sum(mul(y, y));
    });
  };
  Tensor x = leaf({-1.5, -0.3, 0.0, 0.2, 1.1}, {5});
  GradcheckReport r = gradcheck(custom([](const Tensor& t) { return sigmoid(t); }), {{"x", x}});
  CHECK_MESSAGE(r.passed, r.to_table());
  // detach() aliases a value that depends on x: the function is called directly.
  CHECK(r.evaluation == "direct");
  REQUIRE_FALSE(r.notes.empty());
  CHECK(contains(r.notes[0], "detach"));

  r = gradcheck(custom([](const Tensor& t) { return mul(t, 0.25); }), {{"x", x}});
  CHECK_FALSE(r.passed);
  // Right only at 0, where sigmoid'(0) = 1/4.
  CHECK(r.inputs[0].failing == 4);
  for (const GradcheckEntry& e : r.worst) {
    if (e.index == std::vector<int64_t>{2}) {
      CHECK(e.passed);
    } else {
      CHECK_FALSE(e.passed);
    }
  }
}

TEST_CASE("gradcheck: directional mode passes, and locates a wrong entry when it fails") {
  Small s;
  GradcheckOptions o;
  o.mode = GradcheckMode::directional;
  GradcheckReport r = gradcheck(Small::f(), s.inputs(), o);
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].checked == 1);
  REQUIRE(r.worst.size() == 1);
  CHECK(r.worst[0].kind == "direction");
  CHECK(r.worst[0].index.empty());
  CHECK(r.evaluations < 40);  // two per input, plus the replay's spot checks

  o.analytic = [](const Tensors& in, const Tensors& go) {
    Tensors g = small_vjp(in, go);
    NoGradGuard no_grad;
    g[0] = add(g[0], mul(from_data({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1.0}, {3, 4}, DType::f64),
                         sum(go[0]).item()));  // entry [2, 3] off by the grad_output
    return g;
  };
  r = gradcheck(Small::f(), s.inputs(), o);
  CHECK_FALSE(r.passed);
  bool direction_failed = false, located = false;
  for (const GradcheckEntry& e : r.worst) {
    direction_failed = direction_failed || (e.kind == "direction" && !e.passed);
    located =
        located || (e.kind == "gradient" && !e.passed && e.index == std::vector<int64_t>{2, 3});
  }
  CHECK(direction_failed);
  CHECK(located);
  CHECK(r.inputs[0].failing == 2);  // the direction and the located entry
  CHECK(r.inputs[0].worst.index == std::vector<int64_t>{2, 3});
  CHECK(r.inputs[0].checked == 1 + 12);  // the direction, then every entry
}

// ---- Kinks ----

TEST_CASE("gradcheck: relu at 0 passes and is marked as a kink") {
  Tensor x = leaf({0.0, 0.7, -0.4}, {3});
  const CheckedFunction f = single([](const Tensors& in) { return sum(relu(in[0])); });
  GradcheckReport r = gradcheck(f, {{"x", x}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].kinks == 1);
  REQUIRE_FALSE(r.worst.empty());
  CHECK(r.worst[0].kink);
  CHECK(r.worst[0].index == std::vector<int64_t>{0});
  CHECK(r.worst[0].analytic == 0.0);                  // relu'(0) = 0
  CHECK(r.worst[0].numeric == doctest::Approx(0.5));  // the central difference
  CHECK(contains(r.to_table(), "kink"));

  GradcheckOptions o;
  o.kinks = false;
  r = gradcheck(f, {{"x", x}}, o);
  CHECK_FALSE(r.passed);
  CHECK(r.worst[0].index == std::vector<int64_t>{0});
  CHECK_FALSE(r.worst[0].passed);
}

TEST_CASE("gradcheck: one-sided kinks (leaky_relu, clamp, tied maxima) pass as kinks") {
  // leaky_relu'(0) is the slope below 0 (0.25 here), clamp' is 1 on the closed
  // interval, and three tied maxima share the gradient: each lies between the
  // one-sided differences, while the central difference sits between them.
  Tensor x = leaf({0.0, -1.0, 2.0}, {3});
  GradcheckReport r =
      gradcheck(single([](const Tensors& in) { return sum(leaky_relu(in[0], 0.25)); }), {{"x", x}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].kinks == 1);
  CHECK(r.worst[0].index == std::vector<int64_t>{0});
  CHECK(r.worst[0].numeric == doctest::Approx(0.625));
  r = gradcheck(single([](const Tensors& in) { return sum(clamp(in[0], 0.0, 2.0)); }), {{"x", x}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].kinks == 2);  // both ends of the interval
  Tensor m = leaf({3.0, 3.0, 3.0}, {3});
  r = gradcheck(single([](const Tensors& in) { return max(in[0]); }), {{"m", m}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].kinks == 3);  // 1/3 each, between 0 (left) and 1 (right)
  // Symmetric kinks need no help: abs'(0) = 0 and two tied maxima's 1/2 equal the
  // central difference.
  r = gradcheck(single([](const Tensors& in) { return sum(abs(in[0])); }), {{"x", x}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].kinks == 0);
  // A gradient outside [left, right] at the kink is still wrong.
  GradcheckOptions o;
  o.analytic = [](const Tensors&, const Tensors& go) {
    return Tensors{mul(from_data({2.0, 0.0, 0.0}, {3}, DType::f64), sum(go[0]).item())};
  };
  r = gradcheck(single([](const Tensors& in) { return max(in[0]); }), {{"m", m}}, o);
  CHECK_FALSE(r.passed);
  CHECK(r.worst[0].index == std::vector<int64_t>{0});
  CHECK_FALSE(r.worst[0].kink);
}

TEST_CASE("gradcheck: a kink inside the stencil, not at the point, is still a kink") {
  // relu at x = d h for fractions d of the step h = 2^-17: the central difference
  // straddles the kink and is off, the analytic 1 lies between the one-sided slopes.
  const double h = std::exp2(-17);
  const std::vector<double> fractions = {0.05, 0.1, 0.2, 0.23, 0.25, 0.3, 1.0 / 3, 0.4, 0.45};
  std::vector<double> values;
  for (double d : fractions) values.push_back(d * h);
  Tensor x =
      from_data(std::span<const double>(values), {static_cast<int64_t>(values.size())}, DType::f64);
  x.requires_grad_();
  const GradcheckReport r =
      gradcheck(single([](const Tensors& in) { return sum(relu(in[0])); }), {{"x", x}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].kinks == static_cast<int64_t>(values.size()));
  // A smooth function with zero tolerance fails everywhere: curvature is no kink.
  GradcheckOptions exact;
  exact.atol = exact.rtol = 0;
  Tensor y = leaf({0.3, -0.2, 1.1, 0.05}, {4});
  const GradcheckReport s = gradcheck(
      single([](const Tensors& in) { return sum(exp(mul(in[0], 5.0))); }), {{"y", y}}, exact);
  CHECK(s.inputs[0].kinks == 0);
  CHECK(s.inputs[0].failing > 0);
}

TEST_CASE("random_input draws away from kinks, distinct or dyadic, reproducibly") {
  Generator g1(9), g2(9);
  RandomInputOptions o;
  o.avoid = {0.0, 1.0};
  o.margin = 0.2;
  const Tensor a = random_input({200}, g1, o);
  CHECK(a.dtype() == DType::f64);
  for (double v : a.to_vector()) {
    CHECK(v >= -2.0);
    CHECK(v <= 2.0);
    CHECK(std::abs(v) >= 0.2);
    CHECK(std::abs(v - 1.0) >= 0.2);
  }
  CHECK(random_input({200}, g2, o).to_vector() == a.to_vector());
  // Default: away from 0.
  for (double v : random_input({500}, g1).to_vector()) CHECK(std::abs(v) >= 0.05);
  RandomInputOptions d;
  d.distinct = true;
  std::vector<double> values = random_input({50}, g1, d).to_vector();
  std::sort(values.begin(), values.end());
  for (size_t i = 1; i < values.size(); ++i) CHECK(values[i] - values[i - 1] >= 0.4 * 4.0 / 50);
  d.distinct = false;
  d.dyadic = true;
  d.dtype = DType::f32;
  const Tensor q = random_input({20}, g1, d);
  CHECK(q.dtype() == DType::f32);
  for (double v : q.to_vector()) CHECK(v * 64 == std::round(v * 64));
  RandomInputOptions impossible;
  impossible.low = -0.01;
  impossible.high = 0.01;
  CHECK_THROWS_WITH_AS(random_input({3}, g1, impossible),
                       doctest::Contains("random_input: no value in [-0.01, 0.01] stays 0.05 away "
                                         "from [0]"),
                       Error);
  impossible.high = -0.01;
  CHECK_THROWS_WITH_AS(random_input({3}, g1, impossible),
                       doctest::Contains("random_input: low -0.01 must be below high -0.01"),
                       Error);
}

// ---- f32 inputs, stencils ----

TEST_CASE("gradcheck: f32 inputs are checked in f64 and left as they were") {
  Generator gen(4);
  RandomInputOptions o32;
  o32.dtype = DType::f32;
  Tensor w = random_input({3, 4}, gen, o32).requires_grad_();
  const Tensor x = random_input({5, 4}, gen, o32);
  const std::vector<double> before = w.to_vector();
  // Constants follow the inputs' dtype, so the function works on the f64 copies.
  const CheckedFunction f = single([](const Tensors& in) {
    const Tensor h = sigmoid(matmul(in[1], in[0], false, true));
    return mean(mul(h, h));
  });
  GradcheckReport r = gradcheck(f, {{"w", w}, {"x", x}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].dtype == DType::f32);
  CHECK(r.inputs[0].max_rel_error < 1e-6);  // both sides in f64
  CHECK(w.dtype() == DType::f32);
  CHECK(w.to_vector() == before);

  // The analytic side in f32 against the f64 reference: f32 rounding shows.
  GradcheckOptions o;
  o.analytic_in_input_dtype = true;
  o.atol = 1e-6;
  o.rtol = 1e-3;
  r = gradcheck(f, {{"w", w}, {"x", x}}, o);
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].max_abs_error > 1e-12);  // not f64-exact
  CHECK(r.inputs[0].max_abs_error < 1e-6);
  CHECK(structural(r, "gradients have the input's shape and dtype").passed);

  // A constant in f32 inside the function does not mix with the f64 copies.
  const Tensor c = ones({3, 4}, DType::f32);
  const GradcheckOptions defaults;
  CHECK_THROWS_WITH_AS(
      gradcheck(single([c](const Tensors& in) { return sum(mul(in[0], c)); }), {{"w", w}},
                defaults),
      doctest::Contains("gradcheck: the function threw at the check point: mul: inputs have "
                        "different dtypes (f64 with shape [3, 4], f32 with shape [3, 4])"),
      Error);
}

TEST_CASE("gradcheck: fourth-order stencils are more accurate than central differences") {
  Tensor x = leaf({0.3, -1.2, 2.0, 0.7}, {4});
  const CheckedFunction f = single([](const Tensors& in) { return sum(exp(mul(in[0], 3.0))); });
  GradcheckOptions o;
  o.step = 1e-3;  // large enough for truncation error to dominate
  const double central = gradcheck(f, {{"x", x}}, o).inputs[0].max_rel_error;
  for (Stencil s : {Stencil::central4, Stencil::richardson}) {
    o.stencil = s;
    const GradcheckReport r = gradcheck(f, {{"x", x}}, o);
    CHECK_MESSAGE(r.passed, r.to_table());
    CHECK(r.inputs[0].max_rel_error < central / 1000);
    CHECK(r.evaluations >= 16);  // four per entry
  }
  CHECK(central > 1e-7);
  o = GradcheckOptions();
  o.stencil = Stencil::central4;
  const GradcheckReport r = gradcheck(f, {{"x", x}}, o);
  CHECK(contains(r.step_rule, "eps^(1/5)"));
  CHECK(r.min_step == std::exp2(std::round(std::log2(std::pow(0x1p-52, 0.2)))));
  CHECK(parse_stencil("richardson") == Stencil::richardson);
  CHECK(parse_gradcheck_mode("directional") == GradcheckMode::directional);
  CHECK_THROWS_WITH_AS(parse_stencil("forward"),
                       "gradcheck: unknown stencil 'forward': expected central, central4 or "
                       "richardson",
                       Error);
  CHECK_THROWS_WITH_AS(parse_gradcheck_mode("fast"),
                       "gradcheck: unknown mode 'fast': expected full or directional", Error);
}

TEST_CASE("gradcheck: max_entries samples entries; a fixed absolute step is used as given") {
  Generator gen(2);
  Tensor w = random_input({30, 20}, gen).requires_grad_();
  GradcheckOptions o;
  o.max_entries = 25;
  o.step = 1e-4;
  o.relative_step = false;
  const GradcheckReport r =
      gradcheck(single([](const Tensors& in) { return sum(tanh(in[0])); }), {{"w", w}}, o);
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].checked == 25);
  CHECK(r.min_step == 1e-4);
  CHECK(r.max_step == 1e-4);
  CHECK(r.step_rule == "h = 0.0001");
}

// ---- Structural checks ----

TEST_CASE("gradcheck: each structural check catches its fault") {
  Small s;
  auto run = [&](VjpFunction vjp) {
    GradcheckOptions o;
    o.analytic = std::move(vjp);
    return gradcheck(Small::f(), s.inputs(), o);
  };
  // Not zero for a zero grad_output (also wrong as a gradient).
  GradcheckReport r = run([](const Tensors& in, const Tensors& go) {
    Tensors g = small_vjp(in, go);
    g[0] = add(g[0], 1e-3);
    return g;
  });
  CHECK_FALSE(structural(r, "zero grad_output").passed);
  CHECK(contains(structural(r, "zero grad_output").detail, "'w'[0, 0] = 0.001"));
  CHECK(structural(r, "doubling").passed == false);

  // Not linear in the grad_output: doubling it does not double the gradient.
  r = run([](const Tensors& in, const Tensors& go) {
    return small_vjp(in, Tensors{mul(go[0], abs(go[0]))});
  });
  CHECK(structural(r, "zero grad_output").passed);
  CHECK_FALSE(structural(r, "doubling grad_output doubles").passed);

  // Not deterministic: a different last bit on every call.
  int calls = 0;
  r = run([&calls](const Tensors& in, const Tensors& go) {
    Tensors g = small_vjp(in, go);
    NoGradGuard no_grad;
    g[0] = g[0].clone();
    g[0].data<double>()[0] = std::nextafter(g[0].data<double>()[0], calls++ % 2 ? 1e9 : -1e9);
    return g;
  });
  CHECK_FALSE(structural(r, "backward run twice").passed);
  CHECK(structural(r, "backward run twice").detail == "differ for 'w'");
  CHECK(r.inputs[0].failing == 0);  // the values themselves are fine

  // Wrong shape, and wrong dtype: reported, and that input is not compared.
  r = run([](const Tensors& in, const Tensors& go) {
    Tensors g = small_vjp(in, go);
    g[0] = reshape(g[0], {4, 3});
    return g;
  });
  CHECK_FALSE(r.passed);
  CHECK_FALSE(structural(r, "gradients have the input's shape and dtype").passed);
  CHECK(contains(structural(r, "gradients have").detail,
                 "'w': [4, 3] f64 for an input of [3, 4] f64"));
  CHECK(r.inputs[0].checked == 0);
  REQUIRE_FALSE(r.problems.empty());
  CHECK(contains(r.problems[0], "the gradient of 'w' is [4, 3] f64 for an input of [3, 4] f64"));
  r = run([](const Tensors& in, const Tensors& go) {
    Tensors g = small_vjp(in, go);
    g[0] = g[0].to(DType::f32);
    return g;
  });
  CHECK(contains(structural(r, "gradients have").detail, "[3, 4] f32 for an input of [3, 4] f64"));
  r = run([](const Tensors&, const Tensors&) { return Tensors{Tensor(), Tensor()}; });
  CHECK(contains(structural(r, "gradients have").detail, "'w': undefined"));
}

TEST_CASE("gradcheck: inputs the outputs do not depend on must get zero gradients") {
  Tensor a = leaf({0.5, -0.25}, {2});
  Tensor b = leaf({1.5, 2.0, -1.0}, {3});
  const CheckedFunction f = single([](const Tensors& in) { return sum(exp(in[0])); });
  GradcheckReport r = gradcheck(f, {{"a", a}, {"b", b}});
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(structural(r, "inputs the outputs do not depend on").detail == "zero for 'b'");
  GradcheckOptions o;
  o.analytic = [](const Tensors& in, const Tensors& go) {
    return Tensors{mul(exp(in[0]), sum(go[0]).item()), full({3}, 1e-9, DType::f64)};
  };
  r = gradcheck(f, {{"a", a}, {"b", b}}, o);
  CHECK_FALSE(r.passed);
  CHECK_FALSE(structural(r, "inputs the outputs do not depend on").passed);
  CHECK(structural(r, "inputs the outputs do not depend on").detail == "not zero for 'b'");
  CHECK(r.inputs[1].failing == 0);  // 1e-9 is within atol of the numeric 0: only this check sees it
}

// ---- Second order ----

TEST_CASE(
    "gradcheck: second order compares Hessian-vector products with differences of gradients") {
  Small s;
  GradcheckOptions o;
  o.second_order = true;
  GradcheckReport r = gradcheck(Small::f(), s.inputs(), o);
  CHECK_MESSAGE(r.passed, r.to_table());
  REQUIRE(r.second_order.size() == 2);
  CHECK(summary(r.second_order, "w (HVP)").checked == 12);
  CHECK(summary(r.second_order, "output (J v through the recorded backward)").checked == 1);
  CHECK(summary(r.second_order, "w (HVP)").max_rel_error < 1e-5);
  CHECK(contains(r.to_table(), "second order"));

  // A hand-derived gradient that is right to first order but built on a detached
  // value: its recorded graph gives a wrong (zero) Hessian.
  o.analytic = [](const Tensors& in, const Tensors& go) {
    const Tensor y = tanh(matmul(in[1], in[0].detach(), false, true));
    const Tensor d = mul(sub(1.0, square(y)), go[0]);
    return Tensors{matmul(d, in[1], true, false), Tensor()};
  };
  r = gradcheck(Small::f(), s.inputs(), o);
  CHECK_FALSE(r.passed);
  CHECK(r.inputs[0].failing == 0);  // first order is right
  CHECK(summary(r.second_order, "w (HVP)").failing > 0);
  CHECK(summary(r.second_order, "output (J v through the recorded backward)").failing == 0);
  bool hvp_listed = false;
  for (const GradcheckEntry& e : r.worst) hvp_listed = hvp_listed || (e.kind == "hvp" && !e.passed);
  CHECK(hvp_listed);
}

TEST_CASE("gradcheck: a function that returns a gradient (grad() inside) is checked too") {
  // f(x) = d/dx sum(x^3 sigmoid(x)): the check of f is a second-order check of the
  // inner function, and with second_order a third-order one.
  Tensor x = leaf({0.3, -0.7, 1.2}, {3});
  const CheckedFunction f = single([](const Tensors& in) {
    GradOptions o;
    o.create_graph = true;
    return grad({sum(mul(pow(in[0], 3.0), sigmoid(in[0])))}, {in[0]}, {}, o)[0];
  });
  GradcheckOptions o;
  o.second_order = true;
  const GradcheckReport r = gradcheck(f, {{"x", x}}, o);
  CHECK_MESSAGE(r.passed, r.to_table());
  CHECK(r.inputs[0].checked == 9);
  CHECK(summary(r.second_order, "x (HVP)").checked == 3);
}

// ---- Report formats ----

TEST_CASE("gradcheck report: the table and the JSON carry the same content") {
  Tensor x = leaf({0.0, 0.7, -0.4}, {3});
  GradcheckOptions o;
  o.worst = 2;
  o.seed = 42;
  o.output_names = {"loss"};
  const GradcheckReport r =
      gradcheck(single([](const Tensors& in) { return sum(relu(in[0])); }), {{"x", x}}, o);
  const std::string table = r.to_table();
  CHECK(contains(table, "gradcheck PASS: full mode, central differences, 3 entries checked"));
  CHECK(contains(table, "an entry passes when |a - n| <= 1e-05 + 0.001 |n|"));
  CHECK(contains(table, "seed 42"));
  CHECK(contains(table, "worst 2 entries:"));
  CHECK(contains(table, "x[0]"));
  CHECK(contains(table, "loss"));
  CHECK(contains(table, "structural checks:"));
  const auto j = nlohmann::json::parse(r.to_json());
  CHECK(j["passed"] == true);
  CHECK(j["mode"] == "full");
  CHECK(j["stencil"] == "central");
  CHECK(j["atol"] == 1e-5);
  CHECK(j["rtol"] == 1e-3);
  CHECK(j["seed"] == 42);
  CHECK(j["evaluation"] == "replay");
  CHECK(j["step"]["min"] == std::exp2(-17));
  REQUIRE(j["inputs"].size() == 1);
  CHECK(j["inputs"][0]["name"] == "x");
  CHECK(j["inputs"][0]["shape"] == nlohmann::json::array({3}));
  CHECK(j["inputs"][0]["kinks"] == 1);
  CHECK(j["inputs"][0]["worst"]["index"] == nlohmann::json::array({0}));
  REQUIRE(j["worst"].size() == 2);
  CHECK(j["worst"][0]["kink"] == true);
  CHECK(j["worst"][0]["index"] == nlohmann::json::array({0}));
  CHECK(j["worst"][0]["output"] == "loss");
  CHECK(j["worst"][0]["analytic"] == 0.0);
  CHECK(j["structural"].size() == 5);
  CHECK(j["problems"].empty());
  // Non-finite numbers become null, and text is escaped.
  Tensor bad = leaf({-1.0, 2.0}, {2});
  o.output_names = {"log \"x\""};
  const GradcheckReport n =
      gradcheck(single([](const Tensors& in) { return log(in[0]); }), {{"x", bad}}, o);
  const auto jn = nlohmann::json::parse(n.to_json());
  CHECK(jn["passed"] == false);
  CHECK(contains(jn["problems"][0].get<std::string>(), "log \"x\" is not finite"));
}

// ---- Problems and misuse ----

TEST_CASE("gradcheck: misuse throws errors that say what is wrong") {
  const CheckedFunction f = single([](const Tensors& in) { return sum(in[0]); });
  Tensor x = leaf({1.0, 2.0}, {2});
  Tensor c = from_data({1.0, 2.0}, {2}, DType::f64);
  auto with = [](auto set) {
    GradcheckOptions o;
    set(o);
    return o;
  };
  CHECK_THROWS_WITH_AS(gradcheck(f, std::vector<NamedInput>{}), "gradcheck: no inputs given",
                       Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"x", x}, {"y", Tensor()}}),
                       "gradcheck: input 'y' (index 1) is undefined", Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"a", c}, {"b", c.clone()}}),
                       "gradcheck: none of the 2 inputs ('a', 'b') requires grad: mark the ones to "
                       "check with requires_grad_()",
                       Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"a", x}, {"b", x}}),
                       "gradcheck: inputs 'a' and 'b' are the same tensor; pass it once", Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"x", x}}, with([](auto& o) { o.atol = -1; })),
                       "gradcheck: atol must be >= 0, got -1", Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"x", x}}, with([](auto& o) { o.rtol = NAN; })),
                       "gradcheck: rtol must be >= 0, got nan", Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"x", x}}, with([](auto& o) { o.step = -1e-3; })),
                       "gradcheck: step must be >= 0, got -0.001", Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"x", x}}, with([](auto& o) { o.worst = -2; })),
                       "gradcheck: worst must be >= 0, got -2", Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"x", x}}, with([](auto& o) { o.max_entries = -1; })),
                       "gradcheck: max_entries must be >= 0, got -1", Error);
  CHECK_THROWS_WITH_AS(gradcheck(CheckedFunction(), {{"x", x}}), "gradcheck: the function is empty",
                       Error);
  CHECK_THROWS_WITH_AS(
      gradcheck([](const Tensors&) -> Tensors { throw Error("boom"); }, {{"x", x}}),
      "gradcheck: the function threw at the check point: boom", Error);
  CHECK_THROWS_WITH_AS(gradcheck([](const Tensors&) { return Tensors{}; }, {{"x", x}}),
                       "gradcheck: the function returned no outputs", Error);
  CHECK_THROWS_WITH_AS(gradcheck(
                           [](const Tensors& in) {
                             return Tensors{in[0], Tensor()};
                           },
                           {{"x", x}}),
                       "gradcheck: output 1 is undefined", Error);
  CHECK_THROWS_WITH_AS(gradcheck(f, {{"x", x}}, with([](auto& o) {
                                   o.output_names = {"a", "b"};
                                 })),
                       "gradcheck: 2 output names given for 1 outputs", Error);
  CHECK_THROWS_WITH_AS(
      gradcheck(f, {{"x", x}}, with([](auto& o) {
                  o.analytic = [](const Tensors&, const Tensors&) { return Tensors{}; };
                })),
      "gradcheck: the analytic gradient function returned 0 tensors for 1 inputs", Error);
  Tensor big = zeros({20000}, DType::f64).requires_grad_();
  CHECK_THROWS_WITH_AS(
      gradcheck([](const Tensors& in) { return Tensors{mul(in[0], 2.0)}; }, {{"big", big}}),
      "gradcheck: full mode needs a Jacobian of 20000 x 20000 entries; use directional mode or "
      "max_entries",
      Error);
}

TEST_CASE("gradcheck: NaN at the check point is a report problem, not a crash") {
  Tensor x = leaf({-1.0, 2.0, -3.0}, {3});
  const GradcheckReport r =
      gradcheck(single([](const Tensors& in) { return log(in[0]); }), {{"x", x}});
  CHECK_FALSE(r.passed);
  CHECK(r.evaluation == "none");
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0] ==
        "output is not finite at the check point: 2 of its 3 values (the first, nan at [0]); "
        "derivatives there are meaningless");
  CHECK(contains(r.to_table(), "problems:"));
}

TEST_CASE("gradcheck: outputs that change shape when an input moves are reported") {
  // The length depends on x[0], read with at(): a control-flow dependence.
  Tensor x = leaf({0.5, 1.0, 2.0}, {3});
  const CheckedFunction f =
      single([](const Tensors& in) { return narrow(in[0], 0, 0, in[0].at({0}) > 0.5 ? 2 : 1); });
  const GradcheckReport r = gradcheck(f, {{"x", x}});
  CHECK_FALSE(r.passed);
  CHECK(r.evaluation == "direct");
  CHECK(contains(r.notes[0],
                 "the function reads values that depend on the inputs (at of a [3] tensor)"));
  REQUIRE_FALSE(r.problems.empty());
  CHECK(contains(r.problems[0], "evaluating the function with x[0] = 0.50000762939453125"));
  CHECK(contains(r.problems[0], "output 0 changed shape from [1] to [2]"));
  // A function that throws away from the check point is reported the same way.
  const GradcheckReport t = gradcheck(single([](const Tensors& in) {
                                        if (in[0].at({0}) < 0.5) throw Error("x[0] below 0.5");
                                        return sum(in[0]);
                                      }),
                                      {{"x", x}});
  CHECK_FALSE(t.passed);
  CHECK(contains(t.problems[0], "x[0] below 0.5"));
}

TEST_CASE("gradcheck: classes read with threshold_rows make the function's shape input-dependent") {
  // As above, with the decision made by threshold_rows (predict_classes for one output):
  // the replay must learn of the read, or it would replay the shape of the check point.
  Tensor x = leaf({0.5, 1.0, 2.0}, {3});
  const CheckedFunction f = single([](const Tensors& in) {
    std::vector<int64_t> classes(3);
    threshold_rows(reshape(in[0], {3, 1}), 0.5, classes);
    return narrow(in[0], 0, 0, classes[0] == 1 ? 2 : 1);
  });
  const GradcheckReport r = gradcheck(f, {{"x", x}});
  CHECK_FALSE(r.passed);
  CHECK(r.evaluation == "direct");
  REQUIRE_FALSE(r.notes.empty());
  CHECK(contains(r.notes[0],
                 "the function reads values that depend on the inputs "
                 "(threshold_rows of a [3, 1] tensor)"));
  REQUIRE_FALSE(r.problems.empty());
  CHECK(contains(r.problems[0], "output 0 changed shape from [1] to [2]"));
}

TEST_CASE("gradcheck: functions the recorded ops cannot stand for are called directly") {
  Tensor x = leaf({0.3, -0.8, 1.4}, {3});
  struct Case {
    const char* why;
    CheckedFunction f;
    bool correct;  // whether autograd's gradient is the function's
  };
  // Reading a value with item() or to_vector() makes it a constant to autograd,
  // which finite differences see through: those two are rightly reported wrong.
  const Case cases[] = {
      {"(item of a [] tensor)",
       single([](const Tensors& in) { return mul(in[0], sum(in[0]).item()); }), false},
      {"(greater of a [3] tensor)", single([](const Tensors& in) {
         return where(greater(in[0], zeros_like(in[0])), in[0], mul(in[0], 0.1));
       }),
       true},
      {"(to_vector of a [3] tensor)",
       single([](const Tensors& in) { return mul(in[0], in[0].to_vector()[0]); }), false},
      {"'exp' ran on a value that depends on the inputs without being recorded",
       single([](const Tensors& in) {
         Tensor e;
         {
           NoGradGuard no_grad;
           e = exp(in[0]);
         }
         return mul(in[0], e);
       }),
       false},
  };
  for (const Case& c : cases) {
    CAPTURE(std::string(c.why));
    const GradcheckReport r = gradcheck(c.f, {{"x", x}});
    CHECK(r.evaluation == "direct");
    REQUIRE_FALSE(r.notes.empty());
    CHECK(contains(r.notes[0], c.why));
    CHECK(r.passed == c.correct);
  }
}

// ---- A small MLP, and every op ----

TEST_CASE("gradcheck: a sigmoid MLP with cross-entropy, replayed and called directly agree") {
  Generator gen(1);
  Tensor x = normal({4, 20}, 0.0, 1.0, gen, DType::f64);
  const std::vector<int64_t> y = {2, 0, 1, 2};
  std::vector<NamedInput> params = {
      {"0.weight", uniform({8, 20}, -0.3, 0.3, gen, DType::f64).requires_grad_()},
      {"0.bias", uniform({8}, -0.3, 0.3, gen, DType::f64).requires_grad_()},
      {"2.weight", uniform({3, 8}, -0.5, 0.5, gen, DType::f64).requires_grad_()},
      {"2.bias", uniform({3}, -0.5, 0.5, gen, DType::f64).requires_grad_()}};
  const CheckedFunction f = [&](const Tensors& p) {
    const Tensor h = sigmoid(matmul(x, p[0], false, true) + p[1]);
    return Tensors{cross_entropy(matmul(h, p[2], false, true) + p[3], y)};
  };
  GradcheckOptions o;
  o.worst = 1000;
  const GradcheckReport replayed = gradcheck(f, params, o);
  o.replay = false;
  const GradcheckReport called = gradcheck(f, params, o);
  CHECK_MESSAGE(replayed.passed, replayed.to_table());
  CHECK_MESSAGE(called.passed, called.to_table());
  CHECK(replayed.evaluation == "replay");
  CHECK(called.evaluation == "direct");
  REQUIRE(replayed.worst.size() == called.worst.size());
  // The same entries with the same analytic values, and numerical values equal to
  // rounding: the replay recomputes what a perturbation reaches, nothing else.
  std::map<std::string, double> numeric;
  for (const GradcheckEntry& e : called.worst) {
    numeric[fmt::format("{}{}", e.input, fmt::join(e.index, ","))] = e.numeric;
  }
  for (const GradcheckEntry& e : replayed.worst) {
    const auto it = numeric.find(fmt::format("{}{}", e.input, fmt::join(e.index, ",")));
    REQUIRE(it != numeric.end());
    CHECK(std::abs(e.numeric - it->second) <= 1e-9 * std::max(1.0, std::abs(it->second)));
  }
}

TEST_CASE("gradcheck: every op in all_ops() passes, first and second order, by replay") {
  using namespace op_cases;
  const Table table = build_table();
  std::set<std::string> checked;
  int cases = 0;
  for (const auto& [op, list] : table) {
    for (const Case& c : list) {
      CAPTURE(case_name(op, c));
      Generator gen(seed_for(op, c.label) ^ 0x9c);
      std::vector<NamedInput> inputs;
      for (Tensor& t : draw_inputs(c, gen)) {
        inputs.push_back({fmt::format("x{}", inputs.size()), t.requires_grad_()});
      }
      GradcheckOptions o;
      // Dyadic draws feed a cast to f32: exact for the entry perturbations, but not
      // along the random directions of the second-order check.
      bool dyadic = false;
      for (const Draw& d : c.inputs) dyadic = dyadic || d.options.dyadic;
      o.second_order = !dyadic;
      o.seed = seed_for(op, c.label);
      try {
        const GradcheckReport r = gradcheck(single(c.fn), inputs, o);
        CHECK_MESSAGE(r.passed, r.to_table());
        CHECK_MESSAGE(r.evaluation == "replay", r.to_table());
        CHECK(r.second_order.size() == (dyadic ? 0 : inputs.size() + 1));
        checked.insert(op);
        ++cases;
      } catch (const std::exception& e) {
        FAIL_CHECK(e.what());
      }
    }
  }
  for (OpKind op : all_ops()) {
    CHECK_MESSAGE(checked.count(std::string(op_name(op))) == 1,
                  "op '" << op_name(op) << "' is not checked: add a case to op_cases.cpp");
  }
  CHECK(cases > 200);
}

}  // namespace

TEST_CASE("gradcheck replays a broadcast over a leading axis the operand lacks (batch of one)") {
  // A bias [3] added to a [1, 3] product: the replay maps the bias's entries onto an
  // output whose leading axis has size 1. This used to divide by zero.
  Generator gen(5);
  const Tensor x = uniform({1, 4}, -1, 1, gen, DType::f64);
  Tensor w = uniform({3, 4}, -1, 1, gen, DType::f64).requires_grad_();
  Tensor b = uniform({3}, -1, 1, gen, DType::f64).requires_grad_();
  auto f = [&](const std::vector<Tensor>& in) {
    return std::vector<Tensor>{sum(tanh(add(matmul(x, in[0], false, true), in[1])))};
  };
  const GradcheckReport r = gradcheck(f, {{"w", w}, {"b", b}});
  CHECK(r.evaluation == "replay");
  CHECK(r.passed);
}
