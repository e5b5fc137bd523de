// Tensor handles, creation, element access, in-place writes and printing.
#include "tapegrad/autograd/tensor.hpp"

#include <cmath>
#include <cstring>
#include <ostream>

#include "kernels.hpp"
#include "tape.hpp"
#include "tapegrad/autograd/grad_mode.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

void TensorImpl::release() {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  // The node is told first, while this state still exists, so that it can tell
  // its output from an alias; no handle to this state is left to reach it again.
  if (owns_node && tape) tape->release_owner(node, this);
  delete this;
}

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  auto impl = RefPtr<TensorImpl>::adopt(new TensorImpl());
  impl->storage = Storage::allocate(static_cast<size_t>(shape.numel()) * dtype_size(dtype));
  impl->shape = shape;
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

void Tensor::check_defined(const char* what) const {
  if (!impl_) fail("{}: the tensor is undefined", what);
}

const Shape& Tensor::shape() const {
  check_defined("shape");
  return impl_->shape;
}
DType Tensor::dtype() const {
  check_defined("dtype");
  return impl_->dtype;
}
int64_t Tensor::size(int64_t axis) const { return shape()[normalize_axis(axis, dim(), "size")]; }
void* Tensor::raw_data() const {
  check_defined("data");
  return impl_->storage->data();
}
int Tensor::use_count() const { return impl_ ? impl_->refs.load(std::memory_order_relaxed) : 0; }
uint64_t Tensor::version() const {
  check_defined("version");
  return impl_->storage->version();
}

double Tensor::item() const {
  check_defined("item");
  notify_untracked_read("item", *this);
  if (numel() != 1) fail("item: tensor of shape {} has {} elements, not 1", shape(), numel());
  return dispatch(dtype(), [&]<typename T>() { return static_cast<double>(data<T>()[0]); });
}

double Tensor::at(std::initializer_list<int64_t> index) const {
  check_defined("at");
  notify_untracked_read("at", *this);
  if (static_cast<int>(index.size()) != dim()) {
    fail("at: {} indices given for a tensor of shape {}", index.size(), shape());
  }
  const auto strides = shape().strides();
  int64_t offset = 0;
  int axis = 0;
  for (int64_t i : index) {
    if (i < 0 || i >= shape()[axis]) {
      fail("at: index {} is out of range for axis {} of size {} (shape {})", i, axis, shape()[axis],
           shape());
    }
    offset += i * strides[static_cast<size_t>(axis++)];
  }
  return dispatch(dtype(), [&]<typename T>() { return static_cast<double>(data<T>()[offset]); });
}

std::vector<double> Tensor::to_vector() const {
  check_defined("to_vector");
  notify_untracked_read("to_vector", *this);
  std::vector<double> v(static_cast<size_t>(numel()));
  dispatch(dtype(), [&]<typename T>() {
    const T* p = data<T>();
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(p[i]);
  });
  return v;
}

bool Tensor::requires_grad() const { return impl_ && impl_->requires_grad; }

Tensor& Tensor::requires_grad_(bool on) {
  check_defined("requires_grad_");
  if (!is_leaf()) {
    fail(
        "requires_grad_: only leaf tensors can be marked; this one is the output of an op "
        "(use detach() to make a leaf)");
  }
  impl_->requires_grad = on;
  return *this;
}

bool Tensor::is_leaf() const { return !impl_ || !impl_->owns_node; }

const Tensor& Tensor::grad() const {
  check_defined("grad");
  return impl_->grad;
}

void Tensor::set_grad(const Tensor& g) const {
  check_defined("set_grad");
  if (g.defined() && (!(g.shape() == shape()) || g.dtype() != dtype())) {
    fail("set_grad: gradient {} {} does not match the tensor's {} {}", g.shape(), g.dtype(),
         shape(), dtype());
  }
  impl_->grad = g;
}

void Tensor::zero_grad() const {
  check_defined("zero_grad");
  if (!impl_->grad.defined()) return;
  if (impl_->grad.requires_grad()) {
    impl_->grad = zeros_like(impl_->grad);  // a recorded gradient: drop its graph
  } else {
    impl_->grad.fill_(0.0);
  }
}

Tensor Tensor::detach() const {
  check_defined("detach");
  auto impl = RefPtr<TensorImpl>::adopt(new TensorImpl());
  impl->storage = impl_->storage;
  impl->shape = impl_->shape;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::clone() const { return cast(*this, dtype()); }
Tensor Tensor::to(DType d) const { return cast(*this, d); }

void Tensor::check_inplace(const char* op) const {
  check_defined(op);
  if (impl_->requires_grad && is_grad_enabled()) {
    fail(
        "{}: in-place write to a tensor of shape {} that requires grad; in-place writes are not "
        "recorded, so do them under NoGradGuard (as optimisers do)",
        op, shape());
  }
}

Tensor& Tensor::fill_(double value) {
  check_inplace("fill_");
  dispatch(dtype(), [&]<typename T>() {
    T* p = data<T>();
    const T v = static_cast<T>(value);
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] = v;
  });
  impl_->storage->bump_version();
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace("copy_");
  require_defined("copy_", src, "source");
  if (!(src.shape() == shape())) {
    fail("copy_: source shape {} does not match destination shape {}", src.shape(), shape());
  }
  dispatch(dtype(), [&]<typename T>() {
    T* dst = data<T>();
    dispatch(src.dtype(), [&]<typename S>() {
      const S* s = src.data<S>();
      for (int64_t i = 0, n = numel(); i < n; ++i) dst[i] = static_cast<T>(s[i]);
    });
  });
  impl_->storage->bump_version();
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace("add_");
  require_same_dtype("add_", *this, other);
  if (!(other.shape() == shape())) {
    fail("add_: shape {} cannot be added in place to shape {}", other.shape(), shape());
  }
  dispatch(dtype(), [&]<typename T>() {
    T* dst = data<T>();
    const T* src = other.data<T>();
    const T a = static_cast<T>(alpha);
    if (alpha == 1.0) {
      for (int64_t i = 0, n = numel(); i < n; ++i) dst[i] += src[i];
    } else {
      for (int64_t i = 0, n = numel(); i < n; ++i) dst[i] += a * src[i];
    }
  });
  impl_->storage->bump_version();
  return *this;
}

Tensor& Tensor::mul_(double factor) {
  check_inplace("mul_");
  dispatch(dtype(), [&]<typename T>() {
    T* p = data<T>();
    const T f = static_cast<T>(factor);
    for (int64_t i = 0, n = numel(); i < n; ++i) p[i] *= f;
  });
  impl_->storage->bump_version();
  return *this;
}

// ---- Creation ----

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    const T v = static_cast<T>(value);
    for (int64_t i = 0, n = t.numel(); i < n; ++i) p[i] = v;
  });
  return t;
}
Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor zeros_like(const Tensor& t) { return full(t.shape(), 0.0, t.dtype()); }
Tensor ones_like(const Tensor& t) { return full(t.shape(), 1.0, t.dtype()); }
Tensor full_like(const Tensor& t, double value) { return full(t.shape(), value, t.dtype()); }
Tensor scalar_tensor(double value, DType dtype) { return full(Shape{}, value, dtype); }

Tensor arange(double start, double end, double step, DType dtype) {
  if (step == 0.0 || !std::isfinite(step))
    fail("arange: step must be finite and non-zero, got {}", step);
  const double count = std::ceil((end - start) / step);
  const auto n = static_cast<int64_t>(count > 0 ? count : 0);
  Tensor t = Tensor::empty(Shape{n}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}
Tensor arange(int64_t n, DType dtype) { return arange(0.0, static_cast<double>(n), 1.0, dtype); }

Tensor eye(int64_t n, DType dtype) {
  if (n < 0) fail("eye: size must be non-negative, got {}", n);
  Tensor t = zeros(Shape{n, n}, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0; i < n; ++i) p[i * n + i] = T(1);
  });
  return t;
}

namespace {
template <typename S>
Tensor from_values(std::span<const S> values, const Shape& shape, DType dtype) {
  if (static_cast<int64_t>(values.size()) != shape.numel()) {
    fail("from_data: {} values given for shape {} ({} elements)", values.size(), shape,
         shape.numel());
  }
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (size_t i = 0; i < values.size(); ++i) p[i] = static_cast<T>(values[i]);
  });
  return t;
}
}  // namespace

Tensor from_data(std::span<const double> values, const Shape& shape, DType dtype) {
  return from_values(values, shape, dtype);
}
Tensor from_data(std::span<const float> values, const Shape& shape, DType dtype) {
  return from_values(values, shape, dtype);
}
Tensor from_data(std::initializer_list<double> values, const Shape& shape, DType dtype) {
  return from_values(std::span<const double>(values.begin(), values.size()), shape, dtype);
}

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  if (!(low <= high)) fail("uniform: low ({}) must not exceed high ({})", low, high);
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i)
      p[i] = static_cast<T>(low + (high - low) * gen.uniform01());
  });
  return t;
}

Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype) {
  if (!(stddev >= 0)) fail("normal: stddev must be non-negative, got {}", stddev);
  Tensor t = Tensor::empty(shape, dtype);
  dispatch(dtype, [&]<typename T>() {
    T* p = t.data<T>();
    for (int64_t i = 0, n = t.numel(); i < n; ++i)
      p[i] = static_cast<T>(mean + stddev * gen.normal());
  });
  return t;
}

// ---- Printing ----

namespace {
constexpr int64_t kElideAbove = 1000;  // elements; larger tensors show their edges only
constexpr int64_t kEdgeItems = 3;

void print_axis(std::string& out, const Tensor& t, const std::vector<double>& v, int axis,
                int64_t offset, bool elide) {
  const Shape& s = t.shape();
  const int64_t n = s[axis];
  const int64_t stride = s.strides()[static_cast<size_t>(axis)];
  out += '[';
  for (int64_t i = 0; i < n; ++i) {
    if (elide && n > 2 * kEdgeItems && i == kEdgeItems) {
      out += axis + 1 == s.rank() ? "..., " : fmt::format("...,\n{:{}}", "", axis + 1);
      i = n - kEdgeItems - 1;
      continue;
    }
    if (axis + 1 == s.rank()) {
      out += fmt::format("{:.6g}", v[static_cast<size_t>(offset + i * stride)]);
    } else {
      print_axis(out, t, v, axis + 1, offset + i * stride, elide);
    }
    if (i + 1 < n) out += axis + 1 == s.rank() ? ", " : fmt::format(",\n{:{}}", "", axis + 1);
  }
  out += ']';
}
}  // namespace

std::string Tensor::str() const {
  if (!impl_) return "tensor(undefined)";
  std::string out = fmt::format("tensor(shape={}, dtype={}{})\n", shape(), dtype(),
                                requires_grad() ? ", requires_grad" : "");
  const std::vector<double> v = to_vector();
  if (dim() == 0) {
    out += fmt::format("{:.6g}", v[0]);
  } else {
    print_axis(out, *this, v, 0, 0, numel() > kElideAbove);
  }
  return out;
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

}  // namespace tapegrad
