// Optimisers, learning-rate schedules and gradient clipping. The update rules are
// those of PyTorch 1.13 (torch.optim.SGD, Adam, AdamW, RMSprop, the single-tensor
// code paths), written as loops over each parameter's raw f32 or f64 data.
//
// An optimiser holds Tensor handles that share state with the model's parameters,
// so an update written through the handle is seen by the model. Updates are in
// place, bump the parameter's storage version and are not recorded on the tape.
// State buffers (momentum, moments) are allocated once, on a parameter's first
// step; later steps do not allocate.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad::nn {

// ---- Optimisers ----

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // Updates every parameter whose grad() is defined; the others are skipped (and
  // get no state until their first gradient).
  virtual void step() = 0;
  // Drops each parameter's gradient (set_to_none, the default): the next backward
  // hands its freshly computed gradient buffer over instead of adding it to zeros,
  // saving two passes over every parameter. With false, gradients are filled with
  // zeros in place (Tensor::zero_grad), keeping their buffers.
  void zero_grad(bool set_to_none = true);

  double lr() const { return lr_; }
  // Throws tapegrad::Error for a negative or NaN learning rate.
  void set_lr(double lr);
  // "SGD", "Adam", "AdamW" or "RMSprop".
  std::string name() const { return name_; }
  const std::vector<Tensor>& params() const { return params_; }
  // Number of completed step() calls.
  int64_t steps() const { return steps_; }

 protected:
  // Throws for an empty list, an undefined, non-leaf or repeated tensor, or a bad lr.
  Optimizer(std::vector<Tensor> params, double lr, std::string name);

  std::vector<Tensor> params_;
  double lr_;
  std::string name_;
  int64_t steps_ = 0;
};

struct SGDOptions {
  double lr = 0.01;  // PyTorch requires lr; this default is only for convenience
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;
};

// torch.optim.SGD: d = g + wd*p; with momentum, b = d on the first step and
// b = momentum*b + (1 - dampening)*d after; d = d + momentum*b (nesterov) or d = b;
// p -= lr*d.
class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<Tensor> params, const SGDOptions& options = {});
  void step() override;
  const SGDOptions& options() const { return options_; }

 private:
  SGDOptions options_;
  std::vector<Tensor> momentum_buffers_;  // one per parameter, undefined until needed
};

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;  // L2 penalty added to the gradient (torch.optim.Adam)
  bool amsgrad = false;
};

// AdamW's options: as AdamOptions but weight_decay defaults to 1e-2 (torch.optim.AdamW).
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;  // decoupled: p *= 1 - lr*wd before the Adam update
  bool amsgrad = false;
};

// torch.optim.Adam: with t the parameter's own step count, g += wd*p;
// m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2 (amsgrad: vmax = max(vmax, v), used for v);
// p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps).
class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<Tensor> params, const AdamOptions& options = {});
  void step() override;
  const AdamOptions& options() const { return options_; }

 protected:
  Adam(std::vector<Tensor> params, const AdamOptions& options, bool decoupled, std::string name);

 private:
  struct State {
    int64_t step = 0;
    Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
  };
  AdamOptions options_;
  bool decoupled_;
  std::vector<State> state_;
};

// torch.optim.AdamW: p *= 1 - lr*wd, then the Adam update with no L2 term.
class AdamW : public Adam {
 public:
  explicit AdamW(std::vector<Tensor> params, const AdamWOptions& options = {});
};

struct RMSpropOptions {
  double lr = 1e-2;
  double alpha = 0.99;
  double eps = 1e-8;
  double weight_decay = 0.0;
  double momentum = 0.0;
  bool centered = false;
};

// torch.optim.RMSprop: g += wd*p; s = alpha*s + (1-alpha)*g^2; centered: a = alpha*a +
// (1-alpha)*g and d = sqrt(s - a^2) + eps, else d = sqrt(s) + eps; with momentum
// b = momentum*b + g/d and p -= lr*b, else p -= lr*g/d.
class RMSprop : public Optimizer {
 public:
  explicit RMSprop(std::vector<Tensor> params, const RMSpropOptions& options = {});
  void step() override;
  const RMSpropOptions& options() const { return options_; }

 private:
  struct State {
    Tensor square_avg, grad_avg, momentum_buffer;
  };
  RMSpropOptions options_;
  std::vector<State> state_;
};

// ---- Factory ----

// Settings for make_optimizer. An unset field takes the chosen optimiser's default:
// lr 0.01 for the SGD family (1e-3 for adam/adamw, 1e-2 for rmsprop); momentum 0.9
// for "momentum" and "nesterov", 0 for "sgd" and "rmsprop"; weight_decay 1e-2 for
// adamw, 0 otherwise.
struct OptimizerConfig {
  std::optional<double> lr = std::nullopt;
  std::optional<double> momentum = std::nullopt;      // sgd, momentum, nesterov, rmsprop
  std::optional<double> weight_decay = std::nullopt;  // all
  double dampening = 0.0;                             // sgd, momentum
  double beta1 = 0.9;                                 // adam, adamw
  double beta2 = 0.999;                               // adam, adamw
  double eps = 1e-8;                                  // adam, adamw, rmsprop
  bool amsgrad = false;                               // adam, adamw
  double alpha = 0.99;                                // rmsprop
  bool centered = false;                              // rmsprop
};

// The names make_optimizer accepts: sgd, momentum, nesterov, adam, adamw, rmsprop.
std::span<const std::string_view> optimizer_names();

// "sgd" is SGD (momentum 0 unless set), "momentum" SGD with momentum, "nesterov" SGD
// with Nesterov momentum, "adam" Adam, "adamw" AdamW, "rmsprop" RMSprop. Throws
// tapegrad::Error listing the valid names for any other name.
std::unique_ptr<Optimizer> make_optimizer(const std::string& name, std::vector<Tensor> params,
                                          const OptimizerConfig& config = {});

// ---- Learning-rate schedules ----

// A schedule sets the optimiser's lr from the epoch count; call step() once per epoch.
// The base lr is the optimiser's lr at construction; the optimiser must outlive it.
class LRScheduler {
 public:
  virtual ~LRScheduler() = default;
  LRScheduler(const LRScheduler&) = delete;
  LRScheduler& operator=(const LRScheduler&) = delete;

  // Advances the epoch by one and writes the new lr to the optimiser.
  virtual void step();
  // The lr the schedule last wrote (the base lr before the first step()).
  double current_lr() const { return current_lr_; }
  double base_lr() const { return base_lr_; }
  // Number of step() calls so far.
  int64_t last_epoch() const { return epoch_; }
  // The schedule's lr at an epoch (closed form).
  virtual double lr_at(int64_t epoch) const = 0;

 protected:
  explicit LRScheduler(Optimizer& optimizer);

  Optimizer& optimizer_;
  double base_lr_;
  double current_lr_;
  int64_t epoch_ = 0;
};

// torch.optim.lr_scheduler.StepLR: base_lr * gamma^floor(epoch / step_size).
class StepLR : public LRScheduler {
 public:
  // Throws for step_size < 1 or a negative gamma.
  StepLR(Optimizer& optimizer, int64_t step_size, double gamma = 0.1);
  double lr_at(int64_t epoch) const override;

 private:
  int64_t step_size_;
  double gamma_;
};

// torch.optim.lr_scheduler.CosineAnnealingLR (closed form):
// eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2. Past T_max the
// cosine continues (the lr rises again), as in PyTorch.
class CosineAnnealingLR : public LRScheduler {
 public:
  // Throws for T_max < 1 or a negative eta_min.
  CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min = 0.0);
  double lr_at(int64_t epoch) const override;

 private:
  int64_t T_max_;
  double eta_min_;
};

// ---- Gradient clipping ----

// torch.nn.utils.clip_grad_norm_: the L2 norm of all gradients together (computed in
// double; parameters without a gradient are skipped) is returned, and every gradient
// is scaled in place by max_norm / (norm + 1e-6) when that factor is below 1. Throws
// for a negative or NaN max_norm.
double clip_grad_norm(std::span<const Tensor> params, double max_norm);
inline double clip_grad_norm(std::initializer_list<Tensor> params, double max_norm) {
  return clip_grad_norm(std::span<const Tensor>(params.begin(), params.size()), max_norm);
}

}  // namespace tapegrad::nn
