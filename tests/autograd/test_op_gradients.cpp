// Gradient checks for every op in TAPEGRAD_OPS against central finite differences:
// first order in f64 and f32, and second order (Hessian-vector products) in f64,
// plus direct checks of forward values and of the documented subgradients.
//
// The table in op_cases.cpp maps each op name to test cases. The first test walks
// all_ops() and fails for any op without a case, so an op added to op_list.hpp
// without a gradient test fails the suite.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cmath>
#include <cstdint>
#include <exception>
#include <functional>
#include <limits>
#include <map>
#include <numbers>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "autograd/gradcheck_util.hpp"
#include "autograd/op_cases.hpp"
#include "tapegrad/autograd.hpp"

namespace {

using namespace tapegrad;
using namespace tapegrad::op_cases;
namespace gc = tapegrad::fdcheck;
using gc::Inputs;

// Runs body(op, case) for every case, reporting an exception as a failure of that case.
template <typename Body>
int for_each_case(Body body) {
  int count = 0;
  for (const auto& [op, cases] : build_table()) {
    for (const Case& c : cases) {
      ++count;
      try {
        body(op, c);
      } catch (const std::exception& e) {
        FAIL_CHECK(case_name(op, c) << " threw: " << std::string(e.what()));
      }
    }
  }
  return count;
}

void check_against(const std::string& what, const Tensor& actual, const Tensor& input,
                   const std::vector<double>& expected, gc::Tolerance tol) {
  CHECK_MESSAGE(actual.shape() == input.shape(), what << ": gradient shape " << actual.shape().str()
                                                      << ", input shape " << input.shape().str());
  CHECK_MESSAGE(actual.dtype() == input.dtype(),
                what << ": gradient dtype " << dtype_name(actual.dtype()));
  const gc::Comparison r = gc::compare(actual.to_vector(), expected, tol);
  CHECK_MESSAGE(r.ok, what << ": " << r.detail);
}

std::vector<double> values(const Tensor& t) { return t.to_vector(); }

}  // namespace

TEST_CASE("op gradients: every op in all_ops() has a gradient test case") {
  const Table table = build_table();
  for (OpKind op : all_ops()) {
    const std::string name(op_name(op));
    const auto it = table.find(name);
    if (it == table.end() || it->second.empty()) {
      FAIL_CHECK("op '" << name
                        << "' has no gradient test case: add one to build_table() in "
                           "tests/autograd/test_op_gradients.cpp");
    }
  }
  // And no entry names an op that does not exist (a typo would hide a missing test).
  for (const auto& [name, cases] : table) {
    bool known = false;
    for (OpKind op : all_ops()) known = known || op_name(op) == name;
    CHECK_MESSAGE(known, "the gradient table names an unknown op '" << name << "'");
  }
}

TEST_CASE("op gradients: first order in f64 matches central differences") {
  const gc::Tolerance tol{1e-6, 1e-7};
  const int count = for_each_case([&](const std::string& op, const Case& c) {
    Generator gen(seed_for(op, c.label));
    const Inputs xs = draw_inputs(c, gen);
    const Tensor out = gc::evaluate(c.fn, xs);
    const Tensor w = normal(out.shape(), 0.0, 1.0, gen, out.dtype());
    const Inputs analytic = gc::analytic_gradient(c.fn, xs, w);
    const auto numeric = gc::numerical_gradient(c.fn, xs, w);
    REQUIRE(analytic.size() == xs.size());
    for (size_t i = 0; i < xs.size(); ++i) {
      check_against(fmt::format("{} input {}", case_name(op, c), i), analytic[i], xs[i], numeric[i],
                    tol);
    }
  });
  CHECK(count > 200);
}

TEST_CASE("op gradients: second order (Hessian-vector products) in f64") {
  // Ops whose second derivative is zero by nature (linear ops, and the piecewise
  // linear relu, abs, clamp, leaky_relu, maximum, minimum, max) run here too: their
  // HVP must then be 0, matching the finite differences. The JVP part differentiates
  // each recorded backward rule with respect to its incoming gradient, which
  // exercises the backward of the backward for every op, linear or not.
  const gc::Tolerance tol{1e-6, 1e-7};
  for_each_case([&](const std::string& op, const Case& c) {
    Generator gen(seed_for(op, c.label) ^ 0x5eed);
    const Inputs xs = draw_inputs(c, gen);
    const Tensor out = gc::evaluate(c.fn, xs);
    const Tensor w = normal(out.shape(), 0.0, 1.0, gen, out.dtype());
    Inputs vs;
    for (size_t i = 0; i < xs.size(); ++i) {
      Tensor v = normal(xs[i].shape(), 0.0, 1.0, gen, xs[i].dtype());
      if (c.inputs[i].options.dyadic) {
        // Multiples of 1/4 keep x +- kStep * v exact in f32 for dyadic x.
        std::vector<double> q = v.to_vector();
        for (double& e : q) e = std::round(e * 4.0) / 4.0;
        v = from_data(std::span<const double>(q), v.shape(), v.dtype());
      }
      vs.push_back(v);
    }
    const gc::SecondOrder analytic = gc::analytic_second_order(c.fn, xs, w, vs);
    const auto hvp = gc::numerical_hvp(c.fn, xs, w, vs);
    for (size_t i = 0; i < xs.size(); ++i) {
      check_against(fmt::format("{} HVP for input {}", case_name(op, c), i), analytic.hvp[i], xs[i],
                    hvp[i], tol);
    }
    check_against(fmt::format("{} JVP through the recorded backward", case_name(op, c)),
                  analytic.jvp, w, gc::numerical_jvp(c.fn, xs, vs), tol);
  });
}

TEST_CASE("op gradients: first order in f32 matches an f64 reference") {
  // The analytic gradient runs in f32; the reference is central differences of the
  // same op on the same inputs converted to f64.
  const gc::Tolerance tol{1e-3, 1e-4};
  for_each_case([&](const std::string& op, const Case& c) {
    Generator gen(seed_for(op, c.label) ^ 0xf32);
    Inputs x32, reference;
    for (const Tensor& x : draw_inputs(c, gen)) {
      x32.push_back(gc::copy_as(x, DType::f32));
      reference.push_back(x32.back().to(DType::f64));
    }
    const Tensor out = gc::evaluate(c.fn, x32);
    const Tensor w = normal(out.shape(), 0.0, 1.0, gen, out.dtype());
    const Inputs analytic = gc::analytic_gradient(c.fn, x32, w);
    const auto numeric = gc::numerical_gradient(c.fn, reference, w);
    for (size_t i = 0; i < x32.size(); ++i) {
      check_against(fmt::format("{} input {} (f32)", case_name(op, c), i), analytic[i], x32[i],
                    numeric[i], tol);
    }
  });
}

// ---- Forward values against hand-computed numbers ----

TEST_CASE("op values: softmax and log_softmax") {
  const double ln2 = std::numbers::ln2, ln3 = std::log(3.0);
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dt));
    const double eps = dt == DType::f64 ? 1e-12 : 1e-6;
    // Row 0: exp gives 1, 2, 3. Row 1 overflows exp unless shifted by its maximum
    // (its values are exact in f32): exp gives 1, 1, e^0.5 relative to the shift.
    const Tensor x = from_data({0.0, ln2, ln3, 1000.0, 1000.0, 1000.5}, Shape{2, 3}, dt);
    const std::vector<double> y = values(softmax(x));
    const double e = std::exp(0.5), z = 2.0 + e;
    const std::vector<double> expected = {1.0 / 6, 2.0 / 6, 3.0 / 6, 1 / z, 1 / z, e / z};
    for (size_t i = 0; i < 6; ++i) CHECK(y[i] == doctest::Approx(expected[i]).epsilon(eps));
    CHECK(y[0] + y[1] + y[2] == doctest::Approx(1.0).epsilon(eps));
    CHECK(y[3] + y[4] + y[5] == doctest::Approx(1.0).epsilon(eps));
    // log_softmax is x - lse: at magnitude 1000 that difference carries f32's absolute
    // rounding of ~6e-5.
    const double log_eps = dt == DType::f64 ? 1e-12 : 1e-4;
    const std::vector<double> ly = values(log_softmax(x));
    for (size_t i = 0; i < 6; ++i) {
      CHECK(ly[i] == doctest::Approx(std::log(expected[i])).epsilon(log_eps));
    }
    // Along axis 0 the columns sum to 1 (row 1 dominates every column).
    const std::vector<double> col = values(softmax(x, 0));
    for (size_t j = 0; j < 3; ++j) CHECK(col[j] + col[j + 3] == doctest::Approx(1.0).epsilon(eps));
    CHECK(col[3] == doctest::Approx(1.0).epsilon(eps));
  }
  // log_softmax of widely separated values: no overflow, no log(0).
  const std::vector<double> ls =
      values(log_softmax(from_data({1000.0, 0.0}, Shape{2}, DType::f64)));
  CHECK(ls[0] == doctest::Approx(0.0));
  CHECK(ls[1] == doctest::Approx(-1000.0));
}

TEST_CASE("op values: logsumexp does not overflow or underflow") {
  const double ln2 = std::numbers::ln2;
  const Tensor big = from_data({1000.0, 1000.0}, Shape{2}, DType::f64);
  CHECK(logsumexp(big).item() == doctest::Approx(1000.0 + ln2).epsilon(1e-14));
  const Tensor small = from_data({-1000.0, -1000.0}, Shape{2}, DType::f64);
  CHECK(logsumexp(small).item() == doctest::Approx(-1000.0 + ln2).epsilon(1e-14));
  // exp(100) overflows f32; the shifted form does not.
  const Tensor big32 = from_data({100.0, 100.0, 100.0}, Shape{3}, DType::f32);
  CHECK(logsumexp(big32).item() == doctest::Approx(100.0 + std::log(3.0)).epsilon(1e-6));
  // Per row, with keepdim.
  const Tensor rows = from_data({0.0, 0.0, 5.0, 5.0 + std::log(3.0)}, Shape{2, 2}, DType::f64);
  const Tensor r = logsumexp(rows, {1}, true);
  CHECK(r.shape() == Shape{2, 1});
  CHECK(r.at({0, 0}) == doctest::Approx(ln2));
  CHECK(r.at({1, 0}) == doctest::Approx(5.0 + std::log(4.0)));
  // A slice of -inf has logsumexp -inf, not NaN.
  const double inf = std::numeric_limits<double>::infinity();
  const double all_neg_inf = logsumexp(from_data({-inf, -inf}, Shape{2}, DType::f64)).item();
  CHECK(std::isinf(all_neg_inf));
  CHECK(all_neg_inf < 0);
}

TEST_CASE("op values: sigmoid, tanh and softplus at extreme inputs") {
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dt));
    Tensor x = from_data({-1000.0, 0.0, 1000.0, 2.0}, Shape{4}, dt);
    x.requires_grad_();
    const Tensor s = sigmoid(x);
    const std::vector<double> sv = values(s);
    CHECK(sv[0] == 0.0);  // not NaN
    CHECK(sv[1] == 0.5);
    CHECK(sv[2] == 1.0);
    CHECK(sv[3] == doctest::Approx(1.0 / (1.0 + std::exp(-2.0))).epsilon(1e-6));
    const std::vector<double> ds = values(grad({sum(s)}, {x})[0]);
    CHECK(ds[0] == 0.0);
    CHECK(ds[1] == 0.25);
    CHECK(ds[2] == 0.0);
    const std::vector<double> th = values(tanh(x));
    CHECK(th[0] == -1.0);
    CHECK(th[2] == 1.0);
    const std::vector<double> sp = values(softplus(x));
    CHECK(sp[0] == 0.0);
    CHECK(sp[1] == doctest::Approx(std::numbers::ln2).epsilon(1e-6));
    CHECK(sp[2] == 1000.0);
    CHECK(sp[3] == doctest::Approx(std::log1p(std::exp(2.0))).epsilon(1e-6));
    for (double v : sp) CHECK(std::isfinite(v));
  }
}

TEST_CASE("op values: cross_entropy is -mean(log_softmax at the labels)") {
  const std::vector<double> logits = {1.0, 2.0, 3.0, 1.0, 1.0, 1.0, 0.0, 5.0, -5.0};
  const std::vector<int64_t> labels = {2, 0, 1};
  // By hand: mean over rows of log(sum_k exp(x_k)) - x_label.
  double expected = 0;
  for (size_t i = 0; i < 3; ++i) {
    double total = 0;
    for (size_t k = 0; k < 3; ++k) total += std::exp(logits[i * 3 + k]);
    expected += std::log(total) - logits[i * 3 + static_cast<size_t>(labels[i])];
  }
  expected /= 3;
  for (DType dt : {DType::f64, DType::f32}) {
    CAPTURE(dtype_name(dt));
    Tensor x = from_data(std::span<const double>(logits), Shape{3, 3}, dt);
    x.requires_grad_();
    const Tensor loss = cross_entropy(x, labels);
    CHECK(loss.dim() == 0);
    CHECK(loss.item() == doctest::Approx(expected).epsilon(1e-6));
    // The same through the unfused ops.
    const Tensor ls = log_softmax(x, 1);
    double picked = 0;
    for (int64_t i = 0; i < 3; ++i) picked += ls.at({i, labels[static_cast<size_t>(i)]});
    CHECK(loss.item() == doctest::Approx(-picked / 3).epsilon(1e-6));
    // Gradient (softmax - one_hot) / N.
    const std::vector<double> g = values(grad({loss}, {x})[0]);
    const std::vector<double> p = values(softmax(x.detach(), 1));
    for (size_t i = 0; i < 3; ++i) {
      for (size_t k = 0; k < 3; ++k) {
        const double one_hot = static_cast<int64_t>(k) == labels[i] ? 1.0 : 0.0;
        CHECK(g[i * 3 + k] == doctest::Approx((p[i * 3 + k] - one_hot) / 3).epsilon(1e-6));
      }
    }
  }
  // Huge logits: finite, and exactly the margin when the label is the loser.
  const std::vector<int64_t> one = {1};
  const Tensor huge = from_data({1000.0, 0.0}, Shape{1, 2}, DType::f64);
  CHECK(cross_entropy(huge, one).item() == doctest::Approx(1000.0));
}

TEST_CASE("op values: matmul with each transpose flag") {
  const Tensor a = from_data({1.0, 2.0, 3.0, 4.0}, Shape{2, 2}, DType::f64);
  const Tensor b = from_data({5.0, 6.0, 7.0, 8.0}, Shape{2, 2}, DType::f64);
  CHECK(values(matmul(a, b)) == std::vector<double>{19, 22, 43, 50});
  CHECK(values(matmul(a, b, true, false)) == std::vector<double>{26, 30, 38, 44});
  CHECK(values(matmul(a, b, false, true)) == std::vector<double>{17, 23, 39, 53});
  CHECK(values(matmul(a, b, true, true)) == std::vector<double>{23, 31, 34, 46});
  // A batch against a shared matrix: each entry multiplied separately.
  const Tensor batch =
      from_data({1.0, 2.0, 3.0, 4.0, 0.0, 1.0, 1.0, 0.0}, Shape{2, 2, 2}, DType::f64);
  const Tensor c = matmul(batch, b);
  CHECK(c.shape() == Shape{2, 2, 2});
  CHECK(values(c) == std::vector<double>{19, 22, 43, 50, 7, 8, 5, 6});
}

TEST_CASE("max: tied maxima share the gradient equally") {
  // Documented in ops.hpp: the gradient is split equally among tied elements.
  Tensor x = from_data({1.0, 3.0, 3.0, 2.0, 2.0, 2.0}, Shape{2, 3}, DType::f64);
  x.requires_grad_();
  CHECK(values(grad({sum(max(x, {1}))}, {x})[0]) ==
        std::vector<double>{0.0, 0.5, 0.5, 1.0 / 3, 1.0 / 3, 1.0 / 3});
  // Over all axes: three tied maxima get a third each; with keepdim the same.
  Tensor y = from_data({3.0, 1.0, 3.0, 3.0}, Shape{2, 2}, DType::f64);
  y.requires_grad_();
  CHECK(values(grad({max(y)}, {y})[0]) == std::vector<double>{1.0 / 3, 0.0, 1.0 / 3, 1.0 / 3});
  CHECK(values(grad({sum(max(y, {0}, true))}, {y})[0]) == std::vector<double>{0.5, 0.0, 0.5, 1.0});
  // The shares scale with the incoming gradient.
  CHECK(values(grad({mul(max(y), 6.0)}, {y})[0]) == std::vector<double>{2.0, 0.0, 2.0, 2.0});
  // maximum / minimum: where a == b each side gets half.
  Tensor a = from_data({1.0, 2.0, 5.0}, Shape{3}, DType::f64);
  Tensor b = from_data({1.0, 3.0, 4.0}, Shape{3}, DType::f64);
  a.requires_grad_();
  b.requires_grad_();
  const Inputs gmax = grad({sum(maximum(a, b))}, {a, b});
  CHECK(values(gmax[0]) == std::vector<double>{0.5, 0.0, 1.0});
  CHECK(values(gmax[1]) == std::vector<double>{0.5, 1.0, 0.0});
  const Inputs gmin = grad({sum(minimum(a, b))}, {a, b});
  CHECK(values(gmin[0]) == std::vector<double>{0.5, 1.0, 0.0});
  CHECK(values(gmin[1]) == std::vector<double>{0.5, 0.0, 1.0});
}

TEST_CASE("op gradients: documented values at kinks and outside the domain") {
  Tensor x = from_data({-1.0, 0.0, 2.0}, Shape{3}, DType::f64);
  x.requires_grad_();
  // relu'(0) = 0 (as PyTorch), abs'(0) = 0 (sign), clamp is 1 on its closed interval.
  CHECK(values(grad({sum(relu(x))}, {x})[0]) == std::vector<double>{0.0, 0.0, 1.0});
  CHECK(values(grad({sum(abs(x))}, {x})[0]) == std::vector<double>{-1.0, 0.0, 1.0});
  CHECK(values(grad({sum(clamp(x, 0.0, 2.0))}, {x})[0]) == std::vector<double>{0.0, 1.0, 1.0});
  CHECK(values(grad({sum(leaky_relu(x, 0.25))}, {x})[0]) == std::vector<double>{0.25, 0.25, 1.0});
  // pow: the gradient with respect to the exponent is 0 where the base is <= 0.
  Tensor base = from_data({-1.0, 0.0, 2.0}, Shape{3}, DType::f64);
  Tensor exponent = from_data({2.0, 3.0, 3.0}, Shape{3}, DType::f64);
  base.requires_grad_();
  exponent.requires_grad_();
  const Inputs g = grad({sum(pow(base, exponent))}, {base, exponent});
  // d/da a^b = b a^(b-1): 2 * -1, 3 * 0, 3 * 4.
  CHECK(values(g[0]) == std::vector<double>{-2.0, 0.0, 12.0});
  const std::vector<double> gb = values(g[1]);
  CHECK(gb[0] == 0.0);
  CHECK(gb[1] == 0.0);
  CHECK(gb[2] == doctest::Approx(8.0 * std::numbers::ln2));
}

TEST_CASE("softmax and log_softmax of a 0-d tensor are errors naming the op") {
  const Tensor x = scalar_tensor(1.0, DType::f64);
  CHECK_THROWS_WITH_AS(
      softmax(x), doctest::Contains("softmax: expects a tensor with at least one axis"), Error);
  CHECK_THROWS_WITH_AS(log_softmax(x),
                       doctest::Contains("log_softmax: expects a tensor with at least"), Error);
}

TEST_CASE("create_graph keeps the graph for a second differentiation, as retain_graph would") {
  Tensor x = from_data({0.3, -0.7}, {2}, DType::f64).requires_grad_();
  const Tensor y = sum(exp(x));  // exp saves its output: the recorded backward refers to it
  GradOptions o;
  o.create_graph = true;
  const Tensor g = grad({y}, {x}, {}, o)[0];
  const Tensor h = grad({sum(g)}, {x})[0];  // would fail if the first pass freed exp's node
  CHECK(h.at({0}) == doctest::Approx(std::exp(0.3)));
  CHECK(h.at({1}) == doctest::Approx(std::exp(-0.7)));
}
