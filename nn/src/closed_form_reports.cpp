// What each report derives for its own output layer and loss, in its own notation:
// the gradient of the batch-mean loss with respect to the last pre-activation. The
// layers below share one recursion (backpropagate in closed_form.cpp, whose comment
// maps it to each report's equations). Sizes, activations and losses are the
// reports'; equation numbers are those of the text in ../shared/reports/.
#include <array>
#include <cmath>

#include "closed_form_detail.hpp"

namespace tapegrad::nn::closed_form_detail {

namespace {

// ---- 000: Hamiltonian (Euler-Lagrange) form, softmax output, categorical cross-entropy ----
// H = L(x^K, y) + sum_k (lambda^{k+1})^T [-x^{k+1} + g_k(W^k x^k)]      (eq. 3)
// with x^K = p = g_{K-1}(W^{K-1} x^{K-1}) the softmax (eq. 10) and
// L(y, p) = -sum_i y_i log p_i (eq. 1). tapegrad keeps the softmax inside its
// cross-entropy loss, so the model's last Linear gives z = W^{K-1} x^{K-1} and the
// softmax is applied here. The batch loss is the mean of eq. (1) over the N samples.
Matrix output_delta_000(const Forward& f, const Matrix& y) {
  const Matrix& z = f.a.back();  // W^{K-1} x^{K-1}, one sample per row
  const Matrix g = softmax_rows(z);
  const int64_t n_samples = z.rows, m = z.cols;
  Matrix delta(n_samples, m);
  std::vector<double> lambda(static_cast<size_t>(m));
  for (int64_t n = 0; n < n_samples; ++n) {
    // Eq. (4), corrected: lambda^K = grad_{x^K} L = (-y_i / p_i)_i, divided by N for the
    // batch mean. The report printed -y_i / x_i^2; the derivative of -y log p is -y / p.
    for (int64_t i = 0; i < m; ++i) {
      lambda[static_cast<size_t>(i)] = y(n, i) == 0 ? 0.0 : -y(n, i) / g(n, i) / n_samples;
    }
    // Eqs. (12)-(15): the softmax is not elementwise, so (lambda^K)^T dg/dz with the full
    // Jacobian dg^i/dz_j = g_i (delta_ij - g_j) (eq. 14) replaces Lambda^K g'(.) of eq. (6):
    // dH/dz_j = sum_i lambda_i g_i (delta_ij - g_j). Eq. (15) then takes x^{K-1}_j times this
    // for w^{K-1}_ij, which the shared recursion does.
    for (int64_t j = 0; j < m; ++j) {
      double s = 0;
      for (int64_t i = 0; i < m; ++i) {
        s += lambda[static_cast<size_t>(i)] * g(n, i) * ((i == j ? 1.0 : 0.0) - g(n, j));
      }
      delta(n, j) = s;
    }
  }
  return delta;
}

// ---- 001: PyTorch's Linear -> Sigmoid -> ... -> Linear -> LogSoftmax, NLLLoss ----
// The report's backpropagation is the chain rule node by node (its f = (x + y) z
// example: each node multiplies the incoming gradient by its local derivative), as
// PyTorch's autograd runs it on this Sequential. The output nodes:
Matrix output_delta_001(const Forward& f, const Matrix& y) {
  const Matrix& o = f.x.back();  // LogSoftmax(z)_i = log(exp(z_i) / sum_j exp(z_j))
  const int64_t n_samples = o.rows, classes = o.cols;
  Matrix delta(n_samples, classes);
  for (int64_t n = 0; n < n_samples; ++n) {
    // NLLLoss (mean reduction): L = -(1/N) sum_n o[n, target_n], so dL/do = -y / N.
    // LogSoftmax: do_i/dz_j = delta_ij - exp(o_j), so dL/dz_j = dL/do_j - exp(o_j) sum_i dL/do_i.
    double total = 0;
    for (int64_t i = 0; i < classes; ++i) total += -y(n, i) / n_samples;
    for (int64_t j = 0; j < classes; ++j) {
      delta(n, j) = -y(n, j) / n_samples - std::exp(o(n, j)) * total;
    }
  }
  return delta;
}

// ---- 002: sigmoid outputs with per-output binary cross-entropy ----
// y_hat = sigma(W^T x + B), L_y(y_hat) = sum_k (-y_k ln y_hat_k - (1 - y_k) ln(1 - y_hat_k))
// (the report's third loss line; its first line drops the minus on y ln y_hat). With
// L~_y(u) = L_y(sigma(u)): dL~/du_j = (-y_j / sigma(u_j) + (1 - y_j) / (1 - sigma(u_j)))
// sigma(u_j)(1 - sigma(u_j)) = y_hat_j - y_j = delta. nn::bce_loss averages over the batch
// AND the K outputs, so delta / (N K); this is G at line 4 of Fig. 1 for k = K.
Matrix output_delta_002(const Forward& f, const Matrix& y) {
  const Matrix& y_hat = f.x.back();
  const double count = static_cast<double>(y_hat.rows * y_hat.cols);
  Matrix delta(y_hat.rows, y_hat.cols);
  for (size_t i = 0; i < delta.v.size(); ++i) delta.v[i] = (y_hat.v[i] - y.v[i]) / count;
  return delta;
}

// ---- 003: softmax outputs with cross-entropy, gradients averaged over the batch ----
// E = -(1/N) sum_n sum_k t_k^n ln y_k^n with y^n = softmax(a^n). The output deltas are
// y_k - t_k (the softmax and the cross-entropy cancel), and the report found it
// "needed to divide our gradient by the batch size": delta = (y - t) / N.
Matrix output_delta_003(const Forward& f, const Matrix& t) {
  Matrix delta = softmax_rows(f.a.back());
  for (size_t i = 0; i < delta.v.size(); ++i) delta.v[i] = (delta.v[i] - t.v[i]) / t.rows;
  return delta;
}

// ---- 004: sigmoid everywhere, no biases, squared error ----
// Y = sigma(Z W) at every layer; s(Y) = Y ⊙ (1 - Y) stands for sigma'(Y~) (eq. 1). The
// loss is nn::mse_loss, the mean over batch and outputs of (Y - T)^2 (the report's
// squared error differentiates to "simply a subtraction", its 1/2 convention): here
// dL/dY = 2 (Y - T) / (N K), and eq. (5b) at the output layer gives
// dL/dY~ = dL/dY ⊙ s(Y).
Matrix output_delta_004(const Forward& f, const Matrix& t) {
  const Matrix& Y = f.x.back();
  const Matrix s = activation_derivative(Activation::sigmoid, f.a.back(), Y);
  const double count = static_cast<double>(Y.rows * Y.cols);
  Matrix delta(Y.rows, Y.cols);
  for (size_t i = 0; i < delta.v.size(); ++i) delta.v[i] = 2 * (Y.v[i] - t.v[i]) / count * s.v[i];
  return delta;
}

}  // namespace

std::span<const ReportRule> report_rules() {
  using A = Activation;
  static const std::array<ReportRule, 5> rules{
      // x_{k+1} = g_k(W_k x_k) (eq. 2) has no bias; a bias is accepted (a weight on a
      // constant input, the same recursion). Hidden g_k: sigmoid (eq. 8) or ReLU (eq. 7).
      ReportRule{.network = {.id = "000",
                             .title = "Homework 5: Backpropagation",
                             .spec = {.sizes = {784, 128, 10}, .head = A::identity, .bias = false},
                             .loss = LossKind::cross_entropy},
                 .hidden = {A::sigmoid, A::relu},
                 .output_delta = output_delta_000},
      // PyTorch's Sequential as the report prints it (bias=True); Sigmoid, ReLU or Tanh.
      ReportRule{.network = {.id = "001",
                             .title = "Assignment 5: Backpropagation",
                             .spec = {.sizes = {784, 128, 10}, .head = A::log_softmax},
                             .loss = LossKind::nll},
                 .hidden = {A::sigmoid, A::relu, A::tanh},
                 .output_delta = output_delta_001},
      // y_hat = sigma(W^T x + B); Fig. 1's g'(a^(k)) covers any elementwise activation.
      ReportRule{.network = {.id = "002",
                             .title = "An Examination of Backpropagation",
                             .spec = {.sizes = {784, 20, 10}, .head = A::sigmoid},
                             .loss = LossKind::bce},
                 .hidden = {A::sigmoid, A::tanh, A::relu},
                 .output_delta = output_delta_002},
      // Tanh hidden by default, also sigmoid and ReLU; its best model (45.5%) used L1 with
      // lambda = 1e-2.
      ReportRule{
          .network = {.id = "003",
                      .title =
                          "Backpropagation for Multi-Layer Neural Networks With Softmax Outputs",
                      .spec = {.sizes = {3072, 128, 10}, .hidden = A::tanh, .head = A::identity},
                      .loss = LossKind::cross_entropy,
                      .l1 = 1e-2},
          .hidden = {A::tanh, A::sigmoid, A::relu},
          .output_delta = output_delta_003},
      // Two hidden layers of 3, sigmoid everywhere (s(y) = y (1 - y) needs it), no biases.
      ReportRule{.network = {.id = "004",
                             .title = "Lab1",
                             .spec = {.sizes = {2, 3, 3, 1}, .head = A::sigmoid, .bias = false},
                             .loss = LossKind::mse},
                 .hidden = {A::sigmoid},
                 .bias_allowed = false,
                 .output_delta = output_delta_004},
  };
  return rules;
}

}  // namespace tapegrad::nn::closed_form_detail
