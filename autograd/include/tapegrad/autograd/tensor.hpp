// Tensor: an n-dimensional, row-major array of f32 or f64 values with shared,
// reference-counted storage and, when it takes part in a graph, a place on the tape.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <span>
#include <string>
#include <vector>

#include "tapegrad/autograd/dtype.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/shape.hpp"

namespace tapegrad {

class Tape;
struct TensorImpl;

// Minimal intrusive smart pointer; T provides retain() and release().
template <typename T>
class RefPtr {
 public:
  RefPtr() = default;
  // Adopts a pointer whose count already includes this reference.
  static RefPtr adopt(T* p) {
    RefPtr r;
    r.p_ = p;
    return r;
  }
  RefPtr(const RefPtr& o) : p_(o.p_) {
    if (p_) p_->retain();
  }
  RefPtr(RefPtr&& o) noexcept : p_(o.p_) { o.p_ = nullptr; }
  RefPtr& operator=(RefPtr o) noexcept {
    std::swap(p_, o.p_);
    return *this;
  }
  ~RefPtr() {
    if (p_) p_->release();
  }
  T* get() const { return p_; }
  T* operator->() const { return p_; }
  T& operator*() const { return *p_; }
  explicit operator bool() const { return p_ != nullptr; }
  void reset() { RefPtr().swap(*this); }
  void swap(RefPtr& o) noexcept { std::swap(p_, o.p_); }

 private:
  T* p_ = nullptr;
};

// A byte buffer from the size-class pool, shared by tensors that view the same
// data (a reshape shares storage). The version counter is bumped by every
// in-place write so that saved tensors can detect modification.
class Storage {
 public:
  static RefPtr<Storage> allocate(size_t nbytes);

  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }
  int use_count() const { return refs_.load(std::memory_order_relaxed); }

  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();

 private:
  Storage() = default;
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  uint64_t version_ = 0;
  std::atomic<int> refs_{1};
};

struct BackwardOptions {
  // Keep saved tensors so backward can run again (implied by create_graph, as in PyTorch).
  bool retain_graph = false;
  bool create_graph = false;  // record the backward pass for higher-order gradients
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(RefPtr<TensorImpl> impl) : impl_(std::move(impl)) {}
  // A new tensor of `shape` whose values are uninitialised.
  static Tensor empty(const Shape& shape, DType dtype = DType::f32);

  bool defined() const { return static_cast<bool>(impl_); }
  const Shape& shape() const;
  int dim() const { return shape().rank(); }
  int64_t size(int64_t axis) const;
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;

  template <typename T>
  T* data();
  template <typename T>
  const T* data() const;
  void* raw_data() const;
  // The single value of a one-element tensor, as double.
  double item() const;
  // Element at a multi-index (slow; for tests and printing).
  double at(std::initializer_list<int64_t> index) const;
  std::vector<double> to_vector() const;

  // Autograd.
  bool requires_grad() const;
  // Marks a leaf tensor as a variable whose gradient is wanted.
  Tensor& requires_grad_(bool on = true);
  bool is_leaf() const;
  // Gradient accumulated by backward(); undefined until the first backward.
  const Tensor& grad() const;
  void set_grad(const Tensor& g) const;
  // Fills the accumulated gradient with zeros (keeping its buffer); no-op if undefined.
  void zero_grad() const;
  void backward(const BackwardOptions& options = {}) const;
  void backward(const Tensor& grad_output, const BackwardOptions& options = {}) const;
  // Same data, cut from the graph.
  Tensor detach() const;
  // Version of the underlying storage (bumped by in-place writes).
  uint64_t version() const;

  // Differentiable copies.
  Tensor clone() const;
  Tensor to(DType dtype) const;

  // In-place writes (not recorded). Refused on a leaf that requires grad while
  // grad mode is on; use NoGradGuard for parameter updates.
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);
  Tensor& add_(const Tensor& other, double alpha = 1.0);
  Tensor& mul_(double factor);

  std::string str() const;
  TensorImpl* impl() const { return impl_.get(); }
  // Number of handles sharing this tensor.
  int use_count() const;

 private:
  void check_defined(const char* what) const;
  void check_inplace(const char* op) const;
  RefPtr<TensorImpl> impl_;
};

// The shared state behind Tensor handles. Pooled: allocating one costs no heap call
// after warm-up.
struct TensorImpl {
  RefPtr<Storage> storage;
  Shape shape;
  DType dtype = DType::f32;
  bool requires_grad = false;
  // Graph position: an op output owns a reference on its node; a leaf only
  // remembers its leaf node, which is valid while the serial matches.
  bool owns_node = false;
  int32_t node = -1;
  uint64_t node_serial = 0;
  Tape* tape = nullptr;
  Tensor grad;

  void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
  void release();
  static void* operator new(size_t size);
  static void operator delete(void* p);

  std::atomic<int> refs{1};
};

template <typename T>
T* Tensor::data() {
  check_defined("data");
  if (dtype_of<T>() != dtype()) fail("data<{}>(): tensor has dtype {}", dtype_of<T>(), dtype());
  return static_cast<T*>(raw_data());
}
template <typename T>
const T* Tensor::data() const {
  return const_cast<Tensor*>(this)->data<T>();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t);

// Creation. Every tensor is contiguous and row-major.
Tensor zeros(const Shape& shape, DType dtype = DType::f32);
Tensor ones(const Shape& shape, DType dtype = DType::f32);
Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
Tensor full_like(const Tensor& t, double value);
// 0-dimensional tensor holding one value.
Tensor scalar_tensor(double value, DType dtype = DType::f32);
// Values start, start+step, ... below end (above end for a negative step).
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::f32);
Tensor arange(int64_t n, DType dtype = DType::f32);
Tensor eye(int64_t n, DType dtype = DType::f32);
// Copies row-major values; their count must equal the shape's element count.
Tensor from_data(std::span<const double> values, const Shape& shape, DType dtype = DType::f32);
Tensor from_data(std::span<const float> values, const Shape& shape, DType dtype = DType::f32);
Tensor from_data(std::initializer_list<double> values, const Shape& shape,
                 DType dtype = DType::f32);
// Seeded random tensors: the same generator state gives the same numbers everywhere.
Tensor uniform(const Shape& shape, double low, double high, Generator& gen,
               DType dtype = DType::f32);
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
              DType dtype = DType::f32);

// Frees the cached buffers of the storage pool (they are kept for reuse otherwise).
void release_cached_memory();
struct MemoryStats {
  size_t bytes_in_use = 0;     // held by live storages
  size_t bytes_cached = 0;     // free blocks kept by the pool
  uint64_t system_allocs = 0;  // calls to the system allocator so far
};
MemoryStats memory_stats();

}  // namespace tapegrad

template <>
struct fmt::formatter<tapegrad::Tensor> : fmt::formatter<std::string> {
  auto format(const tapegrad::Tensor& t, format_context& ctx) const {
    return fmt::formatter<std::string>::format(t.str(), ctx);
  }
};
