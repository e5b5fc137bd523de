// Tests of the backward engine: gradient accumulation, deep graphs, grad mode,
// retain_graph, grad() and its options, higher-order gradients, saved-tensor
// version checks, exception safety and tape/storage reuse in a training loop.
#include <doctest/doctest.h>

#include "test_helpers.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <thread>
#include <vector>

#include "tapegrad/autograd.hpp"

using namespace tapegrad;

namespace {

constexpr DType f64 = DType::f64;

Tensor variable(std::initializer_list<double> values, const Shape& shape, DType dtype = f64) {
  Tensor x = from_data(values, shape, dtype);
  x.requires_grad_();
  return x;
}

Tensor scalar_variable(double value) {
  Tensor x = scalar_tensor(value, f64);
  x.requires_grad_();
  return x;
}

void check_values(const Tensor& t, const std::vector<double>& expected, double tolerance = 1e-12) {
  REQUIRE(t.defined());
  const std::vector<double> got = t.to_vector();
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i);
    CHECK(got[i] == doctest::Approx(expected[i]).epsilon(tolerance));
  }
}

// Elementwise f(x) for a tensor's values.
template <typename F>
std::vector<double> map_values(const Tensor& x, F f) {
  std::vector<double> v = x.to_vector();
  for (double& e : v) e = f(e);
  return v;
}

using test_helpers::contains;
using test_helpers::error_message;

// Runs f on a new thread, which has a fresh, empty tape (the tape is per thread and
// never shrinks), and rethrows what it threw. No tensor may leave f.
template <typename F>
void on_fresh_thread(F&& f) {
  std::exception_ptr error;
  std::thread worker([&] {
    try {
      f();
    } catch (...) {
      error = std::current_exception();
    }
  });
  worker.join();
  if (error) std::rethrow_exception(error);
}

const GradOptions kRetain{.retain_graph = true};
const GradOptions kHigherOrder{.retain_graph = true, .create_graph = true};

}  // namespace

TEST_CASE("engine: a value used several times accumulates the gradient of every use") {
  const size_t nodes_before = tape_stats().nodes;
  {
    SUBCASE("diamond y = x*x + x*3") {
      Tensor x = variable({-1.5, 0.0, 2.0}, {3});
      Tensor y = sum(add(mul(x, x), mul(x, 3.0)));
      y.backward();
      check_values(x.grad(), {2 * -1.5 + 3, 3, 2 * 2.0 + 3});
    }
    SUBCASE("both operands of one op are the same tensor") {
      Tensor x = variable({0.5, -3.0}, {2});
      sum(mul(x, x)).backward();
      check_values(x.grad(), {1.0, -6.0});
      x.zero_grad();
      sum(add(x, x)).backward();
      check_values(x.grad(), {2.0, 2.0});
    }
    SUBCASE("an intermediate value reused: y = h*h + h with h = exp(x)") {
      Tensor x = variable({0.25, -1.0}, {2});
      Tensor h = exp(x);
      sum(add(mul(h, h), h)).backward();
      check_values(x.grad(), map_values(x, [](double v) {
                     const double e = std::exp(v);
                     return (2 * e + 1) * e;
                   }));
    }
  }
  // Every node of these graphs is gone once their tensors are.
  CHECK(tape_stats().nodes == nodes_before);
}

TEST_CASE("engine: a chain of a million ops backpropagates and is freed without recursion") {
  // Each step is three ops, mul by c, square and sqrt: y <- |c y|, dy/dx = c per step.
  // square saves its input (an op output), so freeing the chain walks saved tensors too.
  constexpr int kSteps = 333334;  // 1,000,002 op nodes
  constexpr double c = 1.000001;
  const double scale = std::exp(kSteps * std::log1p(c - 1.0));
  on_fresh_thread([&] {
    Tensor x = scalar_variable(0.75);
    {
      Tensor y = x;
      for (int i = 0; i < kSteps; ++i) y = sqrt(square(mul(y, c)));
      CHECK(tape_stats().nodes == 3 * static_cast<size_t>(kSteps) + 1);  // + x's leaf node
      CHECK(y.item() == doctest::Approx(0.75 * scale).epsilon(1e-9));
      y.backward();
      CHECK(tape_stats().nodes_visited == 3 * static_cast<size_t>(kSteps));
      REQUIRE(x.grad().defined());
      CHECK(x.grad().item() == doctest::Approx(scale).epsilon(1e-9));
    }
    CHECK(tape_stats().nodes == 0);
    CHECK(x.use_count() == 1);  // the leaf node's reference is gone too

    // Destroying an unused chain of the same depth.
    {
      Tensor y = x;
      for (int i = 0; i < kSteps; ++i) y = sqrt(square(mul(y, c)));
      CHECK(tape_stats().nodes == 3 * static_cast<size_t>(kSteps) + 1);
    }
    CHECK(tape_stats().nodes == 0);
    CHECK(x.use_count() == 1);
  });
}

TEST_CASE("engine: NoGradGuard records nothing") {
  Tensor x = variable({1.0, 2.0}, {2});
  const TapeStats before = tape_stats();
  {
    NoGradGuard guard;
    CHECK_FALSE(is_grad_enabled());
    Tensor y = add(tanh(mul(x, x)), 1.0);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(tape_stats().recorded == before.recorded);
    CHECK(tape_stats().nodes == before.nodes);
    CHECK_THROWS_WITH_AS(sum(y).backward(), doctest::Contains("does not require grad"), Error);
    check_values(y, {std::tanh(1.0) + 1, std::tanh(4.0) + 1});
  }
  CHECK(is_grad_enabled());
  // Grad mode is back on: the same op records one node (plus x's leaf node).
  Tensor z = mul(x, x);
  CHECK(z.requires_grad());
  CHECK_FALSE(z.is_leaf());
  CHECK(tape_stats().recorded == before.recorded + 1);
  CHECK(tape_stats().nodes == before.nodes + 2);
  // Ops on tensors that do not require grad record nothing even with grad mode on.
  Tensor c = from_data({1.0, 2.0}, {2}, f64);
  Tensor w = mul(c, c);
  CHECK_FALSE(w.requires_grad());
  CHECK(tape_stats().recorded == before.recorded + 1);
}

TEST_CASE("engine: GradModeGuard nests and restores the previous mode") {
  Tensor x = variable({1.0}, {1});
  CHECK(is_grad_enabled());
  {
    GradModeGuard off(false);
    CHECK_FALSE(is_grad_enabled());
    {
      GradModeGuard on(true);
      CHECK(is_grad_enabled());
      CHECK(mul(x, 2.0).requires_grad());
      {
        NoGradGuard inner;
        CHECK_FALSE(is_grad_enabled());
        CHECK_FALSE(mul(x, 2.0).requires_grad());
      }
      CHECK(is_grad_enabled());
    }
    CHECK_FALSE(is_grad_enabled());
    CHECK_FALSE(mul(x, 2.0).requires_grad());
  }
  CHECK(is_grad_enabled());
  // Restored when the scope is left by an exception.
  try {
    NoGradGuard guard;
    fail("leaving the scope");
  } catch (const Error&) {
  }
  CHECK(is_grad_enabled());
}

TEST_CASE("engine: detach() cuts the graph and shares the data") {
  Tensor x = variable({1.0, 2.0, 3.0}, {3});
  Tensor d = x.detach();
  CHECK_FALSE(d.requires_grad());
  CHECK(d.is_leaf());
  CHECK(d.raw_data() == x.raw_data());
  // d is a constant: d(sum(x * d))/dx = d, not 2x.
  sum(mul(x, d)).backward();
  check_values(x.grad(), {1.0, 2.0, 3.0});

  Tensor h = mul(x, x);
  Tensor hd = h.detach();
  CHECK(hd.is_leaf());
  CHECK_FALSE(hd.requires_grad());
  check_values(hd, {1.0, 4.0, 9.0});
  // A detached tensor can become a variable of its own; nothing reaches x.
  hd.requires_grad_();
  sum(mul(hd, 3.0)).backward();
  check_values(hd.grad(), {3.0, 3.0, 3.0});
  check_values(x.grad(), {1.0, 2.0, 3.0});
}

TEST_CASE("engine: retain_graph allows a second backward; without it the graph is freed") {
  Tensor x = variable({0.5, -1.0}, {2});
  Tensor y = sum(mul(exp(x), x));  // dy/dx = e^x (1 + x)
  const auto dy = map_values(x, [](double v) { return std::exp(v) * (1 + v); });
  y.backward({.retain_graph = true});
  check_values(x.grad(), dy);
  y.backward({.retain_graph = true});
  y.backward();  // the graph is still there; this pass frees it
  check_values(x.grad(), map_values(x, [](double v) { return 3 * std::exp(v) * (1 + v); }));

  const std::string msg = error_message([&] { y.backward(); });
  CHECK(contains(msg, "retain_graph"));
  CHECK(contains(msg, "freed"));
  // The failed pass changed nothing.
  check_values(x.grad(), map_values(x, [](double v) { return 3 * std::exp(v) * (1 + v); }));

  SUBCASE("grad() frees the graph too") {
    Tensor z = sum(mul(exp(x), x));
    grad({z}, {x});
    CHECK_THROWS_WITH_AS(grad({z}, {x}), doctest::Contains("retain_graph"), Error);
  }
}

TEST_CASE("engine: backward(grad_output) of a non-scalar output") {
  Tensor x = variable({1.0, 2.0, 3.0, 4.0}, {2, 2});
  Tensor g = from_data({1.0, 10.0, 100.0, 1000.0}, {2, 2}, f64);
  mul(x, x).backward(g);
  check_values(x.grad(), {2.0, 40.0, 600.0, 8000.0});

  SUBCASE("a gradient that passes through unchanged is not aliased with grad_output") {
    // add_scalar hands grad_output itself to x; the second backward accumulates into
    // x.grad in place, which must not write into g.
    Tensor w = variable({1.0, 2.0, 3.0, 4.0}, {2, 2});
    Tensor y = add(w, 0.5);
    y.backward(g, {.retain_graph = true});
    y.backward(g);
    check_values(w.grad(), {2.0, 20.0, 200.0, 2000.0});
    check_values(g, {1.0, 10.0, 100.0, 1000.0});
  }
  SUBCASE("grad_output must match the output's shape and dtype") {
    Tensor y = mul(x, 2.0);
    const std::string msg = error_message([&] { y.backward(ones({4}, f64)); });
    CHECK(contains(msg, "[2, 2]"));
    CHECK(contains(msg, "[4]"));
    CHECK_THROWS_WITH_AS(y.backward(ones({2, 2}, DType::f32)), doctest::Contains("f32"), Error);
  }
}

TEST_CASE("engine: grad() of several outputs and inputs leaves .grad alone") {
  Tensor x = variable({1.0, 2.0}, {2});
  Tensor w = variable({3.0, -1.0}, {2});
  Tensor o1 = sum(mul(x, w));            // d/dx = w, d/dw = x
  Tensor o2 = sum(mul(mul(x, x), 0.5));  // d/dx = x
  std::vector<Tensor> g = grad({o1, o2}, {x, w}, {}, kRetain);
  REQUIRE(g.size() == 2);
  check_values(g[0], {4.0, 1.0});
  check_values(g[1], {1.0, 2.0});
  CHECK_FALSE(g[0].requires_grad());
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.grad().defined());

  // Weighted by grad_outputs: 2 * d(o1) + 3 * d(o2).
  g = grad({o1, o2}, {x, w}, {scalar_tensor(2.0, f64), scalar_tensor(3.0, f64)});
  check_values(g[0], {2 * 3.0 + 3 * 1.0, 2 * -1.0 + 3 * 2.0});
  check_values(g[1], {2.0, 4.0});
  CHECK_FALSE(x.grad().defined());
  CHECK_FALSE(w.grad().defined());

  // An output that is itself an input.
  Tensor s = scalar_variable(2.0);
  g = grad({mul(mul(s, s), s), s}, {s});
  check_values(g[0], {3 * 4.0 + 1});
  CHECK_FALSE(s.grad().defined());
  // backward() of a scalar variable itself.
  s.backward();
  check_values(s.grad(), {1.0});
}

TEST_CASE("engine: grad() with respect to an intermediate tensor") {
  Tensor x = variable({0.3, -0.7}, {2});
  Tensor h = tanh(x);
  Tensor y = sum(add(mul(h, h), mul(h, 3.0)));  // dy/dh = 2h + 3
  std::vector<Tensor> g = grad({y}, {h}, {}, kRetain);
  check_values(g[0], map_values(x, [](double v) { return 2 * std::tanh(v) + 3; }));
  CHECK(tape_stats().nodes_visited == 4);  // sum, add, mul_scalar, mul; not tanh

  // Both at once: the gradient for x includes the path through h.
  g = grad({y}, {x, h});
  check_values(g[0], map_values(x, [](double v) {
                 const double t = std::tanh(v);
                 return (2 * t + 3) * (1 - t * t);
               }));
  check_values(g[1], map_values(x, [](double v) { return 2 * std::tanh(v) + 3; }));
  CHECK_FALSE(x.grad().defined());
}

TEST_CASE("engine: grad() with respect to an intermediate ignores the graph below it") {
  Tensor x = variable({1.0, 2.0}, {2});
  Tensor w = variable({3.0, 4.0}, {2});
  Tensor h = mul(x, w);
  Tensor y = sum(mul(h, 3.0));
  check_values(grad({y}, {x}, {}, kRetain)[0], {9.0, 12.0});
  CHECK(tape_stats().nodes_visited == 3);
  // A later grad() with respect to h does not run h's own rule (nothing below h is wanted).
  check_values(grad({y}, {h}, {}, kRetain)[0], {3.0, 3.0});
  CHECK(tape_stats().nodes_visited == 2);
  // So it still works when the graph below h can no longer be differentiated.
  {
    NoGradGuard no_grad;
    w.add_(ones_like(w));
  }
  check_values(grad({y}, {h}, {}, kRetain)[0], {3.0, 3.0});
  CHECK(tape_stats().nodes_visited == 2);
  CHECK_THROWS_WITH_AS(grad({y}, {x}), doctest::Contains("modified in place"), Error);
}

TEST_CASE("engine: allow_unused") {
  Tensor x = variable({1.0, 2.0}, {2});
  Tensor z = variable({5.0, 6.0, 7.0}, {3});
  Tensor other = sum(mul(z, z));  // z is on the tape, but not in y's graph
  Tensor y = sum(mul(x, 2.0));
  std::vector<Tensor> g = grad({y}, {x, z}, {}, kRetain);
  check_values(g[0], {2.0, 2.0});
  REQUIRE(g[1].defined());
  CHECK(g[1].shape() == Shape{3});
  CHECK(g[1].dtype() == f64);
  check_values(g[1], {0.0, 0.0, 0.0});

  Tensor never_used = variable({1.0}, {1});
  g = grad({y}, {never_used}, {}, kRetain);
  check_values(g[0], {0.0});

  const std::string msg = error_message([&] {
    grad({y}, {x, z}, {}, {.retain_graph = true, .allow_unused = false});
  });
  CHECK(contains(msg, "input 1"));
  CHECK(contains(msg, "[3]"));
  CHECK(contains(msg, "not used"));
  // With every input used, allow_unused = false is no error.
  g = grad({y}, {x}, {}, {.allow_unused = false});
  check_values(g[0], {2.0, 2.0});
}

TEST_CASE("engine: grad() visits only the nodes on a path to the inputs") {
  Tensor w = variable({0.5}, {1});
  Tensor x = variable({0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, {8});
  Tensor small = mul(w, 2.0);  // w's leaf node comes first on the tape
  Tensor big = x;
  for (int i = 0; i < 200; ++i) big = tanh(mul(big, 1.01));  // 400 nodes not involving w
  Tensor y = add(sum(big), sum(small));

  check_values(grad({y}, {w}, {}, kRetain)[0], {2.0});
  CHECK(tape_stats().nodes_visited == 3);  // add, sum(small), mul
  grad({y}, {x}, {}, kRetain);
  CHECK(tape_stats().nodes_visited == 402);  // add, sum(big) and the chain
  y.backward();
  CHECK(tape_stats().nodes_visited == 404);  // everything
  check_values(w.grad(), {2.0});
}

TEST_CASE("engine: zero_grad and accumulation across backward calls") {
  Tensor x = variable({1.0, -2.0}, {2});
  x.zero_grad();  // no gradient yet: a no-op
  CHECK_FALSE(x.grad().defined());

  sum(mul(x, x)).backward();
  sum(mul(x, 3.0)).backward();
  check_values(x.grad(), {2 * 1.0 + 3, 2 * -2.0 + 3});

  const void* buffer = x.grad().raw_data();
  x.zero_grad();
  check_values(x.grad(), {0.0, 0.0});
  CHECK(x.grad().raw_data() == buffer);  // the buffer is kept
  sum(mul(x, 3.0)).backward();
  check_values(x.grad(), {3.0, 3.0});
  CHECK(x.grad().raw_data() == buffer);  // and accumulated into

  // set_grad replaces (or clears) the gradient.
  x.set_grad(Tensor());
  CHECK_FALSE(x.grad().defined());
  sum(mul(x, 4.0)).backward();
  check_values(x.grad(), {4.0, 4.0});
}

TEST_CASE("engine: create_graph gives higher derivatives") {
  const size_t nodes_before = tape_stats().nodes;
  {
    Tensor x = variable({-1.5, 0.5, 2.0}, {3});

    SUBCASE("x^3 with mul: 3x^2, 6x, 6") {
      Tensor y = sum(mul(mul(x, x), x));
      Tensor d1 = grad({y}, {x}, {}, kHigherOrder)[0];
      CHECK(d1.requires_grad());
      check_values(d1, map_values(x, [](double v) { return 3 * v * v; }));
      Tensor d2 = grad({sum(d1)}, {x}, {}, kHigherOrder)[0];
      check_values(d2, map_values(x, [](double v) { return 6 * v; }));
      Tensor d3 = grad({sum(d2)}, {x})[0];
      check_values(d3, {6.0, 6.0, 6.0});
      CHECK_FALSE(d3.requires_grad());
    }
    SUBCASE("x^3 with pow") {
      Tensor d1 = grad({sum(pow(x, 3.0))}, {x}, {}, kHigherOrder)[0];
      check_values(d1, map_values(x, [](double v) { return 3 * v * v; }));
      check_values(grad({sum(d1)}, {x})[0], map_values(x, [](double v) { return 6 * v; }));
    }
    SUBCASE("tanh'' = -2 tanh (1 - tanh^2)") {
      Tensor d1 = grad({sum(tanh(x))}, {x}, {}, kHigherOrder)[0];
      check_values(d1, map_values(x, [](double v) { return 1 - std::tanh(v) * std::tanh(v); }));
      check_values(grad({sum(d1)}, {x})[0], map_values(x, [](double v) {
                     const double t = std::tanh(v);
                     return -2 * t * (1 - t * t);
                   }));
    }
    SUBCASE("sigmoid'' = s (1 - s) (1 - 2s)") {
      Tensor d1 = grad({sum(sigmoid(x))}, {x}, {}, kHigherOrder)[0];
      const auto s = [](double v) { return 1 / (1 + std::exp(-v)); };
      check_values(d1, map_values(x, [&](double v) { return s(v) * (1 - s(v)); }));
      check_values(grad({sum(d1)}, {x})[0],
                   map_values(x, [&](double v) { return s(v) * (1 - s(v)) * (1 - 2 * s(v)); }));
    }
    SUBCASE("exp'' = exp and log'' = -1/x^2") {
      Tensor d1 = grad({sum(exp(x))}, {x}, {}, kHigherOrder)[0];
      check_values(grad({sum(d1)}, {x})[0], map_values(x, [](double v) { return std::exp(v); }));
      Tensor p = variable({0.5, 2.0}, {2});
      Tensor e1 = grad({sum(log(p))}, {p}, {}, kHigherOrder)[0];
      check_values(grad({sum(e1)}, {p})[0], {-4.0, -0.25});
    }
    SUBCASE("second derivative of a product of two variables") {
      // f = sum(x^2 y): d/dx = 2xy; d/dy (sum(d/dx)) = sum over 2x = 2x per element.
      Tensor yv = variable({0.5, -1.0, 3.0}, {3});
      Tensor dx = grad({sum(mul(mul(x, x), yv))}, {x}, {}, kHigherOrder)[0];
      check_values(dx, {2 * -1.5 * 0.5, 2 * 0.5 * -1.0, 2 * 2.0 * 3.0});
      std::vector<Tensor> d2 = grad({sum(dx)}, {x, yv});
      check_values(d2[0], {2 * 0.5, 2 * -1.0, 2 * 3.0});
      check_values(d2[1], {2 * -1.5, 2 * 0.5, 2 * 2.0});
    }
    SUBCASE("backward(create_graph) makes x.grad differentiable") {
      sum(mul(mul(x, x), x)).backward({.retain_graph = true, .create_graph = true});
      REQUIRE(x.grad().defined());
      CHECK(x.grad().requires_grad());
      check_values(grad({sum(x.grad())}, {x})[0], map_values(x, [](double v) { return 6 * v; }));
      // x.grad's graph refers to x: drop it so that the graph can be freed.
      x.set_grad(Tensor());
    }
  }
  CHECK(tape_stats().nodes == nodes_before);
}

TEST_CASE("engine: create_graph stays correct while recording grows the tape") {
  // On a fresh tape padded to each fill level in turn, recording the sum of two
  // gradient contributions reallocates the node array at some point.
  const auto padded = [](int pad) {
    Tensor z = variable({1.0}, {1});
    std::vector<Tensor> padding;
    for (int i = 0; i < pad; ++i) padding.push_back(mul(z, 1.0));
    return padding;
  };
  for (int pad = 0; pad < 48; ++pad) {
    on_fresh_thread([&] {
      CAPTURE(pad);
      const std::vector<Tensor> padding = padded(pad);
      // x feeds two uses: the engine adds their gradients.
      Tensor x = variable({-1.5, 0.5, 2.0}, {3});
      Tensor d1 = grad({sum(mul(mul(x, x), x))}, {x}, {}, kHigherOrder)[0];
      check_values(d1, {3 * 2.25, 3 * 0.25, 3 * 4.0});
      check_values(grad({sum(d1)}, {x})[0], {6 * -1.5, 6 * 0.5, 6 * 2.0});
    });
    on_fresh_thread([&] {
      CAPTURE(pad);
      const std::vector<Tensor> padding = padded(pad);
      // An output that is also an input: its seed and its gradient through the graph
      // are added as the input's result.
      Tensor s = scalar_variable(2.0);
      Tensor ds = grad({exp(s), s}, {s}, {}, kHigherOrder)[0];
      check_values(ds, {std::exp(2.0) + 1});
      check_values(grad({ds}, {s})[0], {std::exp(2.0)});
    });
  }
}

TEST_CASE("engine: Hessian-vector product of a two-layer MLP matches finite differences") {
  Generator gen(3);
  const Tensor inputs = normal({6, 4}, 0.0, 1.0, gen, f64);
  const std::vector<int64_t> labels = {0, 2, 1, 1, 0, 2};
  std::vector<Tensor> params = {normal({4, 5}, 0.0, 0.7, gen, f64), normal({5}, 0.0, 0.3, gen, f64),
                                normal({5, 3}, 0.0, 0.7, gen, f64),
                                normal({3}, 0.0, 0.3, gen, f64)};
  std::vector<Tensor> direction;
  for (Tensor& p : params) {
    p.requires_grad_();
    direction.push_back(normal(p.shape(), 0.0, 1.0, gen, f64));
  }
  const auto loss_of = [&](const std::vector<Tensor>& p) {
    Tensor hidden = tanh(add(matmul(inputs, p[0]), p[1]));
    return cross_entropy(add(matmul(hidden, p[2]), p[3]), labels);
  };

  // H v = d/dp <dL/dp, v>.
  std::vector<Tensor> g = grad({loss_of(params)}, params, {}, kHigherOrder);
  Tensor dot = sum(mul(g[0], direction[0]));
  for (size_t i = 1; i < params.size(); ++i) dot = add(dot, sum(mul(g[i], direction[i])));
  const std::vector<Tensor> hv = grad({dot}, params);

  // Central differences of the gradient along v.
  const double eps = 1e-5;
  const auto gradient_at = [&](double t) {
    std::vector<Tensor> shifted;
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor s;
      {
        NoGradGuard no_grad;
        s = add(params[i], mul(direction[i], t));
      }
      s.requires_grad_();
      shifted.push_back(s);
    }
    return grad({loss_of(shifted)}, shifted);
  };
  const std::vector<Tensor> plus = gradient_at(eps);
  const std::vector<Tensor> minus = gradient_at(-eps);
  double largest = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    CAPTURE(i);
    REQUIRE(hv[i].shape() == params[i].shape());
    const std::vector<double> got = hv[i].to_vector();
    const std::vector<double> p = plus[i].to_vector();
    const std::vector<double> m = minus[i].to_vector();
    for (size_t j = 0; j < got.size(); ++j) {
      CAPTURE(j);
      const double fd = (p[j] - m[j]) / (2 * eps);
      CHECK(got[j] == doctest::Approx(fd).epsilon(1e-6));
      largest = std::max(largest, std::abs(got[j]));
    }
  }
  CHECK(largest > 1e-2);  // not trivially zero
}

TEST_CASE("engine: a saved tensor modified in place is detected at backward") {
  SUBCASE("a saved input that does not require grad") {
    Tensor x = variable({1.0, 2.0}, {2});
    Tensor w = from_data({3.0, 4.0}, {2}, f64);
    Tensor y = sum(mul(x, w));
    w.add_(ones_like(w));  // allowed: w is not a variable
    const std::string msg = error_message([&] { y.backward(); });
    CHECK(contains(msg, "'mul'"));
    CHECK(contains(msg, "version 1"));
    CHECK(contains(msg, "version 0"));
    CHECK_FALSE(x.grad().defined());
  }
  SUBCASE("a variable modified under NoGradGuard") {
    Tensor x = variable({1.0, 2.0}, {2});
    Tensor y = sum(square(x));
    {
      NoGradGuard no_grad;
      x.mul_(2.0);
      x.add_(ones_like(x));
    }
    const std::string msg = error_message([&] { y.backward(); });
    CHECK(contains(msg, "'square'"));
    CHECK(contains(msg, "now at version 2"));
    CHECK(contains(msg, "saved at version 0"));
  }
  SUBCASE("an op's saved output") {
    Tensor x = variable({1.0, 2.0}, {2});
    Tensor y = exp(x);
    {
      NoGradGuard no_grad;
      y.fill_(0.0);
    }
    const std::string msg = error_message([&] { sum(y).backward(); });
    CHECK(contains(msg, "'exp'"));
    CHECK(contains(msg, "version 1"));
  }
  SUBCASE("a write through another view of the same storage") {
    Tensor x = variable({1.0, 2.0}, {2});
    Tensor w = from_data({3.0, 4.0}, {2}, f64);
    Tensor y = sum(mul(x, w));
    reshape(w, {2, 1}).fill_(1.0);
    CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("modified in place"), Error);
  }
}

TEST_CASE("engine: a backward that fails leaves no gradient behind on the tape") {
  Tensor x = variable({1.0, 2.0}, {2});
  Tensor w = from_data({3.0, 4.0}, {2}, f64);
  Tensor a = mul(x, 2.0);
  Tensor p = mul(a, 5.0);  // no saved tensors
  Tensor q = mul(a, w);    // saves w
  Tensor y = sum(add(p, q));
  w.add_(ones_like(w));  // q's backward will fail after p has received its gradient
  CHECK_THROWS_WITH_AS(y.backward(), doctest::Contains("'mul'"), Error);
  CHECK_FALSE(x.grad().defined());
  // p's graph is intact; its gradient must not include what the failed pass left.
  sum(p).backward();
  check_values(x.grad(), {10.0, 10.0});
}

TEST_CASE("engine: an in-place write to a tensor that requires grad is refused in grad mode") {
  Tensor x = variable({1.0, 2.0}, {2});
  const std::string msg = error_message([&] { x.add_(ones_like(x)); });
  CHECK(contains(msg, "add_"));
  CHECK(contains(msg, "requires grad"));
  CHECK(contains(msg, "NoGradGuard"));
  CHECK_THROWS_WITH_AS(x.fill_(1.0), doctest::Contains("fill_"), Error);
  CHECK_THROWS_WITH_AS(x.zero_(), doctest::Contains("requires grad"), Error);
  CHECK_THROWS_WITH_AS(x.mul_(2.0), doctest::Contains("mul_"), Error);
  CHECK_THROWS_WITH_AS(x.copy_(ones_like(x)), doctest::Contains("copy_"), Error);
  Tensor y = mul(x, 2.0);  // an op output requires grad too
  CHECK_THROWS_WITH_AS(y.add_(ones_like(y)), doctest::Contains("requires grad"), Error);
  check_values(x, {1.0, 2.0});  // nothing was written
  CHECK(x.version() == 0);
  {
    NoGradGuard no_grad;
    x.add_(ones_like(x), 2.0);
  }
  check_values(x, {3.0, 4.0});
  CHECK(x.version() == 1);
}

TEST_CASE("engine: errors from backward and grad") {
  Tensor x = variable({1.0, 2.0, 3.0}, {3});
  {
    const std::string msg = error_message([&] { mul(x, x).backward(); });
    CHECK(contains(msg, "[3]"));
    CHECK(contains(msg, "grad_output is required for a non-scalar output"));
  }
  {
    const std::string msg = error_message([] { sum(ones({2, 2})).backward(); });
    CHECK(contains(msg, "backward"));
    CHECK(contains(msg, "does not require grad"));
  }
  {
    Tensor y = sum(mul(x, x));
    y.backward();
    const std::string msg = error_message([&] { y.backward(); });
    CHECK(contains(msg, "freed by an earlier backward"));
    CHECK(contains(msg, "retain_graph"));
  }
  CHECK_THROWS_WITH_AS(grad({sum(mul(x, 2.0))}, {ones({3})}),
                       doctest::Contains("input 0 does not require grad"), Error);
  CHECK_THROWS_WITH_AS(grad({sum(mul(x, 2.0))}, {}), doctest::Contains("no inputs"), Error);
  CHECK_THROWS_WITH_AS(mul(x, 2.0).requires_grad_(), doctest::Contains("only leaf tensors"), Error);
  CHECK_THROWS_WITH_AS(grad({sum(x), sum(x)}, {x}, {scalar_tensor(1.0, f64)}),
                       doctest::Contains("2 outputs but 1 grad_outputs"), Error);
}

TEST_CASE("engine: steady-state training reuses the tape and the storage pool") {
  on_fresh_thread([] {
    release_cached_memory();
    const uint64_t allocs_at_start = memory_stats().system_allocs;
    Generator gen(11);
    // Three Gaussian blobs in 4-D, 48 samples.
    constexpr int64_t n = 48;
    std::vector<int64_t> labels(n);
    for (int64_t i = 0; i < n; ++i) labels[static_cast<size_t>(i)] = i % 3;
    const Tensor centers = normal({3, 4}, 0.0, 1.5, gen);
    const Tensor inputs = add(normal({n, 4}, 0.0, 0.6, gen), index_select(centers, 0, labels));
    std::vector<Tensor> params = {normal({4, 16}, 0.0, 0.5, gen), zeros({16}),
                                  normal({16, 3}, 0.0, 0.5, gen), zeros({3})};
    for (Tensor& p : params) p.requires_grad_();

    size_t nodes_during_step = 0;
    const auto step = [&] {
      Tensor logits =
          add(matmul(tanh(add(matmul(inputs, params[0]), params[1])), params[2]), params[3]);
      Tensor loss = cross_entropy(logits, labels);
      for (Tensor& p : params) p.zero_grad();
      loss.backward();
      nodes_during_step = tape_stats().nodes;
      {
        NoGradGuard no_grad;
        for (Tensor& p : params) p.add_(p.grad(), -0.5);
      }
      return loss.item();
    };

    const double first_loss = step();
    for (int i = 1; i < 5; ++i) step();
    const TapeStats warm = tape_stats();
    const uint64_t allocs_after_warmup = memory_stats().system_allocs;
    CHECK(allocs_after_warmup > allocs_at_start);  // warm-up did need the system allocator
    CHECK(warm.nodes == 0);
    CHECK(nodes_during_step == 10);  // 4 leaf nodes + 6 op nodes while the loss is alive

    bool capacity_stable = true;
    bool tape_rewound = true;
    double last_loss = first_loss;
    for (int i = 5; i < 1000; ++i) {
      last_loss = step();
      const TapeStats s = tape_stats();
      capacity_stable = capacity_stable && s.node_capacity == warm.node_capacity &&
                        s.edge_capacity == warm.edge_capacity;
      tape_rewound = tape_rewound && s.nodes == 0;
    }
    CHECK(capacity_stable);
    CHECK(tape_rewound);
    CHECK(tape_stats().recorded == warm.recorded + 995 * (warm.recorded / 5));
    CHECK(memory_stats().system_allocs == allocs_after_warmup);
    INFO("loss " << first_loss << " -> " << last_loss);
    CHECK(last_loss < 0.05 * first_loss);
  });
}

TEST_CASE("engine: a loss kept until the next iteration replaces it does not grow the tape") {
  // `loss` outlives each iteration, so each iteration's graph is still alive when
  // the next one records above it, and dies only when `loss` is reassigned: its
  // dead nodes are stranded below live ones until the tape compacts them.
  Generator gen(3);
  Tensor w1 = uniform({8, 5}, -0.5, 0.5, gen).requires_grad_();
  Tensor w2 = uniform({3, 8}, -0.5, 0.5, gen).requires_grad_();
  const Tensor x = uniform({4, 5}, 0, 1, gen);
  const std::vector<int64_t> y{0, 1, 2, 1};
  auto step = [&] {
    return cross_entropy(matmul(tanh(matmul(x, w1, false, true)), w2, false, true), y);
  };
  const size_t nodes_before = tape_stats().nodes;
  Tensor loss;
  size_t most_nodes = 0;
  std::vector<double> w1_grad_kept, w1_grad_fresh;
  for (int i = 0; i < 2000; ++i) {
    loss = step();
    w1.set_grad(Tensor());
    loss.backward();
    most_nodes = std::max(most_nodes, tape_stats().nodes - nodes_before);
    // The work of a backward is that of its own graph, however long the run.
    CHECK(tape_stats().nodes_visited == 4);  // cross_entropy, matmul, tanh, matmul
  }
  w1_grad_kept = w1.grad().to_vector();
  // Compaction renumbered the live graph: the parameters still find their nodes.
  loss = Tensor();
  w1.set_grad(Tensor());
  step().backward();
  w1_grad_fresh = w1.grad().to_vector();
  CHECK(w1_grad_kept == w1_grad_fresh);
  // A graph has 7 nodes (5 ops, 2 leaves): live plus at most 64 dead awaiting compaction.
  CHECK(most_nodes <= 2 * 7 + 64);
  CHECK(tape_stats().nodes == nodes_before);
}
