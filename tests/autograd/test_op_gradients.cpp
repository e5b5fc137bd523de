// Gradient checks for every op in TAPEGRAD_OPS against central finite differences:
// first order in f64 and f32, and second order (Hessian-vector products) in f64,
// plus direct checks of forward values and of the documented subgradients.
//
// The table below maps each op name to test cases. The first test walks all_ops()
// and fails for any op without a case, so an op added to op_list.hpp without a
// gradient test fails the suite.
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
#include "tapegrad/autograd.hpp"

namespace {

using namespace tapegrad;
namespace gc = tapegrad::gradcheck;
using gc::Inputs;

// ---- How inputs are drawn ----

// Values are uniform in [low, high]; constraints keep them away from points where
// the op is not differentiable (kinks), so that finite differences are meaningful.
struct Draw {
  Shape shape;
  double low = -2.0;
  double high = 2.0;
  std::vector<double> avoid;  // stay at least `margin` away from these points
  double margin = 0.05;
  bool distinct = false;  // entries pairwise apart (no ties for max)
  bool dyadic = false;    // multiples of 1/64: exact in f32, and x +- kStep too
};

Draw any(Shape s, double low = -2.0, double high = 2.0) {
  Draw d;
  d.shape = s;
  d.low = low;
  d.high = high;
  return d;
}
Draw positive(Shape s, double low = 0.3, double high = 2.5) { return any(s, low, high); }
Draw avoiding(Shape s, std::vector<double> points, double margin = 0.05, double low = -2.0,
              double high = 2.0) {
  Draw d = any(s, low, high);
  d.avoid = std::move(points);
  d.margin = margin;
  return d;
}
// Away from 0 by at least `margin` (relu, abs, leaky_relu kinks; 1/x poles).
Draw nonzero(Shape s, double margin = 0.05) { return avoiding(s, {0.0}, margin); }
Draw distinct(Shape s) {
  Draw d = any(s);
  d.distinct = true;
  return d;
}
Draw dyadic(Shape s) {
  Draw d = any(s);
  d.dyadic = true;
  return d;
}

Tensor sample(const Draw& d, Generator& gen) {
  if (d.avoid.empty() && !d.distinct && !d.dyadic) {
    return uniform(d.shape, d.low, d.high, gen, DType::f64);
  }
  const auto n = static_cast<size_t>(d.shape.numel());
  std::vector<double> v(n);
  if (d.distinct) {
    // A shuffled grid with jitter: any two values are at least 0.4 cells apart.
    std::vector<size_t> cell(n);
    for (size_t i = 0; i < n; ++i) cell[i] = i;
    for (size_t i = n; i > 1; --i) std::swap(cell[i - 1], cell[gen.below(i)]);
    const double width = (d.high - d.low) / static_cast<double>(n);
    for (size_t i = 0; i < n; ++i) {
      v[i] = d.low + (static_cast<double>(cell[i]) + 0.2 + 0.6 * gen.uniform01()) * width;
    }
  } else {
    for (double& x : v) {
      for (;;) {
        x = d.low + (d.high - d.low) * gen.uniform01();
        if (d.dyadic) x = std::round(x * 64.0) / 64.0;
        bool ok = true;
        for (double p : d.avoid) ok = ok && std::abs(x - p) >= d.margin;
        if (ok) break;
      }
    }
  }
  return from_data(std::span<const double>(v), d.shape, DType::f64);
}

// ---- The table ----

struct Case {
  std::string label;
  gc::Fn fn;
  std::vector<Draw> inputs;
  // Optional joint constraint: every value of kink(inputs) must be at least
  // kKinkMargin away from 0 (e.g. a - b for maximum, away from ties).
  gc::Fn kink;
};
constexpr double kKinkMargin = 0.05;

using Table = std::map<std::string, std::vector<Case>, std::less<>>;

// A constant tensor (no gradient) in the dtype of `like`.
Tensor constant(const std::vector<double>& values, const Shape& shape, const Tensor& like) {
  return from_data(std::span<const double>(values), shape, like.dtype());
}

// Shape pairs for binary elementwise ops: equal shapes, broadcasting both ways,
// 0-d scalars, and size-1 dimensions.
const std::vector<std::pair<Shape, Shape>>& binary_shapes() {
  static const std::vector<std::pair<Shape, Shape>> shapes = {
      {Shape{2, 3}, Shape{2, 3}},       {Shape{3, 4}, Shape{4}},    {Shape{4}, Shape{3, 4}},
      {Shape{3, 1}, Shape{1, 4}},       {Shape{}, Shape{2, 3}},     {Shape{2, 3}, Shape{}},
      {Shape{2, 1, 3}, Shape{1, 4, 1}}, {Shape{1, 3}, Shape{1, 3}}, {Shape{}, Shape{}},
  };
  return shapes;
}

// Shapes for unary elementwise ops.
const std::vector<Shape>& unary_shapes() {
  static const std::vector<Shape> shapes = {Shape{2, 3}, Shape{}, Shape{1, 4, 1}, Shape{5}};
  return shapes;
}

Table build_table() {
  Table table;
  auto add_case = [&](std::string op, std::string label, gc::Fn fn, std::vector<Draw> inputs,
                      gc::Fn kink = {}) {
    table[op].push_back(Case{std::move(label), std::move(fn), std::move(inputs), std::move(kink)});
  };
  using Make = std::function<Draw(Shape)>;
  auto binary = [&](const std::string& op, gc::Fn fn, Make draw_a, Make draw_b, gc::Fn kink = {}) {
    for (const auto& [sa, sb] : binary_shapes()) {
      add_case(op, fmt::format("{} with {}", sa, sb), fn, {draw_a(sa), draw_b(sb)}, kink);
    }
  };
  auto unary = [&](const std::string& op, const std::string& what, gc::Fn fn, Make draw) {
    for (const Shape& s : unary_shapes()) {
      add_case(op, fmt::format("{} {}", what, s), fn, {draw(s)});
    }
  };
  const Make any_draw = [](Shape s) { return any(s); };
  const Make positive_draw = [](Shape s) { return positive(s); };
  const Make nonzero_draw = [](Shape s) { return nonzero(s); };

  // ---- elementwise with broadcasting ----
  binary(
      "add", [](const Inputs& x) { return add(x[0], x[1]); }, any_draw, any_draw);
  add_case("add", "x + x (one input used twice)", [](const Inputs& x) { return x[0] + x[0]; },
           {any(Shape{2, 3})});
  binary(
      "sub", [](const Inputs& x) { return sub(x[0], x[1]); }, any_draw, any_draw);
  binary(
      "mul", [](const Inputs& x) { return mul(x[0], x[1]); }, any_draw, any_draw);
  add_case("mul", "x * x (one input used twice)", [](const Inputs& x) { return x[0] * x[0]; },
           {any(Shape{2, 3})});
  binary(
      "div", [](const Inputs& x) { return div(x[0], x[1]); }, any_draw,
      [](Shape s) { return nonzero(s, 0.4); });
  // The base is positive: the gradient with respect to the exponent uses log(a).
  binary(
      "pow", [](const Inputs& x) { return pow(x[0], x[1]); }, positive_draw, any_draw);
  const gc::Fn difference = [](const Inputs& x) { return sub(x[0], x[1]); };
  binary(
      "maximum", [](const Inputs& x) { return maximum(x[0], x[1]); }, any_draw, any_draw,
      difference);
  add_case("maximum", "maximum(x, 0.3) (scalar form)",
           [](const Inputs& x) { return maximum(x[0], 0.3); }, {avoiding(Shape{2, 3}, {0.3})});
  binary(
      "minimum", [](const Inputs& x) { return minimum(x[0], x[1]); }, any_draw, any_draw,
      difference);
  add_case("minimum", "minimum(x, -0.2) (scalar form)",
           [](const Inputs& x) { return minimum(x[0], -0.2); }, {avoiding(Shape{2, 3}, {-0.2})});

  // where: the mask is a constant (no gradient); a and b broadcast against it.
  auto where_case = [&](std::vector<double> mask, Shape sm, Shape sa, Shape sb) {
    add_case("where", fmt::format("mask {} a {} b {}", sm, sa, sb),
             [mask, sm](const Inputs& x) { return where(constant(mask, sm, x[0]), x[0], x[1]); },
             {any(sa), any(sb)});
  };
  where_case({1, 0, 1, 0, 0, 1}, Shape{2, 3}, Shape{2, 3}, Shape{2, 3});
  where_case({0, 1, 1}, Shape{3}, Shape{2, 3}, Shape{});
  where_case({1, 0}, Shape{2, 1}, Shape{1, 3}, Shape{2, 3});
  where_case({0, 1, 0, 1}, Shape{4}, Shape{3, 1}, Shape{4});
  where_case({1}, Shape{}, Shape{2, 2}, Shape{2, 2});

  // ---- scalar forms ----
  add_case("add_scalar", "add(x, 2.5)", [](const Inputs& x) { return add(x[0], 2.5); },
           {any(Shape{2, 3})});
  add_case("add_scalar", "x - 1.25 on a 0-d tensor", [](const Inputs& x) { return x[0] - 1.25; },
           {any(Shape{})});
  add_case("add_scalar", "0.75 - x", [](const Inputs& x) { return sub(0.75, x[0]); },
           {any(Shape{1, 4})});
  add_case("add_scalar", "3 + x", [](const Inputs& x) { return 3.0 + x[0]; }, {any(Shape{3})});
  add_case("mul_scalar", "mul(x, -1.5)", [](const Inputs& x) { return mul(x[0], -1.5); },
           {any(Shape{2, 3})});
  add_case("mul_scalar", "x / 4 on a 0-d tensor", [](const Inputs& x) { return x[0] / 4.0; },
           {any(Shape{})});
  add_case("mul_scalar", "2 / x", [](const Inputs& x) { return div(2.0, x[0]); },
           {nonzero(Shape{2, 2}, 0.4)});
  add_case("mul_scalar", "2 * x", [](const Inputs& x) { return 2.0 * x[0]; }, {any(Shape{4})});
  add_case("pow_scalar", "x ** 3", [](const Inputs& x) { return pow(x[0], 3.0); },
           {any(Shape{2, 3})});
  add_case("pow_scalar", "x ** 2 on a 0-d tensor", [](const Inputs& x) { return pow(x[0], 2.0); },
           {any(Shape{})});
  add_case("pow_scalar", "x ** 0.5", [](const Inputs& x) { return pow(x[0], 0.5); },
           {positive(Shape{2, 3})});
  add_case("pow_scalar", "x ** -1.5", [](const Inputs& x) { return pow(x[0], -1.5); },
           {positive(Shape{1, 4})});
  add_case("pow_scalar", "x ** 1", [](const Inputs& x) { return pow(x[0], 1.0); }, {any(Shape{3})});
  add_case("pow_scalar", "x ** 0", [](const Inputs& x) { return pow(x[0], 0.0); },
           {any(Shape{2, 2})});

  // ---- unary ----
  unary(
      "neg", "neg", [](const Inputs& x) { return neg(x[0]); }, any_draw);
  unary(
      "neg", "-x", [](const Inputs& x) { return -x[0]; }, any_draw);
  unary(
      "exp", "exp", [](const Inputs& x) { return exp(x[0]); }, any_draw);
  add_case("exp", "2 ** x (scalar base)", [](const Inputs& x) { return pow(2.0, x[0]); },
           {any(Shape{2, 3})});
  unary(
      "log", "log", [](const Inputs& x) { return log(x[0]); },
      [](Shape s) { return positive(s, 0.2, 3.0); });
  unary(
      "sqrt", "sqrt", [](const Inputs& x) { return sqrt(x[0]); },
      [](Shape s) { return positive(s, 0.2, 3.0); });
  unary(
      "abs", "abs", [](const Inputs& x) { return abs(x[0]); }, nonzero_draw);
  unary(
      "square", "square", [](const Inputs& x) { return square(x[0]); }, any_draw);
  unary(
      "reciprocal", "reciprocal", [](const Inputs& x) { return reciprocal(x[0]); },
      [](Shape s) { return nonzero(s, 0.4); });
  unary(
      "clamp", "clamp(x, -0.5, 0.8)", [](const Inputs& x) { return clamp(x[0], -0.5, 0.8); },
      [](Shape s) {
        return avoiding(s, {-0.5, 0.8}, 0.05, -1.5, 1.5);
      });
  add_case("clamp", "clamp(x, 0.25, 0.25) (low == high)",
           [](const Inputs& x) { return clamp(x[0], 0.25, 0.25); },
           {avoiding(Shape{2, 3}, {0.25})});
  unary(
      "sigmoid", "sigmoid", [](const Inputs& x) { return sigmoid(x[0]); },
      [](Shape s) { return any(s, -4.0, 4.0); });
  unary(
      "tanh", "tanh", [](const Inputs& x) { return tanh(x[0]); },
      [](Shape s) { return any(s, -3.0, 3.0); });
  unary(
      "relu", "relu", [](const Inputs& x) { return relu(x[0]); }, nonzero_draw);
  unary(
      "leaky_relu", "leaky_relu(x, 0.1)", [](const Inputs& x) { return leaky_relu(x[0], 0.1); },
      nonzero_draw);
  add_case("leaky_relu", "leaky_relu(x) (default slope)",
           [](const Inputs& x) { return leaky_relu(x[0]); }, {nonzero(Shape{2, 3})});
  unary(
      "softplus", "softplus", [](const Inputs& x) { return softplus(x[0]); },
      [](Shape s) { return any(s, -4.0, 4.0); });
  add_case("softplus", "softplus over [-20, 20]", [](const Inputs& x) { return softplus(x[0]); },
           {any(Shape{2, 4}, -20.0, 20.0)});

  // ---- derivative kernels ----
  const Make unit_interval = [](Shape s) { return any(s, 0.05, 0.95); };
  const Make signed_unit = [](Shape s) { return any(s, -0.95, 0.95); };
  binary(
      "sigmoid_backward", [](const Inputs& x) { return sigmoid_backward(x[0], x[1]); }, any_draw,
      unit_interval);
  binary(
      "tanh_backward", [](const Inputs& x) { return tanh_backward(x[0], x[1]); }, any_draw,
      signed_unit);

  // ---- reductions ----
  struct ReduceCase {
    Shape shape;
    std::vector<int64_t> axes;
    bool keepdim;
  };
  const std::vector<ReduceCase> reductions = {
      {Shape{2, 3, 4}, {}, false},
      {Shape{2, 3, 4}, {}, true},
      {Shape{2, 3, 4}, {1}, false},
      {Shape{2, 3, 4}, {0}, true},
      {Shape{2, 3, 4}, {-1}, false},
      {Shape{2, 3, 4}, {-2}, true},
      {Shape{2, 3, 4}, {0, 2}, false},
      {Shape{2, 3, 4}, {2, 0}, true},
      {Shape{2, 3, 4}, {-1, -2}, false},
      {Shape{2, 3, 4}, {0, 1, 2}, false},
      {Shape{}, {}, false},
      {Shape{}, {}, true},
      {Shape{1, 3}, {0}, false},
      {Shape{3, 1}, {1}, true},
  };
  using Reduce = Tensor (*)(const Tensor&, std::vector<int64_t>, bool);
  auto reduction = [&](const std::string& op, Reduce f, Make draw) {
    for (const ReduceCase& r : reductions) {
      add_case(op,
               fmt::format("{} axes [{}] keepdim {}", r.shape, fmt::join(r.axes, ", "), r.keepdim),
               [f, r](const Inputs& x) { return f(x[0], r.axes, r.keepdim); }, {draw(r.shape)});
    }
  };
  reduction("sum", &tapegrad::sum, any_draw);
  reduction("mean", &tapegrad::mean, any_draw);
  // Distinct values: no ties, so the maximum is differentiable.
  reduction("max", &tapegrad::max, [](Shape s) { return distinct(s); });
  reduction("logsumexp", &tapegrad::logsumexp, [](Shape s) { return any(s, -3.0, 3.0); });

  // ---- linear algebra ----
  for (int flags = 0; flags < 4; ++flags) {
    const bool ta = (flags & 1) != 0, tb = (flags & 2) != 0;
    const int64_t m = 2, k = 3, n = 4;
    const Shape a2 = ta ? Shape{k, m} : Shape{m, k};
    const Shape b2 = tb ? Shape{n, k} : Shape{k, n};
    const Shape a3 = ta ? Shape{2, k, m} : Shape{2, m, k};
    const Shape b3 = tb ? Shape{2, n, k} : Shape{2, k, n};
    const Shape a31 = ta ? Shape{1, k, m} : Shape{1, m, k};
    const gc::Fn fn = [ta, tb](const Inputs& x) { return matmul(x[0], x[1], ta, tb); };
    const std::string flag_label = fmt::format("transpose_a {} transpose_b {}", ta, tb);
    add_case("matmul", fmt::format("2-D {} @ {}, {}", a2, b2, flag_label), fn, {any(a2), any(b2)});
    add_case("matmul", fmt::format("3-D {} @ 3-D {}, {}", a3, b3, flag_label), fn,
             {any(a3), any(b3)});
    add_case("matmul", fmt::format("3-D {} @ 2-D {}, {}", a3, b2, flag_label), fn,
             {any(a3), any(b2)});
    add_case("matmul", fmt::format("3-D {} @ 2-D {}, {}", a31, b2, flag_label), fn,
             {any(a31), any(b2)});
  }
  add_case("matmul", "a @ a^T (one input used twice)",
           [](const Inputs& x) { return matmul(x[0], x[0], false, true); }, {any(Shape{3, 2})});
  add_case("matmul", "[1, 1] @ [1, 1]", [](const Inputs& x) { return matmul(x[0], x[1]); },
           {any(Shape{1, 1}), any(Shape{1, 1})});

  add_case("permute", "[2, 3, 4] dims [2, 0, 1]",
           [](const Inputs& x) {
             return permute(x[0], {2, 0, 1});
           },
           {any(Shape{2, 3, 4})});
  add_case("permute", "[2, 3, 4] dims [0, 2, 1]",
           [](const Inputs& x) {
             return permute(x[0], {0, 2, 1});
           },
           {any(Shape{2, 3, 4})});
  add_case("permute", "[2, 3, 4] dims [-1, 0, -2]",
           [](const Inputs& x) {
             return permute(x[0], {-1, 0, -2});
           },
           {any(Shape{2, 3, 4})});
  add_case("permute", "transpose(x, 0, -1)", [](const Inputs& x) { return transpose(x[0], 0, -1); },
           {any(Shape{2, 1, 3})});
  add_case("permute", "t(x)", [](const Inputs& x) { return t(x[0]); }, {any(Shape{2, 3})});
  add_case("permute", "0-d, no dims", [](const Inputs& x) { return permute(x[0], {}); },
           {any(Shape{})});

  // ---- shape ----
  add_case("reshape", "[2, 3, 4] to [6, 4]",
           [](const Inputs& x) {
             return reshape(x[0], {6, 4});
           },
           {any(Shape{2, 3, 4})});
  add_case("reshape", "[2, 3, 4] to [-1]", [](const Inputs& x) { return reshape(x[0], {-1}); },
           {any(Shape{2, 3, 4})});
  add_case("reshape", "[2, 3, 4] to [4, -1, 2]",
           [](const Inputs& x) {
             return reshape(x[0], {4, -1, 2});
           },
           {any(Shape{2, 3, 4})});
  add_case("reshape", "0-d to [1, 1]",
           [](const Inputs& x) {
             return reshape(x[0], {1, 1});
           },
           {any(Shape{})});
  add_case("reshape", "flatten(x, 1)", [](const Inputs& x) { return flatten(x[0], 1); },
           {any(Shape{2, 3, 2})});
  add_case("reshape", "squeeze(x, 1)", [](const Inputs& x) { return squeeze(x[0], 1); },
           {any(Shape{2, 1, 3})});
  add_case("reshape", "unsqueeze(x, -1)", [](const Inputs& x) { return unsqueeze(x[0], -1); },
           {any(Shape{2, 3})});
  // The output shares storage with the input; the gradient must still flow through both.
  add_case("reshape", "reshape(x) * x",
           [](const Inputs& x) {
             return mul(reshape(x[0], {3, 2}), reshape(x[0], {3, 2}));
           },
           {any(Shape{2, 3})});

  auto broadcast_case = [&](Shape from, Shape to) {
    add_case("broadcast_to", fmt::format("{} to {}", from, to),
             [to](const Inputs& x) { return broadcast_to(x[0], to); }, {any(from)});
  };
  broadcast_case(Shape{3, 1}, Shape{2, 3, 4});
  broadcast_case(Shape{4}, Shape{3, 4});
  broadcast_case(Shape{}, Shape{2, 3});
  broadcast_case(Shape{2, 3}, Shape{2, 3});
  broadcast_case(Shape{1, 1}, Shape{3, 1});

  auto narrow_case = [&](Shape s, int64_t axis, int64_t start, int64_t length) {
    add_case("narrow", fmt::format("{} axis {} start {} length {}", s, axis, start, length),
             [=](const Inputs& x) { return narrow(x[0], axis, start, length); }, {any(s)});
  };
  narrow_case(Shape{3, 4}, 0, 1, 2);
  narrow_case(Shape{3, 4}, 1, 0, 1);
  narrow_case(Shape{3, 4}, -1, 3, 1);
  narrow_case(Shape{3, 4}, 1, 0, 4);
  narrow_case(Shape{2, 3, 4}, 1, 1, 2);
  add_case("narrow", "slice(x, 0, 1, 3)", [](const Inputs& x) { return slice(x[0], 0, 1, 3); },
           {any(Shape{4, 2})});

  auto narrow_backward_case = [&](Shape g, Shape s, int64_t axis, int64_t start) {
    add_case("narrow_backward", fmt::format("{} into {} axis {} start {}", g, s, axis, start),
             [=](const Inputs& x) { return narrow_backward(x[0], s, axis, start); }, {any(g)});
  };
  narrow_backward_case(Shape{3, 2}, Shape{3, 5}, 1, 2);
  narrow_backward_case(Shape{1, 4}, Shape{3, 4}, 0, 2);
  narrow_backward_case(Shape{2, 2, 4}, Shape{2, 3, 4}, -2, 1);
  narrow_backward_case(Shape{3}, Shape{3}, 0, 0);

  auto index_select_case = [&](Shape s, int64_t axis, std::vector<int64_t> indices) {
    add_case("index_select",
             fmt::format("{} axis {} indices [{}]", s, axis, fmt::join(indices, ", ")),
             [=](const Inputs& x) { return index_select(x[0], axis, indices); }, {any(s)});
  };
  index_select_case(Shape{4, 3}, 0, {2, 0, 2, 1, 3});  // repeats add up
  index_select_case(Shape{2, 5}, 1, {4, 4, 0});
  index_select_case(Shape{2, 3, 4}, -1, {3, 1});
  index_select_case(Shape{3, 2}, 0, {});

  auto index_select_backward_case = [&](Shape g, Shape s, int64_t axis,
                                        std::vector<int64_t> indices) {
    add_case("index_select_backward",
             fmt::format("{} into {} axis {} indices [{}]", g, s, axis, fmt::join(indices, ", ")),
             [=](const Inputs& x) { return index_select_backward(x[0], s, axis, indices); },
             {any(g)});
  };
  index_select_backward_case(Shape{5, 3}, Shape{4, 3}, 0, {2, 0, 2, 1, 3});
  index_select_backward_case(Shape{2, 3}, Shape{2, 5}, 1, {4, 4, 0});
  index_select_backward_case(Shape{2, 3, 2}, Shape{2, 3, 4}, -1, {3, 1});

  add_case("concat", "[2, 3] and [1, 3] along 0",
           [](const Inputs& x) {
             return concat({x[0], x[1]}, 0);
           },
           {any(Shape{2, 3}), any(Shape{1, 3})});
  add_case("concat", "[2, 1], [2, 3] and [2, 2] along 1",
           [](const Inputs& x) {
             return concat({x[0], x[1], x[2]}, 1);
           },
           {any(Shape{2, 1}), any(Shape{2, 3}), any(Shape{2, 2})});
  add_case("concat", "[2, 2, 3] and [2, 1, 3] along -2",
           [](const Inputs& x) {
             return concat({x[0], x[1]}, -2);
           },
           {any(Shape{2, 2, 3}), any(Shape{2, 1, 3})});
  add_case("concat", "a single tensor", [](const Inputs& x) { return concat({x[0]}, 0); },
           {any(Shape{3})});
  add_case("concat", "x with itself",
           [](const Inputs& x) {
             return concat({x[0], x[0]}, 1);
           },
           {any(Shape{2, 2})});
  add_case("concat", "stack of two [2, 3] along 1",
           [](const Inputs& x) {
             return stack({x[0], x[1]}, 1);
           },
           {any(Shape{2, 3}), any(Shape{2, 3})});

  // Dyadic inputs are exact in f32, as are x +- kStep, so the rounding in a cast
  // to f32 does not disturb the finite differences.
  add_case("cast", "to f32", [](const Inputs& x) { return cast(x[0], DType::f32); },
           {dyadic(Shape{2, 3})});
  add_case("cast", "to f64", [](const Inputs& x) { return cast(x[0], DType::f64); },
           {dyadic(Shape{2, 3})});
  // Cast is linear, so its Hessian is 0. A nonlinear op after an f32 cast would make
  // the first-order gradient itself pass through f32, and finite differences of that
  // rounded gradient would be noise; "clone" (an f64 -> f64 cast) gives a nonzero HVP.
  add_case("cast", "round trip through f32",
           [](const Inputs& x) { return x[0].to(DType::f32).to(x[0].dtype()); },
           {dyadic(Shape{4})});
  add_case("cast", "clone", [](const Inputs& x) { return mul(x[0].clone(), x[0]); },
           {any(Shape{3})});

  // ---- softmax family ----
  // No 0-d inputs here: softmax of a 0-d tensor is an error (tested with the errors).
  auto softmax_like = [&](const std::string& op, Tensor (*f)(const Tensor&, int64_t)) {
    const std::vector<std::pair<Shape, int64_t>> shapes = {
        {Shape{2, 3}, -1}, {Shape{2, 3}, 0}, {Shape{2, 3, 4}, 1}, {Shape{5}, 0}, {Shape{3, 1}, 1},
    };
    for (const auto& [s, axis] : shapes) {
      add_case(op, fmt::format("{} axis {}", s, axis),
               [f, axis](const Inputs& x) { return f(x[0], axis); }, {any(s, -3.0, 3.0)});
    }
  };
  softmax_like("softmax", &tapegrad::softmax);
  softmax_like("log_softmax", &tapegrad::log_softmax);

  auto cross_entropy_case = [&](Shape s, std::vector<int64_t> labels) {
    add_case("cross_entropy", fmt::format("{} labels [{}]", s, fmt::join(labels, ", ")),
             [labels](const Inputs& x) { return cross_entropy(x[0], labels); },
             {any(s, -4.0, 4.0)});
  };
  cross_entropy_case(Shape{4, 3}, {0, 2, 1, 2});
  cross_entropy_case(Shape{1, 5}, {4});
  cross_entropy_case(Shape{3, 2}, {1, 1, 1});
  add_case("cross_entropy", "[2, 3] logits scaled by 2 (composed)",
           [](const Inputs& x) {
             const std::vector<int64_t> labels = {1, 0};
             return cross_entropy(mul(x[0], 2.0), labels);
           },
           {any(Shape{2, 3})});

  return table;
}

// A stable seed per case (FNV-1a of its name), so adding cases does not reshuffle others.
uint64_t seed_for(const std::string& op, const std::string& label) {
  uint64_t h = 1469598103934665603ULL;
  for (char ch : op + "/" + label) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return h;
}

// Draws the inputs of a case (in f64), retrying until the joint constraint holds.
Inputs draw_inputs(const Case& c, Generator& gen) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    Inputs xs;
    for (const Draw& d : c.inputs) xs.push_back(sample(d, gen));
    if (!c.kink) return xs;
    bool ok = true;
    for (double v : gc::evaluate(c.kink, xs).to_vector()) ok = ok && std::abs(v) >= kKinkMargin;
    if (ok) return xs;
  }
  fail("could not draw inputs for '{}' away from its kinks", c.label);
}

std::string case_name(const std::string& op, const Case& c) {
  return fmt::format("op '{}' [{}]", op, c.label);
}

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
      if (c.inputs[i].dyadic) {
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
  CHECK_THROWS_WITH_AS(softmax(x), doctest::Contains("softmax: expects a tensor with at least one axis"),
                       Error);
  CHECK_THROWS_WITH_AS(log_softmax(x), doctest::Contains("log_softmax: expects a tensor with at least"),
                       Error);
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
