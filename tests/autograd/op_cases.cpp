// The per-op gradient test cases (see op_cases.hpp).
#include "autograd/op_cases.hpp"

#include <fmt/format.h>

#include <cmath>
#include <functional>
#include <span>
#include <utility>

namespace tapegrad::op_cases {

// ---- How inputs are drawn ----

Draw any(Shape s, double low, double high) {
  Draw d;
  d.shape = s;
  d.options.low = low;
  d.options.high = high;
  d.options.avoid.clear();
  return d;
}
Draw positive(Shape s, double low, double high) { return any(s, low, high); }
Draw avoiding(Shape s, std::vector<double> points, double margin, double low, double high) {
  Draw d = any(s, low, high);
  d.options.avoid = std::move(points);
  d.options.margin = margin;
  return d;
}
// Away from 0 by at least `margin` (relu, abs, leaky_relu kinks; 1/x poles).
Draw nonzero(Shape s, double margin) { return avoiding(s, {0.0}, margin); }
Draw distinct(Shape s) {
  Draw d = any(s);
  d.options.distinct = true;
  return d;
}
// Multiples of 1/64: exact in f32, and x +- 2^-k too.
Draw dyadic(Shape s) {
  Draw d = any(s);
  d.options.dyadic = true;
  return d;
}

Tensor sample(const Draw& d, Generator& gen) { return random_input(d.shape, gen, d.options); }

// ---- The table ----

namespace {

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

}  // namespace

Table build_table() {
  Table table;
  auto add_case = [&](std::string op, std::string label, Fn fn, std::vector<Draw> inputs,
                      Fn kink = {}) {
    table[op].push_back(Case{std::move(label), std::move(fn), std::move(inputs), std::move(kink)});
  };
  using Make = std::function<Draw(Shape)>;
  auto binary = [&](const std::string& op, Fn fn, Make draw_a, Make draw_b, Fn kink = {}) {
    for (const auto& [sa, sb] : binary_shapes()) {
      add_case(op, fmt::format("{} with {}", sa, sb), fn, {draw_a(sa), draw_b(sb)}, kink);
    }
  };
  auto unary = [&](const std::string& op, const std::string& what, Fn fn, Make draw) {
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
  const Fn difference = [](const Inputs& x) { return sub(x[0], x[1]); };
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
    const Fn fn = [ta, tb](const Inputs& x) { return matmul(x[0], x[1], ta, tb); };
    const std::string flag_label = fmt::format("transpose_a {} transpose_b {}", ta, tb);
    add_case("matmul", fmt::format("2-D {} @ {}, {}", a2, b2, flag_label), fn, {any(a2), any(b2)});
    add_case("matmul", fmt::format("3-D {} @ 3-D {}, {}", a3, b3, flag_label), fn,
             {any(a3), any(b3)});
    add_case("matmul", fmt::format("3-D {} @ 2-D {}, {}", a3, b2, flag_label), fn,
             {any(a3), any(b2)});
    add_case("matmul", fmt::format("3-D {} @ 2-D {}, {}", a31, b2, flag_label), fn,
             {any(a31), any(b2)});
    // One row (per-sample training) takes OpenBLAS's matrix-vector path.
    const Shape a1 = ta ? Shape{k, 1} : Shape{1, k};
    add_case("matmul", fmt::format("one row {} @ {}, {}", a1, b2, flag_label), fn,
             {any(a1), any(b2)});
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

uint64_t seed_for(const std::string& op, const std::string& label) {
  uint64_t h = 1469598103934665603ULL;
  for (char ch : op + "/" + label) {
    h ^= static_cast<unsigned char>(ch);
    h *= 1099511628211ULL;
  }
  return h;
}

Inputs draw_inputs(const Case& c, Generator& gen) {
  for (int attempt = 0; attempt < 1000; ++attempt) {
    Inputs xs;
    for (const Draw& d : c.inputs) xs.push_back(sample(d, gen));
    if (!c.kink) return xs;
    bool ok = true;
    for (double v : fdcheck::evaluate(c.kink, xs).to_vector())
      ok = ok && std::abs(v) >= kKinkMargin;
    if (ok) return xs;
  }
  fail("could not draw inputs for '{}' away from its kinks", c.label);
}

std::string case_name(const std::string& op, const Case& c) {
  return fmt::format("op '{}' [{}]", op, c.label);
}

}  // namespace tapegrad::op_cases
