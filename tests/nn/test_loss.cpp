// Losses and penalties against their formulas, and their gradients.
#include <doctest/doctest.h>

#include <cmath>

#include "tapegrad/nn/loss.hpp"

using namespace tapegrad;
using namespace tapegrad::nn;

namespace {
Tensor f64(std::initializer_list<double> v, Shape s) { return from_data(v, s, DType::f64); }
}  // namespace

TEST_CASE("mse_loss is the mean squared difference") {
  const Tensor p = f64({1, 2, 3, 4}, {2, 2}), t = f64({0, 2, 5, 4}, {2, 2});
  CHECK(mse_loss(p, t).item() == doctest::Approx((1.0 + 0 + 4 + 0) / 4));
  CHECK_THROWS_WITH_AS(mse_loss(p, f64({1, 2}, {2})),
                       doctest::Contains("prediction shape [2, 2] and target shape [2] differ"),
                       Error);
}

TEST_CASE("bce_loss follows -mean(t log p + (1-t) log(1-p)) and stays finite at 0 and 1") {
  const Tensor p = f64({0.9, 0.2, 0.6}, {3, 1}), t = f64({1, 0, 0}, {3, 1});
  const double expected = -(std::log(0.9) + std::log(0.8) + std::log(0.4)) / 3;
  CHECK(bce_loss(p, t).item() == doctest::Approx(expected).epsilon(1e-12));
  // Saturated probabilities: the log is floored at -100 as in PyTorch, gradient finite.
  for (DType d : {DType::f32, DType::f64}) {
    Tensor q = from_data({1.0, 0.0}, {2, 1}, d).requires_grad_();
    const Tensor target = from_data({0.0, 1.0}, {2, 1}, d);
    const Tensor loss = bce_loss(q, target);
    CHECK(loss.item() == doctest::Approx(100.0));
    loss.backward();
    for (double g : q.grad().to_vector()) CHECK(std::isfinite(g));
  }
}

TEST_CASE("bce_with_logits_loss equals bce_loss of the sigmoid, stably") {
  const Tensor x = f64({-3, 0.5, 2}, {3, 1}), t = f64({0, 1, 1}, {3, 1});
  CHECK(bce_with_logits_loss(x, t).item() ==
        doctest::Approx(bce_loss(sigmoid(x), t).item()).epsilon(1e-12));
  const Tensor big = f64({1000, -1000}, {2, 1}), tt = f64({0, 1}, {2, 1});
  CHECK(bce_with_logits_loss(big, tt).item() == doctest::Approx(1000.0));
}

TEST_CASE("nll_loss of log_softmax equals the fused cross-entropy, values and gradients") {
  Generator gen(2);
  const std::vector<int64_t> y{2, 0, 1, 2};
  Tensor a = normal({4, 3}, 0, 1, gen, DType::f64).requires_grad_();
  Tensor b = a.detach().clone().requires_grad_();
  const Tensor l1 = nll_loss(log_softmax(a, -1), y);
  const Tensor l2 = cross_entropy_loss(b, y);
  CHECK(l1.item() == doctest::Approx(l2.item()).epsilon(1e-12));
  l1.backward();
  l2.backward();
  const auto g1 = a.grad().to_vector(), g2 = b.grad().to_vector();
  for (size_t i = 0; i < g1.size(); ++i) CHECK(g1[i] == doctest::Approx(g2[i]).epsilon(1e-12));
}

TEST_CASE("penalties: l1 = lambda sum|w|, l2 = lambda sum w^2 with gradient 2 lambda w") {
  Tensor w = f64({1, -2, 3}, {3}).requires_grad_();
  Tensor v = f64({0.5}, {1}).requires_grad_();
  CHECK(l1_penalty({w, v}, 0.1).item() == doctest::Approx(0.1 * 6.5));
  const Tensor l2 = l2_penalty({w, v}, 0.1);
  CHECK(l2.item() == doctest::Approx(0.1 * (1 + 4 + 9 + 0.25)));
  l2.backward();
  const auto g = w.grad().to_vector();
  CHECK(g[0] == doctest::Approx(0.2));
  CHECK(g[1] == doctest::Approx(-0.4));
  CHECK(g[2] == doctest::Approx(0.6));
  CHECK(v.grad().item() == doctest::Approx(0.1));
  CHECK_THROWS_WITH_AS(l1_penalty({}, 0.1), doctest::Contains("no parameters"), Error);
}

TEST_CASE("weights_only picks Linear weights, not biases") {
  const std::vector<std::pair<std::string, Tensor>> named{
      {"0.weight", zeros({2, 2})}, {"0.bias", zeros({2})}, {"2.weight", zeros({1, 2})}};
  CHECK(weights_only(named).size() == 2);
}

TEST_CASE("compute_loss builds one-hot targets, or uses the label for one output") {
  const Tensor out = f64({0.2, 0.8, 0.6, 0.4}, {2, 2});
  const std::vector<int64_t> y{1, 0};
  const double expected = ((0.04 + 0.04) + (0.16 + 0.16)) / 4;  // targets [0,1], [1,0]
  CHECK(compute_loss(LossKind::mse, out, y).item() == doctest::Approx(expected));
  const Tensor single = f64({0.9, 0.3}, {2, 1});
  CHECK(compute_loss(LossKind::mse, single, y).item() == doctest::Approx((0.01 + 0.09) / 2));
  CHECK_THROWS_WITH_AS(compute_loss(LossKind::mse, single, std::vector<int64_t>{1, 2}),
                       doctest::Contains("label 2 at position 1 is out of range [0, 2)"), Error);
  CHECK_THROWS_WITH_AS(compute_loss(LossKind::mse, out, std::vector<int64_t>{1}),
                       doctest::Contains("1 labels for a batch of 2"), Error);
}

TEST_CASE("parse_loss names the valid losses") {
  CHECK(parse_loss("ce") == LossKind::cross_entropy);
  CHECK(loss_name(parse_loss("bce_logits")) == "bce_logits");
  CHECK_THROWS_WITH_AS(parse_loss("hinge"),
                       doctest::Contains("unknown loss 'hinge': expected one of"), Error);
}
