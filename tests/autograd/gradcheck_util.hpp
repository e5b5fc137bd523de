// Finite-difference gradient checking, for the tests only (not part of the library).
//
// A function under test maps a list of input tensors to one output tensor. Its
// gradient is checked through the scalar <f(x), w> for a random w of the output's
// shape: the analytic side comes from tapegrad::grad(), the numerical side from
// central differences, one input element at a time. Second order is checked through
// Hessian-vector products: differentiate <grad_x <f(x), w>, v> again and compare with
// central differences of the first-order gradient along v.
//
// Deliberately simple and independent of the library's checker (gradcheck.hpp),
// whose own tests compare against the same op table (namespace fdcheck, so as
// not to clash with tapegrad::gradcheck()).
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "tapegrad/autograd.hpp"

namespace tapegrad::fdcheck {

using Inputs = std::vector<Tensor>;
using Fn = std::function<Tensor(const Inputs&)>;

// A power of two near 1e-6: x +- kStep is exact for inputs that are multiples of
// 1/64 (even in f32), and the central-difference error is ~1e-10 in f64.
inline constexpr double kStep = 0x1p-20;

// |actual - expected| <= abs + rel * |expected|, elementwise.
struct Tolerance {
  double rel = 1e-6;
  double abs = 1e-7;
};

// A graph-free copy of t's values in `dtype`.
inline Tensor copy_as(const Tensor& t, DType dtype) {
  const std::vector<double> v = t.to_vector();
  return from_data(std::span<const double>(v), t.shape(), dtype);
}

// A fresh leaf with t's values and dtype that requires grad.
inline Tensor make_leaf(const Tensor& t) {
  Tensor leaf = copy_as(t, t.dtype());
  leaf.requires_grad_();
  return leaf;
}

inline Inputs make_leaves(const Inputs& xs) {
  Inputs leaves;
  leaves.reserve(xs.size());
  for (const Tensor& x : xs) leaves.push_back(make_leaf(x));
  return leaves;
}

// sum(a * b) in double, whatever the dtypes.
inline double dot(const Tensor& a, const Tensor& b) {
  const std::vector<double> va = a.to_vector(), vb = b.to_vector();
  if (va.size() != vb.size()) fail("gradcheck dot: {} vs {} elements", va.size(), vb.size());
  double total = 0;
  for (size_t i = 0; i < va.size(); ++i) total += va[i] * vb[i];
  return total;
}

// f(xs) with nothing recorded.
inline Tensor evaluate(const Fn& f, const Inputs& xs) {
  NoGradGuard no_grad;
  return f(xs);
}

// xs[i] + eps * dirs[i] for every input, computed in double, stored in each input's dtype.
inline Inputs shifted(const Inputs& xs, const Inputs& dirs, double eps) {
  Inputs out;
  out.reserve(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    std::vector<double> v = xs[i].to_vector();
    const std::vector<double> d = dirs[i].to_vector();
    for (size_t k = 0; k < v.size(); ++k) v[k] += eps * d[k];
    out.push_back(from_data(std::span<const double>(v), xs[i].shape(), xs[i].dtype()));
  }
  return out;
}

// Central differences of x -> <f(x), w>: one vector of partial derivatives per input.
inline std::vector<std::vector<double>> numerical_gradient(const Fn& f, const Inputs& xs,
                                                           const Tensor& w, double step = kStep) {
  std::vector<std::vector<double>> result(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::vector<double> base = xs[i].to_vector();
    result[i].resize(base.size());
    for (size_t k = 0; k < base.size(); ++k) {
      auto value_at = [&](double x) {
        std::vector<double> v = base;
        v[k] = x;
        Inputs moved = xs;
        moved[i] = from_data(std::span<const double>(v), xs[i].shape(), xs[i].dtype());
        return dot(evaluate(f, moved), w);
      };
      result[i][k] = (value_at(base[k] + step) - value_at(base[k] - step)) / (2 * step);
    }
  }
  return result;
}

// tapegrad::grad() of <f(x), w> with respect to every input (w passed as grad_output).
inline Inputs analytic_gradient(const Fn& f, const Inputs& xs, const Tensor& w) {
  const Inputs leaves = make_leaves(xs);
  const Tensor out = f(leaves);
  return grad({out}, leaves, {w});
}

struct SecondOrder {
  // d/dx <grad_x <f(x), w>, v>: the Hessian of <f, w> times v, one tensor per input.
  Inputs hvp;
  // d/dw <grad_x <f(x), w>, v> = J_f(x) v: differentiates the recorded backward rule
  // with respect to its incoming gradient (non-trivial even for linear ops).
  Tensor jvp;
};

// Differentiates the gradient computed with create_graph=true a second time.
inline SecondOrder analytic_second_order(const Fn& f, const Inputs& xs, const Tensor& w,
                                         const Inputs& vs) {
  const Inputs leaves = make_leaves(xs);
  const Tensor w_leaf = make_leaf(w);
  const Tensor out = f(leaves);
  GradOptions options;
  options.create_graph = true;
  // create_graph implies retain_graph (as in PyTorch): the recorded backward refers back
  // to forward nodes, which must survive this pass for the second grad().
  const Inputs g = grad({out}, leaves, {w_leaf}, options);
  Tensor s;
  for (size_t i = 0; i < g.size(); ++i) {
    const Tensor term = sum(mul(g[i], vs[i]));
    s = s.defined() ? add(s, term) : term;
  }
  Inputs wrt = leaves;
  wrt.push_back(w_leaf);
  Inputs h;
  if (s.requires_grad()) {
    h = grad({s}, wrt);
  } else {
    // The gradient does not depend on x or w at all (e.g. x ** 0): both products are 0.
    for (const Tensor& t : wrt) h.push_back(zeros_like(t));
  }
  SecondOrder r;
  r.jvp = h.back();
  h.pop_back();
  r.hvp = std::move(h);
  return r;
}

// Central differences of the first-order gradient along vs: the Hessian-vector product.
inline std::vector<std::vector<double>> numerical_hvp(const Fn& f, const Inputs& xs,
                                                      const Tensor& w, const Inputs& vs,
                                                      double step = kStep) {
  const Inputs plus = analytic_gradient(f, shifted(xs, vs, step), w);
  const Inputs minus = analytic_gradient(f, shifted(xs, vs, -step), w);
  std::vector<std::vector<double>> result(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) {
    const std::vector<double> p = plus[i].to_vector(), m = minus[i].to_vector();
    result[i].resize(p.size());
    for (size_t k = 0; k < p.size(); ++k) result[i][k] = (p[k] - m[k]) / (2 * step);
  }
  return result;
}

// Central differences of f along vs: the Jacobian-vector product.
inline std::vector<double> numerical_jvp(const Fn& f, const Inputs& xs, const Inputs& vs,
                                         double step = kStep) {
  const std::vector<double> p = evaluate(f, shifted(xs, vs, step)).to_vector();
  const std::vector<double> m = evaluate(f, shifted(xs, vs, -step)).to_vector();
  std::vector<double> result(p.size());
  for (size_t k = 0; k < p.size(); ++k) result[k] = (p[k] - m[k]) / (2 * step);
  return result;
}

struct Comparison {
  bool ok = true;
  double max_error = 0;  // largest |actual - expected|
  std::string detail;    // the first element out of tolerance
};

inline Comparison compare(const std::vector<double>& actual, const std::vector<double>& expected,
                          Tolerance tol) {
  Comparison c;
  if (actual.size() != expected.size()) {
    c.ok = false;
    c.detail = fmt::format("{} values, expected {}", actual.size(), expected.size());
    return c;
  }
  for (size_t k = 0; k < actual.size(); ++k) {
    const double error = std::abs(actual[k] - expected[k]);
    const double allowed = tol.abs + tol.rel * std::abs(expected[k]);
    if (!(error <= allowed)) {  // also catches NaN
      if (c.ok) {
        c.detail = fmt::format("element {}: got {:.12g}, expected {:.12g} (error {:.3g} > {:.3g})",
                               k, actual[k], expected[k], error, allowed);
      }
      c.ok = false;
    }
    if (!(error <= c.max_error)) c.max_error = error;
  }
  return c;
}

}  // namespace tapegrad::fdcheck
