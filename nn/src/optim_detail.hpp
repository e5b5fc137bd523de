// Helpers shared by the optimiser sources (private to tapegrad::nn).
#pragma once

#include <cstddef>

#include "tapegrad/autograd/error.hpp"
#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad::nn::detail {

// Throws "<who>: invalid <what> <value> (must be >= 0)" unless value >= 0 (NaN fails).
inline void require_nonnegative(const char* who, const char* what, double value) {
  if (!(value >= 0.0)) fail("{}: invalid {} {} (must be >= 0)", who, what, value);
}

// Throws unless 0 <= value < 1.
inline void require_unit_interval(const char* who, const char* what, double value) {
  if (!(value >= 0.0 && value < 1.0))
    fail("{}: invalid {} {} (must be in [0, 1))", who, what, value);
}

// A parameter's gradient must match it (set_grad and backward ensure this; checked
// again because the loops index both with the same counter).
inline void check_grad(const std::string& who, size_t index, const Tensor& param,
                       const Tensor& grad) {
  if (!(grad.shape() == param.shape()) || grad.dtype() != param.dtype()) {
    fail("{}.step: gradient {} {} of parameter {} does not match the parameter's {} {}", who,
         grad.shape(), grad.dtype(), index, param.shape(), param.dtype());
  }
}

// Marks an in-place write to t's storage.
inline void bump_version(const Tensor& t) { t.impl()->storage->bump_version(); }

}  // namespace tapegrad::nn::detail
