// Internal forms of shape and reduction ops that take their arguments inline
// (Shape, axis mask) rather than in std::vectors, so that backward rules and the
// engine's sum_to allocate nothing on the heap.
#pragma once

#include <cstdint>

#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad {

// reshape to a fully specified shape (no -1), sharing storage.
Tensor reshape_to(const Tensor& x, const Shape& shape);
// sum over the axes whose bit is set in `mask`, keeping them as size 1.
Tensor sum_keepdim_mask(const Tensor& x, uint32_t mask);

}  // namespace tapegrad
