// Optimisers, schedules and gradient clipping.
//
// The reference trajectories were computed with PyTorch 1.13 (float64) by this
// script (/usr/bin/python3, torch 1.13.0a0); each test names its case:
//
//   import torch
//   P0 = [1.0, -2.0, 0.5]
//   G = [[0.1, -0.2, 0.3], [0.4, 0.0, -0.5], [-0.3, 0.6, 0.2]]
//   def run(make, **kw):
//       p = torch.tensor(P0, dtype=torch.float64, requires_grad=True)
//       opt = make([p], **kw)
//       out = []
//       for g in G:
//           p.grad = torch.tensor(g, dtype=torch.float64)
//           opt.step()
//           out.append([float(x) for x in p.detach()])
//       return out
//   print(repr(run(torch.optim.SGD, lr=0.1)))  # and so on for each case below
//   def sched(make, n, **kw):
//       p = torch.zeros(1, requires_grad=True)
//       opt = torch.optim.SGD([p], lr=0.5)
//       s = make(opt, **kw)
//       out = []
//       for _ in range(n):
//           opt.step(); s.step(); out.append(s.get_last_lr()[0])
//       return out
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/nn/optim.hpp"

using namespace tapegrad;
using namespace tapegrad::nn;

namespace {

using Trajectory = std::vector<std::vector<double>>;

const std::vector<double> kP0 = {1.0, -2.0, 0.5};
const Trajectory kGrads = {{0.1, -0.2, 0.3}, {0.4, 0.0, -0.5}, {-0.3, 0.6, 0.2}};

using MakeOptimizer = std::function<std::unique_ptr<Optimizer>(std::vector<Tensor>)>;

// Runs three steps from kP0 with the gradients kGrads in the given dtype and checks
// the parameter after each step.
void check_trajectory(const MakeOptimizer& make, const Trajectory& expected, DType dtype) {
  const double tol = dtype == DType::f64 ? 1e-12 : 2e-6;
  Tensor p = from_data(kP0, {3}, dtype);
  p.requires_grad_();
  auto opt = make({p});
  for (size_t s = 0; s < kGrads.size(); ++s) {
    p.set_grad(from_data(kGrads[s], {3}, dtype));
    opt->step();
    const std::vector<double> got = p.to_vector();
    for (size_t k = 0; k < got.size(); ++k) {
      INFO("dtype " << dtype_name(dtype) << ", step " << s + 1 << ", element " << k << ": got "
                    << got[k] << ", expected " << expected[s][k]);
      CHECK(std::abs(got[k] - expected[s][k]) <= tol);
    }
  }
}

void check_both_dtypes(const MakeOptimizer& make, const Trajectory& expected) {
  check_trajectory(make, expected, DType::f64);
  check_trajectory(make, expected, DType::f32);
}

template <typename Opt, typename Options>
MakeOptimizer maker(Options options) {
  return [options](std::vector<Tensor> params) {
    return std::make_unique<Opt>(std::move(params), options);
  };
}

}  // namespace

// ---- SGD ----

TEST_CASE("optim: SGD matches PyTorch (plain, momentum, dampening, nesterov, weight decay)") {
  SUBCASE("plain: run(torch.optim.SGD, lr=0.1)") {
    check_both_dtypes(maker<SGD>(SGDOptions{.lr = 0.1}),
                      {{0.99, -1.98, 0.47}, {0.95, -1.98, 0.52}, {0.98, -2.04, 0.5}});
  }
  SUBCASE("momentum: run(torch.optim.SGD, lr=0.1, momentum=0.9)") {
    check_both_dtypes(
        maker<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9}),
        {{0.99, -1.98, 0.47}, {0.941, -1.962, 0.493}, {0.9269, -2.0058, 0.49369999999999997}});
  }
  SUBCASE("dampening: run(torch.optim.SGD, lr=0.1, momentum=0.9, dampening=0.5)") {
    // The first step takes the undamped gradient as the buffer, as PyTorch.
    check_both_dtypes(
        maker<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .dampening = 0.5}),
        {{0.99, -1.98, 0.47}, {0.961, -1.962, 0.46799999999999997}, {0.9499, -1.9758, 0.4562}});
  }
  SUBCASE("nesterov: run(torch.optim.SGD, lr=0.1, momentum=0.9, nesterov=True)") {
    check_both_dtypes(maker<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.9, .nesterov = true}),
                      {{0.981, -1.962, 0.443},
                       {0.8968999999999999, -1.9458, 0.5137},
                       {0.91421, -2.04522, 0.49433000000000005}});
  }
  SUBCASE(
      "weight decay: run(torch.optim.SGD, lr=0.1, momentum=0.8, dampening=0.1, "
      "weight_decay=0.1)") {
    check_both_dtypes(
        maker<SGD>(SGDOptions{.lr = 0.1, .momentum = 0.8, .dampening = 0.1, .weight_decay = 0.1}),
        {{0.98, -1.96, 0.465},
         {0.91918, -1.91036, 0.47781500000000005},
         {0.88925138, -1.90745476, 0.465766665}});
  }
}

TEST_CASE("optim: SGD with nesterov momentum follows the formulas written out by hand") {
  const double lr = 0.05, mu = 0.7, wd = 0.2;
  Tensor p = from_data({0.3, -1.1}, {2}, DType::f64);
  p.requires_grad_();
  SGD opt({p}, {.lr = lr, .momentum = mu, .nesterov = true, .weight_decay = wd});
  std::vector<double> x = {0.3, -1.1}, buf(2);
  const Trajectory grads = {{1.0, -0.5}, {0.25, 0.75}, {-2.0, 0.1}, {0.0, 0.0}};
  for (size_t s = 0; s < grads.size(); ++s) {
    p.set_grad(from_data(grads[s], {2}, DType::f64));
    opt.step();
    for (size_t k = 0; k < 2; ++k) {
      const double d = grads[s][k] + wd * x[k];
      buf[k] = s == 0 ? d : mu * buf[k] + d;
      x[k] -= lr * (d + mu * buf[k]);
      CHECK(p.to_vector()[k] == doctest::Approx(x[k]).epsilon(1e-14));
    }
  }
}

// ---- Adam / AdamW ----

TEST_CASE("optim: Adam matches PyTorch (bias correction, L2 weight decay, amsgrad)") {
  SUBCASE("run(torch.optim.Adam, lr=0.1)") {
    check_both_dtypes(maker<Adam>(AdamOptions{.lr = 0.1}),
                      {{0.900000009999999, -1.9000000049999999, 0.4000000033333332},
                       {0.811562363975117, -1.8329941843255586, 0.42935612309812815},
                       {0.7938915337896525, -1.8772389264366047, 0.43008193851623117}});
  }
  SUBCASE("run(torch.optim.Adam, lr=0.1, weight_decay=0.1)") {
    check_both_dtypes(maker<Adam>(AdamOptions{.lr = 0.1, .weight_decay = 0.1}),
                      {{0.9000000049999998, -1.9000000025, 0.40000000285714277},
                       {0.8057889114417277, -1.8075399959294836, 0.41867077084825755},
                       {0.7629990181909688, -1.7996004856842136, 0.4073099786458025}});
  }
  SUBCASE("run(torch.optim.Adam, lr=0.1, betas=(0.9, 0.5), amsgrad=True)") {
    check_both_dtypes(
        maker<Adam>(AdamOptions{.lr = 0.1, .beta1 = 0.9, .beta2 = 0.5, .amsgrad = true}),
        {{0.900000009999999, -1.9000000049999997, 0.4000000033333332},
         {0.8222418234797048, -1.841985777802503, 0.427296621629493},
         {0.8056698479789139, -1.8771355870483932, 0.42792574635644526}});
  }
}

TEST_CASE("optim: AdamW matches PyTorch: run(torch.optim.AdamW, lr=0.1, weight_decay=0.1)") {
  check_both_dtypes(maker<AdamW>(AdamWOptions{.lr = 0.1, .weight_decay = 0.1}),
                    {{0.890000009999999, -1.8800000049999999, 0.3950000033333332},
                     {0.7926623638751169, -1.7941941842755587, 0.4204061230647948},
                     {0.7670649100509012, -1.8204969845438492, 0.4169278772522499}});
}

TEST_CASE("optim: Adam bias correction follows the formulas written out by hand") {
  // The first bias-corrected step is lr * g / (|g| + eps) whatever the betas.
  const double lr = 0.01, b1 = 0.5, b2 = 0.25, eps = 1e-3;
  Tensor p = from_data({2.0, -3.0}, {2}, DType::f64);
  p.requires_grad_();
  Adam opt({p}, {.lr = lr, .beta1 = b1, .beta2 = b2, .eps = eps});
  const Trajectory grads = {{0.5, -4.0}, {1.5, 2.0}};
  std::vector<double> x = {2.0, -3.0}, m(2), v(2);
  for (size_t s = 0; s < grads.size(); ++s) {
    p.set_grad(from_data(grads[s], {2}, DType::f64));
    opt.step();
    const double t = static_cast<double>(s + 1);
    for (size_t k = 0; k < 2; ++k) {
      const double g = grads[s][k];
      m[k] = b1 * m[k] + (1 - b1) * g;
      v[k] = b2 * v[k] + (1 - b2) * g * g;
      const double m_hat = m[k] / (1 - std::pow(b1, t));
      const double v_hat = v[k] / (1 - std::pow(b2, t));
      x[k] -= lr * m_hat / (std::sqrt(v_hat) + eps);  // eps outside the square root
      if (s == 0)
        CHECK(x[k] ==
              doctest::Approx(std::vector<double>{2.0, -3.0}[k] - lr * g / (std::abs(g) + eps)));
      CHECK(p.to_vector()[k] == doctest::Approx(x[k]).epsilon(1e-13));
    }
  }
}

TEST_CASE("optim: AdamW decouples weight decay, unlike Adam's L2 term") {
  auto run = [](auto opt_maker) {
    Tensor p = from_data(kP0, {3}, DType::f64);
    p.requires_grad_();
    auto opt = opt_maker({p});
    for (const auto& g : kGrads) {
      p.set_grad(from_data(g, {3}, DType::f64));
      opt->step();
    }
    return p.to_vector();
  };
  // Without decay the two are the same optimiser.
  const auto adam0 = run(maker<Adam>(AdamOptions{.lr = 0.1}));
  const auto adamw0 = run(maker<AdamW>(AdamWOptions{.lr = 0.1, .weight_decay = 0.0}));
  CHECK(adam0 == adamw0);
  // With decay they differ.
  const auto adam = run(maker<Adam>(AdamOptions{.lr = 0.1, .weight_decay = 0.1}));
  const auto adamw = run(maker<AdamW>(AdamWOptions{.lr = 0.1, .weight_decay = 0.1}));
  for (size_t k = 0; k < 3; ++k) CHECK(std::abs(adam[k] - adamw[k]) > 1e-3);
  // One AdamW step is the undecayed Adam step applied to p * (1 - lr * wd).
  Tensor a = from_data({1.0, -2.0}, {2}, DType::f64);
  Tensor b = from_data({1.0 * 0.99, -2.0 * 0.99}, {2}, DType::f64);
  AdamW w({a}, {.lr = 0.1, .weight_decay = 0.1});
  Adam plain({b}, {.lr = 0.1});
  a.set_grad(from_data({0.3, 0.7}, {2}, DType::f64));
  b.set_grad(from_data({0.3, 0.7}, {2}, DType::f64));
  w.step();
  plain.step();
  CHECK(a.to_vector()[0] == doctest::Approx(b.to_vector()[0]).epsilon(1e-15));
  CHECK(a.to_vector()[1] == doctest::Approx(b.to_vector()[1]).epsilon(1e-15));
  // AdamW's default weight decay is PyTorch's 1e-2.
  CHECK(AdamW({a}).options().weight_decay == 1e-2);
  CHECK(Adam({a}).options().weight_decay == 0.0);
}

// ---- RMSprop ----

TEST_CASE("optim: RMSprop matches PyTorch (plain, centered, momentum with weight decay)") {
  SUBCASE("run(torch.optim.RMSprop, lr=0.01)") {
    check_both_dtypes(maker<RMSprop>(RMSpropOptions{.lr = 0.01}),
                      {{0.9000000999999, -1.900000049999975, 0.40000003333332224},
                       {0.8029573273311483, -1.900000049999975, 0.485863028683019},
                       {0.8619967645868081, -1.994962899880341, 0.45323400151544135}});
  }
  SUBCASE("run(torch.optim.RMSprop, lr=0.01, centered=True)") {
    check_both_dtypes(maker<RMSprop>(RMSpropOptions{.lr = 0.01, .centered = true}),
                      {{0.8994963194840784, -1.899496268979104, 0.3994962521441012},
                       {0.8017345170731733, -1.899496268979104, 0.4854114674258421},
                       {0.8608170345163063, -1.9946538263285807, 0.452782439849695}});
  }
  SUBCASE("run(torch.optim.RMSprop, lr=0.01, momentum=0.9, centered=True, weight_decay=0.1)") {
    check_both_dtypes(maker<RMSprop>(RMSpropOptions{
                          .lr = 0.01, .weight_decay = 0.1, .momentum = 0.9, .centered = true}),
                      {{0.899496268979104, -1.8994962437265976, 0.3994962473340994},
                       {0.7155992495772577, -1.7655850696362894, 0.3887906508392564},
                       {0.5900408307638925, -1.7145289457440624, 0.3407313240802401}});
  }
}

TEST_CASE("optim: RMSprop first step follows the formula written out by hand") {
  const double lr = 0.02, alpha = 0.9, eps = 1e-4;
  Tensor p = from_data({1.0, -1.0}, {2}, DType::f64);
  p.requires_grad_();
  RMSprop opt({p}, {.lr = lr, .alpha = alpha, .eps = eps});
  p.set_grad(from_data({0.5, -2.0}, {2}, DType::f64));
  opt.step();
  CHECK(p.to_vector()[0] ==
        doctest::Approx(1.0 - lr * 0.5 / (std::sqrt((1 - alpha) * 0.25) + eps)).epsilon(1e-14));
  CHECK(p.to_vector()[1] ==
        doctest::Approx(-1.0 + lr * 2.0 / (std::sqrt((1 - alpha) * 4.0) + eps)).epsilon(1e-14));
}

// ---- Shared behaviour ----

TEST_CASE("optim: parameters without a gradient are skipped and get state on their first one") {
  Tensor a = from_data({1.0, 2.0}, {2}, DType::f32);
  Tensor b = from_data({-1.0, 0.5, 3.0}, {3}, DType::f64);
  a.requires_grad_();
  b.requires_grad_();
  Adam opt({a, b}, {.lr = 0.1});
  a.set_grad(from_data({0.5, -0.5}, {2}, DType::f32));
  const uint64_t b_version = b.version();
  opt.step();
  CHECK(b.to_vector() == std::vector<double>{-1.0, 0.5, 3.0});
  CHECK(b.version() == b_version);
  CHECK(a.to_vector()[0] == doctest::Approx(0.9));
  // b's first gradient gets a first (bias-corrected) step: p -= lr * g / (|g| + eps).
  b.set_grad(from_data({2.0, -1.0, 0.25}, {3}, DType::f64));
  opt.step();
  CHECK(b.to_vector()[0] == doctest::Approx(-1.0 - 0.1 * 2.0 / (2.0 + 1e-8)).epsilon(1e-14));
  CHECK(b.to_vector()[1] == doctest::Approx(0.5 + 0.1 * 1.0 / (1.0 + 1e-8)).epsilon(1e-14));
  CHECK(b.to_vector()[2] == doctest::Approx(3.0 - 0.1 * 0.25 / (0.25 + 1e-8)).epsilon(1e-14));
  CHECK(b.version() > b_version);
  CHECK(opt.steps() == 2);

  // The same for every optimiser: an unset gradient leaves the parameter alone.
  for (std::string_view name : optimizer_names()) {
    Tensor x = from_data({1.0, 2.0}, {2}, DType::f32);
    Tensor y = from_data({3.0}, {1}, DType::f32);
    auto o = make_optimizer(std::string(name), {x, y}, {.lr = 0.1});
    y.set_grad(from_data({1.0}, {1}, DType::f32));
    o->step();
    CHECK(x.to_vector() == std::vector<double>{1.0, 2.0});
    CHECK(y.to_vector()[0] < 3.0);
  }
}

TEST_CASE("optim: step updates the model's tensors in place, bumps the version, zero_grad zeroes") {
  Tensor w = from_data({1.0, 2.0, 3.0, 4.0}, {2, 2}, DType::f32);
  w.requires_grad_();
  Tensor view = w.detach();  // shares storage: sees the update
  SGD opt({w}, {.lr = 0.5});
  w.set_grad(ones({2, 2}, DType::f32));
  const uint64_t v0 = w.version();
  opt.step();  // grad mode is on: the update must not be refused
  CHECK(w.version() == v0 + 1);
  CHECK(view.to_vector() == std::vector<double>{0.5, 1.5, 2.5, 3.5});
  const Tensor grad_before = w.grad();
  opt.zero_grad(false);
  CHECK(w.grad().to_vector() == std::vector<double>(4, 0.0));
  CHECK(w.grad().impl() == grad_before.impl());  // the buffer is kept
  opt.step();                                    // zero gradient: no movement
  CHECK(view.to_vector() == std::vector<double>{0.5, 1.5, 2.5, 3.5});
  opt.zero_grad();  // default: set to none
  CHECK_FALSE(w.grad().defined());
  opt.step();  // no gradient: skipped
  CHECK(view.to_vector() == std::vector<double>{0.5, 1.5, 2.5, 3.5});
  CHECK(opt.name() == "SGD");
  CHECK(opt.lr() == 0.5);
  opt.set_lr(0.25);
  CHECK(opt.lr() == 0.25);
}

TEST_CASE("optim: options are validated with messages naming the option and value") {
  Tensor p = zeros({2}, DType::f32);
  p.requires_grad_();
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = -0.1}), "SGD: invalid lr -0.1 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = 0.1, .momentum = -0.5}),
                       "SGD: invalid momentum -0.5 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = 0.1, .weight_decay = -1.0}),
                       "SGD: invalid weight_decay -1 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = 0.1, .nesterov = true}),
                       "SGD: Nesterov momentum requires a momentum and zero dampening (got "
                       "momentum 0, dampening 0)",
                       Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = 0.1, .momentum = 0.9, .dampening = 0.1, .nesterov = true}),
                       "SGD: Nesterov momentum requires a momentum and zero dampening (got "
                       "momentum 0.9, dampening 0.1)",
                       Error);
  CHECK_THROWS_WITH_AS(Adam({p}, {.beta1 = 1.0}), "Adam: invalid beta1 1 (must be in [0, 1))",
                       Error);
  CHECK_THROWS_WITH_AS(Adam({p}, {.beta2 = -0.5}), "Adam: invalid beta2 -0.5 (must be in [0, 1))",
                       Error);
  CHECK_THROWS_WITH_AS(Adam({p}, {.eps = -1e-8}), "Adam: invalid eps -1e-08 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(Adam({p}, {.weight_decay = -0.01}),
                       "Adam: invalid weight_decay -0.01 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(AdamW({p}, {.lr = -1.0}), "AdamW: invalid lr -1 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(AdamW({p}, {.beta1 = 1.5}), "AdamW: invalid beta1 1.5 (must be in [0, 1))",
                       Error);
  CHECK_THROWS_WITH_AS(RMSprop({p}, {.alpha = -0.9}), "RMSprop: invalid alpha -0.9 (must be >= 0)",
                       Error);
  CHECK_THROWS_WITH_AS(RMSprop({p}, {.momentum = -0.9}),
                       "RMSprop: invalid momentum -0.9 (must be >= 0)", Error);
  CHECK_THROWS_WITH_AS(SGD({p}, {.lr = std::nan("")}), "SGD: invalid lr nan (must be >= 0)", Error);
  SGD ok({p}, {.lr = 0.1});
  CHECK_THROWS_WITH_AS(ok.set_lr(-2.0), "SGD: invalid lr -2 (must be >= 0)", Error);
  CHECK(ok.lr() == 0.1);

  // Parameter lists.
  CHECK_THROWS_WITH_AS(SGD({}, {}), "SGD: got an empty parameter list", Error);
  CHECK_THROWS_WITH_AS(SGD({p, Tensor()}, {}), "SGD: parameter 1 is an undefined tensor", Error);
  CHECK_THROWS_WITH_AS(Adam({p, p}), doctest::Contains("appears more than once"), Error);
  Tensor not_leaf = mul(p, 2.0);
  CHECK_THROWS_WITH_AS(Adam({not_leaf}), doctest::Contains("is not a leaf tensor"), Error);
}

// ---- Factory ----

TEST_CASE("optim: make_optimizer builds each named optimiser with the config applied") {
  Tensor p = zeros({3}, DType::f64);
  CHECK(make_optimizer("sgd", {p})->name() == "SGD");
  CHECK(make_optimizer("adam", {p})->name() == "Adam");
  CHECK(make_optimizer("adamw", {p})->name() == "AdamW");
  CHECK(make_optimizer("rmsprop", {p})->name() == "RMSprop");
  CHECK(optimizer_names().size() == 6);

  auto sgd = make_optimizer("sgd", {p}, {.lr = 0.3});
  CHECK(sgd->lr() == 0.3);
  CHECK(dynamic_cast<SGD&>(*sgd).options().momentum == 0.0);
  auto momentum = make_optimizer("momentum", {p});
  CHECK(dynamic_cast<SGD&>(*momentum).options().momentum == 0.9);
  CHECK_FALSE(dynamic_cast<SGD&>(*momentum).options().nesterov);
  auto nesterov = make_optimizer("nesterov", {p}, {.momentum = 0.8, .weight_decay = 0.1});
  CHECK(dynamic_cast<SGD&>(*nesterov).options().nesterov);
  CHECK(dynamic_cast<SGD&>(*nesterov).options().momentum == 0.8);
  CHECK(dynamic_cast<SGD&>(*nesterov).options().weight_decay == 0.1);
  auto adamw = make_optimizer("adamw", {p}, {.beta1 = 0.8, .beta2 = 0.99, .eps = 1e-6});
  const AdamOptions& ao = dynamic_cast<AdamW&>(*adamw).options();
  CHECK(ao.weight_decay == 1e-2);
  CHECK(ao.beta1 == 0.8);
  CHECK(ao.beta2 == 0.99);
  CHECK(ao.eps == 1e-6);
  CHECK(adamw->lr() == 1e-3);
  auto rms = make_optimizer("rmsprop", {p}, {.alpha = 0.5, .centered = true});
  CHECK(dynamic_cast<RMSprop&>(*rms).options().momentum == 0.0);
  CHECK(dynamic_cast<RMSprop&>(*rms).options().alpha == 0.5);
  CHECK(dynamic_cast<RMSprop&>(*rms).options().centered);

  // The factory's nesterov is the PyTorch case run(torch.optim.SGD, lr=0.1, momentum=0.9,
  // nesterov=True).
  check_trajectory(
      [](std::vector<Tensor> params) {
        return make_optimizer("nesterov", std::move(params), {.lr = 0.1});
      },
      {{0.981, -1.962, 0.443},
       {0.8968999999999999, -1.9458, 0.5137},
       {0.91421, -2.04522, 0.49433000000000005}},
      DType::f64);

  CHECK_THROWS_WITH_AS(make_optimizer("lbfgs", {p}),
                       "make_optimizer: unknown optimizer 'lbfgs' (valid names: sgd, momentum, "
                       "nesterov, adam, adamw, rmsprop)",
                       Error);
  CHECK_THROWS_WITH_AS(make_optimizer("nesterov", {p}, {.momentum = 0.0}),
                       doctest::Contains("Nesterov momentum requires a momentum"), Error);
}

TEST_CASE("optim: every optimiser minimises a quadratic in f32 and f64") {
  const std::vector<double> target = {1.5, -0.5, 2.0, 0.25};
  struct Case {
    const char* name;
    OptimizerConfig config;
  };
  const std::vector<Case> cases = {
      {"sgd", {.lr = 0.1}},
      {"momentum", {.lr = 0.05}},
      {"nesterov", {.lr = 0.05}},
      {"adam", {.lr = 0.05}},
      {"adamw", {.lr = 0.05}},
      {"rmsprop", {.lr = 0.01}},
      {"rmsprop", {.lr = 0.01, .momentum = 0.5, .centered = true}},
      {"adam", {.lr = 0.05, .amsgrad = true}},
  };
  for (DType dtype : {DType::f32, DType::f64}) {
    for (const Case& c : cases) {
      INFO(c.name << " " << dtype_name(dtype));
      Tensor p = zeros({2, 2}, dtype);
      p.requires_grad_();
      const Tensor t = from_data(target, {2, 2}, dtype);
      auto opt = make_optimizer(c.name, {p}, c.config);
      double first = 0.0, last = 0.0;
      for (int it = 0; it < 100; ++it) {
        opt->zero_grad();
        Tensor loss = sum(square(sub(p, t)));
        if (it == 0) first = loss.item();
        last = loss.item();
        loss.backward();
        opt->step();
      }
      CHECK(last < 0.05 * first);
    }
  }
}

TEST_CASE("optim: state is allocated on the first step and step() never allocates after it") {
  struct Case {
    const char* name;
    OptimizerConfig config;
  };
  const std::vector<Case> cases = {
      {"sgd", {.weight_decay = 0.1}},
      {"momentum", {}},
      {"nesterov", {.weight_decay = 0.1}},
      {"adam", {.weight_decay = 0.1}},
      {"adam", {.amsgrad = true}},
      {"adamw", {}},
      {"rmsprop", {}},
      {"rmsprop", {.momentum = 0.9, .weight_decay = 0.1, .centered = true}},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    Tensor a = full({64, 32}, 0.5, DType::f32);
    Tensor b = full({17}, -0.25, DType::f64);
    a.requires_grad_();
    b.requires_grad_();
    a.set_grad(full({64, 32}, 0.01, DType::f32));
    b.set_grad(full({17}, -0.02, DType::f64));
    auto opt = make_optimizer(c.name, {a, b}, c.config);
    const size_t in_use_before = memory_stats().bytes_in_use;
    opt->step();  // warm-up: creates the state buffers
    if (std::string(c.name) != "sgd") CHECK(memory_stats().bytes_in_use > in_use_before);
    // With the pool's cache emptied, any storage allocation would reach the system.
    release_cached_memory();
    const MemoryStats before = memory_stats();
    for (int s = 2; s <= 10; ++s) {
      opt->step();
      clip_grad_norm({a, b}, 1.0);
    }
    const MemoryStats after = memory_stats();
    CHECK(after.system_allocs == before.system_allocs);
    CHECK(after.bytes_in_use == before.bytes_in_use);
  }
}

// ---- Schedules ----

TEST_CASE(
    "optim: StepLR matches PyTorch: sched(torch.optim.lr_scheduler.StepLR, 10, "
    "step_size=3, gamma=0.5)") {
  Tensor p = zeros({1});
  SGD opt({p}, {.lr = 0.5});
  StepLR sched(opt, 3, 0.5);
  CHECK(sched.current_lr() == 0.5);
  CHECK(sched.base_lr() == 0.5);
  const std::vector<double> expected = {0.5,   0.5,   0.25,  0.25,   0.25,
                                        0.125, 0.125, 0.125, 0.0625, 0.0625};
  for (size_t e = 0; e < expected.size(); ++e) {
    opt.step();
    sched.step();
    CHECK(sched.current_lr() == doctest::Approx(expected[e]).epsilon(1e-15));
    CHECK(opt.lr() == sched.current_lr());
    CHECK(sched.last_epoch() == static_cast<int64_t>(e + 1));
  }
  CHECK(StepLR(opt, 2).lr_at(4) == doctest::Approx(0.0625 * 0.01));  // gamma defaults to 0.1
  CHECK_THROWS_WITH_AS(StepLR(opt, 0), "StepLR: invalid step_size 0 (must be >= 1)", Error);
}

TEST_CASE(
    "optim: CosineAnnealingLR matches PyTorch: sched(torch.optim.lr_scheduler."
    "CosineAnnealingLR, 12, T_max=5, eta_min=0.01)") {
  Tensor p = zeros({1});
  SGD opt({p}, {.lr = 0.5});
  CosineAnnealingLR sched(opt, 5, 0.01);
  // Past T_max the lr rises again, as PyTorch's.
  const std::vector<double> expected = {0.45320916362186214,
                                        0.33070916362186215,
                                        0.1792908363781379,
                                        0.0567908363781379,
                                        0.01,
                                        0.05679083637813787,
                                        0.17929083637813795,
                                        0.33070916362186226,
                                        0.45320916362186237,
                                        0.5000000000000002,
                                        0.4532091636218625,
                                        0.3307091636218623};
  for (size_t e = 0; e < expected.size(); ++e) {
    opt.step();
    sched.step();
    CHECK(std::abs(sched.current_lr() - expected[e]) < 1e-14);
    CHECK(opt.lr() == sched.current_lr());
  }
  CHECK(CosineAnnealingLR(opt, 10).lr_at(5) == doctest::Approx(opt.lr() / 2));  // eta_min 0
  CHECK_THROWS_WITH_AS(CosineAnnealingLR(opt, 0),
                       "CosineAnnealingLR: invalid T_max 0 (must be >= 1)", Error);
}

TEST_CASE("optim: a schedule's lr is the one the next step uses") {
  Tensor p = zeros({1}, DType::f64);
  SGD opt({p}, {.lr = 1.0});
  StepLR sched(opt, 1, 0.5);
  p.set_grad(ones({1}, DType::f64));
  opt.step();  // lr 1
  sched.step();
  opt.step();  // lr 0.5
  sched.step();
  opt.step();  // lr 0.25
  CHECK(p.item() == -1.75);
}

// ---- Gradient clipping ----

TEST_CASE("optim: clip_grad_norm returns the total norm and scales gradients above max_norm") {
  Tensor a = zeros({2}, DType::f32);
  Tensor b = zeros({1}, DType::f64);
  Tensor c = zeros({3}, DType::f32);  // no gradient: skipped
  std::vector<Tensor> params = {a, b, c};

  a.set_grad(from_data({3.0, 4.0}, {2}, DType::f32));
  b.set_grad(from_data({12.0}, {1}, DType::f64));
  // Below the limit: unchanged.
  CHECK(clip_grad_norm(params, 20.0) == doctest::Approx(13.0).epsilon(1e-15));
  CHECK(a.grad().to_vector() == std::vector<double>{3.0, 4.0});
  CHECK(b.grad().to_vector() == std::vector<double>{12.0});

  // Above: scaled by max_norm / (norm + 1e-6).
  const uint64_t version = b.grad().version();
  CHECK(clip_grad_norm(params, 6.5) == doctest::Approx(13.0).epsilon(1e-15));
  const double coef = 6.5 / (13.0 + 1e-6);
  CHECK(a.grad().to_vector()[0] == doctest::Approx(3.0 * coef).epsilon(1e-7));
  CHECK(a.grad().to_vector()[1] == doctest::Approx(4.0 * coef).epsilon(1e-7));
  CHECK(b.grad().to_vector()[0] == doctest::Approx(12.0 * coef).epsilon(1e-15));
  CHECK(b.grad().version() > version);
  CHECK_FALSE(c.grad().defined());
  // The clipped gradients have (nearly) max_norm as their norm.
  CHECK(clip_grad_norm(params, 100.0) == doctest::Approx(6.5).epsilon(1e-6));

  // No gradients at all: norm 0.
  Tensor d = zeros({2});
  CHECK(clip_grad_norm({d}, 1.0) == 0.0);
  CHECK_THROWS_WITH_AS(clip_grad_norm(params, -1.0),
                       "clip_grad_norm: invalid max_norm -1 (must be >= 0)", Error);
}
