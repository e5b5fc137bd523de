// Internals of the reports' closed forms (closed_form.cpp: the shared layer maths;
// closed_form_reports.cpp: what each report derives on its own).
#pragma once

#include <span>
#include <string>
#include <vector>

#include "tapegrad/nn/closed_form.hpp"

namespace tapegrad::nn::closed_form_detail {

// A row-major matrix of doubles; a batch holds one sample per row, so the reports'
// column vectors x^k are its rows.
struct Matrix {
  int64_t rows = 0, cols = 0;
  std::vector<double> v;

  Matrix() = default;
  Matrix(int64_t r, int64_t c) : rows(r), cols(c), v(static_cast<size_t>(r * c), 0.0) {}
  double& operator()(int64_t r, int64_t c) { return v[static_cast<size_t>(r * cols + c)]; }
  double operator()(int64_t r, int64_t c) const { return v[static_cast<size_t>(r * cols + c)]; }
};

// The values of a forward pass through the model's Linear layers k = 0 .. K-1:
//   a[k] = x[k] W_k^T + b_k   (000's W^k x^k, 002's a^(k+1), 004's Y~)
//   x[k+1] = g_k(a[k])        (000's x^{k+1}, 002's h^(k+1), 004's Y; x[K] is the model output)
struct Forward {
  std::vector<Matrix> x;
  std::vector<Matrix> a;
};

// log sum_j exp z(row, j), shifted by the row's maximum so that it cannot overflow.
double log_sum_exp(const Matrix& z, int64_t row);
// The softmax of each row: p_i = exp(z_i) / sum_j exp(z_j) (000's eq. (10)).
Matrix softmax_rows(const Matrix& z);
// g'(a) of an elementwise activation, written with its output y = g(a) where it can
// be: sigmoid s(y) = y (1 - y) (000 eq. (8), 004 eq. (1)), tanh 1 - y^2, ReLU
// 1 for a > 0 and 0 for a <= 0 (000 eq. (7)).
Matrix activation_derivative(Activation g, const Matrix& a, const Matrix& y);

// What a report derives for its output layer: dL/da[K-1], the gradient of the
// batch-mean loss with respect to the last pre-activation, from the forward pass and
// the targets (one-hot rows, or the 0/1 label itself for a single output).
using OutputDelta = Matrix (*)(const Forward& forward, const Matrix& targets);

struct ReportRule {
  ReportNetwork network;
  std::vector<Activation> hidden;  // the hidden activations the report's derivation covers
  bool bias_allowed = true;        // false: the report's network has no biases
  OutputDelta output_delta = nullptr;
};

// The five reports, in id order (closed_form_reports.cpp).
std::span<const ReportRule> report_rules();

}  // namespace tapegrad::nn::closed_form_detail
