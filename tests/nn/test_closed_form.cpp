// The reports' hand-derived gradients (nn/closed_form.hpp) against autograd and
// against central finite differences, and the slips the reports printed.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "tapegrad/nn/closed_form.hpp"
#include "tapegrad/nn/init.hpp"

using namespace tapegrad;
using namespace tapegrad::nn;

namespace {

using Gradients = std::vector<std::vector<double>>;

// A report's network with other sizes, random f64 weights, inputs and labels.
struct Problem {
  ReportNetwork net;
  std::shared_ptr<Sequential> model;
  Tensor x;
  std::vector<int64_t> labels;
  double l1 = 0, l2 = 0;
};

Problem make_problem(const std::string& id, std::vector<int64_t> sizes, Activation hidden,
                     bool bias, uint64_t seed, int64_t batch = 5) {
  Problem p;
  p.net = report_network(id);
  MlpSpec spec = p.net.spec;
  spec.sizes = std::move(sizes);
  spec.hidden = hidden;
  spec.bias = bias;
  spec.dtype = DType::f64;
  p.model = make_mlp(spec);
  Generator gen(seed);
  // PyTorch's init gives random biases too; 004 uses its report's U(+-4 sqrt(6/(in+out))).
  init_module(*p.model, parse_init(id == "004" ? "glorot_sigmoid" : "pytorch"), gen);
  p.x = normal({batch, spec.sizes.front()}, 0, 1, gen, DType::f64);
  const int64_t outputs = spec.sizes.back();
  for (int64_t i = 0; i < batch; ++i) {
    p.labels.push_back(static_cast<int64_t>(gen.below(outputs == 1 ? 2 : outputs)));
  }
  return p;
}

// compute_loss(report loss) + the penalties on the weights: what the closed forms differentiate.
Tensor total_loss(const Problem& p) {
  Tensor loss = compute_loss(p.net.loss, (*p.model)(p.x), p.labels);
  const std::vector<Tensor> weights = weights_only(p.model->named_parameters());
  if (p.l1 != 0) loss = add(loss, l1_penalty(weights, p.l1));
  if (p.l2 != 0) loss = add(loss, l2_penalty(weights, p.l2));
  return loss;
}

Gradients autograd_gradients(const Problem& p) {
  Gradients out;
  for (const Tensor& g : grad({total_loss(p)}, p.model->parameters())) {
    out.push_back(g.to_vector());
  }
  return out;
}

Gradients closed_form(const Problem& p) {
  const auto named = closed_form_gradients(p.net.id, *p.model, p.x, p.labels, p.l1, p.l2);
  const auto params = p.model->named_parameters();
  REQUIRE(named.size() == params.size());
  Gradients out;
  for (size_t i = 0; i < named.size(); ++i) {
    CHECK(named[i].first == params[i].first);
    CHECK(named[i].second.shape() == params[i].second.shape());
    CHECK(named[i].second.dtype() == params[i].second.dtype());
    out.push_back(named[i].second.to_vector());
  }
  return out;
}

// Central differences (L(w + h) - L(w - h)) / 2h, one parameter entry at a time, in the
// model's own dtype.
Gradients finite_differences(const Problem& p, double h) {
  NoGradGuard no_grad;
  Gradients out;
  for (Tensor w : p.model->parameters()) {
    std::vector<double> g(static_cast<size_t>(w.numel()));
    dispatch(w.dtype(), [&]<typename T>() {
      T* data = w.data<T>();
      for (size_t i = 0; i < g.size(); ++i) {
        const T saved = data[i];
        data[i] = static_cast<T>(saved + h);
        const double up = total_loss(p).item();
        data[i] = static_cast<T>(saved - h);
        const double down = total_loss(p).item();
        data[i] = saved;
        g[i] = (up - down) / (2 * h);
      }
    });
    out.push_back(std::move(g));
  }
  return out;
}

// max |a - b| over a parameter, relative to the largest |b| of that parameter.
double relative_error(const std::vector<double>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return diff / scale;
}

double worst_relative_error(const Gradients& a, const Gradients& b) {
  double worst = 0;
  for (size_t k = 0; k < a.size(); ++k) worst = std::max(worst, relative_error(a[k], b[k]));
  return worst;
}

double largest(const std::vector<double>& v) {
  double m = 0;
  for (double e : v) m = std::max(m, std::abs(e));
  return m;
}

// Entries where central differences n and a gradient a disagree: |a - n| > atol + rtol |n|
// with atol 1e-9 (the round-off of an f64 loss of order 1 over a step of 1e-6 is ~3e-10)
// and rtol 1e-6 (the truncation error h^2 f'''/6 is ~1e-12).
int finite_difference_misses(const std::vector<double>& numeric, const std::vector<double>& a) {
  int misses = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::abs(a[i] - numeric[i]) > 1e-9 + 1e-6 * std::abs(numeric[i])) ++misses;
  }
  return misses;
}

// The closed form equals autograd to 1e-12 relative, and central differences with step
// 1e-6 in f64 agree with both.
void check_report(const std::string& id, std::vector<int64_t> sizes, Activation hidden, bool bias,
                  double l1 = 0, double l2 = 0, uint64_t seed = 7) {
  Problem p = make_problem(id, sizes, hidden, bias, seed);
  p.l1 = l1;
  p.l2 = l2;
  INFO("report ", id, " sizes ", fmt::format("{}", fmt::join(sizes, "-")), " hidden ",
       activation_name(hidden), " bias ", bias, " l1 ", l1, " l2 ", l2);
  const Gradients autograd = autograd_gradients(p);
  const Gradients closed = closed_form(p);
  const Gradients numeric = finite_differences(p, 1e-6);
  const auto names = p.model->named_parameters();
  REQUIRE(closed.size() == autograd.size());
  for (size_t k = 0; k < closed.size(); ++k) {
    INFO("parameter ", names[k].first);
    CHECK(largest(autograd[k]) > 1e-6);  // a real gradient, not zeros agreeing with zeros
    CHECK(relative_error(closed[k], autograd[k]) <= 1e-12);
    CHECK(finite_difference_misses(numeric[k], closed[k]) == 0);
    CHECK(finite_difference_misses(numeric[k], autograd[k]) == 0);
  }
}

}  // namespace

TEST_CASE("closed form: report_network gives each report's sizes and settings") {
  CHECK(report_ids() == std::vector<std::string>{"000", "001", "002", "003", "004"});
  struct Expected {
    std::vector<int64_t> sizes;
    Activation hidden, head;
    bool bias;
    LossKind loss;
    double l1;
  };
  const std::vector<std::pair<std::string, Expected>> expected{
      {"000",
       {{784, 128, 10},
        Activation::sigmoid,
        Activation::identity,
        false,
        LossKind::cross_entropy,
        0}},
      {"001",
       {{784, 128, 10}, Activation::sigmoid, Activation::log_softmax, true, LossKind::nll, 0}},
      {"002", {{784, 20, 10}, Activation::sigmoid, Activation::sigmoid, true, LossKind::bce, 0}},
      {"003",
       {{3072, 128, 10},
        Activation::tanh,
        Activation::identity,
        true,
        LossKind::cross_entropy,
        1e-2}},
      {"004", {{2, 3, 3, 1}, Activation::sigmoid, Activation::sigmoid, false, LossKind::mse, 0}},
  };
  for (const auto& [id, e] : expected) {
    const ReportNetwork net = report_network(id);
    INFO("report ", id);
    CHECK(net.id == id);
    CHECK_FALSE(net.title.empty());
    CHECK(net.spec.sizes == e.sizes);
    CHECK(net.spec.hidden == e.hidden);
    CHECK(net.spec.head == e.head);
    CHECK(net.spec.bias == e.bias);
    CHECK(net.loss == e.loss);
    CHECK(net.l1 == e.l1);
    CHECK(net.l2 == 0);
  }
  CHECK(report_network("001").title == "Assignment 5: Backpropagation");
  // 004's network as built: three weights [3, 2], [3, 3], [1, 3] and no biases.
  const auto named = make_mlp(report_network("004").spec)->named_parameters();
  REQUIRE(named.size() == 3);
  CHECK(named[2].second.shape() == Shape{1, 3});
}

TEST_CASE("closed form: an unknown report id is an error listing the valid ids") {
  CHECK_THROWS_WITH_AS(report_network("005"),
                       "unknown report '005': expected one of 000, 001, 002, 003, 004", Error);
  Problem p = make_problem("000", {4, 3, 2}, Activation::sigmoid, false, 1);
  CHECK_THROWS_WITH_AS(closed_form_gradients("0", *p.model, p.x, p.labels),
                       doctest::Contains("expected one of 000, 001, 002, 003, 004"), Error);
}

TEST_CASE("closed form: a model that is not the report's network is refused, naming the module") {
  const Problem p000 = make_problem("000", {4, 3, 2}, Activation::sigmoid, false, 1);
  auto refused = [](const std::string& id, Module& model, const Tensor& x,
                    const std::vector<int64_t>& labels, const std::string& message) {
    INFO("report ", id, ": ", message);
    CHECK_THROWS_WITH_AS(closed_form_gradients(id, model, x, labels),
                         doctest::Contains(message.c_str()), Error);
  };
  // 000's logits into 001's LogSoftmax + NLLLoss derivation.
  refused("001", *p000.model, p000.x, p000.labels,
          "closed form 001: the model does not match report 001's network: the last Linear is "
          "followed by nothing; expected Linear layers (with or without bias), Sigmoid, ReLU or "
          "Tanh after each hidden one, LogSoftmax(dim=-1) after the last; build it with "
          "make_mlp(report_network(\"001\").spec)");
  // Report 000 derives sigmoid (eq. 8) and ReLU (eq. 7) hidden layers only.
  const Problem tanh000 = make_problem("003", {4, 3, 2}, Activation::tanh, true, 1);
  refused("000", *tanh000.model, tanh000.x, tanh000.labels,
          "hidden Linear 0 is followed by Tanh; expected Linear layers (with or without bias), "
          "Sigmoid or ReLU after each hidden one, nothing (the logits go into the loss) after "
          "the last");
  // Report 004's network has no biases.
  const Problem biased = make_problem("002", {2, 3, 1}, Activation::sigmoid, true, 1);
  refused("004", *biased.model, biased.x, biased.labels,
          "module 0 is Linear(2, 3, bias=true), the report's layers have no bias");
  // Not a Sequential, two activations in a row, mismatched sizes, no layer at all.
  Linear lone(4, 2, false, DType::f64);
  refused("000", lone, p000.x, p000.labels, "it is Linear(4, 2, bias=false), not a Sequential");
  Sequential doubled;
  doubled.add(std::make_shared<Linear>(4, 3, true, DType::f64))
      .add(std::make_shared<ActivationLayer>(Activation::sigmoid))
      .add(std::make_shared<ActivationLayer>(Activation::sigmoid))
      .add(std::make_shared<Linear>(3, 2, true, DType::f64));
  refused("003", doubled, p000.x, p000.labels, "module 2 is Sigmoid, expected a Linear");
  Sequential chain;
  chain.add(std::make_shared<Linear>(4, 3, true, DType::f64))
      .add(std::make_shared<ActivationLayer>(Activation::tanh))
      .add(std::make_shared<Linear>(5, 2, true, DType::f64));
  refused("003", chain, p000.x, p000.labels,
          "module 2 is Linear(5, 2, bias=true) after a layer of 3 outputs");
  Sequential empty;
  refused("002", empty, p000.x, p000.labels, "it has no Linear layer");
  // Inputs and labels that do not fit the model.
  Generator gen(1);
  refused("000", *p000.model, normal({5, 3}, 0, 1, gen, DType::f64), p000.labels,
          "closed form 000: expects input [batch, 4], got [5, 3]");
  refused("000", *p000.model, p000.x, {0, 1, 2, 0, 1}, "label 2 at position 2 is out of range");
  const Problem one = make_problem("003", {4, 3, 1}, Activation::tanh, true, 1);
  refused("003", *one.model, one.x, one.labels, "the softmax needs at least 2 classes");
}

TEST_CASE("closed form 000: adjoint recursion with the softmax Jacobian equals autograd") {
  check_report("000", {10, 7, 3}, Activation::sigmoid, false);
  check_report("000", {10, 7, 3}, Activation::relu, false);
  check_report("000", {10, 7, 3}, Activation::sigmoid, true);
  // Any depth: 1 to 3 hidden layers, as the report's experiments.
  check_report("000", {6, 4}, Activation::sigmoid, false);
  check_report("000", {10, 7, 6, 3}, Activation::relu, true);
  check_report("000", {8, 6, 5, 4, 3}, Activation::sigmoid, false);
}

TEST_CASE("closed form 001: LogSoftmax + NLLLoss with biases equals autograd") {
  for (Activation g : {Activation::sigmoid, Activation::relu, Activation::tanh}) {
    check_report("001", {10, 7, 3}, g, true);
  }
  // The report's 4- and 5-layer networks, shrunk; and without biases.
  check_report("001", {10, 7, 5, 3}, Activation::sigmoid, true);
  check_report("001", {10, 7, 6, 5, 3}, Activation::sigmoid, true);
  check_report("001", {10, 7, 3}, Activation::tanh, false);
}

TEST_CASE("closed form 002: sigmoid outputs, binary cross-entropy, regulariser, equal autograd") {
  check_report("002", {10, 7, 4}, Activation::sigmoid, true);
  check_report("002", {10, 7, 4}, Activation::sigmoid, true, 0, 0.01);
  check_report("002", {10, 7, 4}, Activation::sigmoid, true, 0.01, 0);
  // 784-80-40-20-10 shrunk, with both penalties; a single binary output.
  check_report("002", {10, 8, 6, 5, 4}, Activation::sigmoid, true, 0.003, 0.02);
  check_report("002", {6, 5, 1}, Activation::tanh, true, 0, 0.01);
}

TEST_CASE("closed form 003: softmax + cross-entropy with L1/L2, averaged over the batch") {
  for (Activation g : {Activation::tanh, Activation::sigmoid, Activation::relu}) {
    check_report("003", {12, 8, 4}, g, true);
  }
  check_report("003", {12, 8, 4}, Activation::tanh, true, 0.01, 0);
  check_report("003", {12, 8, 4}, Activation::tanh, true, 0, 0.01);
  // Two hidden layers (the report's 2 x 64), both penalties.
  check_report("003", {12, 6, 6, 4}, Activation::tanh, true, 0.01, 0.001);
}

TEST_CASE("closed form 004: the s(y) = y(1 - y) recursion, no biases, squared error") {
  check_report("004", {2, 3, 3, 1}, Activation::sigmoid, false);
  // Any depth and width, several outputs (one-hot targets).
  check_report("004", {2, 3, 1}, Activation::sigmoid, false);
  check_report("004", {3, 5, 4, 3, 2}, Activation::sigmoid, false, 0, 0, 11);
}

TEST_CASE("closed form at the reports' own sizes, with their penalties, equals autograd") {
  for (const std::string& id : report_ids()) {
    const ReportNetwork net = report_network(id);
    Problem p = make_problem(id, net.spec.sizes, net.spec.hidden, net.spec.bias, 21, 4);
    p.l1 = net.l1;
    p.l2 = net.l2;
    const Gradients autograd = autograd_gradients(p), closed = closed_form(p);
    INFO("report ", id);
    CHECK(worst_relative_error(closed, autograd) <= 1e-12);
  }
}

TEST_CASE("closed form of an f32 model: f32 gradients computed in double") {
  Problem p = make_problem("003", {12, 8, 4}, Activation::tanh, true, 3);
  const Gradients f64_closed = closed_form(p);
  p.model->to(DType::f32);
  p.x = p.x.to(DType::f32);
  const auto named = closed_form_gradients("003", *p.model, p.x, p.labels);
  REQUIRE(named.size() == f64_closed.size());
  for (size_t k = 0; k < named.size(); ++k) {
    CHECK(named[k].second.dtype() == DType::f32);
    // The weights were rounded to f32, so the gradients move by about f32's epsilon.
    CHECK(relative_error(named[k].second.to_vector(), f64_closed[k]) <= 1e-5);
  }
}

// ---- The reports' printed slips: the printed formula disagrees with autograd, the
// corrected one (which the closed forms use) agrees. ----

TEST_CASE("closed form slip, report 000 eq. (4): dL/dp is -y/p, not -y/p^2") {
  Generator gen(5);
  const int64_t n = 6, classes = 4;
  const Tensor z = normal({n, classes}, 0, 1, gen, DType::f64);
  std::vector<int64_t> labels;
  for (int64_t i = 0; i < n; ++i) labels.push_back(static_cast<int64_t>(gen.below(classes)));
  // autograd's gradient of L(p) = -(1/N) sum y log p with respect to the probability tensor p.
  Tensor p = softmax(z, -1).detach().requires_grad_();
  const Tensor loss = nll_loss(log(p), labels);
  CHECK(loss.item() == doctest::Approx(cross_entropy_loss(z, labels).item()).epsilon(1e-12));
  const std::vector<double> autograd = grad({loss}, {p})[0].to_vector();
  const std::vector<double> probs = p.to_vector(), y = loss_targets(p, labels).to_vector();
  std::vector<double> corrected, printed;
  for (size_t i = 0; i < probs.size(); ++i) {
    corrected.push_back(-y[i] / probs[i] / n);             // -y_i / p_i
    printed.push_back(-y[i] / (probs[i] * probs[i]) / n);  // -y_i / x_i^2, as printed
  }
  CHECK(relative_error(corrected, autograd) <= 1e-14);
  CHECK(relative_error(printed, autograd) > 0.5);
}

TEST_CASE("closed form slip, report 002: the first loss line lacks the minus on y ln y_hat") {
  Generator gen(6);
  const int64_t n = 5, k = 3;
  Tensor u = normal({n, k}, 0, 1, gen, DType::f64).requires_grad_();
  const Tensor y = greater(uniform({n, k}, 0, 1, gen, DType::f64), scalar_tensor(0.5, DType::f64));
  const Tensor y_hat = sigmoid(u);
  const Tensor ln_y_hat = log(y_hat), ln_1m = log(sub(1.0, y_hat));
  // Printed: L = y ln y_hat - (1 - y) ln(1 - y_hat); corrected: -y ln y_hat - (1 - y) ln(1 -
  // y_hat).
  const Tensor printed = mean(sub(mul(y, ln_y_hat), mul(sub(1.0, y), ln_1m)));
  const Tensor corrected = mean(sub(neg(mul(y, ln_y_hat)), mul(sub(1.0, y), ln_1m)));
  const Tensor bce = bce_loss(y_hat, y);
  CHECK(corrected.item() == doctest::Approx(bce.item()).epsilon(1e-12));
  CHECK(std::abs(printed.item() - bce.item()) > 0.1);
  // The gradient at the pre-activation u: autograd of nn::bce_loss against delta = y_hat - y
  // (over N K, the mean) and against the printed line's derivative y (1 - y_hat) + (1 - y) y_hat.
  const std::vector<double> autograd = grad({bce}, {u}, {}, {.retain_graph = true})[0].to_vector();
  const std::vector<double> yh = y_hat.to_vector(), yv = y.to_vector();
  std::vector<double> delta, printed_delta;
  for (size_t i = 0; i < yh.size(); ++i) {
    delta.push_back((yh[i] - yv[i]) / (n * k));
    printed_delta.push_back((yv[i] * (1 - yh[i]) + (1 - yv[i]) * yh[i]) / (n * k));
  }
  CHECK(relative_error(delta, autograd) <= 1e-12);
  CHECK(relative_error(printed_delta, autograd) > 0.5);
  // (and the printed derivative is the printed line's: autograd of it agrees)
  CHECK(relative_error(printed_delta, grad({printed}, {u})[0].to_vector()) <= 1e-12);
}

TEST_CASE("closed form slip, report 003: the L2 gradient is 2 lambda w, not lambda |w|") {
  const double lambda = 0.01;
  Generator gen(8);
  Tensor w = normal({4, 3}, 0, 1, gen, DType::f64).requires_grad_();
  const std::vector<double> autograd = grad({l2_penalty({w}, lambda)}, {w})[0].to_vector();
  std::vector<double> corrected, printed;
  for (double e : w.to_vector()) {
    corrected.push_back(2 * lambda * e);
    printed.push_back(lambda * std::abs(e));
  }
  CHECK(relative_error(corrected, autograd) <= 1e-15);
  CHECK(relative_error(printed, autograd) > 0.5);
  // In the closed form the penalty adds exactly 2 lambda W to each weight gradient, not
  // divided by the batch size (the report divided it and the penalty vanished), and
  // nothing to the biases.
  Problem p = make_problem("003", {12, 8, 4}, Activation::tanh, true, 9, 16);
  const Gradients plain = closed_form(p);
  p.l2 = lambda;
  const Gradients penalised = closed_form(p);
  const auto named = p.model->named_parameters();
  for (size_t k = 0; k < named.size(); ++k) {
    INFO("parameter ", named[k].first);
    const std::vector<double> value = named[k].second.to_vector();
    const bool weight = named[k].first.ends_with("weight");
    std::vector<double> added, expected, divided;
    for (size_t i = 0; i < value.size(); ++i) {
      added.push_back(penalised[k][i] - plain[k][i]);
      expected.push_back(weight ? 2 * lambda * value[i] : 0.0);
      divided.push_back(expected.back() / 16);
    }
    if (weight) {
      CHECK(relative_error(added, expected) <= 1e-12);
      CHECK(relative_error(added, divided) > 1);
    } else {
      CHECK(largest(added) == 0);
    }
  }
}

TEST_CASE("closed form slip, report 003: eps = 1e-2 in f32 is far off; f64 with step 1e-6 is not") {
  // The report's check: (E(w + eps) - E(w - eps)) / 2 eps with eps = 1e-2 in single
  // precision, differences of 1e-4 to 1e-3 against its backprop.
  Problem p = make_problem("003", {12, 8, 4}, Activation::tanh, true, 12, 8);
  const Gradients closed = closed_form(p);
  const double good = worst_relative_error(finite_differences(p, 1e-6), closed);
  p.model->to(DType::f32);
  p.x = p.x.to(DType::f32);
  const Gradients f32_numeric = finite_differences(p, 1e-2);
  const double poor = worst_relative_error(f32_numeric, closed);
  double worst_abs = 0;
  for (size_t k = 0; k < closed.size(); ++k) {
    for (size_t i = 0; i < closed[k].size(); ++i) {
      worst_abs = std::max(worst_abs, std::abs(f32_numeric[k][i] - closed[k][i]));
    }
  }
  INFO("f64 step 1e-6: ", good, "; f32 eps 1e-2: ", poor, " (worst absolute ", worst_abs, ")");
  CHECK(good <= 1e-7);
  CHECK(poor > 1e-5);
  CHECK(worst_abs > 1e-6);
  CHECK(worst_abs < 1e-2);
}
