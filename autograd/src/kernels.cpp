#include "kernels.hpp"

namespace tapegrad::kernels {

Strides broadcast_strides(const Shape& in, const Shape& out) {
  Strides s{};
  const auto contiguous = in.strides();
  const int offset = out.rank() - in.rank();
  for (int i = 0; i < in.rank(); ++i) {
    const bool broadcast = in[i] == 1 && out[i + offset] != 1;
    s[static_cast<size_t>(i + offset)] = broadcast ? 0 : contiguous[static_cast<size_t>(i)];
  }
  return s;
}

AxisView axis_view(const Shape& shape, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= shape[i];
  v.extent = shape[axis];
  for (int i = axis + 1; i < shape.rank(); ++i) v.inner *= shape[i];
  return v;
}

}  // namespace tapegrad::kernels

namespace tapegrad {

void require_defined(const char* op, const Tensor& x, const char* role) {
  if (!x.defined()) fail("{}: {} is an undefined tensor", op, role);
}

void require_same_dtype(const char* op, const Tensor& a, const Tensor& b) {
  require_defined(op, a, "first input");
  require_defined(op, b, "second input");
  if (a.dtype() != b.dtype()) {
    fail(
        "{}: inputs have different dtypes ({} with shape {}, {} with shape {}); convert one "
        "with .to()",
        op, a.dtype(), a.shape(), b.dtype(), b.shape());
  }
}

}  // namespace tapegrad
