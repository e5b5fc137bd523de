// Learning-rate schedules (closed forms of PyTorch's StepLR and CosineAnnealingLR).
#include <cmath>
#include <numbers>

#include "tapegrad/autograd/error.hpp"
#include "tapegrad/nn/optim.hpp"

namespace tapegrad::nn {

LRScheduler::LRScheduler(Optimizer& optimizer)
    : optimizer_(optimizer), base_lr_(optimizer.lr()), current_lr_(optimizer.lr()) {}

void LRScheduler::step() {
  ++epoch_;
  current_lr_ = lr_at(epoch_);
  optimizer_.set_lr(current_lr_);
}

StepLR::StepLR(Optimizer& optimizer, int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size < 1) fail("StepLR: invalid step_size {} (must be >= 1)", step_size);
  if (!(gamma >= 0.0)) fail("StepLR: invalid gamma {} (must be >= 0)", gamma);
}

double StepLR::lr_at(int64_t epoch) const {
  return base_lr_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, int64_t T_max, double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  if (T_max < 1) fail("CosineAnnealingLR: invalid T_max {} (must be >= 1)", T_max);
  if (!(eta_min >= 0.0)) fail("CosineAnnealingLR: invalid eta_min {} (must be >= 0)", eta_min);
}

double CosineAnnealingLR::lr_at(int64_t epoch) const {
  const double phase = std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(T_max_);
  return eta_min_ + (base_lr_ - eta_min_) * (1.0 + std::cos(phase)) / 2.0;
}

}  // namespace tapegrad::nn
