// Modules, the MLP builder and the initialisers.
#include <doctest/doctest.h>

#include <cmath>

#include "tapegrad/nn/init.hpp"
#include "tapegrad/nn/module.hpp"

using namespace tapegrad;
using namespace tapegrad::nn;

TEST_CASE("make_mlp names parameters as torch.nn.Sequential does") {
  auto model = make_mlp({{4, 3, 2}, Activation::sigmoid, Activation::identity});
  const auto named = model->named_parameters();
  REQUIRE(named.size() == 4);
  CHECK(named[0].first == "0.weight");
  CHECK(named[1].first == "0.bias");
  CHECK(named[2].first == "2.weight");  // index 1 is the Sigmoid, as in PyTorch
  CHECK(named[3].first == "2.bias");
  CHECK(named[0].second.shape() == Shape{3, 4});  // [out, in]
  CHECK(named[3].second.shape() == Shape{2});
  for (const auto& [name, p] : named) CHECK(p.requires_grad());
  CHECK(model->num_parameters() == 3 * 4 + 3 + 2 * 3 + 2);
  CHECK(model->summary().find("(0): Linear(4, 3, bias=true)") != std::string::npos);
  CHECK(model->summary().find("(1): Sigmoid") != std::string::npos);
}

TEST_CASE("an MLP computes x W^T + b through its activations") {
  Generator gen(3);
  auto model = make_mlp({{3, 4, 2}, Activation::tanh, Activation::softmax, true, DType::f64});
  init_module(*model, parse_init("glorot"), gen);
  const Tensor x = normal({5, 3}, 0, 1, gen, DType::f64);
  const auto p = model->parameters();
  const Tensor expected =
      softmax(add(matmul(tanh(add(matmul(x, t(p[0])), p[1])), t(p[2])), p[3]), -1);
  const Tensor got = model->forward(x);
  const auto e = expected.to_vector(), g = got.to_vector();
  REQUIRE(e.size() == g.size());
  for (size_t i = 0; i < e.size(); ++i) CHECK(g[i] == doctest::Approx(e[i]).epsilon(1e-12));
}

TEST_CASE("a Linear without bias has only a weight") {
  auto model = make_mlp({{2, 3, 3, 1}, Activation::sigmoid, Activation::sigmoid, false});
  const auto named = model->named_parameters();
  REQUIRE(named.size() == 3);
  CHECK(named[0].first == "0.weight");
  CHECK(named[1].first == "2.weight");
  CHECK(named[2].first == "4.weight");
}

TEST_CASE("train and eval propagate to children") {
  auto model = make_mlp({{2, 2, 2}});
  model->eval();
  CHECK_FALSE(model->is_training());
  CHECK_FALSE((*model)[0].is_training());
  model->train();
  CHECK((*model)[2].is_training());
}

TEST_CASE("Module::to converts parameters in place, visible through other handles") {
  Generator gen(0);
  auto model = make_mlp({{3, 2}});
  init_module(*model, parse_init("pytorch"), gen);
  std::vector<Tensor> handles = model->parameters();  // as an optimiser holds them
  const std::vector<double> before = handles[0].to_vector();
  model->to(DType::f64);
  CHECK(handles[0].dtype() == DType::f64);
  CHECK(handles[0].to_vector() == std::vector<double>(before.begin(), before.end()));
  const Tensor y = model->forward(ones({1, 3}, DType::f64));
  CHECK(y.dtype() == DType::f64);
}

TEST_CASE("Linear rejects an input of the wrong width, naming both") {
  Linear layer(784, 128);
  CHECK_THROWS_WITH_AS(
      layer.forward(zeros({2, 10})),
      doctest::Contains("Linear(784, 128): expects input [batch, 784], got [2, 10]"), Error);
  CHECK_THROWS_WITH_AS(Linear(0, 3), doctest::Contains("sizes must be positive"), Error);
}

TEST_CASE("parse_layer_sizes accepts specs and names what is wrong") {
  CHECK(parse_layer_sizes("784-128-64-10") == std::vector<int64_t>{784, 128, 64, 10});
  CHECK_THROWS_WITH_AS(parse_layer_sizes("784"),
                       doctest::Contains("at least an input and an output"), Error);
  CHECK_THROWS_WITH_AS(parse_layer_sizes("784--10"),
                       doctest::Contains("'' is not a positive layer size"), Error);
  CHECK_THROWS_WITH_AS(parse_layer_sizes("784-x-10"), doctest::Contains("'x' is not a positive"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_layer_sizes("784-0-10"), doctest::Contains("'0' is not a positive"),
                       Error);
}

TEST_CASE("parse_activation lists the valid names") {
  CHECK(parse_activation("relu") == Activation::relu);
  CHECK(parse_activation("none") == Activation::identity);
  CHECK_THROWS_WITH_AS(parse_activation("swish"),
                       doctest::Contains("unknown activation 'swish': expected one of"), Error);
}

namespace {
double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector()) m = std::max(m, std::abs(v));
  return m;
}
double stddev(const Tensor& t) {
  const auto v = t.to_vector();
  double s = 0, s2 = 0;
  for (double x : v) s += x, s2 += x * x;
  const double n = static_cast<double>(v.size());
  return std::sqrt(s2 / n - (s / n) * (s / n));
}
}  // namespace

TEST_CASE("initialisers draw from their documented ranges") {
  Generator gen(11);
  Tensor w = zeros({200, 300});
  const double glorot = std::sqrt(6.0 / 500.0);
  init_weight(w, parse_init("glorot"), gen);
  CHECK(max_abs(w) <= glorot);
  CHECK(max_abs(w) > 0.99 * glorot);
  init_weight(w, parse_init("glorot_sigmoid"), gen);  // report 004: gain 4
  CHECK(max_abs(w) <= 4 * glorot);
  CHECK(max_abs(w) > 0.99 * 4 * glorot);
  init_weight(w, parse_init("he_normal"), gen);
  CHECK(stddev(w) == doctest::Approx(std::sqrt(2.0 / 300.0)).epsilon(0.02));
  init_weight(w, parse_init("lecun_normal"), gen);
  CHECK(stddev(w) == doctest::Approx(std::sqrt(1.0 / 300.0)).epsilon(0.02));
  init_weight(w, parse_init("glorot_normal"), gen);
  CHECK(stddev(w) == doctest::Approx(std::sqrt(2.0 / 500.0)).epsilon(0.02));
  init_weight(w, parse_init("he"), gen);
  CHECK(max_abs(w) <= std::sqrt(6.0 / 300.0));
  init_weight(w, parse_init("lecun"), gen);
  CHECK(max_abs(w) <= std::sqrt(3.0 / 300.0));
  init_weight(w, parse_init("uniform:-0.5,0.25"), gen);
  const auto v = w.to_vector();
  CHECK(*std::min_element(v.begin(), v.end()) >= -0.5);
  CHECK(*std::max_element(v.begin(), v.end()) <= 0.25);
  init_weight(w, parse_init("normal:0.3"), gen);
  CHECK(stddev(w) == doctest::Approx(0.3).epsilon(0.02));
  init_weight(w, parse_init("constant:0.7"), gen);
  CHECK(w.at({5, 7}) == doctest::Approx(0.7));
  init_weight(w, parse_init("zeros"), gen);
  CHECK(max_abs(w) == 0.0);
}

TEST_CASE("init_module: pytorch scheme bounds biases by 1/sqrt(fan_in), others zero them") {
  Generator gen(5);
  auto model = make_mlp({{400, 50, 10}});
  init_module(*model, parse_init("pytorch"), gen);
  const auto p = model->parameters();
  CHECK(max_abs(p[0]) <= 1.0 / std::sqrt(400.0));
  CHECK(max_abs(p[1]) <= 1.0 / std::sqrt(400.0));
  CHECK(max_abs(p[1]) > 0.0);
  CHECK(max_abs(p[3]) <= 1.0 / std::sqrt(50.0));
  CHECK(max_abs(p[3]) > 1.0 / std::sqrt(400.0));  // its own fan-in, not the first layer's
  init_module(*model, parse_init("glorot"), gen);
  CHECK(max_abs(p[1]) == 0.0);
}

TEST_CASE("initialisation is deterministic in the seed") {
  auto a = make_mlp({{5, 4, 3}});
  auto b = make_mlp({{5, 4, 3}});
  Generator g1(9), g2(9), g3(10);
  init_module(*a, parse_init("glorot"), g1);
  init_module(*b, parse_init("glorot"), g2);
  CHECK(a->parameters()[0].to_vector() == b->parameters()[0].to_vector());
  init_module(*b, parse_init("glorot"), g3);
  CHECK(a->parameters()[0].to_vector() != b->parameters()[0].to_vector());
}

TEST_CASE("parse_init names bad specs") {
  CHECK_THROWS_WITH_AS(parse_init("orthogonal"), doctest::Contains("unknown init 'orthogonal'"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_init("uniform:1"), doctest::Contains("expected uniform:LOW,HIGH"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_init("uniform:1,0"), doctest::Contains("low must not exceed high"),
                       Error);
  CHECK_THROWS_WITH_AS(parse_init("normal:abc"), doctest::Contains("'abc' is not a number"), Error);
  CHECK_THROWS_WITH_AS(parse_init("glorot:2"), doctest::Contains("takes no arguments"), Error);
}
