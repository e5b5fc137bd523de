// Optimizer base, SGD, the factory and gradient clipping.
#include "tapegrad/nn/optim.hpp"

#include <array>
#include <cmath>
#include <unordered_set>

#include "optim_detail.hpp"
#include "tapegrad/autograd/grad_mode.hpp"

namespace tapegrad::nn {

using detail::bump_version;
using detail::check_grad;
using detail::require_nonnegative;

// ---- Optimizer ----

Optimizer::Optimizer(std::vector<Tensor> params, double lr, std::string name)
    : params_(std::move(params)), lr_(lr), name_(std::move(name)) {
  if (params_.empty()) fail("{}: got an empty parameter list", name_);
  std::unordered_set<const TensorImpl*> seen;
  for (size_t i = 0; i < params_.size(); ++i) {
    const Tensor& p = params_[i];
    if (!p.defined()) fail("{}: parameter {} is an undefined tensor", name_, i);
    if (!p.is_leaf()) {
      fail("{}: parameter {} (shape {}) is not a leaf tensor; only leaves can be optimised", name_,
           i, p.shape());
    }
    if (!seen.insert(p.impl()).second) {
      fail("{}: parameter {} (shape {}) appears more than once in the parameter list", name_, i,
           p.shape());
    }
  }
  require_nonnegative(name_.c_str(), "lr", lr);
}

void Optimizer::zero_grad(bool set_to_none) {
  for (const Tensor& p : params_) {
    if (set_to_none) {
      p.set_grad(Tensor());
    } else {
      p.zero_grad();
    }
  }
}

void Optimizer::set_lr(double lr) {
  require_nonnegative(name_.c_str(), "lr", lr);
  lr_ = lr;
}

// ---- SGD ----

SGD::SGD(std::vector<Tensor> params, const SGDOptions& options)
    : Optimizer(std::move(params), options.lr, "SGD"), options_(options) {
  require_nonnegative("SGD", "momentum", options.momentum);
  require_nonnegative("SGD", "weight_decay", options.weight_decay);
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0)) {
    fail(
        "SGD: Nesterov momentum requires a momentum and zero dampening (got momentum {}, "
        "dampening {})",
        options.momentum, options.dampening);
  }
  momentum_buffers_.resize(params_.size());
}

namespace {
// One SGD update over n entries, specialised on the options so that the loop has
// no branch and vectorises (restrict: parameter, gradient and buffer never alias).
template <typename T, bool kDecay, bool kMomentum, bool kNesterov, bool kFirst>
void sgd_update(T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t n, T neg_lr,
                T wd, T mom, T keep) {
  for (int64_t k = 0; k < n; ++k) {
    T d = g[k];
    if constexpr (kDecay) d = d + wd * p[k];
    if constexpr (kMomentum) {
      // PyTorch starts the buffer as a copy of the first (decayed) gradient.
      const T b = kFirst ? d : buf[k] * mom + keep * d;
      buf[k] = b;
      d = kNesterov ? d + mom * b : b;
    }
    p[k] = p[k] + neg_lr * d;
  }
}

template <typename T, bool... kFlags>
using SgdKernel = decltype(&sgd_update<T, kFlags...>);

// The specialisation for a combination of options.
template <typename T>
SgdKernel<T, false, false, false, false> pick_sgd_update(bool decay, bool momentum, bool nesterov,
                                                         bool first) {
  using K = SgdKernel<T, false, false, false, false>;
  static constexpr K kernels[16] = {
      sgd_update<T, false, false, false, false>, sgd_update<T, false, false, false, true>,
      sgd_update<T, false, false, true, false>,  sgd_update<T, false, false, true, true>,
      sgd_update<T, false, true, false, false>,  sgd_update<T, false, true, false, true>,
      sgd_update<T, false, true, true, false>,   sgd_update<T, false, true, true, true>,
      sgd_update<T, true, false, false, false>,  sgd_update<T, true, false, false, true>,
      sgd_update<T, true, false, true, false>,   sgd_update<T, true, false, true, true>,
      sgd_update<T, true, true, false, false>,   sgd_update<T, true, true, false, true>,
      sgd_update<T, true, true, true, false>,    sgd_update<T, true, true, true, true>};
  return kernels[(decay ? 8 : 0) + (momentum ? 4 : 0) + (nesterov ? 2 : 0) + (first ? 1 : 0)];
}
}  // namespace

void SGD::step() {
  NoGradGuard no_grad;
  const SGDOptions& o = options_;
  const bool use_momentum = o.momentum != 0.0;
  const bool use_decay = o.weight_decay != 0.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    check_grad(name_, i, p, g);
    Tensor& buf = momentum_buffers_[i];
    const bool first = use_momentum && !buf.defined();
    if (first) buf = Tensor::empty(p.shape(), p.dtype());
    dispatch(p.dtype(), [&]<typename T>() {
      const auto update =
          pick_sgd_update<T>(use_decay, use_momentum, o.nesterov && use_momentum, first);
      update(p.data<T>(), g.data<T>(), use_momentum ? buf.data<T>() : nullptr, p.numel(),
             static_cast<T>(-lr_), static_cast<T>(o.weight_decay), static_cast<T>(o.momentum),
             static_cast<T>(1.0 - o.dampening));
    });
    bump_version(p);
  }
  ++steps_;
}

// ---- Factory ----

namespace {
constexpr std::array<std::string_view, 6> kOptimizerNames = {"sgd",  "momentum", "nesterov",
                                                             "adam", "adamw",    "rmsprop"};
}  // namespace

std::span<const std::string_view> optimizer_names() { return kOptimizerNames; }

std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params,
                                          const OptimizerConfig& config) {
  if (name == "sgd" || name == "momentum" || name == "nesterov") {
    SGDOptions o;
    o.lr = config.lr.value_or(0.01);
    o.momentum = config.momentum.value_or(name == "sgd" ? 0.0 : 0.9);
    o.dampening = config.dampening;
    o.nesterov = name == "nesterov";
    o.weight_decay = config.weight_decay.value_or(0.0);
    return std::make_unique<SGD>(std::move(params), o);
  }
  if (name == "adam") {
    AdamOptions o;
    o.lr = config.lr.value_or(1e-3);
    o.beta1 = config.beta1;
    o.beta2 = config.beta2;
    o.eps = config.eps;
    o.weight_decay = config.weight_decay.value_or(0.0);
    o.amsgrad = config.amsgrad;
    return std::make_unique<Adam>(std::move(params), o);
  }
  if (name == "adamw") {
    AdamWOptions o;
    o.lr = config.lr.value_or(1e-3);
    o.beta1 = config.beta1;
    o.beta2 = config.beta2;
    o.eps = config.eps;
    o.weight_decay = config.weight_decay.value_or(1e-2);
    o.amsgrad = config.amsgrad;
    return std::make_unique<AdamW>(std::move(params), o);
  }
  if (name == "rmsprop") {
    RMSpropOptions o;
    o.lr = config.lr.value_or(1e-2);
    o.alpha = config.alpha;
    o.eps = config.eps;
    o.weight_decay = config.weight_decay.value_or(0.0);
    o.momentum = config.momentum.value_or(0.0);
    o.centered = config.centered;
    return std::make_unique<RMSprop>(std::move(params), o);
  }
  std::string valid;
  for (std::string_view n : kOptimizerNames) {
    if (!valid.empty()) valid += ", ";
    valid += n;
  }
  fail("make_optimizer: unknown optimizer '{}' (valid names: {})", name, valid);
}

// ---- Gradient clipping ----

double clip_grad_norm(std::span<const Tensor> params, double max_norm) {
  if (!(max_norm >= 0.0)) fail("clip_grad_norm: invalid max_norm {} (must be >= 0)", max_norm);
  double sum_sq = 0.0;
  for (size_t i = 0; i < params.size(); ++i) {
    if (!params[i].defined()) fail("clip_grad_norm: parameter {} is an undefined tensor", i);
    const Tensor& g = params[i].grad();
    if (!g.defined()) continue;
    dispatch(g.dtype(), [&]<typename T>() {
      const T* gd = g.data<T>();
      const int64_t n = g.numel();
      for (int64_t k = 0; k < n; ++k) {
        const double v = static_cast<double>(gd[k]);
        sum_sq += v * v;
      }
    });
  }
  const double norm = std::sqrt(sum_sq);
  const double coef = max_norm / (norm + 1e-6);
  // As PyTorch, which multiplies by min(coef, 1): a NaN norm spreads to the gradients.
  if (coef >= 1.0) return norm;
  for (const Tensor& p : params) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    dispatch(g.dtype(), [&]<typename T>() {
      T* gd = g.data<T>();
      const T c = static_cast<T>(coef);
      const int64_t n = g.numel();
      for (int64_t k = 0; k < n; ++k) gd[k] = gd[k] * c;
    });
    bump_version(g);
  }
  return norm;
}

}  // namespace tapegrad::nn
