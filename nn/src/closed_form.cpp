// The maths the five reports share: the forward pass, the layer recursion from the
// top pre-activation down, and the penalty gradients. Each report's own output-layer
// derivation is in closed_form_reports.cpp. Nothing here touches the tape: the
// parameters are read as doubles and every product is a plain loop.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "closed_form_detail.hpp"

namespace tapegrad::nn {

using closed_form_detail::Forward;
using closed_form_detail::Matrix;
using closed_form_detail::ReportRule;

namespace closed_form_detail {

double log_sum_exp(const Matrix& z, int64_t row) {
  double top = z(row, 0), total = 0;
  for (int64_t j = 1; j < z.cols; ++j) top = std::max(top, z(row, j));
  for (int64_t j = 0; j < z.cols; ++j) total += std::exp(z(row, j) - top);
  return top + std::log(total);
}

Matrix softmax_rows(const Matrix& z) {
  Matrix p(z.rows, z.cols);
  for (int64_t n = 0; n < z.rows; ++n) {
    const double lse = log_sum_exp(z, n);
    for (int64_t j = 0; j < z.cols; ++j) p(n, j) = std::exp(z(n, j) - lse);
  }
  return p;
}

Matrix activation_derivative(Activation g, const Matrix& a, const Matrix& y) {
  Matrix d(a.rows, a.cols);
  for (size_t i = 0; i < d.v.size(); ++i) {
    switch (g) {
      case Activation::sigmoid:
        d.v[i] = y.v[i] * (1 - y.v[i]);
        break;
      case Activation::tanh:
        d.v[i] = 1 - y.v[i] * y.v[i];
        break;
      case Activation::relu:
        d.v[i] = a.v[i] > 0 ? 1.0 : 0.0;
        break;
      default:
        fail("closed form: no elementwise derivative for {}", activation_name(g));
    }
  }
  return d;
}

}  // namespace closed_form_detail

namespace {

// One Linear layer of the model with the activation that follows it.
struct Layer {
  Matrix W;               // [out, in]: tapegrad's (and PyTorch's, and 000's W^k) layout
  std::vector<double> b;  // empty without bias
  Activation g = Activation::identity;
  const TensorImpl* weight = nullptr;  // identify the parameters when naming gradients
  const TensorImpl* bias = nullptr;
};

struct LayerGradients {
  Matrix dW;
  std::vector<double> db;
};

Matrix to_matrix(const Tensor& t, int64_t rows, int64_t cols) {
  Matrix m(rows, cols);
  m.v = t.to_vector();
  return m;
}

const ReportRule& find_rule(const std::string& id) {
  for (const ReportRule& rule : closed_form_detail::report_rules()) {
    if (rule.network.id == id) return rule;
  }
  fail("unknown report '{}': expected one of {}", id, fmt::join(report_ids(), ", "));
}

// "Sigmoid", "Sigmoid or ReLU", "Sigmoid, ReLU or Tanh".
std::string describe_activations(const std::vector<Activation>& kinds) {
  std::string out;
  for (size_t i = 0; i < kinds.size(); ++i) {
    if (i > 0) out += i + 1 == kinds.size() ? " or " : ", ";
    out += ActivationLayer(kinds[i]).describe();
  }
  return out;
}

// The report's network in words, for errors.
std::string describe_structure(const ReportRule& rule) {
  const MlpSpec& spec = rule.network.spec;
  const std::string head = spec.head == Activation::identity
                               ? "nothing (the logits go into the loss)"
                               : ActivationLayer(spec.head).describe();
  return fmt::format("Linear layers ({}), {} after each hidden one, {} after the last",
                     rule.bias_allowed ? "with or without bias" : "without bias",
                     describe_activations(rule.hidden), head);
}

// Reads the model's layers, checking them against the report's network.
std::vector<Layer> read_layers(const ReportRule& rule, Module& model) {
  const std::string& id = rule.network.id;
  auto mismatch = [&](const std::string& what) {
    fail(
        "closed form {}: the model does not match report {}'s network: {}; expected {}; build it "
        "with make_mlp(report_network(\"{}\").spec)",
        id, id, what, describe_structure(rule), id);
  };
  auto* seq = dynamic_cast<Sequential*>(&model);
  if (!seq) mismatch(fmt::format("it is {}, not a Sequential", model.describe()));
  std::vector<Layer> layers;
  for (size_t i = 0; i < seq->size(); ++i) {
    auto* linear = dynamic_cast<Linear*>(&(*seq)[i]);
    if (!linear)
      mismatch(fmt::format("module {} is {}, expected a Linear", i, (*seq)[i].describe()));
    if (linear->bias().defined() && !rule.bias_allowed) {
      mismatch(
          fmt::format("module {} is {}, the report's layers have no bias", i, linear->describe()));
    }
    if (!layers.empty() && layers.back().W.rows != linear->in_features()) {
      mismatch(fmt::format("module {} is {} after a layer of {} outputs", i, linear->describe(),
                           layers.back().W.rows));
    }
    Layer layer;
    layer.W = to_matrix(linear->weight(), linear->out_features(), linear->in_features());
    layer.weight = linear->weight().impl();
    if (linear->bias().defined()) {
      layer.b = linear->bias().to_vector();
      layer.bias = linear->bias().impl();
    }
    if (i + 1 < seq->size()) {
      if (auto* act = dynamic_cast<ActivationLayer*>(&(*seq)[i + 1])) {
        layer.g = act->kind();
        ++i;
      }
    }
    layers.push_back(std::move(layer));
  }
  if (layers.empty()) mismatch("it has no Linear layer");
  for (size_t k = 0; k < layers.size(); ++k) {
    const bool last = k + 1 == layers.size();
    const Activation g = layers[k].g;
    const std::string after = g == Activation::identity ? "nothing" : ActivationLayer(g).describe();
    if (last && g != rule.network.spec.head) {
      mismatch(fmt::format("the last Linear is followed by {}", after));
    }
    if (!last && std::find(rule.hidden.begin(), rule.hidden.end(), g) == rule.hidden.end()) {
      mismatch(fmt::format("hidden Linear {} is followed by {}", k, after));
    }
  }
  return layers;
}

Matrix apply(Activation g, const Matrix& a) {
  if (g == Activation::identity) return a;
  if (g == Activation::softmax) return closed_form_detail::softmax_rows(a);
  Matrix y(a.rows, a.cols);
  if (g == Activation::log_softmax) {  // log p_i = z_i - log sum_j exp z_j
    for (int64_t n = 0; n < a.rows; ++n) {
      const double lse = closed_form_detail::log_sum_exp(a, n);
      for (int64_t j = 0; j < a.cols; ++j) y(n, j) = a(n, j) - lse;
    }
    return y;
  }
  for (size_t i = 0; i < y.v.size(); ++i) {
    const double z = a.v[i];
    switch (g) {
      case Activation::sigmoid:
        y.v[i] = 1 / (1 + std::exp(-z));
        break;
      case Activation::tanh:
        y.v[i] = std::tanh(z);
        break;
      case Activation::relu:
        y.v[i] = z > 0 ? z : 0.0;
        break;
      default:
        fail("closed form: activation {} is not part of any report", activation_name(g));
    }
  }
  return y;
}

// x[k+1] = g_k(x[k] W_k^T + b_k), keeping every x[k] and a[k] for the backward recursion.
Forward forward(const std::vector<Layer>& layers, Matrix input) {
  Forward f;
  f.x.push_back(std::move(input));
  for (const Layer& layer : layers) {
    const Matrix& x = f.x.back();
    Matrix a(x.rows, layer.W.rows);
    for (int64_t n = 0; n < x.rows; ++n) {
      for (int64_t i = 0; i < layer.W.rows; ++i) {
        double s = layer.b.empty() ? 0.0 : layer.b[static_cast<size_t>(i)];
        for (int64_t j = 0; j < x.cols; ++j) s += layer.W(i, j) * x(n, j);
        a(n, i) = s;
      }
    }
    f.x.push_back(apply(layer.g, a));
    f.a.push_back(std::move(a));
  }
  return f;
}

// The layer recursion every report derives, from delta = dL/da[K-1] (the report's own
// output-layer derivation) down to the input. For layer k, with delta = dL/da[k]:
//   dL/dW_k = delta^T x[k]       [out, in]; dL/db_k = delta summed over the batch
//   dL/dx[k] = delta W_k          the gradient reaching the layer below's output
//   dL/da[k-1] = dL/dx[k] ⊙ g'_{k-1}(a[k-1])
// In the reports' notation (column vectors there, rows of a batch here):
//   000, eqs. (6) and (9): lambda^k = dL/dx^k, delta = Lambda^{k+1} g_k'(W^k x^k), so
//        dH/dw^k_ij = lambda^{k+1}_i x^k_j g_k'(w^k_i . x^k) = delta_i x^k_j and
//        lambda^k = (W^k)^T Lambda^{k+1} g_k'(W^k x^k) = (W^k)^T delta.
//   002, Fig. 1: G after line 4 is delta; line 5 grad_b = G, line 6 grad_W = G h^(k-1)^T
//        (its lambda grad Omega is added by add_penalties), line 7 G <- W^(k)^T G.
//   004, eqs. (5a) and (5b): Z = x[k], Y~ = a[k]; its W (n x m, Y = sigma(Z W)) is the
//        transpose of tapegrad's [out, in] weight, so its dL/dW = Z^T dL/dY~ becomes
//        (dL/dY~)^T Z = delta^T x[k] here, and dL/dZ~ = (dL/dY~ W^T) ⊙ s(Z) becomes
//        (delta W_k) ⊙ s(x[k]) with s(Z) = Z ⊙ (1 - Z).
//   001: the Linear node x W^T + b through the multiplication and summation rules of
//        its f = (x + y) z example; the Sigmoid/Tanh/ReLU nodes multiply by g'.
//   003: hidden deltas delta_j = g'(a_j) sum_k delta_k w_kj, weight gradient delta_j z_i.
std::vector<LayerGradients> backpropagate(const std::vector<Layer>& layers, const Forward& f,
                                          Matrix delta) {
  std::vector<LayerGradients> grads(layers.size());
  for (size_t k = layers.size(); k-- > 0;) {
    const Layer& layer = layers[k];
    const Matrix& x = f.x[k];
    LayerGradients& out = grads[k];
    out.dW = Matrix(layer.W.rows, layer.W.cols);
    for (int64_t n = 0; n < x.rows; ++n) {
      for (int64_t i = 0; i < layer.W.rows; ++i) {
        const double d = delta(n, i);
        for (int64_t j = 0; j < x.cols; ++j) out.dW(i, j) += d * x(n, j);
      }
    }
    if (!layer.b.empty()) {
      out.db.assign(layer.b.size(), 0.0);
      for (int64_t n = 0; n < delta.rows; ++n) {
        for (int64_t i = 0; i < delta.cols; ++i) out.db[static_cast<size_t>(i)] += delta(n, i);
      }
    }
    if (k == 0) break;
    Matrix upstream(x.rows, x.cols);  // dL/dx[k]: 000's lambda^k
    for (int64_t n = 0; n < x.rows; ++n) {
      for (int64_t i = 0; i < layer.W.rows; ++i) {
        const double d = delta(n, i);
        for (int64_t j = 0; j < x.cols; ++j) upstream(n, j) += d * layer.W(i, j);
      }
    }
    const Matrix gprime = closed_form_detail::activation_derivative(layers[k - 1].g, f.a[k - 1], x);
    for (size_t i = 0; i < upstream.v.size(); ++i) upstream.v[i] *= gprime.v[i];
    delta = std::move(upstream);
  }
  return grads;
}

// The penalties' gradients on the weights (biases are not penalised), not divided by the
// batch size: report 003 divided them and they vanished. 002's lambda grad Omega (Fig. 1,
// line 6) with Omega = ||W||^2 or ||W||_1; 003's L1 gives lambda sign(w) and L2 gives
// 2 lambda w (the report printed lambda |w|).
void add_penalties(const std::vector<Layer>& layers, std::vector<LayerGradients>& grads, double l1,
                   double l2) {
  for (size_t k = 0; k < layers.size(); ++k) {
    const std::vector<double>& w = layers[k].W.v;
    std::vector<double>& dw = grads[k].dW.v;
    for (size_t i = 0; i < w.size(); ++i) {
      const double sign = w[i] > 0 ? 1.0 : w[i] < 0 ? -1.0 : 0.0;  // abs'(0) = 0, as autograd
      dw[i] += l1 * sign + 2 * l2 * w[i];
    }
  }
}

}  // namespace

std::vector<std::string> report_ids() {
  std::vector<std::string> ids;
  for (const ReportRule& rule : closed_form_detail::report_rules()) ids.push_back(rule.network.id);
  return ids;
}

ReportNetwork report_network(const std::string& id) { return find_rule(id).network; }

std::vector<NamedTensor> closed_form_gradients(const std::string& id, Module& model,
                                               const Tensor& x, std::span<const int64_t> labels,
                                               double l1, double l2) {
  const ReportRule& rule = find_rule(id);
  const std::vector<Layer> layers = read_layers(rule, model);
  const int64_t inputs = layers.front().W.cols, outputs = layers.back().W.rows;
  if (x.dim() != 2 || x.shape()[1] != inputs) {
    fail("closed form {}: expects input [batch, {}], got {}", id, inputs, x.shape());
  }
  const int64_t batch = x.shape()[0];
  if (batch == 0) fail("closed form {}: the batch is empty", id);
  const bool classes =
      rule.network.loss == LossKind::cross_entropy || rule.network.loss == LossKind::nll;
  if (classes && outputs < 2) {
    fail("closed form {}: the softmax needs at least 2 classes, the model has {} output", id,
         outputs);
  }
  // One-hot rows (or the 0/1 label of a single output), checked as nn::compute_loss does.
  const Matrix targets =
      to_matrix(loss_targets(zeros({batch, outputs}, DType::f64), labels), batch, outputs);

  const Forward f = forward(layers, to_matrix(x, batch, inputs));
  std::vector<LayerGradients> grads = backpropagate(layers, f, rule.output_delta(f, targets));
  add_penalties(layers, grads, l1, l2);

  std::unordered_map<const TensorImpl*, const std::vector<double>*> by_parameter;
  for (size_t k = 0; k < layers.size(); ++k) {
    by_parameter[layers[k].weight] = &grads[k].dW.v;
    if (layers[k].bias) by_parameter[layers[k].bias] = &grads[k].db;
  }
  std::vector<NamedTensor> out;
  for (const auto& [name, p] : model.named_parameters()) {
    const auto g = by_parameter.find(p.impl());
    if (g == by_parameter.end()) fail("closed form {}: parameter '{}' is not a Linear's", id, name);
    out.emplace_back(name, from_data(std::span<const double>(*g->second), p.shape(), p.dtype()));
  }
  return out;
}

}  // namespace tapegrad::nn
