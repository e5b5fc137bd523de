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
    // PyTorch starts the buffer as a copy of the first (decayed) gradient.
    const bool first = use_momentum && !buf.defined();
    if (first) buf = Tensor::empty(p.shape(), p.dtype());
    dispatch(p.dtype(), [&]<typename T>() {
      T* pd = p.data<T>();
      const T* gd = g.data<T>();
      T* bd = use_momentum ? buf.data<T>() : nullptr;
      const T wd = static_cast<T>(o.weight_decay);
      const T mom = static_cast<T>(o.momentum);
      const T keep = static_cast<T>(1.0 - o.dampening);
      const T neg_lr = static_cast<T>(-lr_);
      const int64_t n = p.numel();
      for (int64_t k = 0; k < n; ++k) {
        T d = gd[k];
        if (use_decay) d = d + wd * pd[k];
        if (use_momentum) {
          const T b = first ? d : bd[k] * mom + keep * d;
          bd[k] = b;
          d = o.nesterov ? d + mom * b : b;
        }
        pd[k] = pd[k] + neg_lr * d;
      }
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
