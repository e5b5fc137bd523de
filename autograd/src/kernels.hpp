// Internal: the loops shared by ops. Plain loops over contiguous data that the
// compiler can vectorise, with broadcasting handled by one iterator.
#pragma once

#include <array>
#include <cstdint>

#include "tapegrad/autograd/error.hpp"
#include "tapegrad/autograd/tensor.hpp"

namespace tapegrad::kernels {

using Strides = std::array<int64_t, Shape::kMaxDims>;

// Strides for reading `in` as if broadcast to `out` (0 along broadcast axes),
// aligned to out's rank.
Strides broadcast_strides(const Shape& in, const Shape& out);

// Calls inner(offsets, out_offset, count, inner_strides) for each run along the
// last axis of `out`, where offsets[k] is where operand k's run starts.
template <size_t N, typename Inner>
void for_each_run(const Shape& out, const std::array<Strides, N>& strides, Inner inner) {
  const int rank = out.rank();
  std::array<int64_t, N> offsets{};
  if (out.numel() == 0) return;
  if (rank == 0) {
    std::array<int64_t, N> unit{};
    inner(offsets, int64_t{0}, int64_t{1}, unit);
    return;
  }
  const int64_t run = out[rank - 1];
  std::array<int64_t, N> inner_strides{};
  for (size_t k = 0; k < N; ++k) inner_strides[k] = strides[k][static_cast<size_t>(rank - 1)];
  const int64_t runs = out.numel() / run;
  std::array<int64_t, Shape::kMaxDims> index{};
  for (int64_t r = 0; r < runs; ++r) {
    inner(offsets, r * run, run, inner_strides);
    // Odometer over all axes but the last.
    for (int d = rank - 2; d >= 0; --d) {
      const auto du = static_cast<size_t>(d);
      if (++index[du] < out[d]) {
        for (size_t k = 0; k < N; ++k) offsets[k] += strides[k][du];
        break;
      }
      for (size_t k = 0; k < N; ++k) offsets[k] -= strides[k][du] * (index[du] - 1);
      index[du] = 0;
    }
  }
}

// out = f(x) elementwise.
template <typename T, typename F>
void unary(const T* x, T* out, int64_t n, F f) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
}

// out = f(a, b) with broadcasting; out has shape `so`.
template <typename T, typename F>
void binary(const T* a, const Shape& sa, const T* b, const Shape& sb, T* out, const Shape& so,
            F f) {
  const int64_t n = so.numel();
  if (sa == so && sb == so) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
    return;
  }
  if (sa == so && sb.numel() == 1) {
    const T bv = b[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
    return;
  }
  if (sb == so && sa.numel() == 1) {
    const T av = a[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
    return;
  }
  const std::array<Strides, 2> strides{broadcast_strides(sa, so), broadcast_strides(sb, so)};
  for_each_run<2>(so, strides, [&](const auto& off, int64_t o, int64_t count, const auto& st) {
    const T* pa = a + off[0];
    const T* pb = b + off[1];
    T* po = out + o;
    if (st[0] == 1 && st[1] == 1) {
      for (int64_t i = 0; i < count; ++i) po[i] = f(pa[i], pb[i]);
    } else if (st[0] == 1 && st[1] == 0) {
      const T bv = *pb;
      for (int64_t i = 0; i < count; ++i) po[i] = f(pa[i], bv);
    } else if (st[0] == 0 && st[1] == 1) {
      const T av = *pa;
      for (int64_t i = 0; i < count; ++i) po[i] = f(av, pb[i]);
    } else {
      for (int64_t i = 0; i < count; ++i) po[i] = f(pa[i * st[0]], pb[i * st[1]]);
    }
  });
}

// Copies `in` broadcast to shape `so` into out.
template <typename T>
void broadcast_copy(const T* in, const Shape& si, T* out, const Shape& so) {
  const std::array<Strides, 1> strides{broadcast_strides(si, so)};
  for_each_run<1>(so, strides, [&](const auto& off, int64_t o, int64_t count, const auto& st) {
    const T* p = in + off[0];
    for (int64_t i = 0; i < count; ++i) out[o + i] = p[i * st[0]];
  });
}

// Views a tensor of `shape` as [outer, extent, inner] around one axis.
struct AxisView {
  int64_t outer = 1, extent = 1, inner = 1;
};
AxisView axis_view(const Shape& shape, int axis);

}  // namespace tapegrad::kernels

namespace tapegrad {
// Checks shared by ops; each names the op in its message.
void require_defined(const char* op, const Tensor& x, const char* role = "input");
void require_same_dtype(const char* op, const Tensor& a, const Tensor& b);
}  // namespace tapegrad

namespace tapegrad {

// out = f(x) elementwise in x's dtype; f is a generic callable of one value.
template <typename F>
Tensor map_unary(const char* op, const Tensor& x, F f) {
  require_defined(op, x);
  Tensor out = Tensor::empty(x.shape(), x.dtype());
  dispatch(x.dtype(), [&]<typename T>() {
    kernels::unary(x.data<T>(), out.data<T>(), x.numel(),
                   [&](T v) { return static_cast<T>(f(v)); });
  });
  return out;
}

// out = f(a, b) elementwise with broadcasting; f is a generic callable of two values.
template <typename F>
Tensor map_binary(const char* op, const Tensor& a, const Tensor& b, F f) {
  require_same_dtype(op, a, b);
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), op);
  Tensor out = Tensor::empty(shape, a.dtype());
  dispatch(a.dtype(), [&]<typename T>() {
    kernels::binary(a.data<T>(), a.shape(), b.data<T>(), b.shape(), out.data<T>(), shape,
                    [&](T u, T v) { return static_cast<T>(f(u, v)); });
  });
  return out;
}

}  // namespace tapegrad
