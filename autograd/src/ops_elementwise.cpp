// Elementwise ops. Each forward is followed by its backward rule; the rules are
// written with differentiable ops so that a recorded backward pass gives
// second-order gradients. Masks that are locally constant (relu, abs, clamp,
// maximum) are computed as plain tensors outside the graph.
#include <cmath>
#include <type_traits>

#include "fast_math.hpp"
#include "kernels.hpp"
#include "tape.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

namespace {
Node* record(OpKind op, std::initializer_list<const Tensor*> inputs, Tensor& out) {
  return Tape::current().record(op, inputs, out);
}
Tensor constant_like(const Tensor& like, double value) {
  return scalar_tensor(value, like.dtype());
}
}  // namespace

// ---- add / sub ----
Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("add", a, b, [](auto u, auto v) { return u + v; });
  record(OpKind::add, {&a, &b}, out);
  return out;
}
void backward_add(BackwardContext& c) {
  c.set_grad(0, c.grad());
  c.set_grad(1, c.grad());
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("sub", a, b, [](auto u, auto v) { return u - v; });
  record(OpKind::sub, {&a, &b}, out);
  return out;
}
void backward_sub(BackwardContext& c) {
  c.set_grad(0, c.grad());
  if (c.needs_grad(1)) c.set_grad(1, neg(c.grad()));
}

// ---- mul / div ----
Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("mul", a, b, [](auto u, auto v) { return u * v; });
  if (Node* n = record(OpKind::mul, {&a, &b}, out)) {
    save_input(n, 0, a);
    save_input(n, 1, b);
  }
  return out;
}
void backward_mul(BackwardContext& c) {
  if (c.needs_grad(0)) c.set_grad(0, mul(c.grad(), c.saved(1)));
  if (c.needs_grad(1)) c.set_grad(1, mul(c.grad(), c.saved(0)));
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("div", a, b, [](auto u, auto v) { return u / v; });
  if (Node* n = record(OpKind::div, {&a, &b}, out)) {
    save_input(n, 0, a);
    save_input(n, 1, b);
  }
  return out;
}
void backward_div(BackwardContext& c) {
  const Tensor b = c.saved(1);
  if (c.needs_grad(0)) c.set_grad(0, div(c.grad(), b));
  // d(a/b)/db = -a / b^2
  if (c.needs_grad(1)) c.set_grad(1, neg(div(mul(c.grad(), c.saved(0)), square(b))));
}

// ---- pow ----
Tensor pow(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("pow", a, b, [](auto u, auto v) { return std::pow(u, v); });
  if (Node* n = record(OpKind::pow, {&a, &b}, out)) {
    save_input(n, 0, a);
    save_input(n, 1, b);
    save_output(n, 2, out);
  }
  return out;
}
void backward_pow(BackwardContext& c) {
  const Tensor a = c.saved(0);
  const Tensor b = c.saved(1);
  if (c.needs_grad(0)) c.set_grad(0, mul(mul(c.grad(), b), pow(a, sub(b, 1.0))));
  if (c.needs_grad(1)) {
    // d(a^b)/db = a^b log(a), taken as 0 where a <= 0 (log undefined there).
    const Tensor positive = greater(a, constant_like(a, 0.0));
    const Tensor safe_log = log(where(positive, a, constant_like(a, 1.0)));
    c.set_grad(1, mul(mul(c.grad(), c.saved(2)), where(positive, safe_log, constant_like(a, 0.0))));
  }
}

// ---- maximum / minimum ----
namespace {
// Share of the gradient that goes to `a`: 1 where a wins, 1/2 on ties, 0 otherwise.
Tensor winner_weight(const Tensor& a, const Tensor& b, bool larger) {
  return map_binary("maximum", a, b, [larger](auto u, auto v) {
    using T = decltype(u);
    if (u == v) return T(0.5);
    return (larger ? u > v : u < v) ? T(1) : T(0);
  });
}
void backward_extremum(BackwardContext& c, bool larger) {
  const Tensor wa = winner_weight(c.saved(0), c.saved(1), larger);
  if (c.needs_grad(0)) c.set_grad(0, mul(c.grad(), wa));
  if (c.needs_grad(1)) c.set_grad(1, mul(c.grad(), sub(1.0, wa)));
}
}  // namespace

Tensor maximum(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("maximum", a, b, [](auto u, auto v) { return u < v ? v : u; });
  if (Node* n = record(OpKind::maximum, {&a, &b}, out)) {
    save_input(n, 0, a.detach());
    save_input(n, 1, b.detach());
  }
  return out;
}
void backward_maximum(BackwardContext& c) { backward_extremum(c, true); }

Tensor minimum(const Tensor& a, const Tensor& b) {
  Tensor out = map_binary("minimum", a, b, [](auto u, auto v) { return v < u ? v : u; });
  if (Node* n = record(OpKind::minimum, {&a, &b}, out)) {
    save_input(n, 0, a.detach());
    save_input(n, 1, b.detach());
  }
  return out;
}
void backward_minimum(BackwardContext& c) { backward_extremum(c, false); }

// ---- where ----
Tensor where(const Tensor& mask, const Tensor& a, const Tensor& b) {
  require_same_dtype("where", a, b);
  require_same_dtype("where", mask, a);
  const Shape shape =
      broadcast_shapes(mask.shape(), broadcast_shapes(a.shape(), b.shape(), "where"), "where");
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch(a.dtype(), [&]<typename T>() {
    const T* pm = mask.data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* po = out.data<T>();
    const std::array<kernels::Strides, 3> strides{kernels::broadcast_strides(mask.shape(), shape),
                                                  kernels::broadcast_strides(a.shape(), shape),
                                                  kernels::broadcast_strides(b.shape(), shape)};
    kernels::for_each_run<3>(
        shape, strides, [&](const auto& off, int64_t o, int64_t count, const auto& st) {
          for (int64_t i = 0; i < count; ++i) {
            po[o + i] =
                pm[off[0] + i * st[0]] != T(0) ? pa[off[1] + i * st[1]] : pb[off[2] + i * st[2]];
          }
        });
  });
  // The mask takes no gradient: it is saved as a constant, not recorded as an input.
  if (Node* n = record(OpKind::where, {&a, &b}, out)) save_input(n, 0, mask.detach());
  return out;
}
void backward_where(BackwardContext& c) {
  const Tensor mask = c.saved(0);
  const Tensor zero = constant_like(c.grad(), 0.0);
  if (c.needs_grad(0)) c.set_grad(0, where(mask, c.grad(), zero));
  if (c.needs_grad(1)) c.set_grad(1, where(mask, zero, c.grad()));
}

// ---- scalar forms ----
Tensor add(const Tensor& a, double b) {
  Tensor out = map_unary("add", a, [b](auto u) { return u + static_cast<decltype(u)>(b); });
  if (Node* n = record(OpKind::add_scalar, {&a}, out)) n->attrs.scalar[0] = b;
  return out;
}
void backward_add_scalar(BackwardContext& c) { c.set_grad(0, c.grad()); }

Tensor mul(const Tensor& a, double b) {
  Tensor out = map_unary("mul", a, [b](auto u) { return u * static_cast<decltype(u)>(b); });
  if (Node* n = record(OpKind::mul_scalar, {&a}, out)) n->attrs.scalar[0] = b;
  return out;
}
void backward_mul_scalar(BackwardContext& c) { c.set_grad(0, mul(c.grad(), c.attrs().scalar[0])); }

Tensor sub(const Tensor& a, double b) { return add(a, -b); }
Tensor sub(double a, const Tensor& b) { return add(neg(b), a); }
Tensor div(const Tensor& a, double b) { return mul(a, 1.0 / b); }
Tensor div(double a, const Tensor& b) { return mul(reciprocal(b), a); }

Tensor pow(const Tensor& a, double exponent) {
  Tensor out = map_unary(
      "pow", a, [exponent](auto u) { return std::pow(u, static_cast<decltype(u)>(exponent)); });
  if (Node* n = record(OpKind::pow_scalar, {&a}, out)) {
    save_input(n, 0, a);
    n->attrs.scalar[0] = exponent;
  }
  return out;
}
void backward_pow_scalar(BackwardContext& c) {
  const double e = c.attrs().scalar[0];
  if (e == 0.0) {
    c.set_grad(0, zeros_like(c.grad()));
  } else {
    c.set_grad(0, mul(mul(c.grad(), pow(c.saved(0), e - 1.0)), e));
  }
}

Tensor pow(double base, const Tensor& exponent) {
  if (!(base > 0.0)) fail("pow: a scalar base must be positive, got {}", base);
  return exp(mul(exponent, std::log(base)));
}
Tensor maximum(const Tensor& a, double b) { return maximum(a, scalar_tensor(b, a.dtype())); }
Tensor minimum(const Tensor& a, double b) { return minimum(a, scalar_tensor(b, a.dtype())); }

// ---- unary ----
Tensor neg(const Tensor& x) {
  Tensor out = map_unary("neg", x, [](auto u) { return -u; });
  record(OpKind::neg, {&x}, out);
  return out;
}
void backward_neg(BackwardContext& c) { c.set_grad(0, neg(c.grad())); }

Tensor exp(const Tensor& x) {
  Tensor out = map_unary("exp", x, [](auto u) { return std::exp(u); });
  if (Node* n = record(OpKind::exp, {&x}, out)) save_output(n, 0, out);
  return out;
}
void backward_exp(BackwardContext& c) { c.set_grad(0, mul(c.grad(), c.saved(0))); }

Tensor log(const Tensor& x) {
  Tensor out = map_unary("log", x, [](auto u) { return std::log(u); });
  if (Node* n = record(OpKind::log, {&x}, out)) save_input(n, 0, x);
  return out;
}
void backward_log(BackwardContext& c) { c.set_grad(0, div(c.grad(), c.saved(0))); }

Tensor sqrt(const Tensor& x) {
  Tensor out = map_unary("sqrt", x, [](auto u) { return std::sqrt(u); });
  if (Node* n = record(OpKind::sqrt, {&x}, out)) save_output(n, 0, out);
  return out;
}
void backward_sqrt(BackwardContext& c) { c.set_grad(0, div(c.grad(), mul(c.saved(0), 2.0))); }

Tensor abs(const Tensor& x) {
  Tensor out = map_unary("abs", x, [](auto u) { return std::abs(u); });
  if (Node* n = record(OpKind::abs, {&x}, out)) save_input(n, 0, x.detach());
  return out;
}
void backward_abs(BackwardContext& c) {
  const Tensor sign = map_unary("abs", c.saved(0), [](auto u) {
    using T = decltype(u);
    return u > T(0) ? T(1) : (u < T(0) ? T(-1) : T(0));
  });
  c.set_grad(0, mul(c.grad(), sign));
}

Tensor square(const Tensor& x) {
  Tensor out = map_unary("square", x, [](auto u) { return u * u; });
  if (Node* n = record(OpKind::square, {&x}, out)) save_input(n, 0, x);
  return out;
}
void backward_square(BackwardContext& c) { c.set_grad(0, mul(c.grad(), mul(c.saved(0), 2.0))); }

Tensor reciprocal(const Tensor& x) {
  Tensor out = map_unary("reciprocal", x, [](auto u) { return decltype(u)(1) / u; });
  if (Node* n = record(OpKind::reciprocal, {&x}, out)) save_output(n, 0, out);
  return out;
}
void backward_reciprocal(BackwardContext& c) {
  c.set_grad(0, neg(mul(c.grad(), square(c.saved(0)))));
}

Tensor clamp(const Tensor& x, double low, double high) {
  if (!(low <= high)) fail("clamp: low ({}) must not exceed high ({})", low, high);
  Tensor out = map_unary("clamp", x, [low, high](auto u) {
    using T = decltype(u);
    return u < T(low) ? T(low) : (u > T(high) ? T(high) : u);
  });
  if (Node* n = record(OpKind::clamp, {&x}, out)) {
    save_input(n, 0, x.detach());
    n->attrs.scalar = {low, high};
  }
  return out;
}
void backward_clamp(BackwardContext& c) {
  const double low = c.attrs().scalar[0], high = c.attrs().scalar[1];
  const Tensor inside = map_unary("clamp", c.saved(0), [low, high](auto u) {
    using T = decltype(u);
    return (u >= T(low) && u <= T(high)) ? T(1) : T(0);
  });
  c.set_grad(0, mul(c.grad(), inside));
}

Tensor sigmoid(const Tensor& x) {
  require_defined("sigmoid", x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    if constexpr (std::is_same_v<T, float>) {
      fast_math::sigmoid(x.data<float>(), out.data<float>(), x.numel());
    } else {
      kernels::unary(x.data<T>(), out.data<T>(), x.numel(), [](T u) {
        // Split by sign so that exp never overflows.
        if (u >= T(0)) return T(1) / (T(1) + std::exp(-u));
        const T e = std::exp(u);
        return e / (T(1) + e);
      });
    }
  });
  if (Node* n = record(OpKind::sigmoid, {&x}, out)) save_output(n, 0, out);
  return out;
}
void backward_sigmoid(BackwardContext& c) { c.set_grad(0, sigmoid_backward(c.grad(), c.saved(0))); }

Tensor tanh(const Tensor& x) {
  Tensor out = map_unary("tanh", x, [](auto u) { return std::tanh(u); });
  if (Node* n = record(OpKind::tanh, {&x}, out)) save_output(n, 0, out);
  return out;
}
void backward_tanh(BackwardContext& c) { c.set_grad(0, tanh_backward(c.grad(), c.saved(0))); }

Tensor relu(const Tensor& x) {
  Tensor out = map_unary("relu", x, [](auto u) { return u > decltype(u)(0) ? u : decltype(u)(0); });
  if (Node* n = record(OpKind::relu, {&x}, out)) save_input(n, 0, x.detach());
  return out;
}
void backward_relu(BackwardContext& c) {
  const Tensor active = map_unary("relu", c.saved(0), [](auto u) {
    using T = decltype(u);
    return u > T(0) ? T(1) : T(0);
  });
  c.set_grad(0, mul(c.grad(), active));
}

Tensor leaky_relu(const Tensor& x, double negative_slope) {
  Tensor out = map_unary("leaky_relu", x, [negative_slope](auto u) {
    using T = decltype(u);
    return u > T(0) ? u : u * T(negative_slope);
  });
  if (Node* n = record(OpKind::leaky_relu, {&x}, out)) {
    save_input(n, 0, x.detach());
    n->attrs.scalar[0] = negative_slope;
  }
  return out;
}
void backward_leaky_relu(BackwardContext& c) {
  const double slope = c.attrs().scalar[0];
  const Tensor factor = map_unary("leaky_relu", c.saved(0), [slope](auto u) {
    using T = decltype(u);
    return u > T(0) ? T(1) : T(slope);
  });
  c.set_grad(0, mul(c.grad(), factor));
}

Tensor softplus(const Tensor& x) {
  Tensor out = map_unary("softplus", x, [](auto u) {
    using T = decltype(u);
    return (u > T(0) ? u : T(0)) + std::log1p(std::exp(-std::abs(u)));
  });
  if (Node* n = record(OpKind::softplus, {&x}, out)) save_input(n, 0, x);
  return out;
}
void backward_softplus(BackwardContext& c) { c.set_grad(0, mul(c.grad(), sigmoid(c.saved(0)))); }

// ---- derivative kernels ----
Tensor sigmoid_backward(const Tensor& grad, const Tensor& y) {
  Tensor out = map_binary("sigmoid_backward", grad, y,
                          [](auto g, auto s) { return g * s * (decltype(s)(1) - s); });
  if (Node* n = record(OpKind::sigmoid_backward, {&grad, &y}, out)) {
    save_input(n, 0, grad);
    save_input(n, 1, y);
  }
  return out;
}
void backward_sigmoid_backward(BackwardContext& c) {
  const Tensor g = c.saved(0), y = c.saved(1);
  if (c.needs_grad(0)) c.set_grad(0, sigmoid_backward(c.grad(), y));
  // d/dy [g y (1 - y)] = g (1 - 2y)
  if (c.needs_grad(1)) c.set_grad(1, mul(mul(c.grad(), g), add(mul(y, -2.0), 1.0)));
}

Tensor tanh_backward(const Tensor& grad, const Tensor& y) {
  Tensor out = map_binary("tanh_backward", grad, y,
                          [](auto g, auto t) { return g * (decltype(t)(1) - t * t); });
  if (Node* n = record(OpKind::tanh_backward, {&grad, &y}, out)) {
    save_input(n, 0, grad);
    save_input(n, 1, y);
  }
  return out;
}
void backward_tanh_backward(BackwardContext& c) {
  const Tensor g = c.saved(0), y = c.saved(1);
  if (c.needs_grad(0)) c.set_grad(0, tanh_backward(c.grad(), y));
  // d/dy [g (1 - y^2)] = -2 g y
  if (c.needs_grad(1)) c.set_grad(1, mul(mul(c.grad(), g), mul(y, -2.0)));
}

// ---- comparisons (not recorded) ----
Tensor greater(const Tensor& a, const Tensor& b) {
  notify_untracked_read("greater", a);
  notify_untracked_read("greater", b);
  return map_binary("greater", a, b,
                    [](auto u, auto v) { return u > v ? decltype(u)(1) : decltype(u)(0); });
}
Tensor less(const Tensor& a, const Tensor& b) {
  notify_untracked_read("less", a);
  notify_untracked_read("less", b);
  return map_binary("less", a, b,
                    [](auto u, auto v) { return u < v ? decltype(u)(1) : decltype(u)(0); });
}
Tensor equal(const Tensor& a, const Tensor& b) {
  notify_untracked_read("equal", a);
  notify_untracked_read("equal", b);
  return map_binary("equal", a, b,
                    [](auto u, auto v) { return u == v ? decltype(u)(1) : decltype(u)(0); });
}

}  // namespace tapegrad
