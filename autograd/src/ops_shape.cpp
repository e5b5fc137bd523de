// Shape ops: reshape (a view), broadcast_to, narrow and index_select with their
// adjoints, concat, stack and cast.
#include <cstring>

#include "kernels.hpp"
#include "shape_ops.hpp"
#include "tape.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

namespace {
Node* record(OpKind op, std::initializer_list<const Tensor*> inputs, Tensor& out) {
  return Tape::current().record(op, inputs, out);
}

RefPtr<Storage> copy_indices(std::span<const int64_t> indices) {
  RefPtr<Storage> s = Storage::allocate(indices.size() * sizeof(int64_t));
  if (!indices.empty()) std::memcpy(s->data(), indices.data(), indices.size() * sizeof(int64_t));
  return s;
}
std::span<const int64_t> indices_of(const Storage* s) {
  return {static_cast<const int64_t*>(s->data()), s->nbytes() / sizeof(int64_t)};
}

size_t element_bytes(const Tensor& x) { return dtype_size(x.dtype()); }
}  // namespace

// ---- reshape and its aliases ----
Tensor reshape(const Tensor& x, std::vector<int64_t> shape) {
  require_defined("reshape", x);
  int infer = -1;
  int64_t known = 1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (infer >= 0)
        fail("reshape: only one dimension can be -1, got [{}]", fmt::join(shape, ", "));
      infer = static_cast<int>(i);
    } else if (shape[i] < 0) {
      fail("reshape: invalid dimension {} in [{}]", shape[i], fmt::join(shape, ", "));
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || x.numel() % known != 0) {
      fail("reshape: cannot reshape {} ({} elements) to [{}]", x.shape(), x.numel(),
           fmt::join(shape, ", "));
    }
    shape[static_cast<size_t>(infer)] = x.numel() / known;
  }
  return reshape_to(x, Shape(shape));
}

Tensor reshape_to(const Tensor& x, const Shape& target) {
  require_defined("reshape", x);
  if (target.numel() != x.numel()) {
    fail("reshape: cannot reshape {} ({} elements) to {} ({} elements)", x.shape(), x.numel(),
         target, target.numel());
  }
  Tensor out = x.detach();  // shares the storage
  out.impl()->shape = target;
  record(OpKind::reshape, {&x}, out);
  return out;
}
void backward_reshape(BackwardContext& c) { c.set_grad(0, reshape_to(c.grad(), c.input_shape(0))); }

Tensor flatten(const Tensor& x, int64_t start_axis, int64_t end_axis) {
  require_defined("flatten", x);
  if (x.dim() == 0) return reshape(x, {1});
  const int s = normalize_axis(start_axis, x.dim(), "flatten");
  const int e = normalize_axis(end_axis, x.dim(), "flatten");
  if (s > e) fail("flatten: start axis {} comes after end axis {}", start_axis, end_axis);
  std::vector<int64_t> shape;
  int64_t merged = 1;
  for (int i = 0; i < x.dim(); ++i) {
    if (i < s || i > e) {
      shape.push_back(x.shape()[i]);
    } else {
      merged *= x.shape()[i];
      if (i == e) shape.push_back(merged);
    }
  }
  return reshape(x, shape);
}

Tensor squeeze(const Tensor& x, int64_t axis) {
  require_defined("squeeze", x);
  const int a = normalize_axis(axis, x.dim(), "squeeze");
  if (x.shape()[a] != 1)
    fail("squeeze: axis {} of shape {} has size {}, not 1", axis, x.shape(), x.shape()[a]);
  Shape s = x.shape();
  s.erase(a);
  return reshape_to(x, s);
}

Tensor unsqueeze(const Tensor& x, int64_t axis) {
  require_defined("unsqueeze", x);
  const int a = normalize_axis(axis, x.dim() + 1, "unsqueeze");
  Shape s = x.shape();
  s.insert(a, 1);
  return reshape_to(x, s);
}

// ---- broadcast_to ----
Tensor broadcast_to(const Tensor& x, const Shape& shape) {
  require_defined("broadcast_to", x);
  if (broadcast_shapes(x.shape(), shape, "broadcast_to") != shape) {
    fail("broadcast_to: shape {} cannot be broadcast to {}", x.shape(), shape);
  }
  Tensor out = Tensor::empty(shape, x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    kernels::broadcast_copy(x.data<T>(), x.shape(), out.data<T>(), shape);
  });
  record(OpKind::broadcast_to, {&x}, out);
  return out;
}
// The engine sums every input gradient back to its input's shape.
void backward_broadcast_to(BackwardContext& c) { c.set_grad(0, c.grad()); }

// ---- narrow / slice ----
namespace {
// Copies `length` entries along an axis between two tensors viewed as
// [outer, extent, inner]; from `src` at src_start to `dst` at dst_start.
void copy_along_axis(const Tensor& src, int64_t src_start, Tensor& dst, int64_t dst_start, int axis,
                     int64_t length) {
  const auto vs = kernels::axis_view(src.shape(), axis);
  const auto vd = kernels::axis_view(dst.shape(), axis);
  const size_t esize = element_bytes(src);
  const auto* s = static_cast<const char*>(src.raw_data());
  auto* d = static_cast<char*>(dst.raw_data());
  const size_t run = static_cast<size_t>(length * vs.inner) * esize;
  for (int64_t o = 0; o < vs.outer; ++o) {
    std::memcpy(d + static_cast<size_t>((o * vd.extent + dst_start) * vd.inner) * esize,
                s + static_cast<size_t>((o * vs.extent + src_start) * vs.inner) * esize, run);
  }
}
}  // namespace

Tensor narrow(const Tensor& x, int64_t axis, int64_t start, int64_t length) {
  require_defined("narrow", x);
  const int a = normalize_axis(axis, x.dim(), "narrow");
  const int64_t size = x.shape()[a];
  if (start < 0 || length < 0 || start + length > size) {
    fail("narrow: range [{}, {}) is out of bounds for axis {} of size {} (shape {})", start,
         start + length, axis, size, x.shape());
  }
  Shape s = x.shape();
  s[a] = length;
  Tensor out = Tensor::empty(s, x.dtype());
  copy_along_axis(x, start, out, 0, a, length);
  if (Node* n = record(OpKind::narrow, {&x}, out)) n->attrs.ints = {a, start, length, 0};
  return out;
}
void backward_narrow(BackwardContext& c) {
  const auto& i = c.attrs().ints;
  c.set_grad(0, narrow_backward(c.grad(), c.input_shape(0), i[0], i[1]));
}

Tensor slice(const Tensor& x, int64_t axis, int64_t start, int64_t end) {
  return narrow(x, axis, start, end - start);
}

Tensor narrow_backward(const Tensor& grad, const Shape& shape, int64_t axis, int64_t start) {
  require_defined("narrow_backward", grad);
  const int a = normalize_axis(axis, shape.rank(), "narrow_backward");
  Shape expect = shape;
  expect[a] = grad.dim() == shape.rank() ? grad.shape()[a] : -1;
  if (grad.dim() != shape.rank() || !(expect == grad.shape()) || start < 0 ||
      start + grad.shape()[a] > shape[a]) {
    fail("narrow_backward: gradient of shape {} does not fit shape {} at offset {} of axis {}",
         grad.shape(), shape, start, axis);
  }
  Tensor out = zeros(shape, grad.dtype());
  copy_along_axis(grad, 0, out, start, a, grad.shape()[a]);
  if (Node* n = record(OpKind::narrow_backward, {&grad}, out)) n->attrs.ints = {a, start, 0, 0};
  return out;
}
void backward_narrow_backward(BackwardContext& c) {
  const auto& i = c.attrs().ints;
  c.set_grad(0, narrow(c.grad(), i[0], i[1], c.input_shape(0)[static_cast<int>(i[0])]));
}

// ---- index_select ----
namespace {
void check_indices(const char* op, std::span<const int64_t> indices, int64_t size, int axis,
                   const Shape& shape) {
  for (size_t j = 0; j < indices.size(); ++j) {
    if (indices[j] < 0 || indices[j] >= size) {
      fail("{}: index {} at position {} is out of range for axis {} of size {} (shape {})", op,
           indices[j], j, axis, size, shape);
    }
  }
}
}  // namespace

Tensor index_select(const Tensor& x, int64_t axis, std::span<const int64_t> indices) {
  require_defined("index_select", x);
  const int a = normalize_axis(axis, x.dim(), "index_select");
  check_indices("index_select", indices, x.shape()[a], a, x.shape());
  Shape s = x.shape();
  s[a] = static_cast<int64_t>(indices.size());
  Tensor out = Tensor::empty(s, x.dtype());
  const auto v = kernels::axis_view(x.shape(), a);
  const size_t row = static_cast<size_t>(v.inner) * element_bytes(x);
  const auto* src = static_cast<const char*>(x.raw_data());
  auto* dst = static_cast<char*>(out.raw_data());
  const auto n = static_cast<int64_t>(indices.size());
  for (int64_t o = 0; o < v.outer; ++o) {
    for (int64_t j = 0; j < n; ++j) {
      std::memcpy(dst + static_cast<size_t>(o * n + j) * row,
                  src + static_cast<size_t>(o * v.extent + indices[static_cast<size_t>(j)]) * row,
                  row);
    }
  }
  if (Node* node = record(OpKind::index_select, {&x}, out)) {
    node->attrs.ints[0] = a;
    node->aux = copy_indices(indices);
  }
  return out;
}
void backward_index_select(BackwardContext& c) {
  c.set_grad(
      0, index_select_backward(c.grad(), c.input_shape(0), c.attrs().ints[0], indices_of(c.aux())));
}

Tensor index_select_backward(const Tensor& grad, const Shape& shape, int64_t axis,
                             std::span<const int64_t> indices) {
  require_defined("index_select_backward", grad);
  const int a = normalize_axis(axis, shape.rank(), "index_select_backward");
  Shape expect = shape;
  expect[a] = static_cast<int64_t>(indices.size());
  if (!(expect == grad.shape())) {
    fail("index_select_backward: gradient of shape {} does not match {} indices into shape {}",
         grad.shape(), indices.size(), shape);
  }
  check_indices("index_select_backward", indices, shape[a], a, shape);
  Tensor out = zeros(shape, grad.dtype());
  const auto v = kernels::axis_view(shape, a);
  const auto n = static_cast<int64_t>(indices.size());
  dispatch(grad.dtype(), [&]<typename T>() {
    const T* src = grad.data<T>();
    T* dst = out.data<T>();
    for (int64_t o = 0; o < v.outer; ++o) {
      for (int64_t j = 0; j < n; ++j) {
        const T* from = src + (o * n + j) * v.inner;
        T* to = dst + (o * v.extent + indices[static_cast<size_t>(j)]) * v.inner;
        for (int64_t i = 0; i < v.inner; ++i) to[i] += from[i];
      }
    }
  });
  if (Node* node = record(OpKind::index_select_backward, {&grad}, out)) {
    node->attrs.ints[0] = a;
    node->aux = copy_indices(indices);
  }
  return out;
}
void backward_index_select_backward(BackwardContext& c) {
  c.set_grad(0, index_select(c.grad(), c.attrs().ints[0], indices_of(c.aux())));
}

// ---- concat / stack ----
Tensor concat(std::span<const Tensor> tensors, int64_t axis) {
  if (tensors.empty()) fail("concat: no tensors given");
  const Tensor& first = tensors[0];
  require_defined("concat", first);
  const int a = normalize_axis(axis, first.dim(), "concat");
  Shape s = first.shape();
  int64_t total = 0;
  for (size_t k = 0; k < tensors.size(); ++k) {
    const Tensor& t = tensors[k];
    require_same_dtype("concat", first, t);
    bool fits = t.dim() == first.dim();
    for (int i = 0; fits && i < t.dim(); ++i) fits = i == a || t.shape()[i] == s[i];
    if (!fits) {
      fail("concat: tensor {} has shape {}, which does not match {} outside axis {}", k, t.shape(),
           first.shape(), axis);
    }
    total += t.shape()[a];
  }
  s[a] = total;
  Tensor out = Tensor::empty(s, first.dtype());
  int64_t offset = 0;
  for (const Tensor& t : tensors) {
    copy_along_axis(t, 0, out, offset, a, t.shape()[a]);
    offset += t.shape()[a];
  }
  std::vector<const Tensor*> inputs;
  inputs.reserve(tensors.size());
  for (const Tensor& t : tensors) inputs.push_back(&t);
  if (Node* n = Tape::current().record(OpKind::concat, inputs, out)) n->attrs.ints[0] = a;
  return out;
}
Tensor concat(std::initializer_list<Tensor> tensors, int64_t axis) {
  return concat(std::span<const Tensor>(tensors.begin(), tensors.size()), axis);
}
void backward_concat(BackwardContext& c) {
  const int a = static_cast<int>(c.attrs().ints[0]);
  int64_t offset = 0;
  for (int k = 0; k < c.num_inputs(); ++k) {
    const int64_t length = c.input_shape(k)[a];
    if (c.needs_grad(k)) c.set_grad(k, narrow(c.grad(), a, offset, length));
    offset += length;
  }
}

Tensor stack(std::span<const Tensor> tensors, int64_t axis) {
  if (tensors.empty()) fail("stack: no tensors given");
  std::vector<Tensor> expanded;
  expanded.reserve(tensors.size());
  for (size_t k = 0; k < tensors.size(); ++k) {
    require_defined("stack", tensors[k]);
    if (!(tensors[k].shape() == tensors[0].shape())) {
      fail("stack: tensor {} has shape {}, expected {} like tensor 0", k, tensors[k].shape(),
           tensors[0].shape());
    }
    expanded.push_back(unsqueeze(tensors[k], axis));
  }
  return concat(expanded, axis);
}
Tensor stack(std::initializer_list<Tensor> tensors, int64_t axis) {
  return stack(std::span<const Tensor>(tensors.begin(), tensors.size()), axis);
}

// ---- cast ----
Tensor cast(const Tensor& x, DType dtype) {
  require_defined("cast", x);
  Tensor out = Tensor::empty(x.shape(), dtype);
  dispatch(dtype, [&]<typename T>() {
    T* dst = out.data<T>();
    dispatch(x.dtype(), [&]<typename S>() {
      const S* src = x.data<S>();
      for (int64_t i = 0, n = x.numel(); i < n; ++i) dst[i] = static_cast<T>(src[i]);
    });
  });
  record(OpKind::cast, {&x}, out);
  return out;
}
void backward_cast(BackwardContext& c) { c.set_grad(0, cast(c.grad(), c.input_dtype(0))); }

}  // namespace tapegrad
