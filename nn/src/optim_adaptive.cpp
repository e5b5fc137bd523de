// Adam, AdamW and RMSprop.
#include <algorithm>
#include <cmath>

#include "optim_detail.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/nn/optim.hpp"

namespace tapegrad::nn {

using detail::bump_version;
using detail::check_grad;
using detail::require_nonnegative;
using detail::require_unit_interval;

// ---- Adam / AdamW ----

namespace {
AdamOptions to_adam_options(const AdamWOptions& w) {
  AdamOptions o;
  o.lr = w.lr;
  o.beta1 = w.beta1;
  o.beta2 = w.beta2;
  o.eps = w.eps;
  o.weight_decay = w.weight_decay;
  o.amsgrad = w.amsgrad;
  return o;
}
}  // namespace

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options)
    : Adam(std::move(params), options, false, "Adam") {}

Adam::Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled, std::string name)
    : Optimizer(std::move(params), options.lr, std::move(name)),
      options_(options),
      decoupled_(decoupled) {
  const char* who = name_.c_str();
  require_nonnegative(who, "eps", options.eps);
  require_unit_interval(who, "beta1", options.beta1);
  require_unit_interval(who, "beta2", options.beta2);
  require_nonnegative(who, "weight_decay", options.weight_decay);
  state_.resize(params_.size());
}

AdamW::AdamW(std::vector<Tensor> params, const AdamWOptions& options)
    : Adam(std::move(params), to_adam_options(options), true, "AdamW") {}

void Adam::step() {
  NoGradGuard no_grad;
  const AdamOptions& o = options_;
  const bool l2 = !decoupled_ && o.weight_decay != 0.0;
  const bool decay = decoupled_ && o.weight_decay != 0.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    check_grad(name_, i, p, g);
    State& s = state_[i];
    if (s.step == 0) {
      s.exp_avg = zeros(p.shape(), p.dtype());
      s.exp_avg_sq = zeros(p.shape(), p.dtype());
      if (o.amsgrad) s.max_exp_avg_sq = zeros(p.shape(), p.dtype());
    }
    ++s.step;
    const double t = static_cast<double>(s.step);
    const double bias_correction1 = 1.0 - std::pow(o.beta1, t);
    const double bias_correction2 = 1.0 - std::pow(o.beta2, t);
    const double step_size = lr_ / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    dispatch(p.dtype(), [&]<typename T>() {
      T* pd = p.data<T>();
      const T* gd = g.data<T>();
      T* m = s.exp_avg.data<T>();
      T* v = s.exp_avg_sq.data<T>();
      T* vmax = o.amsgrad ? s.max_exp_avg_sq.data<T>() : nullptr;
      const T wd = static_cast<T>(o.weight_decay);
      const T shrink = static_cast<T>(1.0 - lr_ * o.weight_decay);
      const T b1 = static_cast<T>(o.beta1), one_minus_b1 = static_cast<T>(1.0 - o.beta1);
      const T b2 = static_cast<T>(o.beta2), one_minus_b2 = static_cast<T>(1.0 - o.beta2);
      const T bc2_sqrt = static_cast<T>(bias_correction2_sqrt);
      const T eps = static_cast<T>(o.eps);
      const T neg_step_size = static_cast<T>(-step_size);
      const int64_t n = p.numel();
      for (int64_t k = 0; k < n; ++k) {
        T gk = gd[k];
        if (l2) gk = gk + wd * pd[k];
        if (decay) pd[k] = pd[k] * shrink;
        m[k] = m[k] * b1 + one_minus_b1 * gk;
        v[k] = v[k] * b2 + one_minus_b2 * gk * gk;
        T second = v[k];
        if (vmax) {
          vmax[k] = std::max(vmax[k], v[k]);
          second = vmax[k];
        }
        const T denom = std::sqrt(second) / bc2_sqrt + eps;
        pd[k] = pd[k] + neg_step_size * m[k] / denom;
      }
    });
    bump_version(p);
  }
  ++steps_;
}

// ---- RMSprop ----

RMSprop::RMSprop(std::vector<Tensor> params, const RMSpropOptions& options)
    : Optimizer(std::move(params), options.lr, "RMSprop"), options_(options) {
  require_nonnegative("RMSprop", "eps", options.eps);
  require_nonnegative("RMSprop", "momentum", options.momentum);
  require_nonnegative("RMSprop", "weight_decay", options.weight_decay);
  require_nonnegative("RMSprop", "alpha", options.alpha);
  state_.resize(params_.size());
}

void RMSprop::step() {
  NoGradGuard no_grad;
  const RMSpropOptions& o = options_;
  const bool use_decay = o.weight_decay != 0.0;
  const bool use_momentum = o.momentum > 0.0;
  for (size_t i = 0; i < params_.size(); ++i) {
    Tensor& p = params_[i];
    const Tensor& g = p.grad();
    if (!g.defined()) continue;
    check_grad(name_, i, p, g);
    State& s = state_[i];
    if (!s.square_avg.defined()) {
      s.square_avg = zeros(p.shape(), p.dtype());
      if (o.centered) s.grad_avg = zeros(p.shape(), p.dtype());
      if (use_momentum) s.momentum_buffer = zeros(p.shape(), p.dtype());
    }
    dispatch(p.dtype(), [&]<typename T>() {
      T* pd = p.data<T>();
      const T* gd = g.data<T>();
      T* sq = s.square_avg.data<T>();
      T* ga = o.centered ? s.grad_avg.data<T>() : nullptr;
      T* buf = use_momentum ? s.momentum_buffer.data<T>() : nullptr;
      const T wd = static_cast<T>(o.weight_decay);
      const T alpha = static_cast<T>(o.alpha);
      const T one_minus_alpha = static_cast<T>(1.0 - o.alpha);
      const T mom = static_cast<T>(o.momentum);
      const T eps = static_cast<T>(o.eps);
      const T neg_lr = static_cast<T>(-lr_);
      const int64_t n = p.numel();
      for (int64_t k = 0; k < n; ++k) {
        T gk = gd[k];
        if (use_decay) gk = gk + wd * pd[k];
        sq[k] = sq[k] * alpha + one_minus_alpha * gk * gk;
        T avg;
        if (ga) {
          ga[k] = ga[k] * alpha + one_minus_alpha * gk;
          avg = std::sqrt(sq[k] + T(-1) * ga[k] * ga[k]);
        } else {
          avg = std::sqrt(sq[k]);
        }
        avg = avg + eps;
        if (buf) {
          buf[k] = buf[k] * mom + gk / avg;
          pd[k] = pd[k] + neg_lr * buf[k];
        } else {
          pd[k] = pd[k] + neg_lr * gk / avg;
        }
      }
    });
    bump_version(p);
  }
  ++steps_;
}

}  // namespace tapegrad::nn
